"""Stability of the official ranking over test cases: bootstrap the subjects.

Each resample draws subject ids with replacement (the same draw for every team) and
recomputes the per-team means, the min-max relative ranks and the positions. Vectorised:
the draws become a (B, subjects) matrix of counts, and all resampled means are one matrix
product with the (subjects, teams x metrics) values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wmheval.analysis.concordance import kendall_tau_b
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field
from wmheval.ranking.minmax import (
    competition_positions,
    higher_is_better,
    normalise_weights,
    relative_ranks,
    weighted_scores,
)


def resample_counts(n_subjects: int, n_resamples: int, seed: int | None = 0) -> np.ndarray:
    """How often each subject is drawn in each resample: (n_resamples, n_subjects) ints."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_subjects, size=(n_resamples, n_subjects))
    flat = draws + n_subjects * np.arange(n_resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=n_resamples * n_subjects).reshape(
        n_resamples, n_subjects)


def resampled_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Means of (teams, subjects, metrics) ``values`` under each row of ``counts``.

    NaN cells are left out (weighted NaN-skipping mean); a team/metric with no value in a
    resample gets NaN (ranked worst by the min-max rule). Returns (B, teams, metrics).
    """
    teams, subjects, metrics = values.shape
    flat = values.transpose(1, 0, 2).reshape(subjects, teams * metrics)
    finite = np.isfinite(flat)
    sums = counts @ np.where(finite, flat, 0.0)
    n = counts @ finite.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n
    return means.reshape(-1, teams, metrics)


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap of the ranking: ``positions`` (B, teams), ``tau`` (B,) to the full-data
    ranking, ``summary`` per team (full-data position, median, 2.5/97.5 % quantiles,
    min/max, share of resamples at its full-data position or first), ``distribution``
    (teams x positions 1..n: share of resamples)."""

    teams: tuple[str, ...]
    full_positions: np.ndarray
    positions: np.ndarray
    tau: np.ndarray
    summary: pd.DataFrame
    distribution: pd.DataFrame


def bootstrap_ranking(values: np.ndarray, teams: Sequence[str], n_resamples: int = 1000,
                      seed: int | None = 0, weights=None,
                      metrics: Sequence[str] = METRICS) -> BootstrapResult:
    """Bootstrap the official ranking of (teams, subjects, metrics) ``values``."""
    values = np.asarray(values, dtype=float)
    teams = tuple(teams)
    higher = higher_is_better(metrics)
    w = normalise_weights(weights, metrics)
    full_counts = np.ones((1, values.shape[1]))
    full = competition_positions(
        weighted_scores(relative_ranks(resampled_means(values, full_counts), higher), w),
        axis=1)[0]
    counts = resample_counts(values.shape[1], n_resamples, seed)
    rel = relative_ranks(resampled_means(values, counts), higher)
    positions = competition_positions(weighted_scores(rel, w), axis=1)
    tau = kendall_tau_b(full, positions)
    n = len(teams)
    distribution = np.stack([(positions == r).mean(axis=0) for r in range(1, n + 1)], axis=1)
    summary = pd.DataFrame({
        "team": teams,
        "position": full,
        "median_rank": np.median(positions, axis=0),
        "mean_rank": positions.mean(axis=0),
        "q025_rank": np.quantile(positions, 0.025, axis=0),
        "q975_rank": np.quantile(positions, 0.975, axis=0),
        "min_rank": positions.min(axis=0),
        "max_rank": positions.max(axis=0),
        "share_same_position": (positions == full).mean(axis=0),
        "share_first": (positions == 1).mean(axis=0),
    }).sort_values(["position", "team"]).reset_index(drop=True)
    dist = pd.DataFrame(distribution, index=pd.Index(teams, name="team"),
                        columns=[str(r) for r in range(1, n + 1)])
    return BootstrapResult(teams, full, positions, tau, summary, dist)


def field_bootstrap(field: Field, n_resamples: int = 1000, seed: int | None = 0,
                    weights=None) -> BootstrapResult:
    """:func:`bootstrap_ranking` of a per-case :class:`~wmheval.ranking.inputs.Field`."""
    if field.cube is None:
        raise ValueError("the bootstrap needs per-case results; this field has means only")
    return bootstrap_ranking(field.cube.values, field.teams, n_resamples, seed, weights)
