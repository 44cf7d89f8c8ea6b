"""The sensitivity analysis as a result object (issue 26): values asserted on
:class:`wmheval.analysis.sensitivity.SensitivityResult`, and the tables the pipeline writes
are that object's tables."""

import numpy as np
import pandas as pd
import pytest

from wmheval._resources import published_leaderboard_path
from wmheval.analysis.sensitivity import SensitivityResult, analyse_sensitivity
from wmheval.metrics import METRICS
from wmheval.pipelines.sensitivity import write_sensitivity
from wmheval.ranking import load_field
from wmheval.ranking.inputs import field_from_cases

N_SUBJECTS = 12


def _dominated_field():
    """Three teams on 12 subjects; on every subject and metric A is better than B and B
    than C (Dice, recall and F1 higher; H95 and AVD lower)."""
    rng = np.random.default_rng(3)
    rows = []
    for k in range(N_SUBJECTS):
        base = rng.uniform(0.5, 0.6)
        for rank, team in enumerate("ABC"):
            rows.append({"team": team, "id": str(k + 1), "scanner": "utrecht_philips_3t",
                         "split": "test", "seen_in_training": True, "status": "ok",
                         "dice": base + 0.1 * (2 - rank), "h95": 2.0 + 3 * rank + k / 10,
                         "avd": 10.0 + 15 * rank + k, "recall": base + 0.1 * (2 - rank),
                         "f1": base + 0.05 * (2 - rank)})
    return field_from_cases(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def dominated() -> SensitivityResult:
    return analyse_sensitivity(_dominated_field(), bootstrap=200, samples=300, grid_steps=3)


def test_a_dominant_team_is_first_everywhere(dominated):
    assert list(dominated.ranking["team"]) == ["A", "B", "C"]
    np.testing.assert_allclose(dominated.ranking["score"], [0.0, 0.5, 1.0])
    schemes = dominated.schemes.set_index("team")
    for scheme in dominated.scheme_names:
        assert list(schemes[scheme].loc[["A", "B", "C"]]) == [1, 2, 3], scheme
    assert dominated.scheme_names == ["official", "mean_rank", "median_rank",
                                      "rank_then_aggregate", "test_based"]
    assert dominated.dependence.summary["n_swapped_pairs"].tolist() == [0, 0, 0]


def test_bootstrap_of_a_strict_order_never_changes_it(dominated):
    boot = dominated.bootstrap
    assert boot is not None and len(boot.tau) == 200
    assert dominated.bootstrap_tau.iloc[0].to_dict() == {
        "n_resamples": 200, "mean_tau": 1.0, "median_tau": 1.0, "q05_tau": 1.0,
        "min_tau": 1.0}


def test_significance_counts_every_pair_on_every_metric(dominated):
    """12 subjects, all differences one-sided: every ordered pair is significant (Holm)."""
    table = dominated.significance.set_index("team")
    assert table.loc["A", "beats_total"] == 2 * len(METRICS)
    assert table.loc["B", "beats_total"] == len(METRICS)
    assert table.loc["C", "beats_total"] == 0
    assert list(table.index) == ["A", "B", "C"]  # most wins first
    expected = np.array([[False, True, True], [False, False, True], [False, False, False]])
    for metric in METRICS:
        np.testing.assert_array_equal(dominated.wins[metric], expected)


def test_a_means_only_field_has_no_per_case_parts():
    field = load_field(published_leaderboard_path())
    result = analyse_sensitivity(field, samples=200, grid_steps=3)
    assert result.bootstrap is None and result.bootstrap_tau is None
    assert result.significance is None and result.wins is None
    assert result.scheme_names == ["published", "official", "mean_rank"]
    published = field.published["published_position"].reindex(result.schemes["team"])
    np.testing.assert_array_equal(result.schemes["published"], published.to_numpy())
    assert result.label == "all subjects"


def test_the_written_tables_are_the_results(dominated, tmp_path):
    written = {p.name for p, _ in write_sensitivity(dominated, tmp_path, figures=False)}
    assert {"ranking.csv", "schemes.csv", "significance_wins.csv", "bootstrap_tau.csv",
            "field_dependence.csv", "weights_summary.csv", "notes.md"} <= written
    wins = pd.read_csv(tmp_path / "significance_wins.csv")
    pd.testing.assert_frame_equal(wins, dominated.significance.reset_index(drop=True),
                                  check_dtype=False)
    ranking = pd.read_csv(tmp_path / "ranking.csv")
    assert list(ranking["team"]) == ["A", "B", "C"]
    np.testing.assert_allclose(ranking["score"], [0.0, 0.5, 1.0])
    assert not any(name.endswith(".png") for name in written)
