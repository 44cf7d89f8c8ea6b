"""A challenge's life on the board: phases (windows, parent gate, entry rules), selection,
withdrawal, snapshots and `build --as-of`, `history` causes checked against bounds computed
by hand, rescoring against a fixed reference, promotion, freezing, exports and team views."""

from __future__ import annotations

import csv
import io
import json

import board_fixtures
import pytest
from board_fixtures import new_board, wmheval

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders

HIGHER = {"dice": True, "h95": False, "avd": False, "recall": True, "f1": True}


def hand_bounds(entries, in_field):
    """Per metric (best, worst) of the in-field entries' means: the min-max rule's bounds,
    written out literally."""
    out = {}
    for metric, higher in HIGHER.items():
        values = []
        for entry in entries:
            if entry["team"] in in_field and entry[metric] is not None:
                values.append(entry[metric])
        if not values:
            out[metric] = (None, None)
            continue
        best = values[0]
        worst = values[0]
        for v in values[1:]:
            if (v > best) if higher else (v < best):
                best = v
            if (v < worst) if higher else (v > worst):
                worst = v
        out[metric] = (best, worst)
    return out


def sid(result):
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.split()[1].rstrip(":")


@pytest.mark.slow
def test_a_challenge_life(tmp_path, mini_reference, team_archives, team_folders):
    from wmheval_leaderboard.board import Board
    from wmheval_leaderboard.life import snapshots
    from wmheval_leaderboard.site import build_site

    def submit(archive, team, phase=None):
        with Board.open(root) as board:
            outcome = board.submit(archive, team, phase=phase)
        assert outcome.state == "scored", outcome
        return outcome.submission_id

    root, site = tmp_path / "ch", tmp_path / "site"
    new_board(root, mini_reference, teams=["A", "B", "C"], limit=0, bootstrap=0).close()
    # phases: the first (test) is the sanity phase; a final phase after it
    added = wmheval("board", "phase", "add", root, "final", "--subjects", "1,3,70,117",
                    "--limit", "2", "--window", "total", "--per-case", "own", "--board",
                    "public", "--after", "test", "--entry", "selected")
    assert added.returncode == 0, added.stderr
    gate = wmheval("board", "submit", root, team_archives["precise"], "--team", "A",
                   "--phase", "final")
    assert gate.returncode == 1 and "needs a scored submission in phase test" in gate.stderr
    published = []  # (time, board.json bytes, board.csv bytes) after each change

    def publish():
        with Board.open(root) as board:
            build_site(board, site, view="private")
            last = snapshots(board, "test")[-1]
        published.append((last.created_at, (site / "board.json").read_bytes(),
                          (site / "board.csv").read_bytes(), (site / "index.html").read_bytes()))

    a1 = sid(wmheval("board", "submit", root, team_archives["precise"], "--team", "A"))
    publish()
    b_test = submit(team_archives["noisy"], "B")
    publish()
    c1 = submit(team_archives["greedy"], "C")
    publish()
    withdrawn = wmheval("board", "withdraw", root, c1, "--reason", "wrong files")
    assert withdrawn.returncode == 0, withdrawn.stderr
    publish()
    c2 = submit(team_archives["cautious"], "C")
    publish()

    # history: every change's cause, checked against bounds computed by hand
    with Board.open(root) as board:
        snaps = snapshots(board, "test")
        from wmheval_leaderboard.life import history

        items = history(board, "test")
    by_seq = {s.seq: s for s in snaps}
    checked = 0
    for item in items:
        if item["from"] is None:
            continue
        before, after = by_seq[item["from"]], by_seq[item["seq"]]
        old = before.payload["board"]["entries"]
        new = after.payload["board"]["entries"]
        bounds_a = hand_bounds(old, before.payload["in_field"])
        bounds_b = hand_bounds(new, after.payload["in_field"])
        cause = after.cause
        for change in item["changes"]:
            team = change["team"]
            if cause.get("team") == team:
                expected = "withdrawn" if cause["kind"] == "withdrawal" else "own entry"
                assert change["cause"] == expected, (item, change)
            else:
                assert change["cause"] == "field", (item, change)
                moved = {(m, k) for m in HIGHER for k, bound in enumerate(("best", "worst"))
                         if bounds_a[m][k] != bounds_b[m][k]}
                got = {(m["metric"], ("best", "worst").index(m["bound"]))
                       for m in change["metrics"]}
                assert got == moved
                if moved:
                    assert change["teams"] == [cause["team"]], change
            checked += 1
    assert checked >= 3
    # the third entry (C) moved the others through the bounds: A and B are 'field' moves
    third = next(i for i in items if i["cause"].get("submission") == c1)
    assert {c["team"]: c["cause"] for c in third["changes"]}.get("A") == "field"
    assert "C moved the" in next(c for c in third["changes"] if c["team"] == "A")["detail"]

    # the same causes from the command line (text and JSON), and for one --diff pair
    shown = wmheval("board", "history", root, "--phase", "test")
    assert shown.returncode == 0 and "A: 1 -> 1" in shown.stdout
    assert "C moved the" in shown.stdout and "withdrawn: its entry" in shown.stdout
    pair = wmheval("board", "history", root, "--phase", "test", "--diff",
                   str(third["from"]), str(snaps[-1].seq), "--json")
    assert pair.returncode == 0, pair.stderr
    (diffed,) = json.loads(pair.stdout)
    first_board = {e["team"]: e for e in by_seq[third["from"]].payload["board"]["entries"]}
    last_board = {e["team"]: e for e in snaps[-1].payload["board"]["entries"]}
    for change in diffed["changes"]:
        assert change["position_before"] == first_board.get(change["team"], {}).get("position")
        assert change["position_after"] == last_board.get(change["team"], {}).get("position")
    assert {c["team"]: c["cause"] for c in diffed["changes"]}["C"] == "own entry"  # c1 -> c2

    # every past board, rebuilt byte for byte
    for k, (moment, board_json, board_csv, index) in enumerate(published):
        rebuilt = tmp_path / "asof"
        if k == 1:
            result = wmheval("board", "build", root, "--out", rebuilt, "--view", "private",
                             "--as-of", moment)
            assert result.returncode == 0, result.stderr
        else:
            with Board.open(root) as board:
                build_site(board, rebuilt, view="private", as_of=moment)
        assert (rebuilt / "board.json").read_bytes() == board_json
        assert (rebuilt / "board.csv").read_bytes() == board_csv
        assert (rebuilt / "index.html").read_bytes() == index
    entries_now = json.loads(published[-1][1])["entries"]
    assert c1 not in {e["submission_id"] for e in entries_now}
    assert c2 in {e["submission_id"] for e in entries_now}

    # final phase: window 'total' with limit 2, entry rule 'selected'
    fa1 = sid(wmheval("board", "submit", root, team_archives["precise"], "--team", "A",
                      "--phase", "final"))
    fa2 = submit(team_folders["precise"], "A", "final")
    over = wmheval("board", "submit", root, team_archives["greedy"], "--team", "A",
                   "--phase", "final")
    assert over.returncode == 1 and "no further slot in this phase" in over.stderr
    with Board.open(root) as board:
        assert [s.submission_id for s in board.standings("final").rows] == [fa2]
    assert wmheval("board", "select", root, fa1).returncode == 0
    with Board.open(root) as board:
        assert [s.submission_id for s in board.standings("final").rows] == [fa1]
    assert wmheval("board", "select", root, fa1, "--unselect").returncode == 0
    with Board.open(root) as board:
        assert [s.submission_id for s in board.standings("final").rows] == [fa2]

    # promotion: B's test entry copied into the final phase by archive hash and scored
    promoted = wmheval("board", "promote", root, "--from", "test", "--to", "final",
                       "--submissions", b_test)
    assert promoted.returncode == 0, promoted.stderr
    with Board.open(root) as board:
        final = {s.team: s for s in board.standings("final").rows}
        row = board.ledger.connection.execute(
            "SELECT s.archive_sha256, s.promoted_from, e.n_cases FROM submissions s JOIN "
            "evaluations e USING (submission_id) WHERE s.submission_id = ?",
            (final["B"].submission_id,)).fetchone()
        source = board._submission(b_test)
    assert row["promoted_from"] == b_test and row["archive_sha256"] == \
        source["archive_sha256"]
    assert row["n_cases"] == 4  # scored against the final phase's four subjects

    # exports: the public view gets no per-case values of a hidden phase
    refused = wmheval("board", "export", root, "--format", "challenger", "--out",
                      tmp_path / "x.csv")
    assert refused.returncode == 2 and "hidden" in refused.stderr
    assert not (tmp_path / "x.csv").exists()
    assert wmheval("board", "export", root, "--format", "challenger", "--out",
                   tmp_path / "all.csv", "--view", "private").returncode == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "all.csv").read_text())))
    assert set(rows[0]) == {"algorithm", "case", "value", "metric"}
    with Board.open(root) as board:
        db = board.ledger.connection
        dice_a = db.execute(
            "SELECT c.dice FROM case_results c JOIN evaluations e USING (evaluation_id) "
            "WHERE e.submission_id = ? AND e.active = 1 AND c.subject_id = '3'",
            (a1,)).fetchone()[0]
    got = [float(r["value"]) for r in rows if r["algorithm"] == "A" and r["case"] == "3"
           and r["metric"] == "dice"]
    assert got == [dice_a]
    assert {r["algorithm"] for r in rows} == {"A", "B", "C"}
    assert len(rows) == 3 * 6 * 5  # three entries, six subjects, five metrics
    own = wmheval("board", "export", root, "--format", "challenger", "--out",
                  tmp_path / "own.csv", "--view", "team:A", "--phase", "final")
    assert own.returncode == 0, own.stderr
    own_rows = list(csv.DictReader(io.StringIO((tmp_path / "own.csv").read_text())))
    assert {r["algorithm"] for r in own_rows} == {"A"} and len(own_rows) == 4 * 5
    board_csv = wmheval("board", "export", root, "--format", "csv", "--out",
                        tmp_path / "b.csv")
    assert board_csv.returncode == 0
    assert (tmp_path / "b.csv").read_bytes() == published[-1][2]

    # team view: A sees its own final-phase cases, the leak check guards the others
    team_site = tmp_path / "team-a"
    built = wmheval("board", "build", root, "--out", team_site, "--view", "team:A")
    assert built.returncode == 0, built.stderr
    from wmheval_leaderboard.board import team_slug

    pages = {t: (team_site / "teams" / f"{team_slug(t)}.html").read_text() for t in "ABC"}
    assert pages["A"].count("Per-case results of the entry") == 1  # final (own) only
    assert "Per-case results" not in pages["B"] + pages["C"]
    assert pages["A"].count('class="timeline"') == 2  # one timeline per phase

    # rescore against a corrected reference: every entry re-evaluated, reason recorded
    fixed = board_fixtures.fixed_reference(mini_reference, tmp_path / "reference-v2")
    status = json.loads(wmheval("board", "status", root, "--json").stdout)
    assert all(not r["stale"] for r in status)
    rescored = wmheval("board", "rescore", root, "--phase", "test", "--reference", fixed,
                       "--reason", "subject 70 mask fixed")
    assert rescored.returncode == 0, rescored.stderr
    assert "subject 70 mask fixed" in rescored.stdout and "->" in rescored.stdout
    with Board.open(root) as board:
        item = history(board, "test")[-1]
        old_count = board.ledger.connection.execute(
            "SELECT count(*) FROM evaluations WHERE submission_id = ?", (a1,)).fetchone()[0]
    assert item["trigger"] == "rescore"
    with Board.open(root) as board:
        statuses = [r[0] for r in board.ledger.query(
            "SELECT c.status FROM case_results c JOIN evaluations e USING (evaluation_id) "
            "JOIN submissions s USING (submission_id) WHERE e.active = 1 AND "
            "s.phase_id = 'test' AND c.subject_id = '70'")]
    assert statuses and set(statuses) == {"ok"}  # the fixed mask was scored
    assert old_count == 2  # the old evaluation is kept
    for change in item["changes"]:
        assert change["cause"] == "re-evaluated"
        assert "subject 70 mask fixed" in change["detail"]
    status = {r["id"]: r for r in json.loads(wmheval("board", "status", root, "--json").stdout)}
    assert status[a1]["stale"] == ""
    assert "reference changed" in status[fa1]["stale"]  # the final phase was not rescored

    # freeze: refuses submissions and rescoring; prints the hash and the chain head
    frozen = wmheval("board", "freeze", root, "--phase", "test")
    assert frozen.returncode == 0, frozen.stderr
    lines = dict(line.split(": ", 1) for line in frozen.stdout.splitlines()[1:])
    with Board.open(root) as board:
        assert lines["snapshot"] == snapshots(board, "test")[-1].sha256
        assert lines["event chain head"] == board.ledger.head()
    assert (root / "backups").is_dir() and any((root / "backups").iterdir())
    late = wmheval("board", "submit", root, team_archives["brittle"], "--team", "B")
    assert late.returncode == 1 and "frozen" in late.stderr
    again = wmheval("board", "rescore", root, "--phase", "test", "--reason", "x")
    assert again.returncode == 1 and "frozen" in again.stderr
    assert wmheval("board", "verify", root).returncode == 0


def test_killed_before_its_snapshot_recover_writes_it(tmp_path, mini_reference,
                                                      team_archives):
    """A process killed after committing a score but before writing the board's snapshot:
    `recover` notices the last snapshot is not the ledger's board and writes it."""
    from wmheval_leaderboard.board import Board
    from wmheval_leaderboard.life import latest_is_current, snapshots

    root = tmp_path / "ch"
    new_board(root, mini_reference, teams=["A"], bootstrap=0).close()
    killed = wmheval("board", "submit", root, team_archives["precise"], "--team", "A",
                     WMHEVAL_BOARD_FAULT="after_result_commit")
    assert killed.returncode != 0
    with Board.open(root) as board:
        assert not latest_is_current(board, "test")
        before = len(snapshots(board, "test"))
    recovered = wmheval("board", "recover", root)
    assert recovered.returncode == 0 and "snapshot written" in recovered.stdout
    with Board.open(root) as board:
        snaps = snapshots(board, "test")
        assert latest_is_current(board, "test")
        assert len(snaps) == before + 1 and snaps[-1].trigger == "recover"
        assert [e["team"] for e in snaps[-1].payload["board"]["entries"]] == ["A"]
    assert wmheval("board", "verify", root).returncode == 0
