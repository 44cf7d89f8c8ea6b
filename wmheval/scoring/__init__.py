"""Scoring folders of predictions: per-case rows, statuses, and per-scanner aggregates."""

from wmheval.scoring.aggregate import summarize, wide_summary
from wmheval.scoring.case import CaseTask, evaluate_files, score_case
from wmheval.scoring.folder import ScoreResult, score_folder, write_score_outputs
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy, describe_policy

__all__ = ["DEFAULT_POLICY", "CaseTask", "ScoreResult", "ScoringPolicy", "describe_policy",
           "evaluate_files", "score_case", "score_folder", "summarize", "wide_summary",
           "write_score_outputs"]
