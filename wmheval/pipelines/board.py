"""The board pipeline: the one place the library reaches the challenge board application.

The board (``wmheval_leaderboard``, in ``leaderboard/``) is an application on top of the
library, like the baselines; nothing else in ``wmheval/`` imports it. The ``wmheval
board`` commands reach it through these functions, each importing it lazily, so that
``import wmheval`` never loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def board_class() -> Any:
    """The ``Board`` class (opens, creates and changes a challenge folder)."""
    from wmheval_leaderboard.board import Board

    return Board


def open_board(folder: Path) -> Any:
    """Open the board of a challenge folder (exit 2 errors when there is none)."""
    return board_class().open(folder)


def submission_refusals() -> tuple[type[Exception], type[Exception]]:
    """The two ways a submission is refused: ``(OverLimit, SubmissionRejected)``."""
    from wmheval_leaderboard.errors import OverLimit, SubmissionRejected

    return OverLimit, SubmissionRejected


def build_board_site(board: Any, out: Path, *, view: str, bootstrap: int | None) -> Any:
    """Build the static site of ``board`` into ``out`` (an atomic output set, leak-checked)."""
    from wmheval_leaderboard.site import build_site

    return build_site(board, out, view=view, bootstrap=bootstrap)


def verify_board(folder: Path) -> list[str]:
    """Every integrity problem of a challenge folder (empty when it checks out)."""
    from wmheval_leaderboard.board import verify

    return verify(folder)


def lifecycle() -> Any:
    """The organiser's commands over a challenge's life (add_phase, select, withdraw,
    rescore, promote, freeze)."""
    from wmheval_leaderboard import lifecycle as module

    return module


def board_life() -> Any:
    """Snapshots, history and exports of a board (``history``, ``export_rows``)."""
    from wmheval_leaderboard import life as module

    return module


def build_board_site_as_of(board: Any, out: Path, *, view: str, bootstrap: int | None,
                           as_of: str | None) -> Any:
    """Build the site as it stood at ``as_of`` (from the stored snapshots)."""
    from wmheval_leaderboard.site import build_site

    return build_site(board, out, view=view, bootstrap=bootstrap, as_of=as_of)


def import_platform_results(board: Any, platform: str, path: Path, phase: str | None) -> Any:
    """Import a grand-challenge or Codabench results export into ``phase`` of ``board``
    (per-case exports become scored submissions; means-only ones are ranked exactly)."""
    from wmheval_leaderboard.imports import import_results

    return import_results(board, platform, path, phase)


def simulated_board_clock(start: Any) -> Any:
    """A context manager: the board's clock stands at ``start`` (a datetime) and moves when
    told (:func:`wmheval_leaderboard.config.simulated_clock`): the demo replays submission
    days in seconds."""
    from wmheval_leaderboard.config import simulated_clock

    return simulated_clock(start)


def init_board(root: Path, reference: Path, *, name: str, limit: int, window: str,
               subjects: str = "all") -> Any:
    """Create a board in ``root`` (``wmheval board init``) whose first phase covers
    ``subjects`` (all, training, test or comma-separated ids), and open it."""
    board_class().init(root, reference, name=name, limit=limit, window=window).close()
    if subjects != "all":
        from dataclasses import replace

        from wmheval_leaderboard.config import config_text, read_config

        config = read_config(root)
        first = replace(config.phases[0], subjects=subjects)
        config = replace(config, phases=(first, *config.phases[1:]))
        (Path(root) / "challenge.toml").write_text(config_text(config), encoding="utf-8")
    return open_board(root)
