"""Test-based ranking: pairwise one-sided Wilcoxon signed-rank tests with Holm correction."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import wilcoxon


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN is treated as 1); same shape as the input."""
    p = np.asarray(pvalues, dtype=float)
    flat = np.where(np.isnan(p), 1.0, p).ravel()
    m = flat.size
    if m == 0:
        return p.copy()
    order = np.argsort(flat, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * flat[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.reshape(p.shape)


def wilcoxon_wins(values: np.ndarray, higher_is_better: bool = True,
                  alpha: float = 0.05) -> np.ndarray:
    """Which team beats which on one metric: (teams, teams) bool, ``[i, j]`` = i beats j.

    ``values`` is (teams, subjects), paired by subject. For every ordered pair a one-sided
    Wilcoxon signed-rank test (zero differences dropped; NaN pairs dropped) asks whether i
    is better than j; the n(n-1) p-values are Holm-corrected together and i beats j when
    the adjusted p-value is below ``alpha``. All-zero differences never count as a win.
    """
    values = np.asarray(values, dtype=float)
    if not higher_is_better:
        values = -values
    n = values.shape[0]
    wins = np.zeros((n, n), dtype=bool)
    if n < 2:
        return wins
    i, j = np.triu_indices(n, k=1)
    diff = values[i] - values[j]
    policy = "omit" if np.isnan(diff).any() else "propagate"
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        p_greater = wilcoxon(diff, alternative="greater", axis=1, nan_policy=policy).pvalue
        p_less = wilcoxon(diff, alternative="less", axis=1, nan_policy=policy).pvalue
    degenerate = np.all((diff == 0) | np.isnan(diff), axis=1)
    p_greater = np.where(degenerate, 1.0, p_greater)
    p_less = np.where(degenerate, 1.0, p_less)
    adjusted = holm(np.concatenate([p_greater, p_less]))
    wins[i, j] = adjusted[: len(i)] < alpha
    wins[j, i] = adjusted[len(i):] < alpha
    return wins


def significance_counts(cube_values: np.ndarray, higher: np.ndarray,
                        alpha: float = 0.05) -> np.ndarray:
    """Per team and metric, how many teams it beats significantly: (teams, metrics) ints.

    ``cube_values`` is (teams, subjects, metrics); ``higher`` the per-metric direction.
    """
    cube_values = np.asarray(cube_values, dtype=float)
    counts = np.zeros((cube_values.shape[0], cube_values.shape[2]), dtype=int)
    for k in range(cube_values.shape[2]):  # five metrics: a loop over metrics, not data
        counts[:, k] = wilcoxon_wins(cube_values[:, :, k], bool(higher[k]), alpha).sum(axis=1)
    return counts
