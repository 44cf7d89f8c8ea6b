"""Field dependence of the min-max ranking: leave one team out, see who swaps.

The relative min-max rank of a team depends on the best and worst teams of the field, so
removing a team that sets a best or worst value rescales a metric for everyone and can
reorder teams that have nothing to do with it. For every team, this analysis removes it,
re-ranks the others, and lists the pairs of remaining teams whose order flips (a strict
order becoming the opposite strict order; ties appearing or breaking are counted apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field, subset_field
from wmheval.ranking.minmax import (
    competition_positions,
    minmax_ranking,
    normalise_weights,
)


@dataclass(frozen=True)
class FieldDependence:
    """Leave-one-team-out result.

    ``summary``: one row per removed team (its position; how many pairs of the others
    swap, how many teams take part in a swap, tie changes, the largest change of another
    team's position beyond the one place every team behind it gains). ``swaps``: one row
    per (removed team, swapped pair) with both teams' positions with and without it.
    """

    summary: pd.DataFrame
    swaps: pd.DataFrame


def _order_signs(positions: np.ndarray) -> np.ndarray:
    """(n, n) sign of positions[i] - positions[j]: -1 i ahead, 1 j ahead, 0 tied."""
    return np.sign(positions[:, None] - positions[None, :])


def leave_one_team_out(means: np.ndarray, teams: Sequence[str], weights=None,
                       metrics: Sequence[str] = METRICS,
                       rerank=None) -> FieldDependence:
    """Leave-one-team-out analysis of the min-max ranking of (teams, metrics) ``means``.

    ``rerank(kept_indices) -> positions`` may replace the default re-ranking of the kept
    teams' means (e.g. to rebuild a per-case field whose imputations depend on the field).
    """
    means = np.asarray(means, dtype=float)
    teams = list(teams)
    n = len(teams)
    w = normalise_weights(weights, metrics)
    full = minmax_ranking(means, w, metrics)[2]
    rows, swaps = [], []
    for removed in range(n):
        kept = np.array([k for k in range(n) if k != removed], dtype=int)
        if not len(kept):  # one team: nothing left to re-rank
            positions = np.zeros(0, dtype=int)
        elif rerank is None:
            positions = minmax_ranking(means[kept], w, metrics)[2]
        else:
            positions = np.asarray(rerank(kept))
        before = full[kept]
        # positions among the kept teams, before: re-rank the full positions
        before_kept = competition_positions(before.astype(float))
        sign_before, sign_after = _order_signs(before_kept), _order_signs(positions)
        upper = np.triu(np.ones((len(kept), len(kept)), dtype=bool), k=1)
        flipped = upper & (sign_before * sign_after < 0)
        tie_changes = upper & (sign_before != sign_after) & ~flipped
        involved = flipped.any(axis=0) | flipped.any(axis=1)
        for a, b in zip(*np.nonzero(flipped), strict=True):
            first, second = (a, b) if sign_before[a, b] < 0 else (b, a)
            swaps.append({
                "removed_team": teams[removed],
                "ahead_before": teams[kept[first]],
                "ahead_after": teams[kept[second]],
                "positions_before": f"{before[first]}, {before[second]}",
                "positions_after": f"{positions[first]}, {positions[second]}",
            })
        rows.append({
            "removed_team": teams[removed],
            "removed_position": int(full[removed]),
            "n_swapped_pairs": int(flipped.sum()),
            "n_teams_swapped": int(involved.sum()),
            "n_tie_changes": int(tie_changes.sum()),
            "max_position_change": int(np.abs(positions - before_kept).max()) if len(kept)
            else 0,
        })
    summary = pd.DataFrame(rows).sort_values(["removed_position", "removed_team"])
    columns = ["removed_team", "ahead_before", "ahead_after", "positions_before",
               "positions_after"]
    return FieldDependence(summary.reset_index(drop=True), pd.DataFrame(swaps, columns=columns))


def field_dependence(field: Field, weights=None) -> FieldDependence:
    """:func:`leave_one_team_out` of a field. With a field-dependent policy ("worst"), each
    reduced field is rebuilt so that its imputations come from the remaining teams."""
    rerank = None
    if field.policy.field_dependent and field.input_cases is not None:
        teams = list(field.teams)
        w = normalise_weights(weights, METRICS)

        def rerank(kept: np.ndarray) -> np.ndarray:
            reduced = subset_field(field, [teams[k] for k in kept])
            order = [reduced.teams.index(teams[k]) for k in kept]
            return minmax_ranking(reduced.metric_means()[order], w, METRICS)[2]

    return leave_one_team_out(field.metric_means(), field.teams, weights, rerank=rerank)
