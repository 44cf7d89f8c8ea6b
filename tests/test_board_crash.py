"""Killed at any step (the fault hook SIGKILLs the process), then `recover` and `verify`:
nothing lost or half done, and the board equals the one of an uninterrupted run.
Also: verify finds a corrupted ledger, a broken event chain, a tampered archive and a
tampered run folder; backup while another process submits."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import board_fixtures
import pytest
from board_fixtures import cli_env, new_board, wmheval

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders

STEPS = ("after_blob", "after_queue_commit", "after_scoring_mark", "mid_extract",
         "mid_score", "after_run_folder", "after_result_commit")


def _comparable(board_json: dict) -> list:
    """A board's content without ids and times (which differ between runs)."""
    keep = ("team", "position", "score", "dice", "h95", "avd", "recall", "f1", "n_cases",
            "n_missing", "rank_lo", "rank_hi", "baseline")
    return [{k: e[k] for k in keep} for e in board_json["entries"]]


@pytest.fixture(scope="module")
def reference_board(mini_reference, team_archives, tmp_path_factory):
    """The board of an uninterrupted run: team a submits 'greedy', then b 'precise'."""
    root = tmp_path_factory.mktemp("uninterrupted") / "ch"
    new_board(root, mini_reference, teams=["a", "b"], bootstrap=200).close()
    for team, archive in (("a", "greedy"), ("b", "precise")):
        assert wmheval("board", "submit", root, team_archives[archive], "--team",
                       team).returncode == 0
    assert wmheval("board", "build", root, "--out", root / "site").returncode == 0
    return json.loads((root / "site" / "board.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_kill_at_every_submit_step(step, tmp_path, mini_reference, team_archives,
                                   reference_board):
    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["a", "b"], bootstrap=200).close()
    assert wmheval("board", "submit", root, team_archives["greedy"], "--team",
                   "a").returncode == 0
    killed = wmheval("board", "submit", root, team_archives["precise"], "--team", "b",
                     WMHEVAL_BOARD_FAULT=step)
    assert killed.returncode == -9, (step, killed.stderr)
    before = wmheval("board", "verify", root)
    recovered = wmheval("board", "recover", root)
    assert recovered.returncode == 0, recovered.stderr
    verified = wmheval("board", "verify", root)
    assert verified.returncode == 0, (step, verified.stdout)
    if step == "after_result_commit":
        # the new state is complete; only the run's staging folder was left behind
        problems = before.stdout.splitlines()
        assert problems and all("left by a killed process" in p for p in problems)
    elif step != "after_blob":
        assert before.returncode == 1 and "recover" in before.stdout
    # the submitter retries (what a user does after a crash); no quota lost either way
    retry = wmheval("board", "submit", root, team_archives["precise"], "--team", "b")
    assert retry.returncode == 0, retry.stderr
    status = json.loads(wmheval("board", "status", root, "--json").stdout)
    assert [(s["team"], s["state"]) for s in status] == [("a", "scored"), ("b", "scored")]
    assert "1 of 5 used" in retry.stdout
    assert wmheval("board", "build", root, "--out", root / "site").returncode == 0
    board = json.loads((root / "site" / "board.json").read_text())
    assert _comparable(board) == _comparable(reference_board)
    with sqlite3.connect(root / "ledger.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM case_results").fetchone()[0] == 12


def test_kill_mid_build_keeps_previous_site(tmp_path, mini_reference, team_archives):
    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=["a", "b"], bootstrap=50)
    board.submit(team_archives["greedy"], "a")
    board.close()
    site = tmp_path / "site"
    assert wmheval("board", "build", root, "--out", site).returncode == 0
    first = (site / "board.csv").read_text()
    from wmheval_leaderboard.board import Board

    with Board.open(root) as board:
        board.submit(team_archives["precise"], "b")
    killed = wmheval("board", "build", root, "--out", site, WMHEVAL_BOARD_FAULT="mid_build")
    assert killed.returncode == -9
    assert (site / "board.csv").read_text() == first  # the previous site, whole
    assert wmheval("board", "build", root, "--out", site).returncode == 0
    rebuilt = (site / "board.csv").read_text()
    assert rebuilt != first and rebuilt.count("\n") == 3
    assert not list(tmp_path.glob(".site.*"))


@pytest.fixture
def scored_board(tmp_path, mini_reference, team_archives):
    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=["a", "b"])
    board.submit(team_archives["greedy"], "a")
    board.submit(team_archives["precise"], "b")
    board.close()
    assert wmheval("board", "verify", root).returncode == 0
    return root


def test_verify_finds_tampered_run_folder_and_archive(scored_board):
    root = scored_board
    cases = next(root.glob("runs/*/*/cases.csv"))
    cases.write_text(cases.read_text().replace("0.", "0.9", 1))
    blob = next(p for p in root.glob("blobs/sha256/*/*"))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"x")
    result = wmheval("board", "verify", root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("run folder runs/" in x and "altered" in x for x in lines)
    assert any("archive of submission" in x and "altered" in x for x in lines)


def test_verify_finds_broken_event_chain(scored_board):
    root = scored_board
    with sqlite3.connect(root / "ledger.sqlite") as db:
        db.execute("UPDATE events SET payload_json = '{\"means\": {}}' WHERE seq = 3")
    result = wmheval("board", "verify", root)
    assert result.returncode == 1
    assert "event chain: event 3" in result.stdout and "altered" in result.stdout
    with sqlite3.connect(root / "ledger.sqlite") as db:
        db.execute("DELETE FROM events WHERE seq = 5")
    result = wmheval("board", "verify", root)
    assert "event 5 is missing" in result.stdout


def test_verify_finds_corrupted_ledger(scored_board):
    root = scored_board
    path = root / "ledger.sqlite"
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    import random

    garbage = random.Random(0).randbytes(page)
    for k in (2, 3):  # two whole pages: headers, cell pointers and cells
        data[k * page:(k + 1) * page] = garbage
    path.write_bytes(bytes(data))
    result = wmheval("board", "verify", root)
    assert result.returncode == 1
    assert "ledger:" in result.stdout and "Traceback" not in result.stderr


def test_backup_while_another_process_submits(tmp_path, mini_reference, team_folders):
    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["a"], limit=0).close()
    script = (
        "import sys, shutil, pathlib\n"
        "from wmheval_leaderboard.board import Board\n"
        "src, root, tmp = map(pathlib.Path, sys.argv[1:4])\n"
        "with Board.open(root) as b:\n"
        "    for k in range(3):\n"
        "        d = tmp / f'v{k}'\n"
        "        shutil.copytree(src, d)\n"
        "        (d / f'readme{k}.txt').write_text(str(k))\n"
        "        b.submit(d, 'a')\n")
    submitter = subprocess.Popen([sys.executable, "-c", script, str(team_folders["precise"]),
                                  str(root), str(tmp_path)], env=cli_env())
    copies = []
    while submitter.poll() is None and len(copies) < 20:
        target = tmp_path / f"backup{len(copies)}.sqlite"
        result = wmheval("board", "backup", root, "--to", target)
        assert result.returncode == 0, result.stderr
        copies.append(target)
    assert submitter.wait(timeout=300) == 0
    assert copies
    for copy in copies:
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # every copy is a consistent board: its own chain checks out
        probe = tmp_path / "probe"
        shutil.rmtree(probe, ignore_errors=True)
        probe.mkdir()
        shutil.copyfile(copy, probe / "ledger.sqlite")
        from wmheval_leaderboard.ledger import Ledger

        ledger = Ledger(sqlite3.connect(probe / "ledger.sqlite"), probe / "ledger.sqlite")
        ledger.connection.row_factory = sqlite3.Row
        assert ledger.check_chain() == []
        ledger.close()
