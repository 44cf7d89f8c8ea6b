"""One submission's relative min-max rank score against a frozen reference field.

A hosted platform scores each submission alone and sorts by one number, but the
challenge's relative min-max rank needs every team's means. The number a platform can sort
by is the submission's rank score in a *frozen* field (by default the 57 teams of the
published 2017 leaderboard) plus the submission itself. It is a proxy, never the official
ranking: two submissions that extend the field's best or worst on a metric move each
other's bounds in the joint ranking, not in the proxy. ``benchmarks/frozen_field_proxy.py``
measures how often that changes the order of the published teams (``docs/platforms.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wmheval.ranking.minmax import minmax_ranking
from wmheval.vocabulary import METRIC_NAMES as METRICS

PUBLISHED_FIELD_LABEL = "the 57 teams of the published WMH 2017 leaderboard"


@dataclass(frozen=True)
class FrozenFieldScore:
    """A submission's place in a frozen field plus itself (lower score is better)."""

    rank_score: float
    position: int
    field_size: int
    """Teams ranked: the frozen field's plus the submission."""
    relative_ranks: dict[str, float]
    field_label: str


def load_frozen_field(path: str | Path | None = None) -> tuple[np.ndarray, str]:
    """The (teams, metrics) means of a frozen field and its label.

    ``None``: the bundled published leaderboard (57 teams). Otherwise a means table (one
    row per team, the metric columns ``wmheval rank`` reads).
    """
    from wmheval.ranking.inputs import load_field

    if path is None:
        from wmheval._resources import published_leaderboard_path

        field = load_field(published_leaderboard_path())
        return field.metric_means(), PUBLISHED_FIELD_LABEL
    field = load_field(path)
    return field.metric_means(), f"the {len(field.teams)} teams of {Path(path).name}"


def frozen_field_score(means: Mapping[str, float], field_means: np.ndarray,
                       field_label: str = PUBLISHED_FIELD_LABEL) -> FrozenFieldScore:
    """Rank ``means`` (metric -> the submission's mean used for ranking) in the field.

    A NaN mean counts as the worst on that metric, as in :mod:`wmheval.ranking.minmax`.
    """
    row = np.array([[float(means[m]) for m in METRICS]])
    table = np.vstack([np.asarray(field_means, dtype=float), row])
    rel, scores, positions = minmax_ranking(table, None, METRICS)
    return FrozenFieldScore(float(scores[-1]), int(positions[-1]), len(table),
                            {m: float(rel[-1, j]) for j, m in enumerate(METRICS)},
                            field_label)
