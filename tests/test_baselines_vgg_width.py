"""Baselines: the narrow from-scratch VGG (``vgg_width``): layout, checks, a run."""

from __future__ import annotations

import json

import pytest
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
import torch
from baselines_fixtures import make_tiny_release, set_test_threads
from typer.testing import CliRunner
from wmheval_baselines.models.fcn_vgg import FcnVgg, stage_widths
from wmheval_baselines.train import TrainConfig, config_from_recipe, train

from wmheval.cli.main import app

set_test_threads()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_tiny_release(tmp_path_factory.mktemp("tiny") / "release")


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


def test_pretrained_weights_need_the_full_vgg16_width(data, tmp_path):
    with pytest.raises(ValueError, match="vgg_width 64"):
        TrainConfig(model="fcn-vgg", vgg_weights=str(tmp_path / "vgg16.pth"), vgg_width=16)
    assert config_from_recipe("fcn-vgg", "paper").vgg_width == 64
    assert config_from_recipe("fcn-vgg", "demo").vgg_width == 16
    runner = CliRunner()
    weights = tmp_path / "vgg16.pth"
    weights.write_bytes(b"")
    result = runner.invoke(app, ["baseline", "train", "fcn-vgg", str(data), "--out",
                                 str(tmp_path / "run"), "--recipe", "demo",
                                 "--vgg-weights", str(weights)])
    assert result.exit_code == 2
    assert "--vgg-width 64" in " ".join(result.output.split())


def test_a_narrow_vgg_run_trains_and_predicts(data, tmp_path):
    from wmheval_baselines.predict import load_run, predict_folder

    run = train(TrainConfig(model="fcn-vgg", data=str(data), samples=8, batch_size=4,
                            fcn_k=4, vgg_width=8, device="cpu"), tmp_path / "run")
    assert json.loads((run / "config.json").read_text())["vgg_width"] == 8
    trained = load_run(run, "cpu")
    assert trained.models["wmh"].features[0].out_channels == 8
    submission = predict_folder(run, data, tmp_path / "sub", device="cpu")
    assert sorted(p.name for p in submission.iterdir()) == ["1", "140", "160"]
