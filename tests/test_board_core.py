"""The board's ledger and intake: init, teams, idempotent resubmission, quota, rejection,
status --json, schema version, failed and incomplete submissions."""

from __future__ import annotations

import json
import sqlite3

import board_fixtures
import pytest
from board_fixtures import SUBJECTS, new_board, wmheval, zip_folder

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders


def test_init_writes_config_and_ledger(tmp_path, mini_reference):
    result = wmheval("board", "init", tmp_path / "ch", "--reference", mini_reference,
                     "--name", "My \"challenge\"", "--limit", "3", "--window", "7d")
    assert result.returncode == 0, result.stderr
    from wmheval_leaderboard.config import read_config

    config = read_config(tmp_path / "ch")
    assert config.name == 'My "challenge"'
    (phase,) = config.phases
    assert (phase.name, phase.subjects, phase.limit, phase.window, phase.per_case,
            phase.board) == ("test", "all", 3, "7d", "hidden", "public")
    with sqlite3.connect(tmp_path / "ch" / "ledger.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        subjects = json.loads(db.execute("SELECT subject_ids_json FROM phases").fetchone()[0])
    assert sorted(subjects) == sorted(SUBJECTS)
    again = wmheval("board", "init", tmp_path / "ch", "--reference", mini_reference)
    assert again.returncode == 2 and "already" in again.stderr


def test_ledger_newer_than_code_is_refused(tmp_path, mini_reference):
    new_board(tmp_path / "ch", mini_reference, teams=["a"]).close()
    with sqlite3.connect(tmp_path / "ch" / "ledger.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    result = wmheval("board", "status", tmp_path / "ch")
    assert result.returncode == 2
    assert "newer" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path, mini_reference, team_archives):
    assert wmheval("board", "status", tmp_path / "none").returncode == 2
    new_board(tmp_path / "ch", mini_reference, teams=["a"]).close()
    unknown_team = wmheval("board", "submit", tmp_path / "ch", team_archives["precise"],
                           "--team", "b")
    assert unknown_team.returncode == 2 and "unknown team 'b'" in unknown_team.stderr
    unknown_phase = wmheval("board", "submit", tmp_path / "ch", team_archives["precise"],
                            "--team", "a", "--phase", "final")
    assert unknown_phase.returncode == 2 and "no phase 'final'" in unknown_phase.stderr
    duplicate = wmheval("board", "team", "add", tmp_path / "ch", "A")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr


def test_resubmission_same_id_no_quota(tmp_path, mini_reference, team_archives, team_folders):
    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["a", "b"], limit=2).close()
    first = wmheval("board", "submit", root, team_archives["precise"], "--team", "a")
    assert first.returncode == 0, first.stderr
    sid = first.stdout.split()[1].rstrip(":")
    assert "1 of 2 used" in first.stdout and "position: 1 of 1" in first.stdout
    again = wmheval("board", "submit", root, team_archives["precise"], "--team", "a")
    assert again.returncode == 0
    assert again.stdout.split()[1].rstrip(":") == sid
    assert "no quota used" in again.stdout and "1 of 2 used" in again.stdout
    # the same files as a folder are other bytes (a tar), a new submission
    folder = wmheval("board", "submit", root, team_folders["precise"], "--team", "a")
    assert folder.returncode == 0 and folder.stdout.split()[1].rstrip(":") != sid
    assert "2 of 2 used" in folder.stdout and "next slot at" in folder.stdout
    over = wmheval("board", "submit", root, team_archives["greedy"], "--team", "a")
    assert over.returncode == 1
    assert "limit reached" in over.stderr and "next slot at" in over.stderr
    # the same bytes from another team are that team's own submission
    other = wmheval("board", "submit", root, team_archives["precise"], "--team", "b")
    assert other.returncode == 0 and other.stdout.split()[1].rstrip(":") != sid
    status = json.loads(wmheval("board", "status", root, "--json").stdout)
    assert [s["team"] for s in status] == ["a", "a", "b"]
    assert {s["state"] for s in status} == {"scored"}


def test_status_json_fields(tmp_path, mini_reference, team_archives):
    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["a"]).close()
    assert wmheval("board", "submit", root, team_archives["incomplete"], "--team", "a",
                   "--note", "first").returncode == 0
    (row,) = json.loads(wmheval("board", "status", root, "--json", "--team", "a").stdout)
    import hashlib

    assert row["archive_sha256"] == hashlib.sha256(
        team_archives["incomplete"].read_bytes()).hexdigest()
    assert {"id", "team", "phase", "state", "archive_sha256", "received_at", "finished_at",
            "scores"} <= set(row)
    assert row["phase"] == "test" and row["state"] == "scored" and row["note"] == "first"
    assert row["received_at"] <= row["finished_at"]
    assert set(row["scores"]) == {"dice", "h95", "avd", "recall", "f1"}
    assert row["n_cases"] == 6 and row["n_missing"] == 2  # 5 absent, 118 truncated


def test_rejected_and_failed_use_no_quota(tmp_path, mini_reference, team_folders):
    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["a"], limit=1).close()
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"<html>502 Bad Gateway</html>")
    rejected = wmheval("board", "submit", root, junk, "--team", "a")
    assert rejected.returncode == 1 and "rejected" in rejected.stderr
    assert "Traceback" not in rejected.stderr and len(rejected.stderr.splitlines()) == 1
    nothing = zip_folder(team_folders["precise"], tmp_path / "wrong.zip", top=None,
                         extra={"notes.txt": b"hello"})
    # predictions under ids the reference does not have: nothing scorable -> failed
    import zipfile

    renamed = tmp_path / "renamed.zip"
    with zipfile.ZipFile(nothing) as source, zipfile.ZipFile(renamed, "w") as target:
        for info in source.infolist():
            target.writestr("x" + info.filename, source.read(info))
    failed = wmheval("board", "submit", root, renamed, "--team", "a")
    assert failed.returncode == 1 and "failed" in failed.stderr
    ok = wmheval("board", "submit", root, team_folders["precise"], "--team", "a")
    assert ok.returncode == 0 and "1 of 1 used" in ok.stdout
    states = [s["state"] for s in json.loads(wmheval("board", "status", root,
                                                      "--json").stdout)]
    assert states == ["rejected", "failed", "scored"]


def test_submission_under_one_top_folder(tmp_path, mini_reference, team_folders):
    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=["a"])
    archive = zip_folder(team_folders["precise"], tmp_path / "top.zip", top="my_run")
    outcome = board.submit(archive, "a")
    assert outcome.state == "scored"
    (row,) = board.status()
    assert row["n_missing"] == 0 and row["n_cases"] == len(SUBJECTS)
    board.close()


@pytest.mark.parametrize("name", ["", "tab\there", "x" * 81])
def test_bad_team_names_are_usage_errors(tmp_path, mini_reference, name):
    from wmheval_leaderboard.errors import BoardUsageError

    board = new_board(tmp_path / "ch", mini_reference)
    with pytest.raises(BoardUsageError):
        board.add_team(name)
    board.close()


def test_a_run_folder_names_no_temporary_folder(tmp_path, mini_reference, team_archives):
    """Regression: a failed case's message in the stored run tables named the board's
    temporary extraction folder (``runs/.tmp-<id>-<random>/submission/...``): gone after the
    run, different on every run, and a local path."""
    import pandas as pd

    root = tmp_path / "ch"
    with new_board(root, mini_reference, teams=["T"]) as board:
        outcome = board.submit(team_archives["incomplete"], "T")
    (cases_file,) = (root / "runs" / outcome.submission_id).glob("*/cases.csv")
    cases = pd.read_csv(cases_file, dtype={"id": str}).set_index("id")
    error = cases.loc["118", "error"]
    assert error.startswith("submission/118/result.nii.gz: truncated or corrupt gzip"), error
    text = cases_file.read_text(encoding="utf-8")
    assert ".tmp-" not in text and str(tmp_path) not in text
