"""Baselines: a short CPU training on the small synthetic challenge beats an empty submission."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
from baselines_fixtures import set_test_threads
from wmheval_baselines.predict import predict_folder
from wmheval_baselines.train import TrainConfig, train

import wmheval.scoring as scoring
import wmheval.synth as synth

set_test_threads()
# An empty submission scores 0; the margin leaves room for platform differences (the
# geometric phantom, 3 + 8 passes over its 240 training slices).
MIN_MEAN_DICE = 0.08


@pytest.mark.slow
def test_short_resunet_training_scores_well_above_empty(tmp_path):
    root = tmp_path / "challenge"
    synth.generate_challenge(root, small=True, seed=0, phantom="geometric")
    config = TrainConfig(model="resunet", data=str(root), wm_samples=720, samples=1920,
                         beta=0.975, learning_rate=2e-3, base_channels=8, wm_base_channels=8,
                         batch_size=8, device="cpu", seed=0)
    run = train(config, tmp_path / "run")
    submission = predict_folder(run, root, tmp_path / "submission", device="cpu")
    result = scoring.score_folder(root, submission)
    cases = result.cases
    assert len(cases) == 15 and (cases["status"] == "ok").all()

    empty = tmp_path / "empty"
    for path in submission.glob("*/result.nii.gz"):
        image = sitk.ReadImage(str(path))
        zeros = sitk.GetImageFromArray(np.zeros_like(sitk.GetArrayFromImage(image)))
        zeros.CopyInformation(image)
        (empty / path.parent.name).mkdir(parents=True)
        sitk.WriteImage(zeros, str(empty / path.parent.name / "result.nii.gz"))
    empty_dice = scoring.score_folder(root, empty).cases["dice"].mean()
    baseline_dice = cases["dice"].mean()
    assert empty_dice == pytest.approx(0.0)
    assert baseline_dice > empty_dice + MIN_MEAN_DICE
