"""Bundled models: export of a finished run (weights only), sha256-verified loading by name,
prediction identical to the run folder's, and the CLI's ``--model demo:...``."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from baselines_fixtures import TINY_TRAINING as TINY  # noqa: E402
from baselines_fixtures import make_tiny_release, set_test_threads  # noqa: E402
from typer.testing import CliRunner  # noqa: E402
from wmheval_baselines import bundled  # noqa: E402
from wmheval_baselines.predict import load_run, predict_folder  # noqa: E402
from wmheval_baselines.train import TrainConfig, load_checkpoint, train  # noqa: E402

from wmheval.cli.main import app  # noqa: E402
from wmheval.io.images import read_image  # noqa: E402

set_test_threads()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data, run): the tiny release and a ResU-Net trained on it for a few samples."""
    root = tmp_path_factory.mktemp("bundled")
    data = make_tiny_release(root / "release")
    config = TrainConfig(model="resunet", samples=16, wm_samples=8, data=str(data), **TINY)
    return data, train(config, root / "run")


@pytest.fixture
def bundle(trained, tmp_path, monkeypatch):
    """The tiny run bundled in fp32 as ``demo:tiny`` in a temporary bundle folder."""
    _, run = trained
    monkeypatch.setattr(bundled, "BUNDLE_DIR", tmp_path / "bundled")
    bundled.export_bundle(load_checkpoint(run), "demo:tiny", {"command": "test"}, half=False)
    return tmp_path / "bundled"


def _masks(folder):
    return {p.parent.name: read_image(p).array for p in sorted(folder.glob("*/result.nii.gz"))}


def test_the_bundle_holds_weights_only_with_provenance_and_its_sha256(trained, bundle):
    _, run = trained
    manifest = json.loads((bundle / "manifest.json").read_text())
    entry = manifest["demo:tiny"]
    payload = (bundle / entry["file"]).read_bytes()
    import hashlib

    assert entry["sha256"] == hashlib.sha256(payload).hexdigest()
    assert entry["bytes"] == len(payload) and entry["command"] == "test"
    assert "no use on real scans" in entry["warning"] and entry["dtype"] == "float32"
    saved = torch.load(bundle / entry["file"], weights_only=True)
    assert "optimiser" not in saved and "scaler" not in saved
    assert saved["provenance"]["command"] == "test" and saved["config"]["data"] == ""
    original = load_checkpoint(run)
    assert len(payload) < (run / "checkpoints" / "last.pt").stat().st_size
    loaded = bundled.load_bundled("demo:tiny")
    for network, state in original["models"].items():
        for key, value in state.items():
            assert torch.equal(loaded["models"][network][key], value), (network, key)


def test_half_precision_bundle_is_smaller_and_loads_as_float32(trained, tmp_path):
    _, run = trained
    folder = tmp_path / "half"
    bundled.export_bundle(load_checkpoint(run), "demo:tiny", {}, half=True, folder=folder)
    loaded = bundled.load_bundled("demo:tiny", folder)
    original = load_checkpoint(run)["models"]
    for network, state in original.items():
        for key, value in state.items():
            got = loaded["models"][network][key]
            assert got.dtype == value.dtype
            if value.is_floating_point():
                assert torch.equal(got, value.half().float()), (network, key)


def test_a_bundled_model_predicts_exactly_as_its_run_folder(trained, bundle, tmp_path):
    data, run = trained
    from_run = predict_folder(run, data, tmp_path / "from_run", device="cpu")
    from_bundle = predict_folder("demo:tiny", data, tmp_path / "from_bundle", device="cpu")
    a, b = _masks(from_run), _masks(from_bundle)
    assert sorted(a) == ["1", "140", "160"] and a.keys() == b.keys()
    for subject in a:
        assert np.array_equal(a[subject], b[subject]), subject
    assert load_run("demo:tiny", "cpu").threshold == load_run(run, "cpu").threshold


def test_an_altered_or_unknown_bundle_is_refused_naming_it(bundle):
    with pytest.raises(bundled.BundledModelError, match="demo:tiny"):
        bundled.load_bundled("demo:nothing")
    entry = json.loads((bundle / "manifest.json").read_text())["demo:tiny"]
    path = bundle / entry["file"]
    payload = bytearray(path.read_bytes())
    payload[-100] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.raises(bundled.BundledModelError, match="does not match the manifest"):
        bundled.load_bundled("demo:tiny")


def test_cli_predicts_with_a_bundled_model_by_name(trained, bundle, tmp_path):
    data, run = trained
    runner = CliRunner()
    out = tmp_path / "sub"
    result = runner.invoke(app, ["baseline", "predict", "--model", "demo:tiny", str(data),
                                 "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    reference = predict_folder(run, data, tmp_path / "reference", device="cpu")
    a, b = _masks(out), _masks(reference)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    positional = runner.invoke(app, ["baseline", "predict", "demo:tiny", str(data),
                                     "--out", str(tmp_path / "positional"), "--device", "cpu"])
    assert positional.exit_code == 0, positional.output
    unknown = runner.invoke(app, ["baseline", "predict", "--model", "demo:nothing", str(data),
                                  "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "demo:tiny" in unknown.output
    both = runner.invoke(app, ["baseline", "predict", str(run), str(data), "--model",
                               "demo:tiny", "--out", str(tmp_path / "y")])
    assert both.exit_code == 2 and "not both" in both.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_provenance_with_torch_objects_still_loads_weights_only(trained, tmp_path):
    """Regression: the provenance recorded ``torch.__version__`` (a TorchVersion), which
    ``torch.load(weights_only=True)`` refuses, so the shipped bundle could not be loaded."""
    _, run = trained
    folder = tmp_path / "provenance"
    bundled.export_bundle(load_checkpoint(run), "demo:tiny",
                          {"torch_version": torch.__version__, "path": tmp_path},
                          half=False, folder=folder)
    loaded = bundled.load_bundled("demo:tiny", folder)
    assert loaded["provenance"]["torch_version"] == str(torch.__version__)
    assert type(loaded["provenance"]["torch_version"]) is str
    assert loaded["provenance"]["path"] == str(tmp_path)
