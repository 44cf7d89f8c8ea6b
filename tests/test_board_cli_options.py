"""The board options that the other board tests reach through the Python API, used once as
a user types them: ``team add --baseline``, ``submit --method-url``, ``build --bootstrap``.
"""

from __future__ import annotations

import json

import board_fixtures
from board_fixtures import wmheval

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders


def test_baseline_method_url_and_bootstrap_from_the_command_line(tmp_path, mini_reference,
                                                                  team_archives):
    root = tmp_path / "ch"
    assert wmheval("board", "init", root, "--reference", mini_reference, "--name", "CLI",
                   "--limit", "3", "--window", "7d").returncode == 0
    assert wmheval("board", "team", "add", root, "floor", "--baseline").returncode == 0
    assert wmheval("board", "team", "add", root, "alpha").returncode == 0
    url = "https://example.org/method?x=<b>"
    for team, archive in (("alpha", "precise"), ("floor", "cautious")):
        done = wmheval("board", "submit", root, team_archives[archive], "--team", team,
                       "--method-url", url)
        assert done.returncode == 0, done.stderr
    status = wmheval("board", "status", root, "--json")
    rows = {row["team"]: row for row in json.loads(status.stdout)["submissions"]} \
        if isinstance(json.loads(status.stdout), dict) else \
        {row["team"]: row for row in json.loads(status.stdout)}
    assert rows["alpha"]["method_url"] == url
    built = wmheval("board", "build", root, "--out", tmp_path / "site", "--bootstrap", "25")
    assert built.returncode == 0, built.stderr
    assert "B = 25" in built.stdout
    board = json.loads((tmp_path / "site" / "board.json").read_text(encoding="utf-8"))
    entries = board["entries"] if isinstance(board, dict) else board
    by_team = {entry["team"]: entry for entry in entries}
    assert by_team["floor"]["baseline"] is True and by_team["alpha"]["baseline"] is False
    # The baseline stays out of the normalisation: alone among participants, alpha is
    # first with the full score whatever the baseline scored.
    assert by_team["alpha"]["position"] == 1
    # One ranked participant: its 95 % interval is 1-1 (it was left empty before).
    assert (by_team["alpha"]["rank_lo"], by_team["alpha"]["rank_hi"]) == (1, 1)
