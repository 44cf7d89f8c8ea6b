"""Challenge rankings: relative min-max ranks, loading team results, alternative schemes.

Names are imported lazily (as in :mod:`wmheval.scoring`), so that ranking a field (the
board does it on every submission) does not load SciPy's statistics, which only the
alternative schemes and tests need.
"""

from importlib import import_module

_EXPORTS = {
    "CaseCube": "inputs", "Field": "inputs", "RankingInputError": "inputs",
    "add_team": "inputs", "load_field": "inputs", "prepare_field": "inputs",
    "read_team_list": "inputs", "subset_field": "inputs",
    "rank_field": "leaderboard",
    "competition_positions": "minmax", "minmax_ranking": "minmax", "relative_ranks": "minmax",
    "compare_schemes": "schemes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"wmheval.ranking.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'wmheval.ranking' has no attribute {name!r}")
