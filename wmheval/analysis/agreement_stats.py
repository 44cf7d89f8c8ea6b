"""Method-comparison statistics for two paired measurements (pure functions on arrays).

``x`` is the reference method (e.g. the reference segmentation's lesion volume), ``y`` the
compared one; every function takes paired 1-D float arrays without NaN and returns plain
floats (NaN where a quantity needs more subjects than given). Formulas and a worked example
are in ``docs/agreement.md``; the tests check each one against a second implementation
(scipy.stats, statsmodels, pingouin, or a literal re-implementation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
"""Confidence level of every interval (two-sided)."""

MIN_SUBJECTS = 3
"""Fewest subjects a group needs to be analysed; correlation CIs need 4 (Fisher z, n - 3)."""


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite (drop subjects without volumes first)")
    return x, y


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _t(confidence: float, df: float) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, df)) if df > 0 else math.nan


@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval (``low``, ``high``) and, for tests, a p-value."""

    value: float
    low: float = math.nan
    high: float = math.nan
    p: float = math.nan


# ---------------------------------------------------------------- correlation


def fisher_ci(r: float, n: int, se: float | None = None,
              confidence: float = CONFIDENCE) -> tuple[float, float]:
    """CI of a correlation by Fisher's z: tanh(atanh(r) ± z·se), se = 1/sqrt(n - 3) by default.

    NaN for n < 4; (±1, ±1) when |r| = 1.
    """
    if n < 4 or not np.isfinite(r):
        return math.nan, math.nan
    if abs(r) >= 1.0:
        return float(np.sign(r)), float(np.sign(r))
    se = 1.0 / math.sqrt(n - 3) if se is None else se
    z = math.atanh(r)
    half = _z(confidence) * se
    return math.tanh(z - half), math.tanh(z + half)


def pearson(x, y, confidence: float = CONFIDENCE) -> Estimate:
    """Pearson's r, Fisher-z CI (se 1/sqrt(n-3)), two-sided p of r = 0 (t test, n - 2 df)."""
    x, y = _pair(x, y)
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Estimate(math.nan)
    result = stats.pearsonr(x, y)
    r = float(result.statistic)
    return Estimate(r, *fisher_ci(r, n, confidence=confidence), p=float(result.pvalue))


def spearman(x, y, confidence: float = CONFIDENCE) -> Estimate:
    """Spearman's rho (Pearson's r of mid-ranks) with a Fisher-z CI using the Bonett & Wright
    (2000) standard error sqrt((1 + rho²/2) / (n - 3)); p from scipy (t approximation)."""
    x, y = _pair(x, y)
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Estimate(math.nan)
    result = stats.spearmanr(x, y)
    rho = float(result.statistic)
    se = math.sqrt((1 + rho ** 2 / 2) / (n - 3)) if n > 3 else None
    return Estimate(rho, *fisher_ci(rho, n, se=se, confidence=confidence),
                    p=float(result.pvalue))


# ---------------------------------------------------------------- line fits


@dataclass(frozen=True)
class LineFit:
    """y = intercept + slope · x, each with its confidence interval."""

    slope: Estimate
    intercept: Estimate


def ols(x, y, confidence: float = CONFIDENCE) -> LineFit:
    """Ordinary least squares of y on x; t-based CIs (n - 2 df), p of slope = 0 / intercept = 0.

    Needs n >= 3 and x not constant (otherwise NaN).
    """
    x, y = _pair(x, y)
    n = x.size
    if n < 3 or np.ptp(x) == 0:
        return LineFit(Estimate(math.nan), Estimate(math.nan))
    mx, my = x.mean(), y.mean()
    sxx = float(np.sum((x - mx) ** 2))
    slope = float(np.sum((x - mx) * (y - my)) / sxx)
    intercept = float(my - slope * mx)
    residuals = y - intercept - slope * x
    s2 = float(np.sum(residuals ** 2) / (n - 2))
    se_slope = math.sqrt(s2 / sxx)
    se_intercept = math.sqrt(s2 * (1 / n + mx ** 2 / sxx))
    t = _t(confidence, n - 2)

    def estimate(value: float, se: float) -> Estimate:
        p = 2 * float(stats.t.sf(abs(value / se), n - 2)) if se > 0 else (
            0.0 if value != 0 else 1.0)
        return Estimate(value, value - t * se, value + t * se, p)

    return LineFit(estimate(slope, se_slope), estimate(intercept, se_intercept))


def _deming_point(x: np.ndarray, y: np.ndarray, ratio: float) -> tuple[float, float]:
    mx, my = x.mean(), y.mean()
    sxx = float(np.sum((x - mx) ** 2))
    syy = float(np.sum((y - my) ** 2))
    sxy = float(np.sum((x - mx) * (y - my)))
    if sxy == 0:
        return math.nan, math.nan
    u = syy - ratio * sxx
    slope = (u + math.sqrt(u * u + 4 * ratio * sxy * sxy)) / (2 * sxy)
    return slope, float(my - slope * mx)


def deming(x, y, error_ratio: float = 1.0, confidence: float = CONFIDENCE) -> LineFit:
    """Deming regression (errors in both x and y) with jackknife CIs (Linnet 1990).

    ``error_ratio`` = var(error of y) / var(error of x); 1 (the default) is orthogonal
    regression, the usual choice when both are segmentations of the same kind. The CI is
    estimate ± t(n-2) · jackknife SE, as in the R package mcr's default. Needs n >= 3.
    """
    x, y = _pair(x, y)
    n = x.size
    nan = LineFit(Estimate(math.nan), Estimate(math.nan))
    if n < 3 or error_ratio <= 0:
        return nan
    slope, intercept = _deming_point(x, y, 1.0 / error_ratio)
    if not np.isfinite(slope):
        return nan
    keep = ~np.eye(n, dtype=bool)
    leave_out = np.array([_deming_point(x[keep[i]], y[keep[i]], 1.0 / error_ratio)
                          for i in range(n)])
    t = _t(confidence, n - 2)

    def estimate(value: float, partial: np.ndarray) -> Estimate:
        if not np.all(np.isfinite(partial)):
            return Estimate(value)
        pseudo = n * value - (n - 1) * partial
        se = float(np.std(pseudo, ddof=1) / math.sqrt(n))
        return Estimate(value, value - t * se, value + t * se)

    return LineFit(estimate(slope, leave_out[:, 0]), estimate(intercept, leave_out[:, 1]))


def passing_bablok(x, y, confidence: float = CONFIDENCE) -> LineFit:
    """Passing–Bablok regression (1983) with its analytical (rank-based) CIs.

    Slopes S_ij = (y_j - y_i)/(x_j - x_i) of all pairs i < j, leaving out pairs with
    S = -1 and pairs equal in both x and y (pairs equal in x only give ±inf); K = #{S < -1};
    slope = the median of the sorted slopes shifted by K; CI = S_(M1+K), S_(M2+K) with
    C = z·sqrt(n(n-1)(2n+5)/18), M1 = round((N - C)/2), M2 = N - M1 + 1 (1-based). The
    intercept is median(y - b·x), its CI median(y - b_high·x) to median(y - b_low·x).
    NaN when n < 3 or the median slope is infinite (too many pairs equal in x).
    """
    x, y = _pair(x, y)
    n = x.size
    nan = LineFit(Estimate(math.nan), Estimate(math.nan))
    if n < 3:
        return nan
    i, j = np.triu_indices(n, k=1)
    dx, dy = x[j] - x[i], y[j] - y[i]
    same = (dx == 0) & (dy == 0)
    dx, dy = dx[~same], dy[~same]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(dx == 0, np.sign(dy) * np.inf, dy / np.where(dx == 0, 1.0, dx))
    slopes = np.sort(slopes[slopes != -1.0])
    count = slopes.size
    if count == 0:
        return nan
    k = int(np.sum(slopes < -1))
    if count % 2:
        index = (count + 1) // 2 + k  # 1-based
        slope = float(slopes[index - 1]) if 1 <= index <= count else math.nan
    else:
        index = count // 2 + k
        slope = (float(0.5 * (slopes[index - 1] + slopes[index]))
                 if 1 <= index < count else math.nan)
    c = _z(confidence) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    m1 = int(round((count - c) / 2))
    m2 = count - m1 + 1
    low = float(slopes[m1 + k - 1]) if 1 <= m1 + k <= count else math.nan
    high = float(slopes[m2 + k - 1]) if 1 <= m2 + k <= count else math.nan
    if not np.isfinite(slope):
        return nan

    def intercept_at(b: float) -> float:
        return float(np.median(y - b * x)) if np.isfinite(b) else math.nan

    intercept = Estimate(intercept_at(slope), intercept_at(high), intercept_at(low))
    return LineFit(Estimate(slope, low, high), intercept)


# ---------------------------------------------------------------- ICC


@dataclass(frozen=True)
class IccResult:
    """McGraw & Wong (1996) single-measure ICCs of two methods (k = 2 'raters')."""

    absolute: Estimate
    consistency: Estimate


def icc(x, y, confidence: float = CONFIDENCE) -> IccResult:
    """ICC(A,1) (absolute agreement) and ICC(C,1) (consistency), two-way model, with the
    F-distribution CIs of McGraw & Wong (1996), as pingouin's ICC2 and ICC3.

    From the two-way ANOVA of the n × 2 table: MSR (subjects), MSC (methods), MSE (error);
    ICC(C,1) = (MSR - MSE) / (MSR + MSE); ICC(A,1) = (MSR - MSE) / (MSR + MSE +
    2 (MSC - MSE) / n). Needs n >= 3 (NaN otherwise or when MSE = 0 and MSR = 0).
    """
    x, y = _pair(x, y)
    n, k = x.size, 2
    nan = IccResult(Estimate(math.nan), Estimate(math.nan))
    if n < 3:
        return nan
    data = np.column_stack([x, y])
    grand = data.mean()
    ss_rows = k * float(np.sum((data.mean(axis=1) - grand) ** 2))
    ss_cols = n * float(np.sum((data.mean(axis=0) - grand) ** 2))
    ss_total = float(np.sum((data - grand) ** 2))
    ss_error = ss_total - ss_rows - ss_cols
    df_r, df_c, df_e = n - 1, k - 1, (n - 1) * (k - 1)
    msr, msc, mse = ss_rows / df_r, ss_cols / df_c, max(ss_error, 0.0) / df_e
    alpha = 1 - confidence
    if msr + (k - 1) * mse == 0:
        return nan

    consistency = (msr - mse) / (msr + (k - 1) * mse)
    if mse > 0:
        f_obs = msr / mse
        f_low = f_obs / stats.f.ppf(1 - alpha / 2, df_r, df_e)
        f_high = f_obs * stats.f.ppf(1 - alpha / 2, df_e, df_r)
        c_low, c_high = (f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1)
        c_p = float(stats.f.sf(f_obs, df_r, df_e))
    else:
        c_low = c_high = consistency
        c_p = 0.0

    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    absolute = (msr - mse) / denominator if denominator != 0 else math.nan
    a_low = a_high = math.nan
    if np.isfinite(absolute) and absolute < 1 and mse > 0:
        a = k * absolute / (n * (1 - absolute))
        b = 1 + k * absolute * (n - 1) / (n * (1 - absolute))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / df_e)
        f_star = stats.f.ppf(1 - alpha / 2, n - 1, v)
        f_2star = stats.f.ppf(1 - alpha / 2, v, n - 1)
        a_low = n * (msr - f_star * mse) / (
            f_star * (k * msc + (k * n - k - n) * mse) + n * msr)
        a_high = n * (f_2star * msr - mse) / (
            k * msc + (k * n - k - n) * mse + n * f_2star * msr)
    elif absolute == 1:
        a_low = a_high = 1.0
    return IccResult(Estimate(float(absolute), float(a_low), float(a_high)),
                     Estimate(float(consistency), float(c_low), float(c_high), c_p))


# ---------------------------------------------------------------- Bland–Altman


@dataclass(frozen=True)
class BlandAltman:
    """Bias (mean of y - x), 95 % limits of agreement, their CIs, and proportional bias."""

    n: int
    bias: Estimate
    sd: float
    lower: Estimate
    upper: Estimate
    proportional: LineFit
    """OLS of the difference on the mean of the two: slope != 0 means proportional bias."""


LOA_Z = 1.96
"""Limits of agreement are bias ± 1.96 SD of the differences (Bland & Altman)."""


def bland_altman(x, y, confidence: float = CONFIDENCE) -> BlandAltman:
    """Bland–Altman analysis of y against x (differences y - x, means (x + y)/2).

    CI of the bias: bias ± t(n-1)·s/sqrt(n). CI of each limit: limit ± t(n-1)·s·sqrt(3/n),
    the approximate standard error sqrt(3s²/n) of Bland & Altman (1986, 1999). Proportional
    bias: OLS of the differences on the means, with the slope's t test (p) and CI.
    """
    x, y = _pair(x, y)
    n = x.size
    difference, mean = y - x, (x + y) / 2
    if n < 2:
        nan = Estimate(math.nan)
        return BlandAltman(n, nan, math.nan, nan, nan, LineFit(nan, nan))
    bias = float(difference.mean())
    sd = float(difference.std(ddof=1))
    t = _t(confidence, n - 1)
    half_bias = t * sd / math.sqrt(n)
    half_limit = t * sd * math.sqrt(3 / n)
    lower, upper = bias - LOA_Z * sd, bias + LOA_Z * sd
    p_bias = (2 * float(stats.t.sf(abs(bias) / (sd / math.sqrt(n)), n - 1)) if sd > 0
              else (0.0 if bias != 0 else 1.0))
    return BlandAltman(
        n=n,
        bias=Estimate(bias, bias - half_bias, bias + half_bias, p_bias),
        sd=sd,
        lower=Estimate(lower, lower - half_limit, lower + half_limit),
        upper=Estimate(upper, upper - half_limit, upper + half_limit),
        proportional=ols(mean, difference, confidence),
    )


# ---------------------------------------------------------------- everything at once


def _flat(prefix: str, estimate: Estimate, with_p: bool = False) -> dict[str, float]:
    row = {prefix: estimate.value, f"{prefix}_low": estimate.low, f"{prefix}_high": estimate.high}
    if with_p:
        row[f"{prefix}_p"] = estimate.p
    return row


def agreement_row(x, y, confidence: float = CONFIDENCE, error_ratio: float = 1.0
                  ) -> dict[str, float]:
    """Every statistic of this module for one pair of arrays, as one flat row (see
    :data:`STAT_COLUMNS`)."""
    x, y = _pair(x, y)
    row: dict[str, float] = {"n": int(x.size), "mean_x": float(x.mean()),
                             "mean_y": float(y.mean())}
    row |= _flat("pearson_r", pearson(x, y, confidence), True)
    row |= _flat("spearman_rho", spearman(x, y, confidence), True)
    fit = ols(x, y, confidence)
    row |= _flat("ols_slope", fit.slope) | _flat("ols_intercept", fit.intercept)
    fit = deming(x, y, error_ratio, confidence)
    row |= _flat("deming_slope", fit.slope) | _flat("deming_intercept", fit.intercept)
    fit = passing_bablok(x, y, confidence)
    row |= _flat("pb_slope", fit.slope) | _flat("pb_intercept", fit.intercept)
    result = icc(x, y, confidence)
    row |= _flat("icc_a1", result.absolute) | _flat("icc_c1", result.consistency)
    ba = bland_altman(x, y, confidence)
    row |= _flat("ba_bias", ba.bias, True) | {"ba_sd": ba.sd}
    row |= _flat("ba_loa_lower", ba.lower) | _flat("ba_loa_upper", ba.upper)
    row |= {"ba_prop_slope": ba.proportional.slope.value,
            "ba_prop_slope_low": ba.proportional.slope.low,
            "ba_prop_slope_high": ba.proportional.slope.high,
            "ba_prop_p": ba.proportional.slope.p,
            "ba_prop_intercept": ba.proportional.intercept.value}
    return row


STAT_COLUMNS = tuple(agreement_row([1.0, 2.0, 4.0, 3.0], [1.5, 2.0, 3.0, 4.5]).keys())
"""Columns of :func:`agreement_row`, in order."""

__all__ = ["CONFIDENCE", "LOA_Z", "MIN_SUBJECTS", "STAT_COLUMNS", "BlandAltman", "Estimate",
           "IccResult", "LineFit", "agreement_row", "bland_altman", "deming", "fisher_ci",
           "icc", "ols", "passing_bablok", "pearson", "spearman"]
