"""Scoring folders of predictions: per-case rows, statuses, and per-scanner aggregates."""

from wmheval.scoring.aggregate import summarize, wide_summary
from wmheval.scoring.case import CaseTask, evaluate_files, score_case
from wmheval.scoring.folder import ScoreResult, score_folder, write_score_outputs

__all__ = ["CaseTask", "ScoreResult", "evaluate_files", "score_case", "score_folder", "summarize",
           "wide_summary", "write_score_outputs"]
