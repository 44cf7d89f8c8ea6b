"""The threshold baseline: Dice curve against a literal oracle, fitting on training subjects
only, the submission it writes and its CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch  # noqa: F401  (the baselines extra: a broken install fails)
from baselines_fixtures import make_tiny_release
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from wmheval_baselines.data import find_subjects, load_volume
from wmheval_baselines.splits import split_subjects
from wmheval_baselines.threshold import (
    dice_curve,
    fit_path,
    fit_threshold,
    robust_zscore,
    search_region,
    segment,
    threshold_baseline,
)

from wmheval.cli.main import app


def oracle_dice(z, region, labels, t):
    """Literal challenge Dice of region & (z >= t), label-2 voxels removed, vs labels == 1."""
    predicted = reference = overlap = 0
    for value, inside, label in zip(z.ravel(), region.ravel(), labels.ravel(), strict=True):
        positive = bool(inside) and value >= t and label != 2
        predicted += positive
        reference += label == 1
        overlap += positive and label == 1
    return 1.0 if predicted + reference == 0 else 2 * overlap / (predicted + reference)


@given(seed=st.integers(0, 10_000), size=st.integers(1, 60))
@settings(max_examples=50, deadline=None)
def test_dice_curve_matches_literal_oracle(seed, size):
    rng = np.random.default_rng(seed)
    z = np.round(rng.normal(0, 2, size), 1).astype(np.float32)  # ties on the grid too
    region = rng.random(size) < 0.7
    labels = rng.choice([0, 0, 1, 2], size)
    grid = (-1.0, 0.0, 0.5, 1.0, 2.5)
    curve = dice_curve(z, region, labels, grid)
    assert curve == pytest.approx([oracle_dice(z, region, labels, t) for t in grid])


def test_robust_zscore_hand_case():
    flair = np.array([1.0, 2.0, 3.0, 4.0, 100.0, 7.0])
    mask = np.array([1, 1, 1, 1, 1, 0])
    # median 3, MAD = median(|[-2, -1, 0, 1, 97]|) = 1 -> scale 1.4826
    assert robust_zscore(flair, mask) == pytest.approx((flair - 3.0) / 1.4826, rel=1e-5)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_tiny_release(tmp_path_factory.mktemp("thr") / "release", seed=2)


def training_volumes(root):
    train, _ = split_subjects(find_subjects(root), "challenge")
    return [load_volume(s, need_wm=True, lesions_in_wm=False) for s in train]


def test_fit_is_the_best_mean_training_dice(release):
    volumes = training_volumes(release)
    grid = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
    fit = fit_threshold(volumes, grid, (0.0, 2.0))
    scores = {}
    for dilation in (0.0, 2.0):
        for t in grid:
            scores[(t, dilation)] = np.mean([
                oracle_dice(robust_zscore(v.flair, v.wm),
                            search_region(v.wm, v.spacing, dilation), v.wmh, t)
                for v in volumes])
    best = max(scores.values())
    assert fit.train_mean_dice == pytest.approx(best)
    assert scores[(fit.threshold, fit.dilation_mm)] == pytest.approx(best)
    assert best > 0.5  # the tiny lesions are bright: a threshold finds them


def test_fitted_on_training_subjects_only_and_writes_submission(release, tmp_path):
    import shutil

    fit = threshold_baseline(release, tmp_path / "sub")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["1", "140", "160"]
    saved = json.loads(fit_path(tmp_path / "sub").read_text())
    assert saved["threshold"] == fit.threshold
    assert sorted(saved["training_subjects"]) == ["0", "100", "101", "2", "50", "52"]
    # Changing the test subjects (here: their labels, inverted) does not change the fit.
    changed = tmp_path / "changed"
    shutil.copytree(release, changed)
    for path in (changed / "test").rglob("wmh.nii.gz"):
        image = sitk.ReadImage(str(path))
        flipped = sitk.GetImageFromArray((sitk.GetArrayFromImage(image) == 0).astype("f4"))
        flipped.CopyInformation(image)
        sitk.WriteImage(flipped, str(path))
    again = threshold_baseline(changed, tmp_path / "sub2")
    assert (again.threshold, again.dilation_mm) == (fit.threshold, fit.dilation_mm)
    # The written mask is the baseline's segmentation on the subject's own grid.
    subject = next(s for s in find_subjects(release) if s.id == "140")
    volume = load_volume(subject, labels=False, need_wm=True)
    expected = segment(volume, fit.threshold, fit.dilation_mm)[..., ::-1]  # fixture: x flip
    written = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "sub/140/result.nii.gz")))
    assert np.array_equal(written, expected)


def test_cli_threshold(release, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["baseline", "threshold", str(release), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "threshold baseline: z >=" in " ".join(result.output.split())
    # The CLI writes what the library computes: the same fit (also the one it printed) and
    # the same masks.
    saved = json.loads(fit_path(out).read_text())
    assert f"z >= {saved['threshold']:g}" in " ".join(result.output.split())
    library = threshold_baseline(release, tmp_path / "library")
    assert (saved["threshold"], saved["dilation_mm"]) == (library.threshold,
                                                          library.dilation_mm)
    for subject in ("1", "140", "160"):
        written, expected = (sitk.GetArrayFromImage(sitk.ReadImage(str(folder / subject /
                                                                       "result.nii.gz")))
                             for folder in (out, tmp_path / "library"))
        assert np.array_equal(written, expected), subject
    bad = CliRunner().invoke(app, ["baseline", "threshold", str(tmp_path / "none"), "--out",
                                   str(out)])
    assert bad.exit_code == 2 and "not found" in " ".join(bad.output.split())


def test_a_linked_test_folder_is_found_and_predicted(release, tmp_path):
    """A split folder linked from elsewhere (the scorer follows links) holds subjects too:
    before, ``rglob`` skipped it and the baseline wrote 0 predictions with exit 0."""
    import shutil

    linked = tmp_path / "linked"
    linked.mkdir()
    shutil.copytree(release / "training", linked / "training")
    (linked / "test").symlink_to(release / "test", target_is_directory=True)
    assert ({s.id for s in find_subjects(linked)}
            == {s.id for s in find_subjects(release)})
    threshold_baseline(linked, tmp_path / "sub")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["1", "140", "160"]
    # A FLAIR that is a broken link is named, not silently dropped with its subject.
    flair = next((linked / "training").rglob("FLAIR.nii.gz"))
    flair.unlink()
    flair.symlink_to(tmp_path / "nowhere.nii.gz")
    with pytest.raises(ValueError, match="FLAIR.nii.gz: .*broken"):
        find_subjects(linked)


def test_nothing_to_predict_is_an_error_not_an_empty_submission(release, tmp_path):
    import shutil

    no_test = tmp_path / "no_test"
    shutil.copytree(release / "training", no_test / "training")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no subjects to predict"):
        threshold_baseline(no_test, out)
    result = CliRunner().invoke(app, ["baseline", "threshold", str(no_test), "--out",
                                      str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "no subjects to predict" in text, result.output
    assert str(no_test) in text and not out.exists()


def test_demo_scores_the_threshold_baseline_under_its_team_name(release, tmp_path):
    from wmheval.pipelines.demo import THRESHOLD_TEAM, DemoOutput, _threshold_baseline, learned_team

    assert (THRESHOLD_TEAM, learned_team("resunet")) == ("baseline-threshold",
                                                         "baseline-resunet-cpu")
    teams: list[str] = []
    output = DemoOutput(tmp_path)
    _threshold_baseline(release, tmp_path, tmp_path / "scores", 1, output, teams)
    assert teams == [THRESHOLD_TEAM]
    cases = pd.read_csv(tmp_path / "scores" / THRESHOLD_TEAM / "cases.csv",
                                          dtype={"id": str})
    assert sorted(cases["id"]) == ["1", "140", "160"] and (cases["status"] == "ok").all()
