"""The board's deliberate errors, mapped onto wmheval's exit codes (1 and 2)."""

from __future__ import annotations

from wmheval.errors import DataProblem, InputError


class BoardError(DataProblem):
    """A submission was refused or failed, or ``verify`` found problems (exit 1)."""


class SubmissionRejected(BoardError):
    """The archive or its scoring was refused; ``submission_id`` names the ledger row."""

    def __init__(self, message: str, submission_id: str | None = None) -> None:
        super().__init__(message)
        self.submission_id = submission_id


class OverLimit(BoardError):
    """The team has used its submissions of the phase's window."""


class LeakFound(BoardError):
    """The leak check found hidden subject ids, per-case values or the reference path."""


class BoardUsageError(InputError):
    """No board, an unknown team or phase, a bad option, a ledger newer than the code
    (exit 2)."""
