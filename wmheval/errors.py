"""The one base class of every error wmheval raises on purpose.

The command line maps these to exit codes (``wmheval.cli.errors``): an
:class:`InputError` (bad usage or unusable input) exits 2, a :class:`DataProblem`
(problems found in the data, a rejected submission) exits 1. Library users can catch
:class:`WmhevalError` to handle every deliberate error at once.
"""

from __future__ import annotations


class WmhevalError(Exception):
    """Base class of every error wmheval raises on purpose (never a bug)."""

    exit_code: int = 2


class InputError(WmhevalError, ValueError):
    """How a function was called, or an input it was given, cannot work (exit 2)."""

    exit_code = 2


class DataProblem(WmhevalError):
    """The input was read, and what it holds is refused: a rejected submission, a
    problem found in the data (exit 1)."""

    exit_code = 1
