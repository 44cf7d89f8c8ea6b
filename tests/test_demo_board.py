"""The demo's challenge board (issues 28 and 30: the simulated teams submit archives over
three simulated days and two phases; one archive is hostile, one upload over the daily
limit, one entry withdrawn; the history names who moved whom), on the six-subject board
fixture instead of the whole demo."""

from __future__ import annotations

import json
import re

import board_fixtures
from board_fixtures import literal_minmax

from wmheval.pipelines.demo import DemoOutput, _board_step

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_folders = board_fixtures.team_folders

def test_the_demo_board_replays_three_days_and_two_phases(tmp_path, mini_reference,
                                                          team_folders):
    out = tmp_path / "demo"
    out.mkdir()
    teams = ["precise", "noisy", "greedy", "incomplete", "threshold"]  # + a baseline
    output = DemoOutput(out)
    _board_step(output, mini_reference, team_folders["precise"].parent, teams, out,
                bootstrap=50)
    board = json.loads((out / "board_site" / "board.json").read_text(encoding="utf-8"))
    assert board["phase"] == "test"
    entries = {e["team"]: e for e in board["entries"]}
    assert set(entries) == {"precise", "noisy", "greedy"}  # incomplete withdrew
    _, _, positions = literal_minmax({t: e for t, e in entries.items()})
    assert {t: e["position"] for t, e in entries.items()} == positions
    (refused,) = board["not_ranked"]  # a withdrawn entry just leaves the board
    assert refused["team"] == "mallory" and refused["state"] == "rejected"
    assert "'..' path component" in refused["reason"]
    assert not list(tmp_path.rglob("escape.txt"))  # nothing written outside the staging
    assert any("mallory's archive rejected" in n for n in output.notes)
    assert any("precise's upload 3 on day 1 refused" in n and "2 of 2" in n
               for n in output.notes), output.notes
    # The final phase took every remaining entry by promotion.
    final = (out / "board_site" / "phase-final.html").read_text(encoding="utf-8")
    for team in ("precise", "noisy", "greedy"):
        assert f">{team}<" in final
    assert ">incomplete<" not in final
    # The history: simulated days, and day 2's teams moving the day-1 teams' bounds.
    history = (out / "board_history.txt").read_text(encoding="utf-8")
    days = sorted(set(re.findall(r"2026-06-0\d", history)))
    assert days == ["2026-06-01", "2026-06-02", "2026-06-03"]
    assert re.search(r"  precise: \d -> \d, [\d.]+ -> [\d.]+: field: (greedy|incomplete) "
                     r"moved the", history), history
    assert "withdrawn: its entry" in history
    # precise's page draws its timeline with moves caused by others hollow.
    page = next(path for path, _ in output.sections["Challenge board"]
                if path.parent.name == "teams")
    text = page.read_text(encoding="utf-8")
    assert ">precise<" in text and text.count('class="tl-field"') >= 1
    assert [path.name for path, _ in output.sections["Challenge board"]] == [
        "index.html", page.name, "board_history.txt", "board.csv"]


def test_the_demo_uploads_are_the_same_bytes_on_every_run(tmp_path, team_folders):
    """Regression (issue 29, identical tables across runs): the zips carried the files'
    modification times, so the board's submission ids (and its runs' tables) changed."""
    import os
    import time

    from wmheval.pipelines.demo import _zip_folder

    first = _zip_folder(team_folders["precise"], tmp_path / "a.zip", {"x.txt": b"x"})
    for path in team_folders["precise"].rglob("*.nii.gz"):
        os.utime(path, (time.time() + 3600, time.time() + 3600))
    time.sleep(2.1)  # zip times have a 2-second resolution
    second = _zip_folder(team_folders["precise"], tmp_path / "b.zip", {"x.txt": b"x"})
    assert first.read_bytes() == second.read_bytes()
