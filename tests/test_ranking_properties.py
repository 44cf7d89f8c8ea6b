"""Property-based tests of the ranking: invariants, and a literal slow re-implementation.

The oracle below restates the challenge's rule in plain Python loops, with the documented
edge cases (NaN mean ranks worst, a constant metric gives 0, competition positions).
"""

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from wmheval.metrics import HIGHER_IS_BETTER, METRICS
from wmheval.ranking.inputs import field_from_cases
from wmheval.ranking.leaderboard import rank_field
from wmheval.ranking.minmax import minmax_ranking

SETTINGS = settings(max_examples=80, deadline=None)


def slow_minmax(means: list[list[float]], weights: list[float]) -> tuple[list[float], list[int]]:
    """The rule, literally: per metric (x - best) / (worst - best), weighted mean, positions
    1 + the number of teams with a strictly smaller score."""
    n = len(means)
    scores = [0.0] * n
    total = sum(weights)
    for k, metric in enumerate(METRICS):
        column = [means[i][k] for i in range(n)]
        defined = [v for v in column if not math.isnan(v)]
        for i in range(n):
            value = column[i]
            if math.isnan(value):
                rel = 0.0 if not defined else 1.0
            else:
                best = max(defined) if HIGHER_IS_BETTER[metric] else min(defined)
                worst = min(defined) if HIGHER_IS_BETTER[metric] else max(defined)
                span = abs(worst - best)
                rel = 0.0 if span <= 1e-9 * max(abs(best), abs(worst)) \
                    else abs(value - best) / span
            scores[i] += weights[k] / total * rel
    positions = [1 + sum(1 for j in range(n) if scores[j] < scores[i] - 1e-9)
                 for i in range(n)]
    return scores, positions


# values on a coarse grid, so that ties between teams happen often
value = st.integers(0, 20).map(lambda k: k / 20)
team_means = st.lists(st.tuples(*[value] * 5), min_size=2, max_size=7)
maybe_nan = st.one_of(value, st.just(math.nan))
weights = st.lists(st.integers(0, 4), min_size=5, max_size=5).filter(lambda w: sum(w) > 0)


@SETTINGS
@given(st.lists(st.tuples(*[maybe_nan] * 5), min_size=2, max_size=7), weights)
def test_minmax_equals_the_slow_reimplementation(rows, w):
    means = np.array(rows, dtype=float) * np.array([1, 30, 100, 1, 1])
    _, scores, positions = minmax_ranking(means, w)
    slow_scores, slow_positions = slow_minmax(means.tolist(), [float(x) for x in w])
    np.testing.assert_allclose(scores, slow_scores, atol=1e-12)
    assert positions.tolist() == slow_positions


@SETTINGS
@given(team_means, st.randoms(use_true_random=False))
def test_permuting_teams_permutes_the_result(rows, random):
    means = np.array(rows, dtype=float)
    order = list(range(len(rows)))
    random.shuffle(order)
    rel, scores, positions = minmax_ranking(means)
    rel_p, scores_p, positions_p = minmax_ranking(means[order])
    np.testing.assert_allclose(scores_p, scores[order], atol=1e-12)
    assert positions_p.tolist() == positions[order].tolist()


@SETTINGS
@given(team_means, st.integers(0, 6), st.integers(0, 4), st.integers(1, 10))
def test_improving_a_metric_never_worsens_the_teams_own_score(rows, team, metric, steps):
    means = np.array(rows, dtype=float)
    team %= len(rows)
    _, scores, positions = minmax_ranking(means)
    better = means.copy()
    better[team, metric] += (steps / 20) * (1 if HIGHER_IS_BETTER[METRICS[metric]] else -1)
    _, scores_b, positions_b = minmax_ranking(better)
    assert scores_b[team] <= scores[team] + 1e-12
    assert positions_b[team] <= positions[team]


@SETTINGS
@given(team_means, st.integers(0, 6))
def test_a_duplicated_team_ties_with_itself(rows, team):
    means = np.array(rows, dtype=float)
    team %= len(rows)
    doubled = np.vstack([means, means[team]])
    _, scores, positions = minmax_ranking(doubled)
    assert scores[team] == scores[-1] and positions[team] == positions[-1]


def _long_table(values: np.ndarray, teams: list[str], subjects: list[str]) -> pd.DataFrame:
    rows = []
    for t, team in enumerate(teams):
        for s, subject in enumerate(subjects):
            row = {"team": team, "id": subject, "status": "ok", "split": "test",
                   "scanner": "x", "seen_in_training": True}
            row.update({m: values[t, s, k] for k, m in enumerate(METRICS)})
            rows.append(row)
    return pd.DataFrame(rows)


cube = st.tuples(st.integers(2, 5), st.integers(2, 6)).flatmap(
    lambda shape: st.lists(value, min_size=shape[0] * shape[1] * 5,
                           max_size=shape[0] * shape[1] * 5).map(
        lambda flat: np.array(flat).reshape(shape[0], shape[1], 5)))


@settings(max_examples=25, deadline=None)
@given(cube, st.randoms(use_true_random=False))
def test_per_case_rankings_ignore_the_order_of_rows_and_teams(values, random):
    teams = [f"t{k}" for k in range(values.shape[0])]
    subjects = [str(k) for k in range(values.shape[1])]
    table = _long_table(values, teams, subjects)
    ranking = rank_field(field_from_cases(table)).set_index("team")
    shuffled = table.sample(frac=1.0, random_state=random.randint(0, 10**6))
    again = rank_field(field_from_cases(shuffled)).set_index("team")
    pd.testing.assert_frame_equal(ranking.loc[teams], again.loc[teams])
    # the means are the plain means over subjects, ranked by the slow rule
    means = values.mean(axis=1)
    _, slow_positions = slow_minmax(means.tolist(), [1.0] * 5)
    assert ranking.loc[teams, "position"].tolist() == slow_positions
