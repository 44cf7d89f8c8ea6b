"""Relative min-max ranks, scores and positions on small fields computed by hand."""

import numpy as np
import pytest

from wmheval.ranking.minmax import (
    competition_positions,
    minmax_ranking,
    normalise_weights,
    relative_ranks,
)

HIGHER = np.array([True, False, False, True, True])  # dice, h95, avd, recall, f1
# alpha, beta, gamma means (see tests/ranking_fixtures.HAND_CASES)
MEANS = np.array([[0.8, 3.0, 10.0, 0.9, 0.8],
                  [0.6, 6.0, 20.0, 0.7, 0.6],
                  [0.4, 9.0, 40.0, 0.8, 0.4]])


def test_relative_ranks_by_hand():
    rel = relative_ranks(MEANS, HIGHER)
    expected = np.array([[0, 0, 0, 0, 0],
                         [0.5, 0.5, 1 / 3, 1, 0.5],
                         [1, 1, 1, 0.5, 1]])
    np.testing.assert_allclose(rel, expected)


def test_scores_and_positions_by_hand():
    _, scores, positions = minmax_ranking(MEANS)
    np.testing.assert_allclose(scores, [0.0, (0.5 + 0.5 + 1 / 3 + 1 + 0.5) / 5, 4.5 / 5])
    assert positions.tolist() == [1, 2, 3]


def test_single_metric_and_leave_one_out_weightings():
    _, scores, positions = minmax_ranking(MEANS, {"recall": 1})
    np.testing.assert_allclose(scores, [0, 1, 0.5])
    assert positions.tolist() == [1, 3, 2]
    _, scores, positions = minmax_ranking(MEANS, [1, 1, 1, 0, 1])
    np.testing.assert_allclose(scores, [0, (0.5 + 0.5 + 1 / 3 + 0.5) / 4, 1])
    assert positions.tolist() == [1, 2, 3]


def test_ties_get_competition_positions():
    means = np.vstack([MEANS[1], MEANS[0], MEANS[0], MEANS[2]])
    _, scores, positions = minmax_ranking(means)
    assert scores[1] == scores[2] == 0
    assert positions.tolist() == [3, 1, 1, 4]
    assert competition_positions(np.array([0.3, 0.1, 0.1 + 1e-15, 0.2])).tolist() == [4, 1, 1, 3]


def test_constant_metric_gives_zero_for_everyone():
    means = MEANS.copy()
    means[:, 1] = 5.0
    rel = relative_ranks(means, HIGHER)
    assert np.all(rel[:, 1] == 0)


def test_nan_team_mean_counts_as_worst():
    means = MEANS.copy()
    means[0, 1] = np.nan  # alpha's H95 undefined
    rel = relative_ranks(means, HIGHER)
    assert rel[0, 1] == 1.0
    np.testing.assert_allclose(rel[1:, 1], [0.0, 1.0])  # best/worst from the other two
    all_nan = MEANS.copy()
    all_nan[:, 2] = np.nan
    assert np.all(relative_ranks(all_nan, HIGHER)[:, 2] == 0)


def test_batched_relative_ranks_match_single():
    batch = np.stack([MEANS, MEANS[::-1]])
    rel = relative_ranks(batch, HIGHER)
    np.testing.assert_allclose(rel[0], relative_ranks(MEANS, HIGHER))
    np.testing.assert_allclose(rel[1], relative_ranks(MEANS[::-1], HIGHER))


def test_weights_validation():
    np.testing.assert_allclose(normalise_weights([2, 2, 2, 2, 2]), [0.2] * 5)
    with pytest.raises(ValueError, match="unknown metrics"):
        normalise_weights({"hd": 1})
    with pytest.raises(ValueError, match="non-negative"):
        normalise_weights([1, -1, 1, 1, 1])
    with pytest.raises(ValueError, match="expected 5"):
        normalise_weights([1, 1])
    with pytest.raises(ValueError, match="all be zero"):
        normalise_weights([0, 0, 0, 0, 0])
