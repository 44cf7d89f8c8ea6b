"""The demo's challenge board (issue 28: the demo builds a board from its simulated teams,
submitted as archives, one of them hostile, one over its limit), on the six-subject board
fixture instead of the whole demo."""

from __future__ import annotations

import json

import board_fixtures

from wmheval.pipelines.demo import DemoOutput, _board_step

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_folders = board_fixtures.team_folders


def test_the_demo_board_ranks_the_teams_rejects_the_hostile_one_and_the_extra(
        tmp_path, mini_reference, team_folders):
    out = tmp_path / "demo"
    out.mkdir()
    teams = ["precise", "noisy", "incomplete"]
    output = DemoOutput(out)
    _board_step(output, mini_reference, team_folders["precise"].parent, teams, out,
                bootstrap=50)
    board = json.loads((out / "board_site" / "board.json").read_text(encoding="utf-8"))
    positions = {entry["team"]: entry["position"] for entry in board["entries"]}
    assert positions == {"precise": 1, "noisy": 2, "incomplete": 3}
    incomplete = next(e for e in board["entries"] if e["team"] == "incomplete")
    assert incomplete["n_missing"] == 2 and incomplete["n_cases"] == 6
    (refused,) = board["not_ranked"]
    assert refused["team"] == "mallory" and refused["state"] == "rejected"
    assert "'..' path component" in refused["reason"]
    # Nothing of the hostile archive was written outside its staging folder.
    assert not list(tmp_path.rglob("escape.txt"))
    assert any("mallory's archive rejected" in n for n in output.notes)
    assert any("precise's second upload refused" in n and "1 of 1" in n
               for n in output.notes), output.notes
    assert [path.name for path, _ in output.sections["Challenge board"]] == [
        "index.html", "board.csv"]
