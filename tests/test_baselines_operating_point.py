"""Baselines: the operating point (where a network's output is read), fitted or the papers'."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
import torch
from baselines_fixtures import TINY_TRAINING as TINY
from baselines_fixtures import make_tiny_release, set_test_threads
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from typer.testing import CliRunner
from wmheval_baselines.inference import decision_threshold, weighted_output
from wmheval_baselines.operating_point import (
    POSTERIOR_LEVELS,
    dice_by_threshold,
    fit_operating_point,
    output_threshold,
)
from wmheval_baselines.train import TrainConfig, checkpoint_path, train

from wmheval.cli.main import app

set_test_threads()


def literal_dice(output: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Slow oracle: Dice of the thresholded output against label 1, voxel by voxel."""
    both = found = reference = 0
    for value, label in zip(output.ravel().tolist(), labels.ravel().tolist(), strict=True):
        predicted = value >= np.float32(threshold)
        lesion = label == 1
        both += predicted and lesion
        found += predicted
        reference += lesion
    return 2 * both / (found + reference)


@settings(max_examples=60, deadline=None)
@given(output=arrays(np.float32, (3, 5, 4), elements=st.sampled_from(
           [0.0, 0.1, 0.25, 0.5, 0.9, 0.95, 0.975, 1.0])),
       labels=arrays(np.uint8, (3, 5, 4), elements=st.sampled_from([0, 1, 2])),
       thresholds=st.lists(st.sampled_from([0.05, 0.1, 0.25, 0.5, 0.9, 0.975, 0.99]),
                           min_size=1, max_size=5))
def test_dice_by_threshold_equals_the_literal_dice(output, labels, thresholds):
    got = dice_by_threshold(output, labels, thresholds)
    if not (labels == 1).any():
        assert np.isnan(got).all()  # no reference lesion: the subject says nothing
        return
    expected = [literal_dice(output, labels, t) for t in thresholds]
    assert np.allclose(got, expected, rtol=0, atol=1e-12)


@given(beta=st.floats(0.5, 0.999), posterior=st.sampled_from(POSTERIOR_LEVELS))
def test_output_threshold_is_the_balanced_output_of_the_posterior(beta, posterior):
    threshold = output_threshold(posterior, beta)
    if posterior == 0.5:
        assert threshold == decision_threshold(beta) == beta  # the papers' reading, exactly
    # Inverting q = beta p / (beta p + (1 - beta)(1 - p)) gives back the posterior.
    recovered = (threshold * (1 - beta)) / (threshold * (1 - beta) + beta * (1 - threshold))
    assert recovered == pytest.approx(posterior, abs=1e-9)
    assert output_threshold(posterior, None) == posterior  # unweighted loss: the posterior


def test_balanced_thresholds_rise_with_the_posterior_level():
    thresholds = [output_threshold(level, 0.975) for level in POSTERIOR_LEVELS]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == len(thresholds)
    # Posterior 0.2 under beta 0.975 is an output of 0.907 (hand arithmetic).
    assert output_threshold(0.2, 0.975) == pytest.approx(0.195 / 0.215)
    assert weighted_output(0.2, 0.975) == pytest.approx(output_threshold(0.2, 0.975))


def test_the_fit_takes_the_best_mean_dice_and_ignores_lesion_free_subjects():
    levels = (0.1, 0.2, 0.5, 0.7)
    curves = np.array([[0.2, 0.6, 0.5, 0.1],
                       [0.4, 0.5, 0.3, 0.2],
                       [np.nan, np.nan, np.nan, np.nan]])
    point = fit_operating_point(curves, 0.975, levels)
    assert point.posterior == 0.2 and point.subjects == 2
    assert point.mean_dice == pytest.approx(0.55)
    assert point.threshold == pytest.approx(weighted_output(0.2, 0.975))
    assert point.curve == pytest.approx({"0.10": 0.3, "0.20": 0.55, "0.50": 0.4,
                                         "0.70": 0.15})


def test_ties_go_to_the_level_nearest_the_papers_reading():
    levels = (0.2, 0.4, 0.5, 0.65)
    assert fit_operating_point(np.array([[0.5, 0.5, 0.5, 0.5]]), 0.9, levels).posterior == 0.5
    assert fit_operating_point(np.array([[0.6, 0.6, 0.1, 0.6]]), 0.9, levels).posterior == 0.4
    assert fit_operating_point(np.array([[0.6, 0.1, 0.1, 0.6]]), None, levels).threshold == 0.65


def test_no_lesion_anywhere_is_an_error():
    with pytest.raises(ValueError, match="no training subject has a lesion"):
        fit_operating_point(np.full((2, 3), np.nan), 0.975, (0.2, 0.5, 0.7))


def test_an_unknown_operating_point_is_refused():
    with pytest.raises(ValueError, match="operating_point"):
        TrainConfig(operating_point="best")


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("op")
    data = make_tiny_release(root / "release")
    run = train(TrainConfig(model="flair-fcn", data=str(data), samples=48, wm_samples=24,
                            operating_point="fitted", **TINY), root / "run")
    return data, run


def test_a_fitted_run_is_read_at_the_level_with_the_best_training_dice(fitted_run):
    """Oracle: the training subjects' Dice recomputed literally from the saved network."""
    from wmheval_baselines.data import find_subjects, load_volume
    from wmheval_baselines.inference import wmh_output
    from wmheval_baselines.predict import load_run
    from wmheval_baselines.splits import split_subjects

    data, run = fitted_run
    metadata = json.loads((run / "metadata.json").read_text())
    point = metadata["operating_point"]
    trained = load_run(run, "cpu")
    saved = torch.load(checkpoint_path(run), weights_only=False)
    assert trained.threshold == saved["threshold"] == metadata["threshold"]
    assert trained.threshold == pytest.approx(output_threshold(point["posterior"],
                                                               metadata["beta"]))
    training, _ = split_subjects(find_subjects(data), "challenge")
    outputs = []
    for subject in training:
        volume = load_volume(subject)
        outputs.append((wmh_output(trained.config, trained.models, volume, trained.device),
                        volume.wmh))
    means = {}
    for level in POSTERIOR_LEVELS:
        threshold = output_threshold(level, metadata["beta"])
        dice = [literal_dice(o, w, threshold) for o, w in outputs if (w == 1).any()]
        means[f"{level:.2f}"] = float(np.mean(dice))
    assert point["curve"] == pytest.approx(means, abs=1e-9)
    assert point["mean_dice"] == pytest.approx(max(means.values()), abs=1e-9)
    assert point["subjects"] == sum((w == 1).any() for _, w in outputs)


def test_a_papers_run_keeps_the_posterior_half(tmp_path):
    data = make_tiny_release(tmp_path / "release")
    run = train(TrainConfig(model="flair-fcn", data=str(data), samples=8, wm_samples=8,
                            beta=0.9, **TINY), tmp_path / "run")
    metadata = json.loads((run / "metadata.json").read_text())
    assert "operating_point" not in metadata and metadata["threshold"] == 0.9


def test_the_cli_takes_the_operating_point(tmp_path):
    data = make_tiny_release(tmp_path / "release")
    result = CliRunner().invoke(app, [
        "baseline", "train", "flair-fcn", str(data), "-o", str(tmp_path / "run"),
        "--recipe", "demo", "--samples", "8", "--wm-samples", "8", "--device", "cpu",
        "--operating-point", "fitted"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["operating_point"] == "fitted"
    assert "operating point: posterior" in " ".join(result.output.split())
    bad = CliRunner().invoke(app, [
        "baseline", "train", "flair-fcn", str(data), "-o", str(tmp_path / "bad"),
        "--operating-point", "best"])
    assert bad.exit_code == 2


def test_only_the_demo_flair_fcn_is_read_at_a_fitted_point():
    """The papers' recipes read at posterior 0.5; the demo fits the FLAIR FCN's point (read
    at posterior 0.5 it under-segmented: a median 0.57 of the true volume)."""
    from wmheval_baselines.train import config_from_recipe

    points = {(recipe, model): config_from_recipe(model, recipe).operating_point
              for recipe in ("paper", "demo") for model in ("resunet", "flair-fcn", "fcn-vgg")}
    assert points == {("paper", "resunet"): "posterior", ("paper", "flair-fcn"): "posterior",
                      ("paper", "fcn-vgg"): "posterior", ("demo", "resunet"): "posterior",
                      ("demo", "flair-fcn"): "fitted", ("demo", "fcn-vgg"): "posterior"}


def test_the_operating_point_cannot_change_on_resume(tmp_path):
    from wmheval_baselines.train import RunError

    data = make_tiny_release(tmp_path / "release")
    settings = {"model": "flair-fcn", "data": str(data), "samples": 8, "wm_samples": 8, **TINY}
    train(TrainConfig(**settings), tmp_path / "run")
    with pytest.raises(RunError, match="operating_point"):
        train(TrainConfig(**settings, operating_point="fitted"), tmp_path / "run")


def test_a_run_stopped_during_the_fit_is_not_read_at_posterior_half(tmp_path):
    """A fitted run killed after its last pass but before the fit has a finished schedule
    and the posterior-0.5 threshold in its checkpoint: prediction must refuse it (it used
    to read it at beta silently) and resuming must fit it."""
    from wmheval_baselines.predict import IncompleteRunError, load_run

    data = make_tiny_release(tmp_path / "release")
    config = TrainConfig(model="flair-fcn", data=str(data), samples=8, wm_samples=8,
                         operating_point="fitted", **TINY)
    run = train(config, tmp_path / "run")
    fitted = load_run(run, "cpu").threshold
    state = torch.load(checkpoint_path(run), weights_only=False)
    state["threshold"] = state["beta"]  # what the last pass saved, before the fit
    del state["operating_point"]
    torch.save(state, checkpoint_path(run))
    with pytest.raises(IncompleteRunError, match="operating point"):
        load_run(run, "cpu")
    with pytest.warns(UserWarning, match="posterior 0.5"):
        assert load_run(run, "cpu", allow_incomplete=True).threshold == state["beta"]
    train(config, run)  # resuming fits it, without training further
    assert load_run(run, "cpu").threshold == fitted
    saved = torch.load(checkpoint_path(run), weights_only=False)
    assert saved["operating_point"]["threshold"] == fitted
    assert saved["progress"] == state["progress"]
