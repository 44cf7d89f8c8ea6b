"""Baselines: the WMH networks' input scalings and the narrow from-scratch VGG."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")
pytest.importorskip("SimpleITK")

from baselines_fixtures import make_tiny_release, set_test_threads  # noqa: E402
from typer.testing import CliRunner  # noqa: E402
from wmheval_baselines import inference  # noqa: E402
from wmheval_baselines.data import WM_ROBUST_Z_RANGE, Volume, wm_robust_unit  # noqa: E402
from wmheval_baselines.models.fcn_vgg import FcnVgg, stage_widths  # noqa: E402
from wmheval_baselines.train import TrainConfig, config_from_recipe, train  # noqa: E402

from wmheval.cli.main import app  # noqa: E402

set_test_threads()


def oracle_wm_robust(volume: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Literal re-implementation: median and 1.4826 x MAD of the masked voxels with the
    statistics module, then z in WM_ROBUST_Z_RANGE mapped onto [0, 1], voxel by voxel."""
    inside = [float(v) for v, m in zip(volume.ravel(), mask.ravel(), strict=True) if m]
    median = statistics.median(inside)
    mad = 1.4826 * statistics.median([abs(v - median) for v in inside])
    low, high = WM_ROBUST_Z_RANGE
    out = [min(max(((float(v) - median) / mad - low) / (high - low), 0.0), 1.0)
           for v in volume.ravel()]
    return np.array(out).reshape(volume.shape)


@given(seed=st.integers(0, 10_000), gain=st.floats(0.05, 50.0), offset=st.floats(-500, 500))
@settings(max_examples=30, deadline=None)
def test_wm_robust_scaling_matches_the_oracle_and_ignores_scanner_gain_and_offset(
        seed, gain, offset):
    rng = np.random.default_rng(seed)
    volume = rng.gamma(4.0, 50.0, size=(3, 9, 11)).astype(np.float32)
    mask = rng.random(volume.shape) < 0.4
    mask[0, 0, 0] = True
    scaled = wm_robust_unit(volume, mask)
    assert scaled.dtype == np.float32
    assert np.allclose(scaled, oracle_wm_robust(volume, mask), atol=1e-5)
    # A scanner's gain and offset (a > 0) leave the input unchanged: min/max-free.
    moved = (volume.astype(np.float64) * gain + offset).astype(np.float32)
    assert np.allclose(wm_robust_unit(moved, mask), scaled, atol=1e-4)


def test_wm_robust_scaling_is_not_set_by_the_brightest_lesion_voxel():
    """The paper's min/max inside the mask lets one bright voxel rescale the whole volume;
    the robust scaling moves the other voxels by at most one order statistic's worth."""
    rng = np.random.default_rng(0)
    volume = rng.normal(100.0, 10.0, size=(2, 20, 20)).astype(np.float32)
    mask = np.ones(volume.shape, bool)
    bright = volume.copy()
    bright[0, 0, 0] = 1000.0  # one lesion voxel
    rest = np.ones(volume.shape, bool)
    rest[0, 0, 0] = False
    minmax_shift = np.abs(inference.minmax_within(bright, mask)
                          - inference.minmax_within(volume, mask))[rest].max()
    robust_shift = np.abs(wm_robust_unit(bright, mask) - wm_robust_unit(volume, mask))[rest]
    assert minmax_shift > 0.3
    assert robust_shift.max() < 0.002


def _volume(seed: int = 0) -> tuple[Volume, np.ndarray]:
    rng = np.random.default_rng(seed)
    flair = rng.gamma(4.0, 50.0, size=(4, 16, 16)).astype(np.float32)
    t1 = rng.gamma(6.0, 40.0, size=(4, 16, 16)).astype(np.float32)
    volume = Volume(subject=None, flair=flair, t1=t1, spacing=(1.0, 1.0, 3.0))
    mask = rng.random(flair.shape) < 0.5
    return volume, mask


def test_each_scaling_feeds_the_model_its_documented_input():
    volume, mask = _volume()
    paper = inference.wmh_net_input("resunet", volume, mask, "paper")
    robust = inference.wmh_net_input("resunet", volume, mask, "wm-robust")
    assert paper.shape == robust.shape == (4, 2, 16, 16)
    assert np.allclose(paper[:, 0], inference.minmax_within(volume.t1, mask))
    assert np.allclose(robust[:, 0], oracle_wm_robust(volume.t1, mask), atol=1e-5)
    assert np.allclose(robust[:, 1], oracle_wm_robust(volume.flair, mask), atol=1e-5)
    flair_paper = inference.wmh_net_input("flair-fcn", volume, mask, "paper")
    assert np.array_equal(flair_paper[:, 0], inference.robust_unit(volume.flair))
    flair_robust = inference.wmh_net_input("flair-fcn", volume, mask, "wm-robust")
    assert flair_robust.shape == (4, 1, 16, 16)
    assert np.allclose(flair_robust[:, 0], oracle_wm_robust(volume.flair, mask), atol=1e-5)
    with pytest.raises(ValueError, match="input scaling"):
        inference.wmh_net_input("resunet", volume, mask, "percentile")


def test_input_scaling_settings_are_checked():
    assert config_from_recipe("resunet", "demo").input_scaling == "paper"
    assert config_from_recipe("flair-fcn", "paper").input_scaling == "paper"
    with pytest.raises(ValueError, match="input_scaling"):
        TrainConfig(model="resunet", input_scaling="zscore")
    with pytest.raises(ValueError, match="input_scaling applies"):
        TrainConfig(model="fcn-vgg", input_scaling="wm-robust")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_tiny_release(tmp_path_factory.mktemp("tiny") / "release")


def test_a_run_predicts_with_the_scaling_it_was_trained_with(data, tmp_path, monkeypatch):
    from wmheval_baselines import predict

    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(app, ["baseline", "train", "flair-fcn", str(data), "--out",
                                 str(run), "--recipe", "demo", "--samples", "8",
                                 "--wm-samples", "8", "--base-channels", "4",
                                 "--batch-size", "4", "--device", "cpu",
                                 "--input-scaling", "wm-robust"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["input_scaling"] == "wm-robust"
    seen: list[str] = []
    original = predict.wmh_net_input

    def spy(model, volume, mask, scaling="paper"):
        seen.append(scaling)
        return original(model, volume, mask, scaling)

    monkeypatch.setattr(predict, "wmh_net_input", spy)
    predict.predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert seen == ["wm-robust"] * 3  # the three test subjects
    bad = runner.invoke(app, ["baseline", "train", "flair-fcn", str(data), "--out",
                              str(tmp_path / "other"), "--input-scaling", "minmax"])
    assert bad.exit_code == 2


def test_narrow_vgg_scales_every_stage_and_keeps_the_layer_indices():
    assert stage_widths(64) == (64, 128, 256, 512, 512)
    assert stage_widths(16) == (16, 32, 64, 128, 128)
    net = FcnVgg(k=4, width=16)
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 16, 32, 32, 64, 64, 64,
                                               128, 128, 128, 128, 128, 128]
    assert [s.in_channels for s in net.specialised] == [16, 32, 64, 128, 128]
    assert [i for i, m in enumerate(net.features) if isinstance(m, torch.nn.Conv2d)] == [
        0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert net(torch.zeros(1, 3, 40, 24)).shape == (1, 2, 40, 24)
    with pytest.raises(ValueError, match="multiple of 8"):
        stage_widths(12)


def test_pretrained_weights_need_the_full_vgg16_width(tmp_path):
    with pytest.raises(ValueError, match="vgg_width 64"):
        TrainConfig(model="fcn-vgg", vgg_weights=str(tmp_path / "vgg16.pth"), vgg_width=16)
    assert config_from_recipe("fcn-vgg", "paper").vgg_width == 64


def test_a_narrow_vgg_run_trains_and_predicts(data, tmp_path):
    from wmheval_baselines.predict import load_run, predict_folder

    run = train(TrainConfig(model="fcn-vgg", data=str(data), samples=8, batch_size=4,
                            fcn_k=4, vgg_width=8, device="cpu"), tmp_path / "run")
    assert json.loads((run / "config.json").read_text())["vgg_width"] == 8
    trained = load_run(run, "cpu")
    assert trained.models["wmh"].features[0].out_channels == 8
    submission = predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert sorted(p.name for p in submission.iterdir()) == ["1", "140", "160"]
