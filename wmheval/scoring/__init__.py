"""Scoring folders of predictions: per-case rows, statuses, and per-scanner aggregates.

Names are imported lazily, so that importing :mod:`wmheval.scoring.policy` (the CLI does)
does not load SimpleITK and scipy.
"""

from importlib import import_module

_EXPORTS = {
    "summarize": "aggregate", "wide_summary": "aggregate",
    "CaseTask": "case", "evaluate_files": "case", "score_case": "case",
    "ScoreResult": "folder", "score_folder": "folder", "score_folders": "folder",
    "DEFAULT_POLICY": "policy", "ScoringPolicy": "policy", "describe_policy": "policy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"wmheval.scoring.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'wmheval.scoring' has no attribute {name!r}")
