"""Sensitivity of the ranking to the metric weights, vectorised over many weightings.

The min-max relative ranks do not depend on the weights, so they are computed once; a
sweep is one matrix product ``rel (teams x 5) @ W (5 x n_weightings)`` followed by ranking
along the teams axis. Weightings: a regular grid on the simplex, uniform random Dirichlet
samples, leave-one-metric-out and single-metric.
"""

from __future__ import annotations

import itertools
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
    relative_ranks,
    weighted_scores,
)


def simplex_grid(steps: int = 10, n_metrics: int = len(METRICS)) -> np.ndarray:
    """All weight vectors with entries k/steps summing to 1: (n_metrics, C(steps+m-1, m-1))."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    # stars and bars: choose the m-1 bar positions among steps+m-1 slots
    columns = []
    for bars in itertools.combinations(range(steps + n_metrics - 1), n_metrics - 1):
        edges = (-1, *bars, steps + n_metrics - 1)
        columns.append([edges[k + 1] - edges[k] - 1 for k in range(n_metrics)])
    return np.asarray(columns, dtype=float).T / steps


def dirichlet_weights(n: int, seed: int | None = 0, alpha: float = 1.0,
                      n_metrics: int = len(METRICS)) -> np.ndarray:
    """``n`` random weightings, Dirichlet(alpha); alpha=1 is uniform on the simplex."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(n_metrics, alpha), size=n).T


def named_weightings(metrics: Sequence[str] = METRICS, n_random: int = 0,
                     seed: int | None = 0) -> dict[str, np.ndarray]:
    """Named weightings: ``default`` (equal), ``only_<m>``, ``without_<m>``, ``random_<k>``."""
    m = len(metrics)
    named: dict[str, np.ndarray] = {"default": np.full(m, 1.0 / m)}
    for k, metric in enumerate(metrics):
        named[f"only_{metric}"] = np.eye(m)[k]
    for k, metric in enumerate(metrics):
        w = np.full(m, 1.0 / (m - 1))
        w[k] = 0.0
        named[f"without_{metric}"] = w
    if n_random:
        samples = dirichlet_weights(n_random, seed, n_metrics=m)
        for k in range(n_random):
            named[f"random_{k + 1}"] = samples[:, k]
    return named


def sweep_positions(rel: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Positions (teams, W) of every team under every weighting column of ``weights``."""
    return competition_positions(weighted_scores(rel, weights), axis=0)


@dataclass(frozen=True)
class WeightSensitivity:
    """Result of a weight sweep.

    ``summary``: one row per team (default position, median/min/max rank over the sampled
    weight space, share of weight space ranked first, positions under single-metric and
    leave-one-out weightings). ``named``: teams x named weightings positions. ``tau``: per
    sampled weighting its kind and Kendall's tau to the default ranking. ``positions``:
    (teams, W) positions for all sampled weightings, ``weights`` their (5, W) matrix.
    ``named_weights``: metrics x named weightings, the weights behind ``named`` (so the
    random ones can be disclosed).
    """

    summary: pd.DataFrame
    named: pd.DataFrame
    tau: pd.DataFrame
    positions: np.ndarray
    weights: np.ndarray
    named_weights: pd.DataFrame | None = None
    note: str = ""
    """Set when the sweep was cut to :data:`MAX_SWEEP_CELLS` (many teams)."""


MAX_SWEEP_CELLS = 6_000_000
"""Teams x weightings of a sweep at most (each (teams, W) array of positions and scores is
8 bytes a cell: about 48 MB; the published 57 teams x 100,000 weightings is 5.7 million).
A larger field is swept with fewer Dirichlet samples, with a note."""


def weight_sensitivity(rel: np.ndarray, teams: Sequence[str], n_samples: int = 100_000,
                       grid_steps: int = 10, seed: int | None = 0,
                       metrics: Sequence[str] = METRICS,
                       n_named_random: int = 5) -> WeightSensitivity:
    """Sweep the weights for a field's (teams, metrics) relative ranks ``rel``.

    The rank distribution (median/min/max, histogram in ``positions``) pools the grid and
    the Dirichlet samples; the share of weight space where a team ranks first is measured
    on the Dirichlet(1) samples alone (uniform on the simplex; the grid is not), with a
    tie for first split equally among the tied teams. Falls back to the grid when
    ``n_samples`` is 0.
    """
    rel = np.asarray(rel, dtype=float)
    teams = list(teams)
    m = len(metrics)
    default_w = np.full(m, 1.0 / m)
    default_pos = competition_positions(weighted_scores(rel, default_w))
    grid = simplex_grid(grid_steps, m) if grid_steps else np.empty((m, 0))
    note = ""
    room = MAX_SWEEP_CELLS // max(len(teams), 1) - grid.shape[1]
    if n_samples > max(room, 1000):
        note = (f"weight sweep: {max(room, 1000)} random weightings instead of {n_samples} "
                f"for {len(teams)} teams (memory bound: teams x weightings at most "
                f"{MAX_SWEEP_CELLS:,})")
        n_samples = max(room, 1000)
    samples = dirichlet_weights(n_samples, seed, n_metrics=m) if n_samples else np.empty((m, 0))
    weights = np.concatenate([grid, samples], axis=1)
    positions = sweep_positions(rel, weights)
    uniform = positions[:, grid.shape[1]:] if n_samples else positions[:, :grid.shape[1]]
    first = uniform == 1
    share_first = (first / np.maximum(first.sum(axis=0), 1)).mean(axis=1)
    named_w = named_weightings(metrics, n_named_random, None if seed is None else seed + 1)
    named_pos = sweep_positions(rel, np.stack(list(named_w.values()), axis=1))
    named = pd.DataFrame(named_pos, index=pd.Index(teams, name="team"), columns=list(named_w))
    summary = pd.DataFrame({
        "team": teams,
        "position": default_pos,
        "median_rank": np.median(positions, axis=1),
        "mean_rank": positions.mean(axis=1),
        "min_rank": positions.min(axis=1),
        "max_rank": positions.max(axis=1),
        "min_rank_named": named_pos.min(axis=1),
        "max_rank_named": named_pos.max(axis=1),
        "share_first": share_first,
    })
    for column in named.columns:
        if column.startswith(("only_", "without_")):
            summary[f"rank_{column}"] = named[column].to_numpy()
    summary = summary.sort_values(["position", "team"]).reset_index(drop=True)
    taus = kendall_tau_b(default_pos, positions.T)
    tau = pd.DataFrame({"kind": ["grid"] * grid.shape[1] + ["dirichlet"] * samples.shape[1],
                        "tau": taus})
    for k, metric in enumerate(metrics):
        tau[f"w_{metric}"] = weights[k]
    named_weights = pd.DataFrame(np.stack(list(named_w.values()), axis=1),
                                 index=pd.Index(list(metrics), name="metric"),
                                 columns=list(named_w))
    return WeightSensitivity(summary, named, tau, positions, weights, named_weights, note)


def field_weight_sensitivity(field: Field, **options) -> WeightSensitivity:
    """:func:`weight_sensitivity` of a :class:`~wmheval.ranking.inputs.Field`."""
    rel = relative_ranks(field.metric_means(), higher_is_better(METRICS))
    return weight_sensitivity(rel, field.teams, **options)


def tau_summary(result: WeightSensitivity) -> pd.DataFrame:
    """Kendall tau to the default ranking per kind of weighting and per named weighting."""
    rows = []
    for kind, group in result.tau.groupby("kind", sort=False):
        values = group["tau"].to_numpy()
        rows.append({"weighting": kind, "n": len(values), "mean_tau": float(np.nanmean(values)),
                     "min_tau": float(np.nanmin(values)),
                     "q05_tau": float(np.nanquantile(values, 0.05))})
    default = result.named["default"].to_numpy()
    for name in result.named.columns:
        if name == "default":
            continue
        value = float(kendall_tau_b(default, result.named[name].to_numpy()))
        rows.append({"weighting": name, "n": 1, "mean_tau": value, "min_tau": value,
                     "q05_tau": value})
    return pd.DataFrame(rows)
