"""Loading fields from cases.csv folders: splits, missing/undefined policies, subsets, adding."""

import math

import numpy as np
import pandas as pd
import pytest
from ranking_fixtures import cases_frame, write_hand_teams, write_means_table, write_team

from wmheval._resources import published_leaderboard_path
from wmheval.ranking import (
    RankingInputError,
    add_team,
    load_field,
    prepare_field,
    rank_field,
    subset_field,
)

NAN = math.nan


def test_folder_of_team_folders_gives_hand_means(tmp_path):
    field = load_field(write_hand_teams(tmp_path))
    assert field.teams == ("alpha", "beta", "gamma") and field.has_cases
    np.testing.assert_allclose(field.means.loc["beta", ["dice", "h95", "avd"]], [0.6, 6, 20])
    ranking = rank_field(field)
    assert ranking["team"].tolist() == ["alpha", "beta", "gamma"]
    np.testing.assert_allclose(ranking["score"], [0, 2.8333333 / 5, 0.9], atol=1e-6)
    assert (ranking["n_cases"] == 3).all() and (ranking["n_missing"] == 0).all()


def _two_teams(tmp_path):
    """A has s2 missing and H95 undefined on s3; B is complete."""
    write_team(tmp_path, "A", cases_frame(
        [(0.8, 3.0, 10, 0.9, 0.9), (NAN, NAN, NAN, NAN, NAN), (0.8, NAN, 10, 0.9, 0.9)],
        statuses=["ok", "missing", "ok"]))
    write_team(tmp_path, "B", cases_frame(
        [(0.6, 5.0, 20, 0.7, 0.7), (0.4, 7.0, 30, 0.5, 0.5), (0.5, 6.0, 25, 0.6, 0.6)]))
    return tmp_path


def test_missing_and_undefined_as_worst(tmp_path):
    field = load_field(_two_teams(tmp_path), missing="worst", undefined="worst")
    a = field.means.loc["A"]
    # worst of the field: dice 0.4, h95 7 (over all teams and subjects)
    assert a["dice"] == pytest.approx((0.8 + 0.4 + 0.8) / 3)
    assert a["h95"] == pytest.approx((3 + 7 + 7) / 3)
    assert a["avd"] == pytest.approx((10 + 30 + 10) / 3)
    assert (a["n_missing"], a["n_undefined"]) == (1, 1)


def test_missing_and_undefined_excluded(tmp_path):
    field = load_field(_two_teams(tmp_path), missing="exclude", undefined="exclude")
    a = field.means.loc["A"]
    assert a["dice"] == pytest.approx(0.8) and a["h95"] == pytest.approx(3.0)
    mixed = load_field(tmp_path, missing="exclude", undefined="worst").means.loc["A"]
    assert mixed["dice"] == pytest.approx(0.8) and mixed["h95"] == pytest.approx(5.0)


def test_absent_row_counts_as_missing(tmp_path):
    write_team(tmp_path, "A", cases_frame([(0.8, 3, 10, 0.9, 0.9)] * 2, ids=["s1", "s2"]))
    write_team(tmp_path, "B", cases_frame([(0.6, 5, 20, 0.7, 0.7)] * 3))
    field = load_field(tmp_path)
    assert field.means.loc["A", "n_missing"] == 1
    # default policy: the absent case is an empty mask (Dice 0, AVD 100, recall 0, F1 0)
    assert field.means.loc["A", "dice"] == pytest.approx((0.8 + 0.8 + 0.0) / 3)
    assert field.means.loc["A", "avd"] == pytest.approx((10 + 10 + 100) / 3)
    assert field.means.loc["A", "dice_scored"] == pytest.approx(0.8)
    assert any("team A has no row for 1 of 3" in n for n in field.notes)
    worst = load_field(tmp_path, missing="worst")
    assert worst.means.loc["A", "dice"] == pytest.approx((0.8 + 0.8 + 0.6) / 3)


def test_subject_undefined_for_every_team_is_dropped(tmp_path):
    write_team(tmp_path, "A", cases_frame([(0.8, 3, 10, 0.9, 0.9), (NAN, NAN, NAN, 1, 1)]
                                          , ids=["s1", "s2"]))
    write_team(tmp_path, "B", cases_frame([(0.6, 5, 20, 0.7, 0.7), (NAN, NAN, NAN, 1, 1)],
                                          ids=["s1", "s2"]))
    means = load_field(tmp_path, missing="worst", undefined="worst").means
    assert means.loc["A", "dice"] == pytest.approx(0.8)
    assert means.loc["A", "n_undefined"] == 1 and means.loc["A", "n_imputed"] == 0
    # the default: two empty masks agree perfectly (Dice 1, H95 0, AVD 0)
    fixed = load_field(tmp_path).means
    assert fixed.loc["A", "dice"] == pytest.approx((0.8 + 1) / 2)
    assert fixed.loc["B", "h95"] == pytest.approx((5 + 0) / 2)
    assert fixed.loc["A", "n_undefined"] == 1 and fixed.loc["A", "n_imputed"] == 1


def test_splits(tmp_path):
    # cases_frame alternates scanners: s1, s3 utrecht (seen), s2 amsterdam_ge_1p5t (unseen)
    write_hand_teams(tmp_path)
    unseen = load_field(tmp_path, split="unseen")
    assert unseen.means.loc["alpha", "h95"] == pytest.approx(4.0)
    scanner = load_field(tmp_path, split="utrecht_philips_3t")
    assert scanner.means.loc["alpha", "h95"] == pytest.approx(2.5)
    assert load_field(tmp_path, split="seen").means.loc["alpha", "n_cases"] == 2
    with pytest.raises(RankingInputError, match="unknown split"):
        load_field(tmp_path, split="mars")


def test_subset_and_add_on_published_field(tmp_path):
    field = load_field(published_leaderboard_path())
    small = subset_field(field, ["hadi", "pgs"])
    assert small.teams == ("pgs", "hadi")
    team = write_team(tmp_path, "mine", cases_frame(
        [(0.9, 1.0, 5.0, 0.95, 0.9)] * 3, ids=["1", "3", "5"]))
    bigger = add_team(field, team, "newcomer")
    ranking = rank_field(bigger)
    assert len(ranking) == 58
    top = ranking.iloc[0]
    assert top["team"] == "newcomer" and top["score"] == 0 and top["position"] == 1
    assert not top["comparable"] and top["n_cases"] == 3
    assert ranking["comparable"].sum() == 57 and (ranking["n_cases"].iloc[1:] == 110).all()
    assert any("3 of 110 test subjects" in n and "not comparable" in n for n in bigger.notes)
    with pytest.raises(RankingInputError, match="already in the field"):
        add_team(bigger, team, "newcomer")
    with pytest.raises(RankingInputError, match="did you mean 'pgs'"):
        subset_field(field, ["pgz"])


def test_add_to_per_case_field_and_prepare(tmp_path):
    root = write_hand_teams(tmp_path / "teams")
    extra = write_team(tmp_path / "extra", "delta", cases_frame([(0.5, 6, 20, 0.7, 0.6)] * 3))
    field = prepare_field(root, teams=["gamma"], add=[(extra, None)])
    assert set(field.teams) == {"gamma", "delta"} and field.has_cases
    assert field.cube.values.shape == (2, 3, 5)


def test_long_cases_table_and_errors(tmp_path):
    rows = []
    for team in ("x", "y"):
        frame = cases_frame([(0.5, 6, 20, 0.7, 0.6)] * 3)
        frame.insert(0, "team", team)
        rows.append(frame)
    pd.concat(rows).to_csv(tmp_path / "long.csv", index=False)
    assert load_field(tmp_path / "long.csv").teams == ("x", "y")
    write_means_table(tmp_path / "bad.csv", {"t": (0.5, 1, 2, 0.5, 0.5)})
    table = pd.read_csv(tmp_path / "bad.csv").drop(columns="lesion_f1")
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(RankingInputError, match=r"bad\.csv.*missing metric columns \['f1'\]"):
        load_field(tmp_path / "bad.csv")
    with pytest.raises(RankingInputError, match="no such file"):
        load_field(tmp_path / "nothing.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RankingInputError, match="no team folders"):
        load_field(tmp_path / "empty")
