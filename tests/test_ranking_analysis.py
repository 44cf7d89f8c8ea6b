"""Weight sweep, Kendall tau, schemes, Wilcoxon counts and bootstrap on hand-made fields."""

import numpy as np
import pytest
from ranking_fixtures import write_hand_teams

from wmheval.analysis.bootstrap import bootstrap_ranking, resample_counts
from wmheval.analysis.concordance import kendall_tau_b
from wmheval.analysis.weights import (
    field_weight_sensitivity,
    named_weightings,
    simplex_grid,
    weight_sensitivity,
)
from wmheval.ranking import load_field
from wmheval.ranking.minmax import higher_is_better
from wmheval.ranking.schemes import aggregate_then_rank, compare_schemes, rank_then_aggregate
from wmheval.ranking.significance import holm, significance_counts, wilcoxon_wins


def test_simplex_grid_counts_and_sums():
    grid = simplex_grid(4)
    assert grid.shape == (5, 70)  # C(4 + 4, 4)
    np.testing.assert_allclose(grid.sum(axis=0), 1)
    assert len({tuple(c) for c in grid.T}) == 70


def test_kendall_tau_of_known_permutations():
    ref = np.array([1, 2, 3, 4])
    assert kendall_tau_b(ref, np.array([2, 1, 3, 4])) == pytest.approx(4 / 6)
    assert kendall_tau_b(ref, ref[::-1].copy()) == pytest.approx(-1)
    taus = kendall_tau_b(ref, np.array([[1, 2, 3, 4], [1, 2, 4, 3], [4, 3, 2, 1]]))
    np.testing.assert_allclose(taus, [1, 4 / 6, -1])


def test_share_first_matches_the_analytic_value():
    # A is best on dice and recall, B on h95, avd and f1: A wins iff w_dice + w_recall > 1/2;
    # under uniform weights w_dice + w_recall ~ Beta(2, 3), so P = 1 - I_0.5(2, 3) = 5/16.
    rel = np.array([[0, 1, 1, 0, 1], [1, 0, 0, 1, 0]], dtype=float)
    result = weight_sensitivity(rel, ["A", "B"], n_samples=100_000, grid_steps=0, seed=1)
    share = result.summary.set_index("team")["share_first"]
    assert share["A"] == pytest.approx(5 / 16, abs=0.01)
    assert share["A"] + share["B"] == pytest.approx(1)
    assert set(result.tau["tau"].round(6)) <= {-1.0, 1.0}


def test_dominant_team_and_named_weightings(tmp_path):
    field = load_field(write_hand_teams(tmp_path))
    result = field_weight_sensitivity(field, n_samples=2000, grid_steps=5, seed=0)
    summary = result.summary.set_index("team")
    assert summary.loc["alpha", "share_first"] == 1.0  # best on every metric
    assert summary.loc["alpha", "max_rank"] == 1
    named = result.named
    assert named.loc[:, "only_recall"].tolist() == [1, 3, 2]  # alpha, beta, gamma
    assert named.loc[:, "without_recall"].tolist() == [1, 2, 3]
    assert named.loc[:, "default"].tolist() == [1, 2, 3]
    assert summary.loc["beta", "min_rank"] == 2 and summary.loc["beta", "max_rank"] == 3
    assert set(named_weightings(n_random=2)) >= {"default", "only_dice", "without_f1",
                                                 "random_2"}


def test_aggregate_then_rank_by_hand(tmp_path):
    field = load_field(write_hand_teams(tmp_path))
    # per-metric ranks: alpha 1,1,1,1,1; beta 2,2,2,3,2; gamma 3,3,3,2,3
    np.testing.assert_allclose(aggregate_then_rank(field.metric_means()), [1, 2.2, 2.8])


def test_rank_then_aggregate_by_hand():
    values = np.full((3, 2, 5), 0.5)
    values[:, 0, 0] = [0.9, 0.8, 0.7]  # subject 1 dice: ranks 1, 2, 3
    values[:, 1, 0] = [0.5, 0.6, 0.6]  # subject 2 dice: ranks 3, 1, 1 ("min" ties)
    # the other 8 cells are ties: rank 1 for everyone under "min", 2 under "average"
    np.testing.assert_allclose(rank_then_aggregate(values),
                               [(1 + 3 + 8) / 10, (2 + 1 + 8) / 10, (3 + 1 + 8) / 10])
    np.testing.assert_allclose(rank_then_aggregate(values, ties="average"),
                               [(1 + 3 + 16) / 10, (2 + 1.5 + 16) / 10, (3 + 1.5 + 16) / 10])
    values[2, 1, 0] = np.nan  # a NaN cell ranks last: max rank + 1 (challengeR's rankNA2)
    np.testing.assert_allclose(rank_then_aggregate(values)[2], (3 + 3 + 8) / 10)


def test_aggregate_then_rank_knows_the_metric_direction():
    """Regression (defect 9): a one-column H95 array was ranked as higher-is-better."""
    h95 = np.array([[2.0], [5.0], [9.0]])
    np.testing.assert_allclose(aggregate_then_rank(h95, metrics=["h95"]), [1, 2, 3])
    np.testing.assert_allclose(aggregate_then_rank(h95 / 10, metrics=["dice"]), [3, 2, 1])
    with pytest.raises(ValueError, match="metrics"):
        aggregate_then_rank(h95)  # five metrics named, one column given
    ties = np.array([[0.5], [0.5], [0.4]])
    np.testing.assert_allclose(aggregate_then_rank(ties, metrics=["dice"]), [1, 1, 3])


def _dominated_cube(n_subjects=10):
    rng = np.random.default_rng(3)
    base = rng.uniform(0.3, 0.6, size=(n_subjects, 5))
    gap = 0.05 + 0.01 * np.arange(n_subjects)[:, None]
    sign = np.where(higher_is_better(), 1.0, -1.0)
    # team 0 better than team 1 better than team 2 on every subject and metric
    return np.stack([base + 2 * gap * sign, base + gap * sign, base])


def test_wilcoxon_counts_when_one_team_dominates():
    counts = significance_counts(_dominated_cube(), higher_is_better())
    assert counts.tolist() == [[2] * 5, [1] * 5, [0] * 5]
    wins = wilcoxon_wins(np.ones((2, 10)))  # identical teams: nobody wins
    assert not wins.any()


def test_wilcoxon_needs_enough_subjects():
    # with 3 subjects the smallest one-sided p-value is 1/8: nothing can be significant
    assert significance_counts(_dominated_cube(3), higher_is_better()).sum() == 0


def test_holm_by_hand():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm(np.array([0.2, np.nan])), [0.4, 1.0])


def test_compare_schemes_on_hand_field(tmp_path):
    table = compare_schemes(load_field(write_hand_teams(tmp_path)))
    assert table["team"].tolist() == ["alpha", "beta", "gamma"]
    for scheme in ("official", "mean_rank", "median_rank", "rank_then_aggregate"):
        assert table[scheme].tolist() == [1, 2, 3]
    assert table["test_based"].tolist() == [1, 1, 1]  # 3 subjects: no significant wins


def test_compare_schemes_means_only_field():
    from wmheval._resources import published_leaderboard_path

    table = compare_schemes(load_field(published_leaderboard_path()))
    assert {"official", "mean_rank"} <= set(table.columns)
    assert "test_based" not in table.columns


def test_bootstrap_with_identical_subjects_is_fixed():
    per_team = np.array([[0.8, 3, 10, 0.9, 0.8], [0.6, 6, 20, 0.7, 0.6], [0.4, 9, 40, 0.8, 0.4]])
    values = np.repeat(per_team[:, None, :], 6, axis=1)
    result = bootstrap_ranking(values, ["a", "b", "c"], n_resamples=200, seed=0)
    np.testing.assert_allclose(result.tau, 1.0)
    assert (result.positions == np.array([1, 2, 3])).all()
    assert result.summary["share_same_position"].tolist() == [1.0, 1.0, 1.0]


def test_bootstrap_properties():
    counts = resample_counts(7, 50, seed=2)
    assert counts.shape == (50, 7) and (counts.sum(axis=1) == 7).all()
    assert (resample_counts(7, 50, seed=2) == counts).all()
    cube = _dominated_cube(8) + np.random.default_rng(0).normal(0, 0.2, (3, 8, 5))
    result = bootstrap_ranking(cube, ["a", "b", "c"], n_resamples=300, seed=0)
    assert result.positions.shape == (300, 3)
    assert np.allclose(result.distribution.sum(axis=1), 1)
    assert ((result.tau >= -1) & (result.tau <= 1)).all()
