"""Baselines: training (both models, both splits), resume, prediction layout, CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")
sitk = pytest.importorskip("SimpleITK")

from baselines_fixtures import make_tiny_release, set_test_threads  # noqa: E402
from typer.testing import CliRunner  # noqa: E402
from wmheval_baselines.models.fcn_vgg import vgg16_features  # noqa: E402
from wmheval_baselines.predict import predict_folder  # noqa: E402
from wmheval_baselines.train import RunError, TrainConfig, checkpoint_path, train  # noqa: E402

from wmheval.cli.main import app  # noqa: E402

set_test_threads()
TINY = {"base_channels": 4, "wm_base_channels": 4, "batch_size": 4, "learning_rate": 3e-3,
        "device": "cpu"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_tiny_release(tmp_path_factory.mktemp("tiny") / "release")


def history(run):
    return json.loads((run / "metadata.json").read_text())["history"]


def states(run):
    return torch.load(checkpoint_path(run), weights_only=False)["models"]


def assert_same_states(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), (name, key)


def test_resunet_trains_checkpoints_and_resumes_exactly(data, tmp_path):
    straight = train(TrainConfig(model="resunet", data=str(data), wm_epochs=1, epochs=3,
                                 **TINY), tmp_path / "straight")
    losses = [h["loss"] for h in history(straight)]
    assert [h["phase"] for h in history(straight)] == ["wm", "wmh", "wmh", "wmh"]
    assert losses[3] < losses[1]  # the WMH loss decreases
    assert checkpoint_path(straight).is_file()
    config = json.loads((straight / "config.json").read_text())
    assert config["seed"] == 0 and config["model"] == "resunet"
    metadata = json.loads((straight / "metadata.json").read_text())
    assert metadata["complete"] and 0.5 < metadata["beta"] < 1
    assert metadata["checkpoint_sha256"] == hashlib.sha256(
        checkpoint_path(straight).read_bytes()).hexdigest()
    assert set(metadata["training_subjects"]) == {"0", "2", "50", "52", "100", "101"}

    # 2 epochs, then resume to 4: same epochs, same weights as the straight run.
    partial = tmp_path / "partial"
    train(TrainConfig(model="resunet", data=str(data), wm_epochs=1, epochs=1, **TINY), partial)
    assert torch.load(checkpoint_path(partial), weights_only=False)["epoch"] == 2
    train(TrainConfig(model="resunet", data=str(data), wm_epochs=1, epochs=3, **TINY), partial)
    assert [h["epoch"] for h in history(partial)] == [1, 2, 3, 4]
    assert_same_states(states(partial), states(straight))

    # A finished run is not retrained; changed settings refuse to resume.
    before = checkpoint_path(partial).stat().st_mtime_ns
    train(TrainConfig(model="resunet", data=str(data), wm_epochs=1, epochs=3, **TINY), partial)
    assert checkpoint_path(partial).stat().st_mtime_ns == before
    with pytest.raises(RunError, match="seed"):
        train(TrainConfig(model="resunet", data=str(data), wm_epochs=1, epochs=4, seed=1,
                          **TINY), partial)

    # Challenge split: the test subjects, on their FLAIR grids, uint8 0/1.
    submission = predict_folder(straight, data, tmp_path / "submission", device="cpu")
    assert sorted(p.name for p in submission.iterdir()) == ["1", "140", "160"]
    for subject_id, folder in [("1", "test/Utrecht/1"), ("140", "test/Amsterdam/GE1T5/140"),
                               ("160", "test/Amsterdam/Philips_VU .PETMR_01./160")]:
        result = sitk.ReadImage(str(submission / subject_id / "result.nii.gz"))
        flair = sitk.ReadImage(str(data / folder / "pre" / "FLAIR.nii.gz"))
        assert result.GetSize() == flair.GetSize()
        assert np.allclose(result.GetSpacing(), flair.GetSpacing())
        assert np.allclose(result.GetOrigin(), flair.GetOrigin())
        assert np.allclose(result.GetDirection(), flair.GetDirection())
        assert result.GetPixelID() == sitk.sitkUInt8
        assert set(np.unique(sitk.GetArrayFromImage(result))) <= {0, 1}


def test_fcn_vgg_loso_with_pretrained_file(data, tmp_path, capsys):
    torch.manual_seed(5)
    state = {f"features.{k}": v for k, v in vgg16_features().state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(1000)
    weights = tmp_path / "vgg16.pth"
    torch.save(state, weights)
    run = train(TrainConfig(model="fcn-vgg", data=str(data), split="loso:singapore_siemens_3t",
                            epochs=2, fcn_k=4, vgg_weights=str(weights), batch_size=8,
                            learning_rate=1e-4, device="cpu"), tmp_path / "run")
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["pretrained_weights"]["sha256"] == hashlib.sha256(
        weights.read_bytes()).hexdigest()
    assert metadata["weights_warning"] is None
    assert set(metadata["training_subjects"]) == {"0", "2", "100", "101"}
    losses = [h["loss"] for h in metadata["history"]]
    assert losses[1] < losses[0]
    assert "FROM SCRATCH" not in capsys.readouterr().err
    submission = predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert sorted(p.name for p in submission.iterdir()) == ["50", "52"]


def test_fcn_vgg_from_scratch_says_so(data, tmp_path, capsys):
    run = train(TrainConfig(model="fcn-vgg", data=str(data), epochs=1, fcn_k=4, batch_size=8,
                            device="cpu"), tmp_path / "run")
    assert "FROM SCRATCH" in capsys.readouterr().err
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["pretrained_weights"] is None
    assert "FROM SCRATCH" in metadata["weights_warning"]


def test_wm_labels_required_for_resunet(data, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    for mask in copy.rglob("wm_mask.nii.gz"):
        mask.unlink()
    with pytest.raises(ValueError, match="--wm-masks"):
        train(TrainConfig(model="resunet", data=str(copy), wm_epochs=1, epochs=1, **TINY),
              tmp_path / "run")
    masks = tmp_path / "masks"  # the user's folder of <id>.nii.gz labels
    masks.mkdir()
    for mask in data.rglob("wm_mask.nii.gz"):
        shutil.copy(mask, masks / f"{mask.parent.parent.name}.nii.gz")
    run = train(TrainConfig(model="resunet", data=str(copy), wm_epochs=1, epochs=1,
                            wm_masks=str(masks), **TINY), tmp_path / "run")
    assert json.loads((run / "metadata.json").read_text())["complete"]


def test_cli_train_and_predict(data, tmp_path):
    runner = CliRunner()
    run, sub = tmp_path / "run", tmp_path / "sub"
    result = runner.invoke(app, ["baseline", "train", "resunet", str(data), "--out", str(run),
                                 "--epochs", "1", "--wm-epochs", "1", "--base-channels", "4",
                                 "--batch-size", "4", "--device", "cpu", "--no-resume"])
    assert result.exit_code == 0, result.output
    assert (run / "config.json").is_file() and checkpoint_path(run).is_file()
    result = runner.invoke(app, ["baseline", "predict", str(run), str(data), "--out", str(sub),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in sub.iterdir()) == ["1", "140", "160"]
    bad = runner.invoke(app, ["baseline", "train", "unet3d", str(data), "--out", str(run)])
    assert bad.exit_code == 1 and "unknown model" in bad.output
    bad = runner.invoke(app, ["baseline", "predict", str(tmp_path / "nothing"), str(data),
                              "--out", str(sub)])
    assert bad.exit_code == 1 and "no checkpoint" in " ".join(bad.output.split())


def test_cli_without_torch_names_the_fix(data, tmp_path, monkeypatch):
    import importlib.util

    from wmheval.cli import baseline

    real = importlib.util.find_spec
    monkeypatch.setattr(baseline.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    result = CliRunner().invoke(app, ["baseline", "train", "resunet", str(data), "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 1
    assert 'pip install torch==2.13.0 && pip install "wmheval[baselines]"' in " ".join(
        result.output.split())
    with pytest.raises(baseline.BaselinesUnavailable, match="torch"):
        baseline.train_baseline("resunet", data, tmp_path / "run")
