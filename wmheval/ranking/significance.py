"""Test-based ranking: pairwise one-sided Wilcoxon signed-rank tests, as challengeR does.

challengeR (``decision.challenge``) runs ``wilcox.test(x, y, paired = TRUE, exact = FALSE)``
with R's default continuity correction: the normal approximation of the signed-rank
statistic (zero differences dropped, tie-corrected variance) with a 0.5 correction, which
scipy's ``wilcoxon(..., correction=True, method="asymptotic")`` reproduces. Reference
p-values computed with R are in ``tests/data/challenger_parity``.
"""

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


P_ADJUST = ("holm", "none")


def wilcoxon_pvalues(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """One-sided p-values of "i is better than j": (teams, teams), NaN on the diagonal.

    ``values`` is (teams, subjects), paired by subject; each p-value is R's
    ``wilcox.test(x_i, x_j, paired = TRUE, exact = FALSE, correct = TRUE,
    alternative = "greater")`` (for lower-is-better metrics on the negated values). NaN
    pairs are dropped; all-zero differences give 1.
    """
    values = np.asarray(values, dtype=float)
    if not higher_is_better:
        values = -values
    n = values.shape[0]
    pvalues = np.full((n, n), np.nan)
    if n < 2:
        return pvalues
    i, j = np.triu_indices(n, k=1)
    diff = values[i] - values[j]
    policy = "omit" if np.isnan(diff).any() else "propagate"
    options = dict(axis=1, nan_policy=policy, zero_method="wilcox", correction=True,
                   method="asymptotic")
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        p_greater = wilcoxon(diff, alternative="greater", **options).pvalue
        p_less = wilcoxon(diff, alternative="less", **options).pvalue
    degenerate = np.all((diff == 0) | np.isnan(diff), axis=1)
    pvalues[i, j] = np.where(degenerate, 1.0, p_greater)
    pvalues[j, i] = np.where(degenerate, 1.0, p_less)
    return pvalues


def wilcoxon_wins(values: np.ndarray, higher_is_better: bool = True,
                  alpha: float = 0.05, p_adjust: str = "holm") -> np.ndarray:
    """Which team beats which on one metric: (teams, teams) bool, ``[i, j]`` = i beats j.

    ``values`` is (teams, subjects), paired by subject. For every ordered pair a one-sided
    Wilcoxon signed-rank test (:func:`wilcoxon_pvalues`) asks whether i is better than j;
    with ``p_adjust="holm"`` the n(n-1) p-values are Holm-corrected together, with
    ``"none"`` (challengeR's default) they are used as they are; i beats j when the
    p-value is at most ``alpha`` (challengeR's ``<=``). All-zero differences never win.
    """
    if p_adjust not in P_ADJUST:
        raise ValueError(f"p_adjust must be one of {P_ADJUST}, got {p_adjust!r}")
    pvalues = wilcoxon_pvalues(values, higher_is_better)
    n = pvalues.shape[0]
    wins = np.zeros((n, n), dtype=bool)
    if n < 2:
        return wins
    off = ~np.eye(n, dtype=bool)
    adjusted = pvalues.copy()
    if p_adjust == "holm":
        adjusted[off] = holm(pvalues[off])
    wins[off] = adjusted[off] <= alpha
    return wins


def significance_counts(cube_values: np.ndarray, higher: np.ndarray,
                        alpha: float = 0.05, p_adjust: str = "holm") -> np.ndarray:
    """Per team and metric, how many teams it beats significantly: (teams, metrics) ints.

    ``cube_values`` is (teams, subjects, metrics); ``higher`` the per-metric direction.
    """
    cube_values = np.asarray(cube_values, dtype=float)
    counts = np.zeros((cube_values.shape[0], cube_values.shape[2]), dtype=int)
    for k in range(cube_values.shape[2]):  # five metrics: a loop over metrics, not data
        counts[:, k] = wilcoxon_wins(cube_values[:, :, k], bool(higher[k]), alpha,
                                     p_adjust).sum(axis=1)
    return counts
