"""Baselines: training (both models, both splits), resume, prediction layout, CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import SimpleITK as sitk
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
import torch
from baselines_fixtures import TINY_TRAINING as TINY
from baselines_fixtures import make_tiny_release, set_test_threads
from typer.testing import CliRunner
from wmheval_baselines.models.fcn_vgg import vgg16_features
from wmheval_baselines.predict import predict_folder
from wmheval_baselines.train import RunError, TrainConfig, checkpoint_path, train

from wmheval.cli.main import app

set_test_threads()
SLICES = 24  # 6 training subjects x 4 slices in the tiny release


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


def resunet(samples: int, wm_samples: int = SLICES, **extra) -> TrainConfig:
    return TrainConfig(model="resunet", samples=samples, wm_samples=wm_samples,
                       **(TINY | extra))


@pytest.mark.slow  # > 20 s: trains twice (20-50 CPU-seconds measured)
def test_resunet_trains_checkpoints_and_resumes_exactly(data, tmp_path):
    straight = train(resunet(3 * SLICES, data=str(data)), tmp_path / "straight")
    losses = [h["loss"] for h in history(straight)]
    assert [h["phase"] for h in history(straight)] == ["wm", "wmh", "wmh", "wmh"]
    assert [h["samples_seen"] for h in history(straight)] == [24, 24, 48, 72]
    assert all(h["loader_seconds"] >= 0 and h["step_seconds"] > 0 for h in history(straight))
    assert losses[3] < losses[1]  # the WMH loss decreases
    assert checkpoint_path(straight).is_file()
    config = json.loads((straight / "config.json").read_text())
    assert config["seed"] == 0 and config["model"] == "resunet"
    metadata = json.loads((straight / "metadata.json").read_text())
    assert metadata["complete"] and metadata["beta"] == 0.975
    assert metadata["threshold"] == 0.975  # class-balanced: read at p >= beta
    assert metadata["schedule"]["wmh"] == {
        "samples": 72, "slices": SLICES, "passes": 3.0, "batch_size": 4, "steps": 18,
        "learning_rate": 3e-3, "weight_decay": 0.0, "lr_schedule": "constant",
        "intensity_augment": 0.0, "bias_augment": 0.0, "recipe": "paper"}
    assert metadata["checkpoint_sha256"] == hashlib.sha256(
        checkpoint_path(straight).read_bytes()).hexdigest()
    assert set(metadata["training_subjects"]) == {"0", "2", "50", "52", "100", "101"}

    # 1 pass, then resume to 3: same passes, same weights as the straight run.
    partial = tmp_path / "partial"
    train(resunet(SLICES, data=str(data)), partial)
    assert torch.load(checkpoint_path(partial), weights_only=False)["progress"] == {
        "wm": 24, "wmh": 24}
    # A longer schedule on a finished run is incomplete until done: killed after one more
    # pass (checkpoint and metadata saved), the run must not claim to be complete.
    import wmheval_baselines.train as train_module

    class Killed(Exception):
        pass

    real_pass, calls = train_module._Trainer._run_pass, []

    def killed_on_second(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real_pass(self, *args)

    train_module._Trainer._run_pass = killed_on_second
    try:
        with pytest.raises(Killed):
            train(resunet(3 * SLICES, data=str(data)), partial)
    finally:
        train_module._Trainer._run_pass = real_pass
    killed = json.loads((partial / "metadata.json").read_text())
    assert killed["progress"] == {"wm": 24, "wmh": 48} and killed["complete"] is False
    train(resunet(3 * SLICES, data=str(data)), partial)
    assert [h["pass"] for h in history(partial)] == [1, 1, 2, 3]
    assert json.loads((partial / "metadata.json").read_text())["complete"] is True
    assert_same_states(states(partial), states(straight))

    # A finished run is not retrained; changed settings refuse to resume.
    before = checkpoint_path(partial).stat().st_mtime_ns
    train(resunet(3 * SLICES, data=str(data)), partial)
    assert checkpoint_path(partial).stat().st_mtime_ns == before
    with pytest.raises(RunError, match="seed"):
        train(resunet(3 * SLICES, data=str(data), seed=1), partial)

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
                            samples=32, fcn_k=4, vgg_weights=str(weights), batch_size=8,
                            learning_rate=1e-4, weight_decay=5e-4, beta=None,
                            device="cpu"), tmp_path / "run")
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["pretrained_weights"]["sha256"] == hashlib.sha256(
        weights.read_bytes()).hexdigest()
    assert metadata["weights_warning"] is None
    assert set(metadata["training_subjects"]) == {"0", "2", "100", "101"}
    assert metadata["threshold"] == 0.5  # plain cross-entropy: read at p >= 0.5
    assert metadata["vgg_convention"] == "torchvision"
    losses = [h["loss"] for h in metadata["history"]]
    assert losses[1] < losses[0]
    assert "FROM SCRATCH" not in capsys.readouterr().err
    submission = predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert sorted(p.name for p in submission.iterdir()) == ["50", "52"]


def test_fcn_vgg_from_scratch_says_so(data, tmp_path, capsys):
    run = train(TrainConfig(model="fcn-vgg", data=str(data), samples=8, fcn_k=4, batch_size=8,
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
        train(resunet(8, 8, data=str(copy)), tmp_path / "run")
    masks = tmp_path / "masks"  # the user's folder of <id>.nii.gz labels
    masks.mkdir()
    for mask in data.rglob("wm_mask.nii.gz"):
        shutil.copy(mask, masks / f"{mask.parent.parent.name}.nii.gz")
    run = train(resunet(8, 8, data=str(copy), wm_masks=str(masks)), tmp_path / "run")
    assert json.loads((run / "metadata.json").read_text())["complete"]


def test_cli_train_and_predict(data, tmp_path):
    runner = CliRunner()
    run, sub = tmp_path / "run", tmp_path / "sub"
    result = runner.invoke(app, ["baseline", "train", "resunet", str(data), "--out", str(run),
                                 "--recipe", "demo", "--samples", "8", "--wm-samples", "8",
                                 "--base-channels", "4", "--beta", "0.9", "--lr", "0.01",
                                 "--batch-size", "4", "--device", "cpu", "--no-resume",
                                 "--lr-schedule", "cosine", "--intensity-augment", "0.2",
                                 "--bias-augment", "0.1"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert (config["recipe"], config["samples"], config["wm_samples"]) == ("demo", 8, 8)
    assert (config["lr_schedule"], config["intensity_augment"], config["bias_augment"]) == (
        "cosine", 0.2, 0.1)
    assert (config["beta"], config["learning_rate"], config["base_channels"]) == (0.9, 0.01, 4)
    assert "wmh network: 8 samples" in " ".join(result.output.split())
    # One line per pass, whole at 80 columns (it used to wrap a lone "s" onto the next line).
    lines = result.output.splitlines()
    passes = [line for line in lines if " pass " in line]
    assert len(passes) == 2 and all(line.rstrip().endswith(" s") and "steps" in line
                                    and len(line) <= 80 for line in passes)
    # Not a terminal: no progress bars, so no empty lines they would leave behind.
    assert "" not in lines[lines.index(passes[0]):lines.index(passes[-1])]
    assert checkpoint_path(run).is_file()
    result = runner.invoke(app, ["baseline", "predict", str(run), str(data), "--out", str(sub),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in sub.iterdir()) == ["1", "140", "160"]
    bad = runner.invoke(app, ["baseline", "train", "unet3d", str(data), "--out", str(run)])
    assert bad.exit_code == 2  # not one of the model choices
    bad = runner.invoke(app, ["baseline", "train", "resunet", str(data), "--out", str(run),
                              "--lr-schedule", "step"])
    assert bad.exit_code == 2  # not one of the schedules
    bad = runner.invoke(app, ["baseline", "predict", str(tmp_path / "nothing"), str(data),
                              "--out", str(sub)])
    assert bad.exit_code == 2 and "no checkpoint" in " ".join(bad.output.split())


def test_cli_without_torch_names_the_fix(data, tmp_path, monkeypatch):
    import importlib.util

    from wmheval.cli import baseline

    real = importlib.util.find_spec
    monkeypatch.setattr(baseline.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    result = CliRunner().invoke(app, ["baseline", "train", "resunet", str(data), "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 2
    assert 'pip install torch==2.13.0 && pip install "wmheval[baselines]"' in " ".join(
        result.output.split())
    with pytest.raises(baseline.BaselinesUnavailable, match="torch"):
        baseline.train_baseline("resunet", data, tmp_path / "run")


@pytest.mark.slow  # > 20 s under load (10-41 CPU-s, 29-139 s wall measured: a time budget)
def test_time_budget_stop_is_incomplete_and_resume_finishes_it(data, tmp_path):
    from wmheval_baselines.predict import IncompleteRunError, load_run

    straight = train(resunet(2 * SLICES, data=str(data)), tmp_path / "straight")
    # A budget that runs out after the first batch of each invocation.
    run = tmp_path / "budget"
    train(resunet(2 * SLICES, data=str(data), max_seconds=1e-9), run)
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["complete"] is False
    assert metadata["stopped_by_time_budget"] == {"phase": "wm", "samples_seen": 4}
    assert history(run)[-1]["partial"] is True
    with pytest.raises(IncompleteRunError, match="INCOMPLETE"):
        predict_folder(run, data, tmp_path / "sub", device="cpu")
    # Resuming (same command without a budget) finishes the schedule, bit-identical to a run
    # that was never interrupted, also though it stopped in the middle of a pass.
    train(resunet(2 * SLICES, data=str(data)), run)
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["complete"] is True and metadata["progress"] == {"wm": 24, "wmh": 48}
    assert_same_states(states(run), states(straight))
    assert load_run(run, "cpu").complete


def test_incomplete_run_predicts_only_when_allowed_and_warns(data, tmp_path):
    run = tmp_path / "budget"
    # The white-matter phase (one batch) ends; the budget stops the WMH phase after 1 batch.
    train(resunet(2 * SLICES, wm_samples=4, data=str(data), max_seconds=1e-9), run)
    assert json.loads((run / "metadata.json").read_text())["progress"] == {"wm": 4, "wmh": 4}
    with pytest.warns(UserWarning, match="PART-TRAINED"):
        submission = predict_folder(run, data, tmp_path / "sub", device="cpu",
                                    allow_incomplete=True)
    assert sorted(p.name for p in submission.iterdir()) == ["1", "140", "160"]
    bad = CliRunner().invoke(app, ["baseline", "predict", str(run), str(data), "--out",
                                   str(tmp_path / "cli"), "--device", "cpu"])
    assert bad.exit_code == 2 and "INCOMPLETE" in " ".join(bad.output.split())


def test_one_host_sync_per_pass_not_per_step(data, tmp_path, monkeypatch):
    calls = []
    real = torch.Tensor.__float__

    def counting(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(torch.Tensor, "__float__", counting)
    train(TrainConfig(model="flair-fcn", data=str(data), samples=2 * SLICES, wm_samples=0,
                      **TINY), tmp_path / "run")
    monkeypatch.undo()
    assert len(calls) == 2  # two passes of 6 steps each: one loss read-out per pass


def test_flair_fcn_trains_and_predicts_in_the_white_matter(data, tmp_path):
    from wmheval_baselines.models import FlairFcn

    run = train(TrainConfig(model="flair-fcn", data=str(data), samples=2 * SLICES,
                            wm_samples=SLICES, beta=0.9, **TINY), tmp_path / "run")
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["complete"] and metadata["threshold"] == 0.9
    saved = states(run)
    assert set(saved) == {"wm", "wmh"}
    net = FlairFcn(4)
    net.load_state_dict(saved["wmh"])
    assert net.depth == 3 and net.down[0].body[0][0].in_channels == 1  # FLAIR only
    submission = predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert sorted(p.name for p in submission.iterdir()) == ["1", "140", "160"]


def test_predictions_are_read_at_the_runs_threshold(data, tmp_path, monkeypatch):
    from wmheval_baselines import inference, predict

    run = train(resunet(8, 8, data=str(data), beta=0.8), tmp_path / "run")
    trained = predict.load_run(run, "cpu")
    assert trained.threshold == 0.8
    subject = next(s for s in predict.find_subjects(data) if s.id == "1")
    levels = np.linspace(0.0, 1.0, 4 * 32 * 32, dtype=np.float32).reshape(4, 32, 32)
    monkeypatch.setattr(inference, "predict_probabilities", lambda *a, **k: levels.copy())
    monkeypatch.setattr(inference, "wm_mask_from_net",
                        lambda *a, **k: np.ones((4, 32, 32), bool))
    mask = predict.predict_subject(trained, subject)
    assert np.array_equal(mask, (levels >= 0.8).astype(np.uint8))


def test_white_matter_net_is_read_at_the_configured_threshold(monkeypatch):
    """The white-matter probabilities are read at ``wm_threshold`` (it was a fixed 0.5;
    the default stays 0.5, inference.WM_THRESHOLD, measured in baselines/README)."""
    from wmheval_baselines import inference
    from wmheval_baselines.data import Volume
    from wmheval_baselines.wm_mask import refine_wm_mask

    rng = np.random.default_rng(1)
    probability = rng.random((3, 12, 12)).astype(np.float32)
    monkeypatch.setattr(inference, "predict_probabilities", lambda *a, **k: probability)
    volume = Volume(None, np.ones((3, 12, 12), np.float32), np.ones((3, 12, 12), np.float32),
                    (1.0, 1.0, 3.0))
    assert inference.WM_THRESHOLD == 0.5 and TrainConfig().wm_threshold == 0.5
    for threshold in (0.1, 0.5, 0.8):
        mask = inference.wm_mask_from_net(None, volume, torch.device("cpu"), dilation_mm=1.0,
                                          threshold=threshold)
        assert np.array_equal(mask, refine_wm_mask(probability >= threshold, volume.spacing,
                                                   1.0))
    default = inference.wm_mask_from_net(None, volume, torch.device("cpu"), dilation_mm=0.0)
    assert np.array_equal(default, refine_wm_mask(probability >= 0.5, volume.spacing, 0.0))
    with pytest.raises(ValueError, match="wm_threshold"):
        TrainConfig(wm_threshold=1.0)


def test_training_and_prediction_read_the_white_matter_net_at_the_runs_threshold(
        data, tmp_path, monkeypatch):
    from wmheval_baselines import inference

    seen: list[float] = []
    original = inference.wm_mask_from_net

    def spy(*args, threshold, **kwargs):
        seen.append(threshold)
        return original(*args, threshold=threshold, **kwargs)

    # Training and prediction both reach it through inference.white_matter_region.
    monkeypatch.setattr(inference, "wm_mask_from_net", spy)
    run = train(resunet(8, 8, data=str(data), wm_threshold=0.3), tmp_path / "run")
    assert seen == [0.3] * 6  # the six training subjects
    predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert seen[6:] == [0.3] * 3  # the three test subjects
    # A run folder from before the setting existed gets the policy's default.
    config = json.loads((run / "config.json").read_text())
    del config["wm_threshold"]
    (run / "config.json").write_text(json.dumps(config))
    assert TrainConfig.from_json(run / "config.json").wm_threshold == 0.5


@pytest.mark.parametrize("channels_last", [True, False])
def test_runs_train_and_predict_in_the_configured_memory_layout(data, tmp_path, monkeypatch,
                                                               channels_last):
    """channels_last (default) now holds on the CPU too: the networks train and predict
    NHWC (it was CUDA only, and the CPU ran NCHW convolutions ~2.5x slower)."""
    from wmheval_baselines import predict
    from wmheval_baselines.inference import uses_channels_last

    seen = []
    real_forward = torch.nn.Conv2d.forward

    def recording(self, x):
        if x.shape[1] > 1:  # one channel is both layouts at once
            seen.append(x.is_contiguous(memory_format=torch.channels_last)
                        and not x.is_contiguous())
        return real_forward(self, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", recording)
    run = train(resunet(8, 8, data=str(data), channels_last=channels_last), tmp_path / "run")
    trained = predict.load_run(run, "cpu")
    assert all(uses_channels_last(m) == channels_last for m in trained.models.values())
    seen.clear()
    predict.predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert seen and all(s == channels_last for s in seen)


def test_cpu_bf16_prediction_is_opt_in_and_refused_where_the_cpu_lacks_it(data, tmp_path,
                                                                          monkeypatch):
    """`baseline predict --cpu-bf16`: bf16 autocast on the CPU only when asked; masks close
    to the fp32 ones; a CPU without oneDNN bf16 gets a clear error, not a slow emulation."""
    from wmheval_baselines import predict
    from wmheval_baselines.inference import cpu_bf16_supported

    run = train(resunet(SLICES, data=str(data)), tmp_path / "run")
    assert predict.load_run(run, "cpu").cpu_bf16 is False
    if cpu_bf16_supported():
        assert predict.load_run(run, "cpu", cpu_bf16=True).cpu_bf16 is True
        runner = CliRunner()
        outputs = {}
        for name, extra in (("fp32", []), ("bf16", ["--cpu-bf16"])):
            result = runner.invoke(app, ["baseline", "predict", str(run), str(data), "--out",
                                         str(tmp_path / name), "--device", "cpu", *extra])
            assert result.exit_code == 0, result.output
            outputs[name] = {s: sitk.GetArrayFromImage(sitk.ReadImage(
                str(tmp_path / name / s / "result.nii.gz"))) for s in ("1", "140", "160")}
        for subject, mask in outputs["fp32"].items():
            other = outputs["bf16"][subject]
            assert other.shape == mask.shape and other.dtype == np.uint8
            assert np.mean(other != mask) < 0.01  # bf16 moves only borderline voxels
    monkeypatch.setattr(predict, "cpu_bf16_supported", lambda: False)
    with pytest.raises(RunError, match="cpu-bf16"):
        predict.load_run(run, "cpu", cpu_bf16=True)
    result = CliRunner().invoke(app, ["baseline", "predict", str(run), str(data), "--out",
                                      str(tmp_path / "refused"), "--cpu-bf16"])
    assert result.exit_code == 2 and "AVX-512" in " ".join(result.output.split())
    assert not (tmp_path / "refused").exists()


def test_cli_exit_codes_tell_input_errors_from_failed_runs(data, tmp_path, monkeypatch):
    """Exit 2 for usage and input errors (the brief's rule), 1 when the run itself fails."""
    from wmheval_baselines.data import DataError

    from wmheval.cli import baseline

    def failing(error):
        def run(*args, **kwargs):
            raise error
        return run

    for error, code in ((RuntimeError("CPU out of memory"), 1), (DataError("bad label"), 2),
                        (FileNotFoundError("no such file"), 2), (RunError("no run"), 2),
                        (baseline.BaselinesUnavailable("no torch"), 2)):
        monkeypatch.setattr(baseline, "train_baseline", failing(error))
        result = CliRunner().invoke(app, ["baseline", "train", "resunet", str(data), "--out",
                                          str(tmp_path / "run")])
        assert result.exit_code == code, (error, result.output)
        assert str(error) in " ".join(result.output.split())
