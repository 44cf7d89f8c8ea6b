"""Baselines: the FLAIR FCN's through-plane context (adjacent FLAIR slices as channels)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
import torch
from baselines_fixtures import TINY_TRAINING as TINY
from baselines_fixtures import (
    make_tiny_release,
    set_test_threads,
    train_and_predict_by_cli,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from typer.testing import CliRunner
from wmheval_baselines.data import robust_unit
from wmheval_baselines.inference import flair_fcn_input, slice_context
from wmheval_baselines.train import RunError, TrainConfig, build_models, train

from wmheval.cli.main import app

set_test_threads()


def literal_context(volume: np.ndarray, context_slices: int) -> np.ndarray:
    """Slow oracle: channel c of slice z is slice z + c - reach, clamped to the volume."""
    depth = volume.shape[0]
    reach = context_slices // 2
    out = np.empty((depth, context_slices, *volume.shape[1:]), volume.dtype)
    for z in range(depth):
        for c in range(context_slices):
            out[z, c] = volume[min(max(z + c - reach, 0), depth - 1)]
    return out


@settings(max_examples=50, deadline=None)
@given(volume=arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 4),
                                           st.integers(1, 4)),
                     elements=st.floats(-5, 5, width=32)),
       context_slices=st.sampled_from([1, 3, 5, 7]))
def test_slice_context_equals_the_literal_stack(volume, context_slices):
    before = volume.copy()
    got = slice_context(volume, context_slices)
    assert got.shape == (volume.shape[0], context_slices, *volume.shape[1:])
    assert np.array_equal(got, literal_context(volume, context_slices))
    assert np.array_equal(got[:, context_slices // 2], volume)  # the slice itself in the middle
    got[...] = 0  # owns its memory: writing to it leaves the caller's volume untouched
    assert np.array_equal(volume, before)


@pytest.mark.parametrize("bad", [0, 2, 4, -1])
def test_an_even_or_empty_context_is_refused(bad):
    with pytest.raises(ValueError, match="odd"):
        slice_context(np.zeros((3, 2, 2), np.float32), bad)
    with pytest.raises(ValueError, match="odd"):
        TrainConfig(model="flair-fcn", context_slices=bad)


@pytest.mark.parametrize("model", ["resunet", "fcn-vgg"])
def test_only_the_flair_fcn_takes_context(model):
    with pytest.raises(ValueError, match="flair-fcn"):
        TrainConfig(model=model, context_slices=3)


def test_one_slice_is_the_former_input_and_old_runs_read_as_one(tmp_path):
    """Runs saved before the option existed have no ``context_slices``: they load as 1."""
    rng = np.random.default_rng(0)

    class Stub:
        flair = rng.uniform(0, 900, (5, 6, 7)).astype(np.float32)

    assert np.array_equal(flair_fcn_input(Stub()), robust_unit(Stub.flair)[:, None])
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model": "flair-fcn", "base_channels": 4}))
    assert TrainConfig.from_json(path).context_slices == 1
    net = build_models(TrainConfig(model="flair-fcn", base_channels=4, wm_base_channels=4,
                                   context_slices=5))["wmh"]
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 5


class _ChannelProbe(torch.nn.Module):
    """A stand-in WMH network whose class-1 logit is ``gain`` times input channel
    ``channel``: what it outputs shows which slice that channel carried."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.channel = channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chosen = x[:, self.channel:self.channel + 1] * 20.0
        return torch.cat([torch.zeros_like(chosen), chosen], dim=1)


def test_the_pipeline_feeds_the_neighbouring_slices_in_order(tmp_path, monkeypatch):
    """wmh_output (training and prediction share it) must give channel 0 the slice below,
    channel 2 the slice above, clamped at the ends."""
    from wmheval_baselines import inference
    from wmheval_baselines.data import find_subjects, load_volume

    data = make_tiny_release(tmp_path / "release", shape=(5, 32, 32))
    volume = load_volume(find_subjects(data)[0])
    # The white-matter mask everywhere, so that every voxel shows the probe's output.
    monkeypatch.setattr(inference, "wm_mask_from_net",
                        lambda model, volume, *a, **k: np.ones(volume.flair.shape, bool))
    config = TrainConfig(model="flair-fcn", context_slices=3, device="cpu")
    scaled = robust_unit(volume.flair)
    depth = scaled.shape[0]
    for channel, shift in ((0, -1), (1, 0), (2, 1)):
        models = {"wm": None, "wmh": _ChannelProbe(channel)}
        output = inference.wmh_output(config, models, volume, torch.device("cpu"))
        expected = np.stack([1 / (1 + np.exp(-20.0 * scaled[min(max(z + shift, 0), depth - 1)]))
                             for z in range(depth)])
        assert np.allclose(output, expected, atol=1e-5)
    assert not np.allclose(scaled[0], scaled[1])  # the slices differ: the test can tell


def test_a_context_run_trains_predicts_and_cannot_change_on_resume(tmp_path):
    data = make_tiny_release(tmp_path / "release")
    run = train_and_predict_by_cli(data, tmp_path, "flair-fcn", "--operating-point",
                                   "posterior", "--context-slices", "3")
    assert json.loads((run / "config.json").read_text())["context_slices"] == 3
    assert len(list((tmp_path / "sub").glob("*/result.nii.gz"))) == 3
    settings = {"model": "flair-fcn", "data": str(data), "samples": 8, "wm_samples": 8,
                **TINY}
    train(TrainConfig(**settings, context_slices=3), tmp_path / "own")
    with pytest.raises(RunError, match="context_slices"):
        train(TrainConfig(**settings), tmp_path / "own")
    bad = CliRunner().invoke(app, [
        "baseline", "train", "flair-fcn", str(data), "-o", str(tmp_path / "bad"),
        "--context-slices", "2"])
    assert bad.exit_code == 2 and "odd" in " ".join(bad.output.split())
