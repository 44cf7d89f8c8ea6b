"""Simulated teams: their error profiles show up in the challenge metrics as designed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import synth_fixtures
from synth_fixtures import read_array

from wmheval.metrics import HIGHER_IS_BETTER, METRICS, Geometry, evaluate_arrays
from wmheval.synth.anatomy import WHITE
from wmheval.synth.fields import subject_rng
from wmheval.synth.submissions import (
    TeamProfile,
    default_teams,
    generate_submissions,
    simulate_prediction,
)

small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions


@pytest.fixture(scope="module")
def scores(small_challenge, small_submissions):
    """Per team and test subject: the metrics plus false-positive voxels outside WM."""
    root, table = small_challenge
    out, teams = small_submissions
    rows = []
    for team in teams["team"]:
        for _, subject in table[table["split"] == "test"].iterrows():
            folder = root / subject["release_path"]
            reference = sitk.ReadImage(str(folder / "wmh.nii.gz"))
            labels = sitk.GetArrayFromImage(reference)
            path = out / team / subject["id"] / "result.nii.gz"
            row = {"team": team, "id": subject["id"], "seen": subject["seen_in_training"]}
            if not path.exists():
                rows.append({**row, "status": "missing"})
                continue
            try:
                prediction = read_array(path)
            except RuntimeError:
                rows.append({**row, "status": "unreadable"})
                continue
            metrics = evaluate_arrays(labels, prediction,
                                      geometry=Geometry.from_image(reference))
            wm = read_array(folder / "synth" / "wm_mask.nii.gz").astype(bool)
            outside = (prediction > 0) & ~wm & (labels == 0)
            rows.append({**row, "status": "ok", "dtype": str(prediction.dtype),
                         "fp_outside_wm": int(outside.sum()),
                         **{k: v for k, v in metrics.as_dict().items() if k != "warnings"}})
    return pd.DataFrame(rows)


def _mean(scores, team, column, seen=None):
    rows = scores[(scores["team"] == team) & (scores["status"] == "ok")]
    if seen is not None:
        rows = rows[rows["seen"] == seen]
    return float(rows[column].mean())


def test_summary_table_and_layout(small_submissions, small_challenge):
    out, table = small_submissions
    n_test = int((small_challenge[1]["split"] == "test").sum())
    assert table["team"].tolist() == [t.name for t in default_teams()]
    written = pd.read_csv(out / "teams.csv")
    assert written["team"].tolist() == table["team"].tolist()
    assert written["n_missing"].tolist() == table["n_missing"].tolist()
    markdown = (out / "teams.md").read_text()
    assert all(f"| {name} " in markdown for name in table["team"])
    for _, row in table.iterrows():
        results = sorted((out / row["team"]).glob("*/result.nii.gz"))
        assert len(results) == row["n_cases"] == n_test - row["n_missing"]
    assert table["n_missing"].sum() == 1 and table["n_malformed"].sum() == 1


def test_missing_case_is_missing_and_malformed_is_unreadable(scores, small_submissions):
    out, table = small_submissions
    row = table.set_index("team").loc["incomplete"]
    missing, malformed = row["missing_ids"], row["malformed_ids"]
    assert missing and malformed and missing != malformed
    assert not (out / "incomplete" / missing).exists()
    with pytest.raises(RuntimeError):
        sitk.ReadImage(str(out / "incomplete" / malformed / "result.nii.gz"))
    mine = scores[scores["team"] == "incomplete"].set_index("id")["status"]
    assert mine[missing] == "missing" and mine[malformed] == "unreadable"
    assert (scores[scores["team"] != "incomplete"]["status"] == "ok").all()


def test_over_and_under_segmentation(scores):
    reference = _mean(scores, "precise", "reference_ml")
    assert _mean(scores, "greedy", "prediction_ml") > 1.3 * reference
    assert _mean(scores, "cautious", "prediction_ml") < 0.9 * reference
    # Erosion keeps every lesion's core: the cautious team still finds every lesion.
    assert _mean(scores, "cautious", "recall") == 1.0
    assert _mean(scores, "greedy", "recall") == 1.0
    assert _mean(scores, "greedy", "avd") > _mean(scores, "precise", "avd")
    assert _mean(scores, "cautious", "precision") == 1.0


def test_false_positives_outside_white_matter(scores):
    assert _mean(scores, "noisy", "fp_outside_wm") > 5 * max(
        _mean(scores, "precise", "fp_outside_wm"), 1.0)
    assert _mean(scores, "noisy", "precision") < _mean(scores, "cautious", "precision")
    assert _mean(scores, "cautious", "fp_outside_wm") == 0


def test_near_perfect_team_is_near_perfect(scores):
    assert _mean(scores, "precise", "dice") > 0.85
    assert _mean(scores, "precise", "dice") == max(
        _mean(scores, t, "dice") for t in scores["team"].unique())


def test_brittle_team_degrades_on_unseen_scanners(scores):
    drop = _mean(scores, "brittle", "dice", True) - _mean(scores, "brittle", "dice", False)
    steady = abs(_mean(scores, "precise", "dice", True) - _mean(scores, "precise", "dice",
                                                                False))
    assert drop > 0.2 and steady < 0.05
    assert _mean(scores, "brittle", "recall", False) < _mean(scores, "brittle", "recall", True)


def test_teams_win_different_metrics(scores):
    means = scores[scores["status"] == "ok"].groupby("team")[list(METRICS)].mean()
    winners = {m: (means[m].idxmax() if HIGHER_IS_BETTER[m] else means[m].idxmin())
               for m in METRICS}
    assert len(set(winners.values())) >= 2, winners


def test_pixel_types(scores):
    types = scores[scores["status"] == "ok"].groupby("team")["dtype"].unique()
    assert list(types["greedy"]) == ["float32"] and list(types["precise"]) == ["uint8"]


def test_simulation_is_deterministic_and_profiles_are_neutral_by_default():
    labels = np.zeros((6, 20, 20), dtype=np.float32)
    labels[2:4, 5:10, 5:10] = 1
    labels[3, 14:16, 14:16] = 2
    tissue = np.full(labels.shape, WHITE, dtype=np.uint8)
    tissue[:, :, :2] = 3
    team = TeamProfile("t", boundary_noise=0.3, false_positives=2.0)
    first = simulate_prediction(labels, tissue, (3.0, 1.0, 1.0), team, subject_rng(0, "a"))
    again = simulate_prediction(labels, tissue, (3.0, 1.0, 1.0), team, subject_rng(0, "a"))
    assert np.array_equal(first, again)
    neutral = simulate_prediction(labels, tissue, (3.0, 1.0, 1.0), TeamProfile("n"),
                                  subject_rng(0, "a"))
    assert np.array_equal(neutral, labels == 1)


def test_bad_arguments(small_challenge, tmp_path):
    root, _ = small_challenge
    with pytest.raises(ValueError, match="unique"):
        generate_submissions(root, tmp_path, teams=[TeamProfile("a"), TeamProfile("a")])
    with pytest.raises(ValueError, match="split"):
        generate_submissions(root, tmp_path, split="validation")
    with pytest.raises(FileNotFoundError, match="synth_manifest"):
        generate_submissions(tmp_path, tmp_path / "out")
