"""Ranking outputs people read (issue 27 item 14): ranking.tex is paper-width by default
(position, team, score, the five metrics) with the other columns in details tables; the
HTML marks a non-comparable team in its row; the demo's index page shows the leaderboard."""

import re

import pandas as pd
import pytest
from ranking_fixtures import write_means_table

from wmheval._resources import published_leaderboard_path
from wmheval.pipelines.demo import DemoOutput, write_index
from wmheval.pipelines.rank import write_ranking
from wmheval.ranking import add_team, load_field, rank_field
from wmheval.ranking.leaderboard import PAPER_COLUMNS


@pytest.fixture
def inserted(tmp_path):
    """The published leaderboard with a team scored on 3 of its 110 subjects."""
    from ranking_fixtures import cases_frame

    published = load_field(published_leaderboard_path())
    cases = cases_frame([(0.7, 5.0, 20.0, 0.7, 0.7)] * 3, ids=("0", "1", "2"))
    return rank_field(add_team(published, cases, "partial team"))


def _tabulars(tex: str) -> list[list[str]]:
    """Header cells of every tabular in a LaTeX file."""
    headers = []
    for block in tex.split("\\begin{tabular}")[1:]:
        header = block.split("\\toprule\n", 1)[1].split("\n", 1)[0]
        headers.append([c.strip() for c in header.rstrip(" \\").split("&")])
    return headers


def test_ranking_tex_is_paper_width_with_the_rest_after_it(inserted, tmp_path):
    write_ranking(inserted, tmp_path)
    tex = (tmp_path / "ranking.tex").read_text()
    tables = _tabulars(tex)
    assert len(tables[0]) == len(PAPER_COLUMNS) == 8
    assert [c.split()[0] for c in tables[0]] == ["Position", "team", "Score", "Dice", "H95",
                                                 "AVD", "Lesion", "Lesion"]
    csv = pd.read_csv(tmp_path / "ranking.csv")
    assert len(csv.columns) == 20
    assert sum(len(t) - 1 for t in tables[1:]) == len(csv.columns) - len(PAPER_COLUMNS)
    assert all(len(t) <= 8 for t in tables[1:])
    assert all(t[0] == "team" for t in tables[1:])
    assert "\\label{tab:ranking}" in tex and "\\label{tab:ranking-details-1}" in tex
    # the main table has one row per team with its score
    first = tex.split("\\midrule\n", 1)[1].split("\n", 1)[0]
    assert first.split(" & ")[1] == inserted["team"].iloc[0].replace("_", "\\_")


def test_html_marks_the_noncomparable_row(inserted, tmp_path):
    write_ranking(inserted, tmp_path)
    page = (tmp_path / "ranking.html").read_text()
    rows = re.findall(r"<tr class='noncomparable'>(.*?)</tr>", page)
    assert len(rows) == 1 and "partial team<span class='flag'>not comparable</span>" in rows[0]
    assert "are teams scored on other subjects" in page
    assert page.count("<tr class='noncomparable'>") == 1


def test_demo_index_shows_the_leaderboard(tmp_path):
    root = tmp_path / "teams"
    write_means_table(tmp_path / "means.csv", {"alpha": (0.8, 5.0, 20.0, 0.8, 0.8),
                                               "beta": (0.6, 9.0, 40.0, 0.6, 0.6)})
    output = DemoOutput(root)
    root.mkdir()
    output.leaderboard = rank_field(load_field(tmp_path / "means.csv"))
    write_index(output)
    page = (root / "index.html").read_text()
    table = page.split("id='leaderboard-table'", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
    assert [re.findall(r"<td>([a-z]+)</td>", r)[0] for r in rows] == ["alpha", "beta"]
    assert "0.800" in rows[0] and "0.600" in rows[1]
    assert "ranking_teams/index.html" in page
    assert "| alpha" in (root / "index.md").read_text()
