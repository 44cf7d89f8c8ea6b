"""Agreement statistics: hand-computed small cases, and cross-checks against a second
implementation (scipy.stats, statsmodels, pingouin, or a literal re-implementation here)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from wmheval.analysis import agreement_stats as A

T975 = {1: 12.706204736174705, 3: 3.182446305284263}  # t quantiles (tables)
Z975 = 1.959963984540054


# ---------------------------------------------------------------- hand-computed cases


def test_pearson_ols_hand_case():
    # x = 1,2,3; y = 1,3,2: Sxx = Syy = 2, Sxy = 1 -> r = 0.5, slope 0.5, intercept 1.
    x, y = [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]
    assert A.pearson(x, y).value == pytest.approx(0.5)
    assert math.isnan(A.pearson(x, y).low)  # n = 3: Fisher z needs n >= 4
    fit = A.ols(x, y)
    assert fit.slope.value == pytest.approx(0.5)
    assert fit.intercept.value == pytest.approx(1.0)
    # residuals -0.5, 1, -0.5: s² = 1.5 / 1; se(slope) = sqrt(1.5 / 2)
    se = math.sqrt(0.75)
    assert fit.slope.low == pytest.approx(0.5 - T975[1] * se)
    assert fit.slope.high == pytest.approx(0.5 + T975[1] * se)
    se_b0 = math.sqrt(1.5 * (1 / 3 + 4 / 2))
    assert fit.intercept.high == pytest.approx(1 + T975[1] * se_b0)


def test_fisher_ci_hand_case():
    # r = 0.5, n = 4: se = 1; z = atanh(0.5) = 0.549306
    low, high = A.fisher_ci(0.5, 4)
    assert low == pytest.approx(math.tanh(0.5493061443 - Z975))
    assert high == pytest.approx(math.tanh(0.5493061443 + Z975))
    assert A.fisher_ci(1.0, 10) == (1.0, 1.0)


def test_spearman_hand_case():
    # ranks equal the values; sum d² = 2 -> rho = 1 - 6·2 / (4·15) = 0.8
    x, y = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]
    result = A.spearman(x, y)
    assert result.value == pytest.approx(0.8)
    se = math.sqrt((1 + 0.8 ** 2 / 2) / 1)  # Bonett & Wright, n - 3 = 1
    assert result.low == pytest.approx(math.tanh(math.atanh(0.8) - Z975 * se))
    assert result.high == pytest.approx(math.tanh(math.atanh(0.8) + Z975 * se))


def test_deming_hand_case():
    # Sxx = Syy = 2, Sxy = 1, lambda = 1: slope = (0 + sqrt(0 + 4)) / 2 = 1, intercept 0.
    fit = A.deming([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert fit.slope.value == pytest.approx(1.0)
    assert fit.intercept.value == pytest.approx(0.0, abs=1e-12)


def test_passing_bablok_hand_cases():
    # pair slopes 2, 0.5 and -1 (left out): median of (0.5, 2) = 1.25;
    # intercept median(y - 1.25 x) = median(-0.25, 0.5, -1.75) = -0.25
    fit = A.passing_bablok([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert fit.slope.value == pytest.approx(1.25)
    assert fit.intercept.value == pytest.approx(-0.25)
    # slopes -3, -1/2, -2/3, 2, 1/2 (and -1 left out); K = 1 (one slope < -1);
    # N = 5 odd: S_((5+1)/2 + K) = S_4 of (-3, -2/3, -1/2, 1/2, 2) = 1/2
    fit = A.passing_bablok([1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 3.0, 2.0])
    assert fit.slope.value == pytest.approx(0.5)


def test_icc_hand_cases():
    # y = x + 1: MSR = 2, MSC = 1.5, MSE = 0 -> ICC(C,1) = 1, ICC(A,1) = 2 / (2 + 2·1.5/3)
    result = A.icc([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert result.consistency.value == pytest.approx(1.0)
    assert result.absolute.value == pytest.approx(2 / 3)
    # x = 1,2,3; y = 1,3,2: MSR = 1.5, MSC = 0, MSE = 0.5
    result = A.icc([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert result.consistency.value == pytest.approx(0.5)
    assert result.absolute.value == pytest.approx(1 / (2 - 1 / 3))
    # CI of ICC(C,1): F = MSR/MSE = 3 on (2, 2) df
    f_low = 3 / stats.f.ppf(0.975, 2, 2)
    f_high = 3 * stats.f.ppf(0.975, 2, 2)
    assert result.consistency.low == pytest.approx((f_low - 1) / (f_low + 1))
    assert result.consistency.high == pytest.approx((f_high - 1) / (f_high + 1))


def test_bland_altman_hand_case():
    # differences 1, 0, 2, -1: bias 0.5, SD sqrt(5/3)
    x, y = [1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 5.0, 3.0]
    result = A.bland_altman(x, y)
    sd = math.sqrt(5 / 3)
    assert result.bias.value == pytest.approx(0.5)
    assert result.sd == pytest.approx(sd)
    assert result.lower.value == pytest.approx(0.5 - 1.96 * sd)
    assert result.upper.value == pytest.approx(0.5 + 1.96 * sd)
    assert result.bias.low == pytest.approx(0.5 - T975[3] * sd / 2)
    assert result.upper.high == pytest.approx(0.5 + 1.96 * sd + T975[3] * sd * math.sqrt(3 / 4))
    assert result.lower.low == pytest.approx(0.5 - 1.96 * sd - T975[3] * sd * math.sqrt(3 / 4))
    # proportional bias: OLS of d = (1, 0, 2, -1) on m = (1.5, 2, 4, 3.5)
    m, d = np.array([1.5, 2, 4, 3.5]), np.array([1.0, 0, 2, -1])
    slope = np.sum((m - m.mean()) * (d - d.mean())) / np.sum((m - m.mean()) ** 2)
    assert result.proportional.slope.value == pytest.approx(slope)


def test_too_few_subjects_give_nan_not_errors():
    for function in (A.pearson, A.spearman):
        assert math.isnan(function([1.0, 2.0], [1.0, 2.0]).value)
    assert math.isnan(A.ols([1.0, 2.0], [1.0, 3.0]).slope.value)
    assert math.isnan(A.passing_bablok([1.0, 2.0], [1.0, 3.0]).slope.value)
    assert math.isnan(A.icc([1.0, 2.0], [1.0, 3.0]).absolute.value)
    assert math.isnan(A.pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).value)  # constant x
    with pytest.raises(ValueError, match="finite"):
        A.pearson([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- second implementations

pairs = st.integers(min_value=5, max_value=40).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, 2 ** 31 - 1)))


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 6.0, n) + 0.1
    y = x * rng.uniform(0.6, 1.4) + rng.normal(0, 2.0, n) + rng.normal(0, 1)
    return x, y


@settings(max_examples=25, deadline=None)
@given(pairs)
def test_pearson_and_spearman_against_scipy(case):
    x, y = _data(*case)
    mine = A.pearson(x, y)
    reference = stats.pearsonr(x, y)
    interval = reference.confidence_interval(0.95)  # scipy: Fisher z as well
    assert mine.value == pytest.approx(reference.statistic)
    assert mine.low == pytest.approx(interval.low)
    assert mine.high == pytest.approx(interval.high)
    # Spearman = Pearson of the ranks (literal), CI literal Bonett-Wright
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    rho = np.corrcoef(rx, ry)[0, 1]
    se = math.sqrt((1 + rho ** 2 / 2) / (len(x) - 3))
    result = A.spearman(x, y)
    assert result.value == pytest.approx(rho)
    if abs(rho) > 1 - 1e-12:  # perfectly monotone: the interval collapses onto ±1
        assert result.low == pytest.approx(np.sign(rho))
    else:
        assert result.low == pytest.approx(math.tanh(math.atanh(rho) - Z975 * se))


@settings(max_examples=25, deadline=None)
@given(pairs)
def test_ols_against_statsmodels(case):
    import statsmodels.api as sm

    x, y = _data(*case)
    model = sm.OLS(y, sm.add_constant(x)).fit()
    ci = model.conf_int(0.05)
    fit = A.ols(x, y)
    assert fit.intercept.value == pytest.approx(model.params[0])
    assert fit.slope.value == pytest.approx(model.params[1])
    assert (fit.intercept.low, fit.intercept.high) == pytest.approx(tuple(ci[0]))
    assert (fit.slope.low, fit.slope.high) == pytest.approx(tuple(ci[1]))
    assert fit.slope.p == pytest.approx(model.pvalues[1], rel=1e-6, abs=1e-300)


@settings(max_examples=25, deadline=None)
@given(pairs)
def test_icc_against_pingouin(case):
    import pingouin

    x, y = _data(*case)
    n = len(x)
    long = pd.DataFrame({"subject": np.r_[np.arange(n), np.arange(n)],
                         "method": ["x"] * n + ["y"] * n, "value": np.r_[x, y]})
    table = pingouin.intraclass_corr(long, "subject", "method", "value").set_index("Type")
    table = table.rename(columns={c: "CI95" for c in table.columns if c.startswith("CI95")})
    result = A.icc(x, y)
    assert result.absolute.value == pytest.approx(table.loc["ICC(A,1)", "ICC"])
    assert result.consistency.value == pytest.approx(table.loc["ICC(C,1)", "ICC"])
    # pingouin rounds its CIs to 2 decimals
    assert result.absolute.low == pytest.approx(table.loc["ICC(A,1)", "CI95"][0], abs=0.006)
    assert result.absolute.high == pytest.approx(table.loc["ICC(A,1)", "CI95"][1], abs=0.006)
    assert result.consistency.low == pytest.approx(table.loc["ICC(C,1)", "CI95"][0], abs=0.006)
    assert result.consistency.high == pytest.approx(table.loc["ICC(C,1)", "CI95"][1],
                                                    abs=0.006)


def _deming_literal(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Orthogonal regression (Deming, lambda 1) as the first principal axis."""
    data = np.column_stack([x, y])
    centred = data - data.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    direction = vt[0]
    slope = direction[1] / direction[0]
    return slope, y.mean() - slope * x.mean()


@settings(max_examples=20, deadline=None)
@given(pairs)
def test_deming_against_principal_axis_and_literal_jackknife(case):
    x, y = _data(*case)
    fit = A.deming(x, y)
    slope, intercept = _deming_literal(x, y)
    assert fit.slope.value == pytest.approx(slope)
    assert fit.intercept.value == pytest.approx(intercept)
    n = len(x)
    partial = [_deming_literal(np.delete(x, i), np.delete(y, i))[0] for i in range(n)]
    pseudo = [n * slope - (n - 1) * p for p in partial]
    se = float(np.std(pseudo, ddof=1)) / math.sqrt(n)
    t = stats.t.ppf(0.975, n - 2)
    assert fit.slope.low == pytest.approx(slope - t * se)
    assert fit.slope.high == pytest.approx(slope + t * se)


def _passing_bablok_literal(x, y):
    """Passing & Bablok (1983), written out with loops."""
    n = len(x)
    slopes = []
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[j] - x[i], y[j] - y[i]
            if dx == 0 and dy == 0:
                continue
            s = math.copysign(math.inf, dy) if dx == 0 else dy / dx
            if s != -1:
                slopes.append(s)
    slopes.sort()
    big_n = len(slopes)
    k = sum(1 for s in slopes if s < -1)
    if big_n % 2:
        b = slopes[(big_n + 1) // 2 + k - 1]
    else:
        b = (slopes[big_n // 2 + k - 1] + slopes[big_n // 2 + k]) / 2
    c = 1.959963984540054 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    m1 = round((big_n - c) / 2)
    m2 = big_n - m1 + 1

    def pick(rank: int) -> float:  # 1-based; outside the list: no bound
        return slopes[rank - 1] if 1 <= rank <= big_n else math.nan

    low, high = pick(m1 + k), pick(m2 + k)
    if not math.isfinite(b):
        return b, low, high, math.nan
    a = sorted(yi - b * xi for xi, yi in zip(x, y, strict=True))
    intercept = (a[n // 2] if n % 2 else (a[n // 2 - 1] + a[n // 2]) / 2)
    return b, low, high, intercept


@settings(max_examples=20, deadline=None)
@given(pairs)
@example((5, 37526676))  # equal x after rounding: an infinite median slope
def test_passing_bablok_against_literal(case):
    x, y = _data(*case)
    x, y = np.round(x, 1), np.round(y, 1)  # ties in x and y happen
    b, low, high, intercept = _passing_bablok_literal(list(x), list(y))
    fit = A.passing_bablok(x, y)
    if not math.isfinite(b):  # the median pair has equal x: no usable line, NaN by design
        assert math.isnan(fit.slope.value) and math.isnan(fit.intercept.value)
        return
    assert fit.slope.value == pytest.approx(b)
    assert fit.slope.low == pytest.approx(low, nan_ok=True)
    assert fit.slope.high == pytest.approx(high, nan_ok=True)
    assert fit.intercept.value == pytest.approx(intercept)


@settings(max_examples=20, deadline=None)
@given(pairs)
def test_bland_altman_against_literal_and_statsmodels(case):
    import statsmodels.api as sm

    x, y = _data(*case)
    n = len(x)
    d, m = y - x, (x + y) / 2
    result = A.bland_altman(x, y)
    sd = math.sqrt(sum((v - sum(d) / n) ** 2 for v in d) / (n - 1))
    assert result.bias.value == pytest.approx(sum(d) / n)
    assert result.sd == pytest.approx(sd)
    t = stats.t.ppf(0.975, n - 1)
    assert result.upper.low == pytest.approx(sum(d) / n + 1.96 * sd - t * sd * math.sqrt(3 / n))
    assert result.bias.p == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    model = sm.OLS(d, sm.add_constant(m)).fit()
    assert result.proportional.slope.value == pytest.approx(model.params[1])
    assert result.proportional.slope.p == pytest.approx(model.pvalues[1], rel=1e-6)


def test_perfect_agreement():
    x = np.array([1.0, 2.0, 5.0, 9.0, 20.0])
    row = A.agreement_row(x, x)
    assert row["pearson_r"] == pytest.approx(1.0)
    assert row["ols_slope"] == pytest.approx(1.0) and row["pb_slope"] == pytest.approx(1.0)
    assert row["deming_slope"] == pytest.approx(1.0)
    assert row["icc_a1"] == pytest.approx(1.0) and row["icc_c1"] == pytest.approx(1.0)
    assert row["ba_bias"] == 0 and row["ba_sd"] == 0
    assert list(row) == list(A.STAT_COLUMNS)
