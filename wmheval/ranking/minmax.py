"""The challenge's relative min-max rank: pure functions on arrays of per-team means.

For each metric, a team's relative rank is ``(x - best) / (worst - best)`` over the field
(0 = best team, 1 = worst team); the rank score is the (weighted) mean over metrics, lower
is better. Conventions for the edge cases, all documented in ``docs/ranking.md``:

* ``worst == best`` up to :data:`SPAN_RTOL` (every team equal on a metric, float
  rounding aside): relative rank 0 for every team with a mean.
* a NaN team mean (the metric is undefined for that team): relative rank 1, the worst,
  whatever the others' spread; a metric NaN for every team gives 0 for every team.
* positions use competition ranking ("min" ties, as challenge leaderboards do): scores
  within :data:`SCORE_ATOL` of each other share the smallest position, the next team
  skips ahead (1, 2, 2, 4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from wmheval.vocabulary import HIGHER_IS_BETTER
from wmheval.vocabulary import METRIC_NAMES as METRICS

SCORE_ATOL = 1e-9
"""Scores closer than this share a position (rank scores lie in [0, 1]), so that
floating-point noise in a weighted mean never breaks a genuine tie."""
SPAN_RTOL = 1e-9
"""A metric whose spread over the field (worst - best) is at most this share of its
magnitude is constant: float rounding never turns equal means into ranks 0 and 1."""


def higher_is_better(metrics: Sequence[str] = METRICS) -> np.ndarray:
    """Boolean vector: True where a larger value of the metric is better."""
    return np.array([HIGHER_IS_BETTER[m] for m in metrics], dtype=bool)


def relative_ranks(means: np.ndarray, higher: np.ndarray) -> np.ndarray:
    """Relative min-max ranks of a (..., teams, metrics) array of means; 0 best, 1 worst.

    Leading axes are batches (e.g. bootstrap resamples), normalised independently. NaN
    means become 1 (worst); the others get 0 where the metric is constant over the field
    (spread within :data:`SPAN_RTOL`); a metric NaN for every team gives 0 for everyone.
    """
    means = np.asarray(means, dtype=float)
    higher = np.asarray(higher, dtype=bool)
    oriented = np.where(higher, -means, means)  # now lower is better for every metric
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_reductions():
        best = np.nanmin(oriented, axis=-2, keepdims=True)
        worst = np.nanmax(oriented, axis=-2, keepdims=True)
        span = worst - best
        scale = np.maximum(np.abs(best), np.abs(worst))
        varies = span > SPAN_RTOL * scale
        rel = (oriented - best) / np.where(varies, span, 1.0)
    rel = np.where(varies, rel, 0.0)
    nan = np.isnan(oriented)
    all_nan = nan.all(axis=-2, keepdims=True)
    return np.where(nan, np.where(all_nan, 0.0, 1.0), rel)


def normalise_weights(weights: np.ndarray | Sequence[float] | Mapping[str, float] | None,
                      metrics: Sequence[str] = METRICS) -> np.ndarray:
    """Weights as a vector (or a (metrics, W) matrix) summing to 1 per column.

    ``None`` means equal weights (the challenge's rule); a mapping names metrics (absent
    ones get weight 0). Negative weights or an all-zero column are rejected.
    """
    if weights is None:
        return np.full(len(metrics), 1.0 / len(metrics))
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(metrics)
        if unknown:
            raise ValueError(f"unknown metrics in weights: {sorted(unknown)}; "
                             f"expected some of {list(metrics)}")
        weights = [float(weights.get(m, 0.0)) for m in metrics]
    array = np.asarray(weights, dtype=float)
    if array.shape[0] != len(metrics):
        raise ValueError(f"expected {len(metrics)} weights (one per metric {list(metrics)}), "
                         f"got {array.shape[0]}")
    if np.any(array < 0) or not np.all(np.isfinite(array)):
        raise ValueError("weights must be finite and non-negative")
    total = array.sum(axis=0)
    if np.any(total <= 0):
        raise ValueError("weights must not all be zero")
    return array / total


def weighted_scores(rel: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rank scores: ``rel`` (teams, metrics) @ normalised ``weights`` (metrics[, W])."""
    return np.asarray(rel, dtype=float) @ np.asarray(weights, dtype=float)


def competition_positions(scores: np.ndarray, axis: int = 0, descending: bool = False,
                          atol: float = SCORE_ATOL) -> np.ndarray:
    """Positions 1..n along ``axis`` with competition ranking of ties ("min").

    Lower scores come first unless ``descending``; scores within ``atol`` of the previous
    one in sorted order share its position. NaN scores are placed last (tied).
    """
    scores = np.asarray(scores, dtype=float)
    keyed = -scores if descending else scores
    keyed = np.where(np.isnan(keyed), np.inf, keyed)
    keyed = np.moveaxis(keyed, axis, -1)
    order = np.argsort(keyed, axis=-1, kind="stable")
    ordered = np.take_along_axis(keyed, order, axis=-1)
    with np.errstate(invalid="ignore"):
        gaps = np.diff(ordered, axis=-1)
    new_group = ~((gaps <= atol) | (np.isinf(ordered[..., 1:]) & np.isinf(ordered[..., :-1])))
    n = ordered.shape[-1]
    starts = np.broadcast_to(np.arange(1, n + 1), ordered.shape).copy()
    if n > 1:
        starts[..., 1:] = np.where(new_group, starts[..., 1:], 0)
    sorted_positions = np.maximum.accumulate(starts, axis=-1)
    positions = np.empty_like(sorted_positions)
    np.put_along_axis(positions, order, sorted_positions, axis=-1)
    return np.moveaxis(positions, -1, axis).astype(int)


def minmax_ranking(means: np.ndarray, weights=None,
                   metrics: Sequence[str] = METRICS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official ranking of a (teams, metrics) array: (relative ranks, scores, positions)."""
    rel = relative_ranks(means, higher_is_better(metrics))
    scores = weighted_scores(rel, normalise_weights(weights, metrics))
    return rel, scores, competition_positions(scores)


class _quiet_nan_reductions:
    """Silence numpy's 'All-NaN slice' warnings inside a block (we handle NaN explicitly)."""

    def __enter__(self):
        import warnings

        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._catcher.__exit__(*exc)
