"""Alternative ranking schemes, compared side by side with the official one.

* ``official``: aggregate then min-max rank (the challenge's rule).
* ``mean_rank``: aggregate (mean) per metric, rank teams per metric (1..n, ties averaged),
  average the five ranks.
* ``median_rank``: as ``mean_rank`` with the per-team median over subjects (per-case only).
* ``rank_then_aggregate``: rank teams on every subject and metric (ties averaged, a NaN
  cell left out), average over subjects and metrics (per-case only).
* ``test_based``: pairwise one-sided Wilcoxon signed-rank tests per metric, Holm-corrected;
  score = number of (team, metric) pairs a team beats significantly, higher is better
  (per-case only).

Every scheme gives positions with competition ranking of ties.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from wmheval.analysis.significance import significance_counts
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field
from wmheval.ranking.minmax import competition_positions, higher_is_better, minmax_ranking

MEANS_SCHEMES = ("official", "mean_rank")
CASE_SCHEMES = ("median_rank", "rank_then_aggregate", "test_based")
ALL_SCHEMES = MEANS_SCHEMES + CASE_SCHEMES


def _oriented(values: np.ndarray) -> np.ndarray:
    """Flip the sign of higher-is-better metrics (last axis) so lower is always better."""
    return np.where(higher_is_better(METRICS), -values, values)


def aggregate_then_rank(aggregates: np.ndarray) -> np.ndarray:
    """Scores from (teams, metrics) aggregates: the mean over metrics of per-metric ranks.

    Ranks are 1 (best) .. n with ties averaged; a NaN aggregate ranks last.
    """
    keyed = _oriented(np.asarray(aggregates, dtype=float))
    keyed = np.where(np.isnan(keyed), np.inf, keyed)
    return rankdata(keyed, method="average", axis=0).mean(axis=1)


def rank_then_aggregate(values: np.ndarray) -> np.ndarray:
    """Scores from (teams, subjects, metrics) values: the mean rank over subjects and metrics.

    Teams are ranked on each subject and metric (1 best, ties averaged); NaN cells get no
    rank and are left out of that team's mean.
    """
    keyed = _oriented(np.asarray(values, dtype=float))
    ranks = rankdata(keyed, method="average", axis=0, nan_policy="omit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(ranks, axis=(1, 2))


def scheme_scores(field: Field, scheme: str, alpha: float = 0.05) -> np.ndarray:
    """One scheme's score per team (in ``field.teams`` order); see the module docstring."""
    if scheme == "official":
        return minmax_ranking(field.metric_means())[1]
    if scheme == "mean_rank":
        return aggregate_then_rank(field.metric_means())
    if scheme not in CASE_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {ALL_SCHEMES}")
    if field.cube is None:
        raise ValueError(f"scheme {scheme!r} needs per-case results; this field has means only")
    values = field.cube.values
    if scheme == "median_rank":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return aggregate_then_rank(np.nanmedian(values, axis=1))
    if scheme == "rank_then_aggregate":
        return rank_then_aggregate(values)
    return significance_counts(values, higher_is_better(METRICS), alpha).sum(axis=1).astype(float)


def available_schemes(field: Field) -> tuple[str, ...]:
    """The schemes this field supports (per-case ones need a cube)."""
    return ALL_SCHEMES if field.has_cases else MEANS_SCHEMES


def compare_schemes(field: Field, schemes=None, alpha: float = 0.05) -> pd.DataFrame:
    """Side-by-side table: team, each scheme's position, then each scheme's score.

    Rows follow the official ranking. ``test_based`` scores are win counts (higher is
    better); all others are lower-is-better.
    """
    schemes = tuple(schemes or available_schemes(field))
    table = pd.DataFrame({"team": list(field.teams)})
    scores = {}
    for scheme in schemes:
        scores[scheme] = scheme_scores(field, scheme, alpha)
        table[scheme] = competition_positions(scores[scheme],
                                              descending=scheme == "test_based")
    for scheme in schemes:
        table[f"{scheme}_score"] = scores[scheme]
    first = schemes[0]
    return table.sort_values([first, "team"]).reset_index(drop=True)
