"""Challenge rankings: relative min-max ranks, loading team results, alternative schemes."""

from wmheval.ranking.inputs import (
    CaseCube,
    Field,
    RankingInputError,
    add_team,
    load_field,
    prepare_field,
    read_team_list,
    subset_field,
)
from wmheval.ranking.leaderboard import rank_field
from wmheval.ranking.minmax import competition_positions, minmax_ranking, relative_ranks
from wmheval.ranking.schemes import compare_schemes

__all__ = [
    "CaseCube",
    "Field",
    "RankingInputError",
    "add_team",
    "compare_schemes",
    "competition_positions",
    "load_field",
    "minmax_ranking",
    "prepare_field",
    "rank_field",
    "read_team_list",
    "relative_ranks",
    "subset_field",
]
