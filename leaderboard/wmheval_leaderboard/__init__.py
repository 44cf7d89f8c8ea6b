"""wmheval_leaderboard: the local-first challenge board on top of the wmheval library.

A challenge folder holds ``challenge.toml`` (phases, limits, visibility), the SQLite ledger
``ledger.sqlite`` (teams, submissions, evaluations, per-case results, a hash-chained event
log), content-addressed archives under ``blobs/`` and one run folder per evaluation under
``runs/``. :class:`~wmheval_leaderboard.board.Board` is the Python API; the command line is
``wmheval board`` (``wmheval/cli/board.py``, the only place in ``wmheval`` that imports this
package, lazily). See ``leaderboard/README.md``.

Where it touches the library: ``engine`` (scoring a folder, ranking a field, the
bootstrap) and ``archive`` (the safe archive reader) are the two adapter modules; nothing
else imports ``wmheval`` internals beyond errors and atomic output helpers.
"""

from __future__ import annotations

from wmheval_leaderboard.errors import BoardError, BoardUsageError, SubmissionRejected

__all__ = ["BoardError", "BoardUsageError", "SubmissionRejected"]
