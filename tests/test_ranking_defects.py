"""Regression tests of issue 8's ranking defects, the nnU-Net placement, field dependence."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ranking_fixtures import cases_frame, write_team

from wmheval._resources import published_leaderboard_path
from wmheval.analysis.field_dependence import field_dependence, leave_one_team_out
from wmheval.io.manifest import load_manifest
from wmheval.pipelines.sensitivity import write_ranking_report
from wmheval.ranking import add_team, load_field, rank_field, subset_field
from wmheval.ranking.inputs import field_from_cases
from wmheval.ranking.minmax import minmax_ranking, relative_ranks

NAN = math.nan
HIGHER = np.array([True, False, False, True, True])


def _long(team: str, rows, ids, split="test", statuses=None, seen=None) -> pd.DataFrame:
    frame = cases_frame(rows, ids=ids, statuses=statuses)
    frame["split"] = split
    if seen is not None:
        frame["seen_in_training"] = seen
    frame.insert(0, "team", team)
    return frame


# --- defect 1: union of subjects ---------------------------------------------------------

def test_a_team_scored_on_more_splits_does_not_make_the_others_missing(tmp_path):
    test_ids = ["1", "3", "4"]
    a_test = [(0.8, 3, 10, 0.9, 0.8), (0.7, 4, 15, 0.8, 0.7), (0.6, 5, 20, 0.7, 0.6)]
    a_training = [(0.9, 2, 5, 0.95, 0.9)] * 2
    frame = pd.concat([
        _long("A", a_test, test_ids),
        _long("A", a_training, ["0", "2"], split="training"),  # scored with --split all
        _long("B", [(0.5, 6, 30, 0.6, 0.5)] * 3, test_ids),
        _long("C", [(0.4, 7, 40, 0.5, 0.4)] * 3, test_ids),
    ], ignore_index=True)
    field = field_from_cases(frame)
    assert field.cube.subjects == tuple(test_ids)
    assert (field.means["n_cases"] == 3).all() and (field.means["n_missing"] == 0).all()
    assert any("training split left out" in n and "1 of 3 teams" in n for n in field.notes)
    test_only = field_from_cases(frame[frame["split"] == "test"])
    pd.testing.assert_frame_equal(rank_field(field), rank_field(test_only))


def test_an_absent_subject_within_the_case_set_is_missing_with_a_warning():
    ids = ["1", "3", "4"]
    frame = pd.concat([_long("A", [(0.8, 3, 10, 0.9, 0.8)] * 2, ids[:2]),
                       _long("B", [(0.5, 6, 30, 0.6, 0.5)] * 3, ids)], ignore_index=True)
    field = field_from_cases(frame)
    assert field.means.loc["A", "n_missing"] == 1
    assert any("team A has no row for 1 of 3" in n for n in field.notes)


# --- defect 2: --add into the published leaderboard -------------------------------------

def test_add_averages_only_the_published_case_set_and_flags_partial_coverage(tmp_path):
    # 15 synthetic subjects: 5 training, 10 test (ids of the 2017 release)
    manifest = load_manifest()
    training = list(manifest.index[manifest["split"] == "training"][:5])
    test = list(manifest.index[manifest["split"] == "test"][:10])
    great = [(0.95, 1.0, 2.0, 0.99, 0.95)]
    frame = pd.concat([
        cases_frame(great * 5, ids=training).assign(split="training"),
        cases_frame([(0.5, 9.0, 50.0, 0.5, 0.5)] * 10, ids=test),
    ], ignore_index=True)
    team = write_team(tmp_path, "synthetic", frame)
    field = add_team(load_field(published_leaderboard_path()), team)
    row = field.means.loc["synthetic"]
    assert row["n_cases"] == 10 and not row["comparable"]
    assert row["dice"] == pytest.approx(0.5)  # the training rows are not averaged in
    assert any("10 of 110 test subjects" in n and "not comparable" in n for n in field.notes)
    assert any("5 row(s) outside the field's case set" in n for n in field.notes)
    ranking = rank_field(field)
    assert ranking.set_index("team").loc["synthetic", "position"] > 1


def test_nnunet_per_case_results_land_ninth_of_58():
    table = pd.read_csv(Path(__file__).parents[1] / "leaderboard"
                        / "nnunet_resencm_per_case_test110.csv")
    table["id"] = table["participant_id"].str.removeprefix("sub-").astype(int).astype(str)
    field = add_team(load_field(published_leaderboard_path()), table, "nnunet_resencm")
    ranking = rank_field(field).set_index("team")
    assert len(ranking) == 58
    assert ranking.loc["nnunet_resencm", "position"] == 9
    assert ranking.loc["nnunet_resencm", "comparable"]
    assert ranking.loc["nnunet_resencm", "n_cases"] == 110
    assert ranking.loc["nnunet_resencm", "dice"] == pytest.approx(0.803, abs=5e-4)
    assert field.notes == ()
    # the published teams are still reproduced within the rounding of their means
    published = ranking.drop(index="nnunet_resencm")
    assert len(published) == 57 and published["comparable"].all()


# --- defect 4: unknown seen status -------------------------------------------------------

def test_unknown_seen_status_is_in_neither_group():
    ids = ["1", "2", "3"]
    seen = [True, False, pd.NA]
    frame = pd.concat([_long("A", [(0.8, 3, 10, 0.9, 0.8)] * 3, ids, seen=seen),
                       _long("B", [(0.5, 6, 30, 0.6, 0.5)] * 3, ids, seen=seen)],
                      ignore_index=True)
    assert load_unseen(frame) == ("2",)
    frame["seen_in_training"] = ["true", "false", ""] * 2
    assert load_unseen(frame) == ("2",)
    seen_field = field_from_cases(frame, split="seen")
    assert seen_field.cube.subjects == ("1",)


def load_unseen(frame: pd.DataFrame) -> tuple[str, ...]:
    return field_from_cases(frame, split="unseen").cube.subjects


# --- defect 6: field-dependent imputation -----------------------------------------------

def _team_a():
    # s2 missing, s3 an empty prediction (H95 undefined)
    return _long("A", [(0.8, 3.0, 10, 0.9, 0.9), (NAN,) * 5, (0.0, NAN, 100, 0.0, 0.0)],
                 ["1", "2", "3"], statuses=["ok", "missing", "ok"]).assign(
        reference_diagonal_mm=300.0, n_reference_voxels=50, n_prediction_voxels=[40, NAN, 0])


def test_another_team_never_changes_a_teams_imputed_values():
    b = _long("B", [(0.6, 5.0, 20, 0.7, 0.7)] * 3, ["1", "2", "3"])
    outlier = _long("D", [(0.01, 250.0, 900, 0.01, 0.01)] * 3, ["1", "2", "3"])
    alone = field_from_cases(pd.concat([_team_a(), b], ignore_index=True))
    with_outlier = field_from_cases(pd.concat([_team_a(), b, outlier], ignore_index=True))
    pd.testing.assert_series_equal(alone.means.loc["A"], with_outlier.means.loc["A"])
    # H95: 3 (scored), 300 (missing: empty mask), 300 (empty prediction: diagonal)
    assert alone.means.loc["A", "h95"] == pytest.approx((3 + 300 + 300) / 3)
    assert alone.means.loc["A", "h95_scored"] == pytest.approx(3.0)
    # the field-dependent option is still there, and is field-dependent
    worst = field_from_cases(pd.concat([_team_a(), b, outlier], ignore_index=True),
                             missing="worst", undefined="worst")
    assert worst.means.loc["A", "h95"] == pytest.approx((3 + 250 + 250) / 3)


def test_empty_prediction_is_not_a_perfect_h95_when_every_defined_h95_is_zero():
    a = _long("A", [(1.0, 0.0, 0, 1, 1), (0.0, NAN, 100, 0, 0)], ["1", "2"]).assign(
        reference_diagonal_mm=[200.0, 250.0])
    b = _long("B", [(1.0, 0.0, 0, 1, 1)] * 2, ["1", "2"])
    field = field_from_cases(pd.concat([a, b], ignore_index=True))
    assert field.means.loc["A", "h95"] == pytest.approx(125.0)
    assert rank_field(field)["team"].tolist() == ["B", "A"]


def test_empty_prediction_on_an_empty_reference_is_perfect():
    a = _long("A", [(0.8, 3, 10, 0.9, 0.9), (NAN, NAN, NAN, 1.0, 1.0)], ["1", "2"]).assign(
        n_reference_voxels=[20, 0], n_prediction_voxels=[18, 0])
    b = _long("B", [(0.8, 3, 10, 0.9, 0.9), (0.0, NAN, NAN, 1.0, 0.0)], ["1", "2"]).assign(
        n_reference_voxels=[20, 0], n_prediction_voxels=[18, 7], reference_diagonal_mm=90.0)
    field = field_from_cases(pd.concat([a, b], ignore_index=True))
    np.testing.assert_allclose(field.means.loc["A", ["dice", "h95", "avd", "f1"]],
                               [0.9, 1.5, 5.0, 0.95])
    np.testing.assert_allclose(field.means.loc["B", ["dice", "h95", "avd", "f1"]],
                               [0.4, 46.5, 55.0, 0.45])
    assert rank_field(field)["team"].tolist() == ["A", "B"]


# --- defect 7: min-max edge cases --------------------------------------------------------

def test_a_nan_mean_ranks_worst_even_when_the_others_tie():
    means = np.array([[0.5, 3, 10, 0.9, 0.8], [0.5, 4, 10, 0.9, 0.8],
                      [NAN, 5, 10, 0.9, 0.8]])
    rel = relative_ranks(means, HIGHER)
    assert rel[:, 0].tolist() == [0.0, 0.0, 1.0]
    assert minmax_ranking(means)[2].tolist() == [1, 2, 3]


def test_means_equal_up_to_rounding_tie():
    means = np.array([[0.1 + 0.2, 3, 10, 0.9, 0.8], [0.3, 3, 10, 0.9, 0.8]])
    assert means[0, 0] != means[1, 0]
    rel, scores, positions = minmax_ranking(means)
    assert rel[:, 0].tolist() == [0.0, 0.0]
    assert positions.tolist() == [1, 1]


# --- field dependence ---------------------------------------------------------------------

def test_leave_one_team_out_by_hand():
    # Only Dice and H95 differ. Full field: Dice span 0.8 (rel A 0, B .125, C .5, D 1), H95
    # span 6 (A 1, B 1/6, C 0, D 1/12): B, C, A, D. Without A: Dice span 0.7 (B 0, C 3/7,
    # D 1), H95 span 1 (B 1, C 0, D .5): C ahead of B, a swap caused by removing A.
    means = np.array([[0.9, 10, 10, 0.5, 0.5], [0.8, 5, 10, 0.5, 0.5],
                      [0.5, 4, 10, 0.5, 0.5], [0.1, 4.5, 10, 0.5, 0.5]])
    result = leave_one_team_out(means, list("ABCD"))
    summary = result.summary.set_index("removed_team")
    assert summary["removed_position"].to_dict() == {"B": 1, "C": 2, "A": 3, "D": 4}
    assert summary.loc["A", "n_swapped_pairs"] == 1 and summary.loc["B",
                                                                     "n_swapped_pairs"] == 0
    assert result.swaps.to_dict("records") == [{
        "removed_team": "A", "ahead_before": "B", "ahead_after": "C",
        "positions_before": "1, 2", "positions_after": "2, 1"}]


def test_field_dependence_rebuilds_worst_imputations():
    frame = pd.concat([_team_a(), _long("B", [(0.6, 5.0, 20, 0.7, 0.7)] * 3, ["1", "2", "3"]),
                       _long("C", [(0.5, 8.0, 30, 0.6, 0.6)] * 3, ["1", "2", "3"])],
                      ignore_index=True)
    fixed = field_dependence(field_from_cases(frame))
    worst = field_dependence(field_from_cases(frame, missing="worst", undefined="worst"))
    assert len(fixed.summary) == len(worst.summary) == 3


def test_sensitivity_report_has_the_field_dependence_and_the_policy(tmp_path):
    field = load_field(published_leaderboard_path())
    written = write_ranking_report(field, tmp_path, samples=500, grid_steps=3, figures=False)
    names = {p.name for p, _ in written}
    assert {"field_dependence.csv", "field_dependence_swaps.csv", "notes.md"} <= names
    summary = pd.read_csv(tmp_path / "field_dependence.csv")
    assert len(summary) == 57 and summary["n_swapped_pairs"].sum() > 0
    swaps = pd.read_csv(tmp_path / "field_dependence_swaps.csv")
    assert len(swaps) == summary["n_swapped_pairs"].sum()
    # every listed swap is real: re-rank without the removed team and compare
    ranking = rank_field(field).set_index("team")
    for _, swap in swaps.head(5).iterrows():
        others = [t for t in field.teams if t != swap["removed_team"]]
        reduced = rank_field(subset_field(field, others)).set_index("team")
        a, b = swap["ahead_before"], swap["ahead_after"]
        assert ranking.loc[a, "position"] < ranking.loc[b, "position"]
        assert reduced.loc[a, "position"] > reduced.loc[b, "position"]
    assert "Missing and undefined values" in (tmp_path / "notes.md").read_text()
