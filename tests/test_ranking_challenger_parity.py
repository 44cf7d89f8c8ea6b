"""challengeR parity: p-values and ranks against reference values computed with R.

The reference values in ``tests/data/challenger_parity`` were computed by ``parity.R``
(base R 4.2.2, the calls challengeR 1.0.5 makes); see the README there.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wmheval.ranking.minmax import competition_positions
from wmheval.ranking.schemes import aggregate_then_rank, rank_then_aggregate
from wmheval.ranking.significance import holm, wilcoxon_pvalues, wilcoxon_wins

DATA = Path(__file__).parent / "data" / "challenger_parity"
HIGHER = {"dice": True, "h95": False}
CASES = pd.read_csv(DATA / "cases.csv")
KEYS = [(table, metric) for table in sorted(CASES["table"].unique()) for metric in HIGHER]


def _wide(table: int, metric: str) -> tuple[list[str], np.ndarray]:
    rows = CASES[CASES["table"] == table]
    wide = rows.pivot(index="team", columns="case", values=metric).sort_index()
    return list(wide.index), wide.to_numpy(dtype=float)


@pytest.mark.parametrize("table, metric", KEYS)
def test_wilcoxon_pvalues_equal_r(table, metric):
    """Regression (defect 9): without R's continuity correction p-values differed."""
    teams, values = _wide(table, metric)
    reference = pd.read_csv(DATA / "wilcoxon.csv")
    reference = reference[(reference["table"] == table) & (reference["metric"] == metric)]
    ours = wilcoxon_pvalues(values, HIGHER[metric])
    index = {t: k for k, t in enumerate(teams)}
    got = np.array([ours[index[i], index[j]] for i, j in
                    zip(reference["team_i"], reference["team_j"], strict=True)])
    np.testing.assert_allclose(got, reference["p"].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(holm(got), reference["p_holm"].to_numpy(), rtol=1e-9)
    wins = wilcoxon_wins(values, HIGHER[metric], alpha=0.05, p_adjust="none")
    expected = np.zeros_like(wins)
    for i, j, p in zip(reference["team_i"], reference["team_j"], reference["p"], strict=True):
        expected[index[i], index[j]] = p <= 0.05
    assert (wins == expected).all()


@pytest.mark.parametrize("table, metric", KEYS)
def test_rank_then_aggregate_equals_r(table, metric):
    """Regression (defect 9): averaged ties where challengeR uses ties.method = "min"."""
    teams, values = _wide(table, metric)
    reference = pd.read_csv(DATA / "rank_then_aggregate.csv")
    reference = reference[(reference["table"] == table) & (reference["metric"] == metric)]
    reference = reference.set_index("team").loc[teams]
    mean_rank = rank_then_aggregate(values[:, :, None], metrics=[metric])
    np.testing.assert_allclose(mean_rank, reference["mean_rank"].to_numpy(), rtol=1e-9)
    assert competition_positions(mean_rank).tolist() == reference["rank"].tolist()


@pytest.mark.parametrize("table, metric", KEYS)
def test_aggregate_then_rank_equals_r(table, metric):
    teams, values = _wide(table, metric)
    reference = pd.read_csv(DATA / "aggregate_then_rank.csv")
    reference = reference[(reference["table"] == table) & (reference["metric"] == metric)]
    reference = reference.set_index("team").loc[teams]
    means = np.nanmean(values, axis=1)
    np.testing.assert_allclose(means, reference["mean"].to_numpy(), rtol=1e-9)
    ranks = aggregate_then_rank(means[:, None], metrics=[metric])
    assert ranks.tolist() == reference["rank"].astype(float).tolist()


def test_the_reference_tables_exercise_ties_zeros_and_missing_values():
    _, values = _wide(0, "dice")
    assert (values[0] == values[1]).any()  # a zero paired difference
    tied = sum(len(set(column)) < len(column) for key in KEYS for column in _wide(*key)[1].T)
    assert tied >= 10  # ties within a case (where "min" and "average" differ)
    assert CASES["dice"].isna().sum() == 6
