"""Baselines: the white-matter region from a T1 network (the papers') or from the data's masks
(the ones the threshold baseline uses), for the white-matter-masked models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
import torch
from baselines_fixtures import TINY_TRAINING as TINY
from baselines_fixtures import (
    make_tiny_release,
    set_test_threads,
    train_and_predict_by_cli,
)
from typer.testing import CliRunner
from wmheval_baselines.data import DataError, find_subjects, load_volume
from wmheval_baselines.inference import (
    flair_fcn_input,
    predict_probabilities,
    wmh_output,
)
from wmheval_baselines.operating_point import (
    POSTERIOR_LEVELS,
    output_threshold,
)
from wmheval_baselines.splits import split_subjects
from wmheval_baselines.train import RunError, TrainConfig, checkpoint_path, train

from wmheval.cli.main import app

set_test_threads()


def lesion_free_masks(root: Path) -> Path:
    """Take the lesions out of every subject's white-matter mask, as FSL-style masks do (the
    tiny release's masks hold them): with the lesion union at training the region differs."""
    for path in root.rglob("synth/wm_mask.nii.gz"):
        mask = SimpleITK.ReadImage(str(path))
        wmh = SimpleITK.ReadImage(str(path.parent.parent / "wmh.nii.gz"))
        array = SimpleITK.GetArrayFromImage(mask)
        array[SimpleITK.GetArrayFromImage(wmh) == 1] = 0
        image = SimpleITK.GetImageFromArray(array)
        image.CopyInformation(mask)
        SimpleITK.WriteImage(image, str(path))
    return root


def literal_region(mask: np.ndarray, spacing, dilation_mm: float) -> np.ndarray:
    """Slow oracle: voxels within ``dilation_mm`` in-plane (Euclidean, in pixels of the
    smallest in-plane spacing, rounded) of a mask voxel in the same slice."""
    radius = int(round(dilation_mm / min(spacing[0], spacing[1])))
    region = np.zeros(mask.shape, bool)
    for z, y, x in zip(*np.nonzero(mask), strict=True):
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if dy * dy + dx * dx <= radius * radius:
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < mask.shape[1] and 0 <= xx < mask.shape[2]:
                        region[z, yy, xx] = True
    return region


def literal_dice(output: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    predicted = output >= np.float32(threshold)
    lesion = labels == 1
    return 2 * float((predicted & lesion).sum()) / float(predicted.sum() + lesion.sum())


def test_unknown_sources_and_models_without_a_white_matter_region_are_refused():
    with pytest.raises(ValueError, match="wm_source"):
        TrainConfig(model="flair-fcn", wm_source="fsl")
    with pytest.raises(ValueError, match="fcn-vgg"):
        TrainConfig(model="fcn-vgg", wm_source="data")
    assert TrainConfig(model="resunet").wm_source == "net"  # the papers' pipeline
    assert TrainConfig(model="resunet", wm_source="data").phases == ("wmh",)


@pytest.fixture(scope="module")
def data_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wmsource")
    data = lesion_free_masks(make_tiny_release(root / "release"))
    # 200 samples: enough for outputs above the read thresholds (32 left every Dice 0).
    run = train(TrainConfig(model="flair-fcn", data=str(data), samples=200, wm_samples=24,
                            wm_source="data", dilation_mm=2.0, operating_point="fitted",
                            **TINY), root / "run")
    return data, run


def test_a_data_run_trains_no_white_matter_network(data_run):
    _, run = data_run
    saved = torch.load(checkpoint_path(run), weights_only=False)
    assert set(saved["models"]) == {"wmh"}
    metadata = json.loads((run / "metadata.json").read_text())
    assert set(metadata["schedule"]) == {"wmh"}


def test_the_output_is_confined_to_the_data_mask_as_read(data_run):
    """Oracle: the network's raw output, zero outside the data's mask (lesions not added)
    dilated by the literal in-plane disk; for training and predicted subjects alike."""
    from wmheval_baselines.predict import load_run

    data, run = data_run
    trained = load_run(run, "cpu")
    for subject in find_subjects(data):
        volume = load_volume(subject, labels=False, need_wm=True, lesions_in_wm=False)
        raw = predict_probabilities(trained.models["wmh"], flair_fcn_input(volume),
                                    trained.device)
        region = literal_region(volume.wm > 0, volume.spacing, 2.0)
        got = wmh_output(trained.config, trained.models, volume, trained.device)
        assert np.allclose(got, np.where(region, raw, 0.0), atol=1e-6)


def test_the_fit_sees_the_masks_as_read_not_united_with_the_lesions(data_run):
    """The operating point is fitted on the training subjects' outputs in the region
    prediction will use (the mask as read); the lesion union, the white-matter network's
    training label, would have let the region reach lesions the mask leaves out."""
    from wmheval_baselines.predict import load_run

    data, run = data_run
    trained = load_run(run, "cpu")
    metadata = json.loads((run / "metadata.json").read_text())
    training, _ = split_subjects(find_subjects(data), "challenge")
    pairs = []
    for subject in training:
        volume = load_volume(subject, need_wm=True, lesions_in_wm=False)
        pairs.append((wmh_output(trained.config, trained.models, volume, trained.device),
                      volume.wmh))
    expected = {f"{level:.2f}": float(np.mean([
        literal_dice(o, w, output_threshold(level, metadata["beta"])) for o, w in pairs]))
        for level in POSTERIOR_LEVELS}
    assert metadata["operating_point"]["curve"] == pytest.approx(expected, abs=1e-9)
    assert max(expected.values()) > 0.3  # the network finds lesions: the curve can tell
    united = []
    for subject in training:
        volume = load_volume(subject, need_wm=True, lesions_in_wm=True)
        united.append(wmh_output(trained.config, trained.models, volume, trained.device))
    assert any(not np.array_equal(u, o) for u, (o, _) in zip(united, pairs, strict=True))


def test_training_slices_come_from_the_data_mask_as_read(tmp_path, monkeypatch):
    """The WMH network trains on the region prediction will use: the data's mask as read,
    dilated (the lesion union, the white-matter network's label, is not available at
    prediction, and would widen the region where the mask leaves lesions out)."""
    from wmheval_baselines import train as train_module

    data = lesion_free_masks(make_tiny_release(tmp_path / "release"))
    regions: list[np.ndarray] = []
    original = train_module.crop_to_region

    def spy(inputs, labels, region, *args, **kwargs):
        regions.append(np.array(region, copy=True))
        return original(inputs, labels, region, *args, **kwargs)

    monkeypatch.setattr(train_module, "crop_to_region", spy)
    train(TrainConfig(model="flair-fcn", data=str(data), samples=8, wm_source="data",
                      dilation_mm=2.0, **TINY), tmp_path / "run")
    training, _ = split_subjects(find_subjects(data), "challenge")
    assert len(regions) == len(training)
    differs = False
    for region, subject in zip(regions, training, strict=True):
        as_read = load_volume(subject, need_wm=True, lesions_in_wm=False)
        united = load_volume(subject, need_wm=True, lesions_in_wm=True)
        assert np.array_equal(region, literal_region(as_read.wm > 0, as_read.spacing, 2.0))
        differs |= not np.array_equal(region, literal_region(united.wm > 0, united.spacing,
                                                             2.0))
    assert differs  # the lesions reach beyond the dilated masks: the test can tell


def test_prediction_without_a_mask_names_the_subjects_and_writes_nothing(data_run, tmp_path):
    import shutil

    data, run = data_run
    copy = Path(shutil.copytree(data, tmp_path / "release"))
    (copy / "test" / "Utrecht" / "1" / "synth" / "wm_mask.nii.gz").unlink()
    result = CliRunner().invoke(app, ["baseline", "predict", str(run), str(copy), "-o",
                                      str(tmp_path / "sub"), "--device", "cpu"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "no white-matter mask" in message and "['1']" in message
    assert not list(tmp_path.glob("sub/*/result.nii.gz"))
    with pytest.raises(DataError, match="wm_source 'data'"):
        from wmheval_baselines.predict import predict_folder

        predict_folder(run, copy, tmp_path / "sub2", device="cpu")


def test_the_cli_takes_the_source_and_a_run_cannot_change_it(tmp_path):
    data = make_tiny_release(tmp_path / "release")
    run = train_and_predict_by_cli(data, tmp_path, "resunet", "--wm-source", "data",
                                   "--dilation-mm", "2")
    config = json.loads((run / "config.json").read_text())
    assert (config["wm_source"], config["dilation_mm"]) == ("data", 2.0)
    assert len(list((tmp_path / "sub").glob("*/result.nii.gz"))) == 3
    settings = {"model": "flair-fcn", "data": str(data), "samples": 8, "wm_samples": 8,
                **TINY}
    train(TrainConfig(**settings), tmp_path / "own")
    with pytest.raises(RunError, match="wm_source"):
        train(TrainConfig(**settings, wm_source="data"), tmp_path / "own")
    bad = CliRunner().invoke(app, ["baseline", "train", "flair-fcn", str(data), "-o",
                                   str(tmp_path / "bad"), "--wm-source", "fsl"])
    assert bad.exit_code == 2


def test_only_the_demo_flair_fcn_takes_the_data_mask():
    """The papers' pipelines segment white matter with a T1 network; the demo recipe's FLAIR
    FCN takes the data's mask, undilated, the region the threshold baseline gets."""
    from wmheval_baselines.train import config_from_recipe

    sources = {(recipe, model): (c.wm_source, c.dilation_mm)
               for recipe in ("paper", "demo") for model in ("resunet", "flair-fcn")
               for c in [config_from_recipe(model, recipe)]}
    assert sources == {("paper", "resunet"): ("net", 4.0), ("paper", "flair-fcn"): ("net", 4.0),
                       ("demo", "resunet"): ("net", 4.0), ("demo", "flair-fcn"): ("data", 0.0)}
