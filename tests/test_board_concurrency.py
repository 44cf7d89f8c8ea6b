"""Two processes submit ten distinct archives each for one team with a limit of 5: exactly
5 are accepted, the others are told the limit is reached, and no 'database is locked'
error ever surfaces."""

from __future__ import annotations

import multiprocessing
import sqlite3
import zipfile

import board_fixtures
import pytest
from board_fixtures import new_board, wmheval

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders


def _submit_all(root: str, archives: list[str], results) -> None:
    from wmheval_leaderboard.board import Board
    from wmheval_leaderboard.errors import OverLimit

    with Board.open(root) as board:
        for archive in archives:
            try:
                outcome = board.submit(archive, "solo")
                results.put(("accepted", outcome.submission_id, outcome.state))
            except OverLimit as error:
                results.put(("over", str(error), ""))
            except Exception as error:  # any other error is a failure of the test
                results.put(("error", f"{type(error).__name__}: {error}", ""))


@pytest.mark.slow
def test_two_processes_ten_submissions_limit_five(tmp_path, mini_reference, team_archives):
    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["solo"], limit=5).close()
    archives = []
    source = team_archives["precise"]
    for k in range(20):
        target = tmp_path / f"v{k}.zip"
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
            for info in src.infolist():
                out.writestr(info, src.read(info))
            out.writestr(f"readme_{k}.txt", f"version {k}")
        archives.append(str(target))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_submit_all, args=(str(root), archives[k::2], results))
               for k in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in range(20)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    errors = [o for o in outcomes if o[0] == "error"]
    assert errors == []
    accepted = [o for o in outcomes if o[0] == "accepted"]
    assert len(accepted) == 5 and {o[2] for o in accepted} == {"scored"}
    over = [o for o in outcomes if o[0] == "over"]
    assert len(over) == 15
    assert all("5 of 5 used" in o[1] and "next slot at" in o[1] for o in over)
    assert not any("locked" in o[1] for o in outcomes)
    with sqlite3.connect(root / "ledger.sqlite") as db:
        counted = db.execute("SELECT count(*) FROM submissions WHERE state = 'scored'")
        assert counted.fetchone()[0] == 5
    assert wmheval("board", "verify", root).returncode == 0
