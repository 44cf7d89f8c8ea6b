"""`history` causes on a hand-built field (fast: no scoring): each team's move is
attributed to its own entry, a withdrawal, a re-evaluation, a configuration change, or the
team whose entry moved a metric's best or worst bound, checked against the min-max rule
written out literally here."""

from __future__ import annotations

import board_fixtures
import pytest

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_folders = board_fixtures.team_folders

METRICS = ("dice", "h95", "avd", "recall", "f1")
HIGHER = {"dice": True, "h95": False, "avd": False, "recall": True, "f1": True}


def literal_board(means: dict[str, dict], in_field: list[str]) -> list[dict]:
    """The WMH 2017 rule, literally: per metric (mean - best) / (worst - best) over the
    in-field teams, averaged; positions by score (0 best)."""
    scores = {}
    for team, values in means.items():
        total = 0.0
        for metric in METRICS:
            field = [means[t][metric] for t in in_field]
            best = max(field) if HIGHER[metric] else min(field)
            worst = min(field) if HIGHER[metric] else max(field)
            total += 0.0 if worst == best else (values[metric] - best) / (worst - best)
        scores[team] = total / len(METRICS)
    order = sorted(scores, key=lambda t: (scores[t], t))
    return [{"team": t, "position": k + 1, "score": scores[t], **means[t],
             "submission_id": f"s-{t}"} for k, t in enumerate(order)]


def snap(seq, means, in_field, cause, evaluations=None, submissions=None):
    from wmheval_leaderboard.life import Snapshot

    entries = literal_board(means, in_field)
    for entry in entries:
        entry["submission_id"] = (submissions or {}).get(entry["team"], entry["submission_id"])
    rows = [{"team": t, "evaluation_id": (evaluations or {}).get(t, f"e-{t}")} for t in means]
    return Snapshot(seq, "test", f"2026-12-0{seq}T00:00:00Z", cause.get("kind", ""), cause,
                    "x" * 64, {"board": {"entries": entries}, "rows": rows,
                               "in_field": in_field})


A = {"dice": 0.80, "h95": 5.0, "avd": 20.0, "recall": 0.70, "f1": 0.70}
B = {"dice": 0.60, "h95": 8.0, "avd": 30.0, "recall": 0.50, "f1": 0.60}
C = {"dice": 0.90, "h95": 10.0, "avd": 25.0, "recall": 0.60, "f1": 0.65}


def causes(before, after):
    from wmheval_leaderboard.life import explain

    return {c["team"]: c for c in explain(before, after, [after])}


def test_a_new_team_moves_bounds_and_is_named():
    s1 = snap(1, {"A": A, "B": B}, ["A", "B"], {"kind": "submission", "team": "B"})
    s2 = snap(2, {"A": A, "B": B, "C": C}, ["A", "B", "C"], {"kind": "submission",
                                                              "team": "C"})
    got = causes(s1, s2)
    # by hand: C sets the best dice (0.90 > 0.80) and the worst h95 (10 > 8); the other
    # bounds stay (avd 20..30, recall 0.7..0.5, f1 0.7..0.6)
    assert got["C"]["cause"] == "own entry"
    for team in ("A", "B"):
        assert got[team]["cause"] == "field"
        assert {(m["metric"], m["bound"]) for m in got[team]["metrics"]} == {
            ("dice", "best"), ("h95", "worst")}
        assert got[team]["teams"] == ["C"]
        assert got[team]["score_before"] != got[team]["score_after"]
    assert "C moved the best bound of dice" in got["A"]["detail"]


def test_withdrawal_names_the_team_that_left():
    s2 = snap(2, {"A": A, "B": B, "C": C}, ["A", "B", "C"], {"kind": "submission"})
    s3 = snap(3, {"A": A, "B": B}, ["A", "B"], {"kind": "withdrawal", "team": "C",
                                                "submission": "s-C", "reason": "x"})
    got = causes(s2, s3)
    assert got["C"]["cause"] == "withdrawn"
    assert got["A"]["cause"] == "field" and got["A"]["teams"] == ["C"]
    assert {(m["metric"], m["bound"]) for m in got["A"]["metrics"]} == {
        ("dice", "best"), ("h95", "worst")}


def test_rescore_and_configuration():
    s1 = snap(1, {"A": A, "B": B, "C": C}, ["A", "B", "C"], {"kind": "submission"})
    fixed_c = dict(C, dice=0.5)
    s2 = snap(2, {"A": A, "B": B, "C": fixed_c}, ["A", "B", "C"],
              {"kind": "rescore", "reason": "subject 12 fixed"},
              evaluations={"A": "e2-A", "B": "e2-B", "C": "e2-C"})
    got = causes(s1, s2)
    assert {c["cause"] for c in got.values()} == {"re-evaluated"}
    assert all("subject 12 fixed" in c["detail"] for c in got.values())
    # configuration: C (a baseline) joins the normalisation
    s3 = snap(3, {"A": A, "B": B, "C": C}, ["A", "B"], {"kind": "config"})
    s4 = snap(4, {"A": A, "B": B, "C": C}, ["A", "B", "C"], {"kind": "config"})
    got = causes(s3, s4)
    assert got and {c["cause"] for c in got.values()} == {"configuration"}


def test_unchanged_teams_are_not_listed():
    s1 = snap(1, {"A": A, "B": B}, ["A", "B"], {"kind": "submission"})
    # D enters between the bounds on every metric: no bound moves, A and B keep scores
    middle = {"dice": 0.7, "h95": 6.0, "avd": 25.0, "recall": 0.6, "f1": 0.65}
    s2 = snap(2, {"A": A, "B": B, "D": middle}, ["A", "B", "D"], {"kind": "submission",
                                                                  "team": "D"})
    got = causes(s1, s2)
    assert "A" not in got  # position 1, same score
    assert got["D"]["cause"] == "own entry"
    assert got["B"]["position_before"] == 2 and got["B"]["position_after"] == 3
    assert got["B"]["cause"] == "field" and got["B"]["metrics"] == []
    assert got["B"]["teams"] == ["D"]


@pytest.mark.parametrize("ref", ["", "1x", "abc"])
def test_find_snapshot_refuses_unclear_references(ref, tmp_path):
    from wmheval_leaderboard.errors import BoardUsageError
    from wmheval_leaderboard.life import find_snapshot

    class Fake:
        class ledger:  # noqa: N801
            @staticmethod
            def query(sql, params):
                return []

    with pytest.raises(BoardUsageError):
        find_snapshot(Fake, "test", ref)


def test_phase_add_round_trips_and_refuses_bad_options(tmp_path, mini_reference):
    from board_fixtures import new_board, wmheval
    from wmheval_leaderboard import lifecycle
    from wmheval_leaderboard.config import read_config
    from wmheval_leaderboard.errors import BoardUsageError

    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=["A"])
    phase = lifecycle.add_phase(board, "final", subjects="1,3", limit=2, window="total",
                                per_case="own", visibility="after_close",
                                closes="2030-01-01T00:00", after="test", entry="selected")
    read = read_config(root).phase("final")
    assert read == phase
    assert (read.subjects, read.limit, read.window, read.per_case, read.board, read.after,
            read.entry) == (("1", "3"), 2, "total", "own", "after_close", "test", "selected")
    import json

    ids = json.loads(board.ledger.connection.execute(
        "SELECT subject_ids_json FROM phases WHERE phase_id = 'final'").fetchone()[0])
    assert sorted(ids) == ["1", "3"]
    for kwargs, message in (({"after": "nope"}, "no phase 'nope'"),
                            ({"subjects": "1,999"}, "not in the reference: 999"),
                            ({"per_case": "some"}, "--per-case"),
                            ({"window": "3 weeks"}, "window must be")):
        with pytest.raises(BoardUsageError, match=message):
            lifecycle.add_phase(board, "other", **kwargs)
    with pytest.raises(BoardUsageError, match="already exists"):
        lifecycle.add_phase(board, "final")
    board.close()
    assert [p.name for p in read_config(root).phases] == ["test", "final"]
    usage = wmheval("board", "phase", "add", root, "x", "--board", "sometimes")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    later = wmheval("board", "phase", "add", root, "later", "--subjects", "test", "--opens",
                    "2999-01-01T00:00", "--closes", "2999-02-01T00:00", "--board",
                    "after_close", "--per-case", "hidden")
    assert later.returncode == 0, later.stderr
    phase = read_config(root).phase("later")
    assert (phase.opens, phase.closes, phase.board) == ("2999-01-01T00:00",
                                                        "2999-02-01T00:00", "after_close")
    # the other board options, exercised where no scoring is needed
    assert wmheval("board", "team", "add", root, "Base", "--baseline").returncode == 0
    from wmheval_leaderboard.board import Board

    with Board.open(root) as reopened:
        assert reopened.team("Base")["is_baseline"] == 1
    empty = wmheval("board", "build", root, "--out", tmp_path / "site", "--bootstrap", "0")
    assert empty.returncode == 0, empty.stderr
    assert "B = 0" in empty.stdout
    closed = wmheval("board", "submit", root, tmp_path, "--team", "A", "--phase", "later",
                     "--method-url", "https://example.org/a")
    assert closed.returncode == 1 and "opens at 2999-01-01" in closed.stderr



def test_timeline_draws_field_moves_hollow():
    import re

    from wmheval_leaderboard.life import timeline_svg

    points = [{"at": "2026-12-01T10:00:00Z", "score": 0.0, "position": 1, "cause": "own entry"},
              {"at": "2026-12-02T10:00:00Z", "score": 0.2, "position": 2, "cause": "field"},
              {"at": "2026-12-03T10:00:00Z", "score": 0.4, "position": 3, "cause": "field"},
              {"at": "2026-12-04T10:00:00Z", "score": 0.1, "position": 1,
               "cause": "re-evaluated"}]
    svg = timeline_svg(points, 3)
    circles = re.findall(r'<circle cx="(\d+)" cy="(\d+)" r="4" class="(tl-\w+)"/>', svg)
    assert [c[2] for c in circles] == ["tl-own", "tl-field", "tl-field", "tl-own"] * 2
    score_y = [int(c[1]) for c in circles[:4]]
    position_y = [int(c[1]) for c in circles[4:]]
    # score 0 (best) on top, 0.4 lowest; position 1 on top, 3 lowest
    assert score_y.index(min(score_y)) == 0 and score_y.index(max(score_y)) == 2
    assert position_y[0] == position_y[3] < position_y[1] < position_y[2]
    xs = [int(c[0]) for c in circles[:4]]
    assert xs == sorted(xs) and abs((xs[1] - xs[0]) - (xs[2] - xs[1])) <= 1  # equal days
    assert timeline_svg([], 3) == ""


def _site_files(folder):
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_past_site_has_the_settings_and_states_of_its_time(tmp_path, mini_reference,
                                                            team_folders):
    """Regression (issue 30): `build --as-of` rendered a past site with today's phases
    (pages of phases added later) and today's submission states (a later withdrawal)."""
    from datetime import UTC, datetime, timedelta

    from board_fixtures import new_board
    from wmheval_leaderboard.config import iso, simulated_clock
    from wmheval_leaderboard.lifecycle import add_phase, withdraw
    from wmheval_leaderboard.site import build_site

    root, site = tmp_path / "ch", tmp_path / "site"
    with simulated_clock(datetime(2017, 3, 1, 9, tzinfo=UTC)) as clock:
        board = new_board(root, mini_reference, teams=["A"], bootstrap=0)
        first = board.submit(team_folders["precise"], "A").submission_id
        build_site(board, site, view="private")
        then, published = iso(clock.read()), _site_files(site)
        moment = datetime(2017, 3, 1, 9, tzinfo=UTC)  # ids carry the board's clock
        assert 0 <= int(first[1:12], 16) - int(moment.timestamp() * 1000) < 100  # ticks
        clock.advance(timedelta(days=1))
        add_phase(board, "final", subjects="1,3", limit=1, window="total")
        withdraw(board, first, "wrong files")
        build_site(board, tmp_path / "now", view="private")
        rebuilt = tmp_path / "rebuilt"
        build_site(board, rebuilt, view="private", as_of=then)
        board.close()
    assert (tmp_path / "now" / "phase-final.html").exists()  # today's site has the phase
    assert _site_files(rebuilt) == published  # the past one has neither it nor the withdrawal


def test_the_simulated_clock_only_moves_forward_and_keeps_order():
    from datetime import UTC, datetime, timedelta

    from wmheval_leaderboard.config import now_utc, simulated_clock

    start = datetime(2017, 3, 1, tzinfo=UTC)
    with simulated_clock(start) as clock:
        readings = [now_utc() for _ in range(3)]
        assert readings == [start + timedelta(milliseconds=k) for k in range(3)]
        assert clock.set(datetime(2017, 3, 2)) == datetime(2017, 3, 2, tzinfo=UTC)
        with pytest.raises(ValueError, match="only moves forward"):
            clock.set(start)
    assert abs(now_utc() - datetime.now(UTC)) < timedelta(seconds=5)
