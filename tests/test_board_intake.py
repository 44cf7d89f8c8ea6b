"""Hostile archives through `board submit`: a seeded sample of the library's hostile corpus
(zip and tar), each recorded as rejected with a one-line reason naming the rule, no quota
used, nothing left in the board's staging folders or outside them."""

from __future__ import annotations

import random

import board_fixtures
import pytest
from archive_corpus import hostile_corpus
from board_fixtures import new_board, wmheval

from wmheval.io.archives import ArchiveLimits

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders
small_submissions = board_fixtures.small_submissions

SAMPLE = 12


def _sample():
    cases = [c for c in hostile_corpus() if c.limits == ArchiveLimits()]
    return random.Random(20261208).sample(cases, min(SAMPLE, len(cases)))


@pytest.mark.slow
def test_hostile_sample_rejected_without_traces(tmp_path, mini_reference):
    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=["a"], limit=1)
    outside = tmp_path / "outside"
    outside.mkdir()
    for case in _sample():
        archive = outside / f"{case.id}{case.suffix}"
        archive.write_bytes(case.build())
        outcome = board.submit(archive, "a")
        assert outcome.state == "rejected", (case.id, outcome)
        assert f"[{case.rule}]" in outcome.reason, (case.id, outcome.reason)
        assert "\n" not in outcome.reason and outcome.quota.startswith("0 of 1 used")
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        f"{c.id}{c.suffix}" for c in _sample())
    assert not list((root / "runs").iterdir())
    assert not list((root / "blobs" / "tmp").iterdir())
    assert not list(tmp_path.glob("**/evil*")) and not list(tmp_path.glob("**/passwd"))
    board.close()
    assert wmheval("board", "verify", root).returncode == 0


def test_rejection_on_the_command_line(tmp_path, mini_reference, team_archives):
    import zipfile

    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["a"], limit=1).close()
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as archive:
        archive.writestr("1/result.nii.gz", b"x")
        archive.writestr("../../evil.txt", b"x")
    result = wmheval("board", "submit", root, slip, "--team", "a")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: submission s") and "'../../evil.txt'" in line
    assert not (tmp_path.parent / "evil.txt").exists() and not (root / "evil.txt").exists()
    ok = wmheval("board", "submit", root, team_archives["precise"], "--team", "a")
    assert ok.returncode == 0 and "1 of 1 used" in ok.stdout
