"""``wmheval board import``: a grand-challenge per-case export gives the board a platform
submission would have given (same means, scores, positions), a Codabench leaderboard CSV is
ranked exactly by a literal min-max; hostile exports are refused naming the file."""

from __future__ import annotations

import csv
import json
import math
import random

import board_fixtures
import pytest
from board_fixtures import new_board, wmheval

from wmheval.errors import DataProblem
from wmheval.io.platform_results import read_codabench_leaderboard, read_grand_challenge_export
from wmheval.metrics import METRICS
from wmheval.pipelines.platforms import run_codabench, run_grand_challenge

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_folders = board_fixtures.team_folders

TEAMS = ("precise", "greedy", "incomplete")


def _gc_export(tmp_path, reference, folders, per_case=True):
    evaluations = []
    for number, team in enumerate(TEAMS):
        out = tmp_path / f"gc-{team}"
        run_grand_challenge(folders[team], reference, out, per_case=per_case, jobs=1)
        metrics = json.loads((out / "metrics.json").read_text())
        evaluations.append({"pk": f"e{number}", "created": f"2026-12-0{number + 1}",
                            "submission": {"creator": {"username": team}},
                            "metrics": metrics, "status": "Succeeded"})
    random.Random(3).shuffle(evaluations)
    path = tmp_path / "evaluations.json"
    path.write_text(json.dumps({"results": evaluations}))
    return path


def test_grand_challenge_per_case_import_equals_direct_submissions(tmp_path, mini_reference,
                                                                    team_folders):
    from wmheval_leaderboard.board import verify
    from wmheval_leaderboard.imports import import_results

    direct = new_board(tmp_path / "direct", mini_reference, teams=TEAMS)
    for team in TEAMS:
        outcome = direct.submit(team_folders[team], team)
        assert outcome.state == "scored", outcome
    expected = {s.team: s for s in direct.standings().rows}
    direct.close()

    export = _gc_export(tmp_path, mini_reference, team_folders)
    board = new_board(tmp_path / "imported", mini_reference)
    report = import_results(board, "grand-challenge", export, None)
    assert report.per_case and sorted(report.imported) == sorted(TEAMS)
    got = {s.team: s for s in board.standings().rows}
    assert set(got) == set(expected)
    for team, standing in expected.items():
        assert got[team].position == standing.position
        assert got[team].score == pytest.approx(standing.score, abs=1e-12)
        for metric in METRICS:
            assert got[team].means[metric] == pytest.approx(standing.means[metric],
                                                            abs=1e-12), (team, metric)
        assert got[team].n_cases == standing.n_cases
        assert got[team].n_missing == standing.n_missing
    # Intervals come from the cases, as for direct submissions.
    with_intervals = board.standings(bootstrap=50).rows
    assert all(s.rank_lo is not None and s.rank_lo <= s.position <= s.rank_hi
               for s in with_intervals)
    count = board.ledger.query("SELECT count(*) AS n FROM submissions")[0]["n"]
    again = import_results(board, "grand-challenge", export, None)
    assert again.imported == [] and sorted(again.unchanged) == sorted(TEAMS)
    assert board.ledger.query("SELECT count(*) AS n FROM submissions")[0]["n"] == count
    board.close()
    assert verify(tmp_path / "imported") == []


def _literal_minmax(means: dict[str, dict[str, float]]) -> dict[str, float]:
    higher = {"dice": True, "h95": False, "avd": False, "recall": True, "f1": True}
    scores = {}
    for team, row in means.items():
        total = 0.0
        for metric in METRICS:
            column = [r[metric] for r in means.values()]
            best = max(column) if higher[metric] else min(column)
            worst = min(column) if higher[metric] else max(column)
            total += 0.0 if worst == best else (row[metric] - best) / (worst - best)
        scores[team] = total / len(METRICS)
    return scores


def test_codabench_means_import_is_ranked_exactly(tmp_path, mini_reference, team_folders):
    from wmheval_leaderboard.board import verify

    rows = []
    for team in TEAMS:
        run_codabench(mini_reference, team_folders[team], tmp_path / team, jobs=1)
        scores = json.loads((tmp_path / team / "scores.json").read_text())
        rows.append({"Username": team, **scores})
    path = tmp_path / "leaderboard.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    board = new_board(tmp_path / "board", mini_reference)
    board.close()
    done = wmheval("board", "import", "codabench", tmp_path / "board", path, "--phase", "test")
    assert done.returncode == 0, done.stderr
    assert "codabench export (means only) into phase test: 3 team(s) imported" in done.stdout
    means = {r["Username"]: {m: float(r[m]) for m in METRICS} for r in rows}
    literal = _literal_minmax(means)
    (folder,) = (tmp_path / "board" / "imports" / "test").iterdir()
    with open(folder / "ranking.csv") as handle:
        written = {r["team"]: r for r in csv.DictReader(handle)}
    assert set(written) == set(TEAMS)
    for team, score in literal.items():
        assert float(written[team]["score"]) == pytest.approx(score, abs=1e-9)
        better = sum(s < score - 1e-9 for s in literal.values())
        assert int(written[team]["position"]) == better + 1
    assert verify(tmp_path / "board") == []
    again = wmheval("board", "import", "codabench", tmp_path / "board", path)
    assert "0 team(s) imported, 3 already there" in again.stdout


def test_grand_challenge_means_only_export(tmp_path, mini_reference, team_folders):
    export = _gc_export(tmp_path, mini_reference, team_folders, per_case=False)
    results = read_grand_challenge_export(export)
    assert not results.per_case
    for team in TEAMS:
        metrics = json.loads((tmp_path / f"gc-{team}" / "metrics.json").read_text())
        for metric in METRICS:
            assert results.means.loc[team, metric] == \
                metrics["aggregates"][metric]["mean_ranked"]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("[{\"team\": \"a\", \"aggregates\": {\"dice\": NaN}}]", "not a JSON file"),
    ("{\"results\": 5}", "expected a list"),
    ("[1]", "not an object"),
    ("[{\"metrics\": {\"aggregates\": {}}}]", "no team"),
    ("[{\"team\": \"a\", \"metrics\": {}}]", "no wmheval metrics.json"),
    ("[{\"team\": \"a\", \"aggregates\": {\"dice\": {\"mean_ranked\": \"x\"}}}]",
     "dice: 'x' is not a number"),
    ("[{\"team\": \"a\", \"aggregates\": {\"dice\": {\"mean_ranked\": 1}}}]",
     "no aggregates.h95"),
    ("[{\"team\": \"a\", \"aggregates\": {\"dice\": {\"mean_ranked\": true}, \"h95\": {}, "
     "\"avd\": {}, \"recall\": {}, \"f1\": {}}}]", "not a number"),
    ("[]", "no evaluations"),
])
def test_hostile_grand_challenge_exports(tmp_path, text, message):
    path = _write(tmp_path, "export.json", text)
    with pytest.raises(DataProblem, match=message) as caught:
        read_grand_challenge_export(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("name,dice\na,1\n", "no team column"),
    ("team,dice,h95,avd,recall\na,1,2,3,4\n", "one column for f1"),
    ("team,dice,h95,avd,recall,f1\na,1,2,3,4\n", "cells"),
    ("team,dice,h95,avd,recall,f1\na,1,2,3,4,inf\n", "not a finite number"),
    ("team,dice,h95,avd,recall,f1\n,1,2,3,4,5\n", "no team"),
    ("team,dice,h95,avd,recall,f1\n", "no teams"),
])
def test_hostile_codabench_exports(tmp_path, text, message):
    path = _write(tmp_path, "leaderboard.csv", text)
    with pytest.raises(DataProblem, match=message):
        read_codabench_leaderboard(path)


def test_titles_are_accepted_and_duplicates_keep_the_first(tmp_path):
    path = _write(tmp_path, "lb.csv", "Participant,Dice,H95 (mm),AVD (%),Lesion recall,"
                  "Lesion F1\nA,0.7,5,20,0.8,0.7\nA,0.1,50,90,0.1,0.1\nB,0.6,6,25,0.7,0.6\n")
    results = read_codabench_leaderboard(path)
    assert results.means.loc["A", "dice"] == 0.7 and math.isclose(
        results.means.loc["B", "h95"], 6.0)
    assert any("several rows" in n for n in results.notes)


def test_import_cli_usage_errors(tmp_path, mini_reference):
    board = new_board(tmp_path / "board", mini_reference)
    board.close()
    done = wmheval("board", "import", "codabench", tmp_path / "board", tmp_path / "nope.csv")
    assert done.returncode == 1 and "file not found" in done.stderr
    done = wmheval("board", "import", "evalai", tmp_path / "board", tmp_path / "nope.csv")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
