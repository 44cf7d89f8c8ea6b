"""Alternative ranking schemes, compared side by side with the official one.

* ``official``: aggregate then min-max rank (the challenge's rule).
* ``mean_rank``: aggregate (mean) per metric, rank teams per metric (1..n, ties "min" as
  challengeR's ``aggregateThenRank``), average the five ranks.
* ``median_rank``: as ``mean_rank`` with the per-team median over subjects (per-case only).
* ``rank_then_aggregate``: rank teams on every subject and metric (ties "min", a NaN cell
  ranked last, as challengeR's ``rankThenAggregate``), average over subjects and metrics
  (per-case only).
* ``test_based``: pairwise one-sided Wilcoxon signed-rank tests per metric (normal
  approximation with continuity correction, as challengeR's ``testThenRank``), Holm
  corrected by default; score = number of (team, metric) pairs a team beats
  significantly, higher is better (per-case only).

Every scheme gives positions with competition ranking of ties. ``ties="average"`` gives
averaged ranks instead of challengeR's "min".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from wmheval.ranking.inputs import Field
from wmheval.ranking.minmax import competition_positions, higher_is_better, minmax_ranking
from wmheval.ranking.significance import significance_counts
from wmheval.vocabulary import ALL_SCHEMES, CASE_SCHEMES, MEANS_SCHEMES, TIES
from wmheval.vocabulary import METRIC_NAMES as METRICS


def _oriented(values: np.ndarray, metrics: Sequence[str]) -> np.ndarray:
    """Flip the sign of higher-is-better metrics (last axis) so lower is always better."""
    values = np.asarray(values, dtype=float)
    if values.shape[-1] != len(metrics):
        raise ValueError(f"the last axis has {values.shape[-1]} columns but "
                         f"{len(metrics)} metrics {list(metrics)} were named")
    return np.where(higher_is_better(metrics), -values, values)


def _rank_na_last(keyed: np.ndarray, ties: str) -> np.ndarray:
    """Ranks along axis 0 (1 = lowest) with NaN ranked last, as challengeR's ``rankNA2``:
    "min" gives every NaN ``max rank + 1``; "average" gives them the average of the ranks
    after the defined ones."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    nan = np.isnan(keyed)
    ranks = rankdata(np.where(nan, np.inf, keyed), method=ties, axis=0)
    if ties == "min":
        defined_max = np.where(nan, 0.0, ranks).max(axis=0, keepdims=True)
        ranks = np.where(nan, defined_max + 1, ranks)
    return ranks


def aggregate_then_rank(aggregates: np.ndarray, metrics: Sequence[str] = METRICS,
                        ties: str = "min") -> np.ndarray:
    """Scores from (teams, metrics) aggregates: the mean over metrics of per-metric ranks.

    Ranks are 1 (best) .. n, ties "min" (challengeR's default) or "average"; a NaN
    aggregate ranks last. ``metrics`` names the columns (their direction matters).
    """
    keyed = _oriented(aggregates, metrics)
    return _rank_na_last(keyed, ties).mean(axis=1)


def rank_then_aggregate(values: np.ndarray, metrics: Sequence[str] = METRICS,
                        ties: str = "min") -> np.ndarray:
    """Scores from (teams, subjects, metrics) values: the mean rank over subjects and metrics.

    Teams are ranked on each subject and metric (1 best, ties "min" or "average"); a NaN
    cell ranks last (challengeR's ``rankThenAggregate``).
    """
    keyed = _oriented(values, metrics)
    return _rank_na_last(keyed, ties).mean(axis=(1, 2))


def scheme_scores(field: Field, scheme: str, alpha: float = 0.05, ties: str = "min",
                  p_adjust: str = "holm") -> np.ndarray:
    """One scheme's score per team (in ``field.teams`` order); see the module docstring."""
    if scheme == "official":
        return minmax_ranking(field.metric_means())[1]
    if scheme == "mean_rank":
        return aggregate_then_rank(field.metric_means(), ties=ties)
    if scheme not in CASE_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {ALL_SCHEMES}")
    if field.cube is None:
        raise ValueError(f"scheme {scheme!r} needs per-case results; this field has means only")
    values = field.cube.values
    if scheme == "median_rank":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return aggregate_then_rank(np.nanmedian(values, axis=1), ties=ties)
    if scheme == "rank_then_aggregate":
        return rank_then_aggregate(values, ties=ties)
    counts = significance_counts(values, higher_is_better(METRICS), alpha, p_adjust)
    return counts.sum(axis=1).astype(float)


def available_schemes(field: Field) -> tuple[str, ...]:
    """The schemes this field supports (per-case ones need a cube)."""
    return ALL_SCHEMES if field.has_cases else MEANS_SCHEMES


def compare_schemes(field: Field, schemes=None, alpha: float = 0.05, ties: str = "min",
                    p_adjust: str = "holm") -> pd.DataFrame:
    """Side-by-side table: team, each scheme's position, then each scheme's score.

    Rows follow the official ranking. ``test_based`` scores are win counts (higher is
    better); all others are lower-is-better.
    """
    schemes = tuple(schemes or available_schemes(field))
    table = pd.DataFrame({"team": list(field.teams)})
    scores = {}
    for scheme in schemes:
        scores[scheme] = scheme_scores(field, scheme, alpha, ties, p_adjust)
        table[scheme] = competition_positions(scores[scheme],
                                              descending=scheme == "test_based")
    for scheme in schemes:
        table[f"{scheme}_score"] = scores[scheme]
    first = schemes[0]
    return table.sort_values([first, "team"]).reset_index(drop=True)
