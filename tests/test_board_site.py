"""The built board: equal to `wmheval rank` on the same teams' cases.csv, ties, badges,
the not-ranked list, rank intervals, byte-identical rebuilds, the leak check, board.csv
and board.json columns, CSV formula escaping, safe links."""

from __future__ import annotations

import csv
import json
import shutil

import board_fixtures
import pandas as pd
import pytest
from board_fixtures import SUBJECTS, new_board, wmheval

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders

COLUMNS = ["team", "position", "score", "dice", "h95", "avd", "recall", "f1", "n_cases",
           "n_missing", "rank_lo", "rank_hi", "baseline", "submission_id"]


@pytest.fixture(scope="module")
def field_board(mini_reference, team_archives, tmp_path_factory):
    """Four teams, a baseline (the 'cautious' predictions), a tie (two teams submit the
    same predictions), an incomplete team and a rejected archive; public site built."""
    tmp = tmp_path_factory.mktemp("field")
    root = tmp / "ch"
    board = new_board(root, mini_reference, teams=["precise", "greedy", "noisy", "twin",
                                                   "incomplete"],
                      baselines=["threshold"], bootstrap=300)
    for team, archive in (("precise", "precise"), ("greedy", "greedy"), ("noisy", "noisy"),
                          ("twin", "greedy"), ("incomplete", "incomplete"),
                          ("threshold", "cautious")):
        assert board.submit(team_archives[archive], team).state == "scored"
    junk = tmp / "page.zip"
    junk.write_bytes(b"<html>not an archive</html>")
    assert board.submit(junk, "noisy").state == "rejected"
    board.close()
    site = tmp / "site"
    result = wmheval("board", "build", root, "--out", site)
    assert result.returncode == 0, result.stderr
    return root, site


def _board_csv(site) -> pd.DataFrame:
    return pd.read_csv(site / "board.csv", dtype={"team": str, "submission_id": str})


def test_board_equals_wmheval_rank(field_board, tmp_path):
    root, site = field_board
    board = _board_csv(site)
    assert list(board.columns) == COLUMNS
    teams = tmp_path / "teams"
    status = json.loads(wmheval("board", "status", root, "--json").stdout)
    for row in status:
        if row["state"] == "scored" and not row["baseline"]:
            run = next((root / "runs" / row["id"]).glob("*/cases.csv"))
            (teams / row["team"]).mkdir(parents=True)
            shutil.copyfile(run, teams / row["team"] / "cases.csv")
    result = wmheval("rank", teams, "--out", tmp_path / "rank", "--quiet")
    assert result.returncode == 0, result.stderr
    ranking = pd.read_csv(tmp_path / "rank" / "ranking.csv").set_index("team")
    ranked = board[board["baseline"] == False].set_index("team")  # noqa: E712
    assert sorted(ranked.index) == sorted(ranking.index)
    for team in ranking.index:
        assert int(ranked.loc[team, "position"]) == int(ranking.loc[team, "position"])
        for column in ("score", "dice", "h95", "avd", "recall", "f1"):
            assert ranked.loc[team, column] == pytest.approx(ranking.loc[team, column],
                                                             rel=1e-12, abs=1e-15)
        assert int(ranked.loc[team, "n_missing"]) == int(ranking.loc[team, "n_missing"])


def test_baseline_badged_and_out_of_normalisation(field_board):
    _, site = field_board
    board = _board_csv(site)
    baseline = board[board["team"] == "threshold"].iloc[0]
    assert bool(baseline["baseline"]) and pd.isna(baseline["position"])
    assert pd.isna(baseline["rank_lo"])
    participants = board[board["baseline"] == False]  # noqa: E712
    # positions of the participants are 1..n with the tie, untouched by the baseline
    assert sorted(participants["position"].astype(int)) == [1, 2, 2, 4, 5]
    page = (site / "index.html").read_text()
    assert "badge base" in page and ">B<" in page


def test_ties_shown_as_ties(field_board):
    _, site = field_board
    board = _board_csv(site).set_index("team")
    assert board.loc["greedy", "position"] == board.loc["twin", "position"] == 2
    assert board.loc["greedy", "score"] == board.loc["twin", "score"]
    assert (site / "index.html").read_text().count(">=2<") == 2


def test_incomplete_badged_and_failed_listed(field_board):
    _, site = field_board
    page = (site / "index.html").read_text()
    assert "2 of 6 missing, scored as empty masks" in page
    board = json.loads((site / "board.json").read_text())
    (rejected,) = board["not_ranked"]
    assert rejected["team"] == "noisy" and rejected["state"] == "rejected"
    assert "not a zip, tar or tar.gz" in rejected["reason"]
    not_ranked = page[page.index("Not ranked"):]
    assert "noisy" in not_ranked and "not a zip, tar or tar.gz" in not_ranked
    # the rejected archive did not replace the team's scored entry
    assert any(e["team"] == "noisy" and e["position"] for e in board["entries"])


def test_rank_intervals_top_group_and_separability(field_board):
    root, site = field_board
    board = json.loads((site / "board.json").read_text())
    entries = {e["team"]: e for e in board["entries"]}
    for entry in entries.values():
        if not entry["baseline"]:
            assert 1 <= entry["rank_lo"] <= entry["rank_hi"] <= 5
    # the oracle: the library's bootstrap with the seed derived from the inputs
    from wmheval_leaderboard.board import Board

    with Board.open(root) as opened:
        standings = opened.standings(bootstrap=300)
    import numpy as np

    from wmheval.analysis.bootstrap import bootstrap_ranking

    assert standings.seed == int(board["inputs_sha256"][:15], 16)
    cases = []
    for name in ("precise", "greedy", "noisy", "twin", "incomplete"):
        run = next((root / "runs" / entries[name]["submission_id"]).glob("*/cases.csv"))
        cases.append(pd.read_csv(run, dtype={"id": str}).assign(team=name))
    from wmheval.ranking.inputs import field_from_cases

    field = field_from_cases(pd.concat(cases, ignore_index=True))
    result = bootstrap_ranking(field.cube.values, field.teams, 300, standings.seed)
    for k, team in enumerate(field.teams):
        positions = np.sort(result.positions[:, k])
        assert entries[team]["rank_lo"] == positions[int(np.floor(0.025 * 299))]
        assert entries[team]["rank_hi"] == positions[int(np.ceil(0.975 * 299))]
    page = (site / "index.html").read_text()
    tops = [t for t, e in entries.items() if e["rank_lo"] == 1]
    shown = ", ".join(f"<bdi>{t}</bdi>" for t in tops)
    assert f"Top group (interval contains 1): {shown}." in page
    twins = [s for s in standings.rows if s.team in ("greedy", "twin")]
    assert twins[0].separable_from_next is False  # identical entries never separate
    assert "≈ next" in page


def test_rebuild_is_byte_identical(field_board, tmp_path):
    root, site = field_board
    again = tmp_path / "again"
    assert wmheval("board", "build", root, "--out", again).returncode == 0
    files = sorted(p.relative_to(site) for p in site.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (site / name).read_bytes() == (again / name).read_bytes(), name


def test_public_site_holds_no_hidden_ids_values_or_paths(field_board, tmp_path):
    root, site = field_board
    from wmheval_leaderboard.board import Board
    from wmheval_leaderboard.site import leak_check

    with Board.open(root) as board:
        standings = board.standings()
        reference = board.config.reference
    text = "\n".join(p.read_text() for p in site.rglob("*") if p.is_file())
    assert reference not in text and "result.nii.gz" not in text
    assert leak_check(site, SUBJECTS, standings.case_values, [reference]) == []
    # the private view shows per-case results, and the same check would flag them
    private = tmp_path / "private"
    assert wmheval("board", "build", root, "--out", private, "--view",
                   "private").returncode == 0
    hits = leak_check(private, SUBJECTS, standings.case_values, [reference])
    assert any("per-case value" in h for h in hits)
    assert any("hidden subject id" in h for h in hits)


@pytest.mark.parametrize("planted", ["see subject 117", "our Dice on one case: {value}"])
def test_leak_check_fails_build_and_keeps_previous_site(planted, tmp_path, mini_reference,
                                                        team_archives, team_folders):
    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=["a", "b"], bootstrap=0)
    board.submit(team_archives["precise"], "a")
    site = tmp_path / "site"
    board.close()
    assert wmheval("board", "build", root, "--out", site).returncode == 0
    before = {p.name: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    with __import__("wmheval_leaderboard.board", fromlist=["Board"]).Board.open(root) as b:
        value = next(v for v in b.standings().case_values if 0.1 < v < 0.99)
        note = planted.format(value=f"{value:.6g}")
        assert b.submit(team_folders["greedy"], "b", note=note).state == "scored"
    result = wmheval("board", "build", root, "--out", site)
    assert result.returncode == 1
    assert "leak check failed, previous site kept" in result.stderr
    assert "teams/team-" in result.stderr
    assert {p.name: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob(".site.*"))


def test_csv_cells_that_start_a_formula_are_escaped(tmp_path, mini_reference, team_archives):
    names = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "plain"]
    root = tmp_path / "ch"
    board = new_board(root, mini_reference, teams=names, bootstrap=0, limit=0)
    for name in names:
        assert board.submit(team_archives["precise"], name).state == "scored"
    board.close()
    assert wmheval("board", "build", root, "--out", tmp_path / "site").returncode == 0
    with open(tmp_path / "site" / "board.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    shown = sorted(r["team"] for r in rows)
    assert shown == sorted(["'" + n if n[0] in "=+-@" else n for n in names])
    assert all(r["position"] == "1" for r in rows)  # five identical entries: one tie
    board_json = json.loads((tmp_path / "site" / "board.json").read_text())
    assert sorted(e["team"] for e in board_json["entries"]) == sorted(names)


@pytest.mark.parametrize(("url", "linked"), [
    ("https://example.org/method?a=1&b=2", True), ("http://example.org", True),
    ("javascript:alert(1)", False), (" JavaScript:alert(1)", False),
    ("data:text/html,<script>alert(1)</script>", False), ("https://", False),
    ("//evil.example/x", False), ("ftp://example.org/x", False),
    ("https://exa mple.org", False), ("vbscript:msgbox(1)", False)])
def test_only_http_urls_become_links(url, linked):
    from wmheval_leaderboard.site import safe_url

    assert (safe_url(url) is not None) is linked
