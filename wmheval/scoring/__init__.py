"""Scoring folders of predictions: per-case rows, statuses, and per-scanner aggregates."""

from wmheval.scoring.aggregate import summarize, wide_summary
from wmheval.scoring.case import CaseTask, score_case
from wmheval.scoring.folder import ScoreResult, score_folder, write_score_outputs

__all__ = ["CaseTask", "ScoreResult", "score_case", "score_folder", "summarize",
           "wide_summary", "write_score_outputs"]
