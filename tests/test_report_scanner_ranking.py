"""The report's per-scanner tables rank the teams on that scanner's subjects (issue 27
item 1): the position and score are the scanner's own, not the overall position."""

import pytest
from ranking_fixtures import cases_frame, write_team

from wmheval.ranking import load_field, rank_field
from wmheval.report.build import scanner_tables

UTRECHT, AMSTERDAM = "utrecht_philips_3t", "amsterdam_ge_3t"
SCANNERS = [UTRECHT, UTRECHT, AMSTERDAM, AMSTERDAM]
IDS = ("1", "2", "3", "4")
# brittle: best on every metric on Utrecht, far worst on Amsterdam.
ROWS = {
    "brittle": [(0.9, 2.0, 5.0, 0.9, 0.9)] * 2 + [(0.1, 40.0, 90.0, 0.1, 0.1)] * 2,
    "steady": [(0.7, 4.0, 15.0, 0.7, 0.7)] * 2 + [(0.7, 4.0, 15.0, 0.7, 0.7)] * 2,
    "middling": [(0.5, 6.0, 25.0, 0.5, 0.5)] * 2 + [(0.6, 5.0, 20.0, 0.6, 0.6)] * 2,
}


@pytest.fixture
def field(tmp_path):
    for team, rows in ROWS.items():
        write_team(tmp_path, team, cases_frame(rows, ids=IDS, scanners=SCANNERS))
    return load_field(tmp_path)


def test_scanner_table_shows_the_scanners_own_position_and_score(field):
    ranking = rank_field(field)
    overall = ranking.set_index("team")["position"]
    assert overall["brittle"] == 3  # worst overall ...
    tables = {scanner: table.set_index("team") for scanner, _, table
              in scanner_tables(field, ranking)}
    utrecht, amsterdam = tables[UTRECHT], tables[AMSTERDAM]
    # ... but best on every metric on Utrecht: position 1, score 0 (relative rank 0 each)
    assert utrecht.loc["brittle", "position"] == 1
    assert utrecht.loc["brittle", "score"] == pytest.approx(0.0)
    assert utrecht.loc["middling", "position"] == 3
    assert utrecht.loc["middling", "score"] == pytest.approx(1.0)
    # steady sits between them on every Utrecht metric: dice (0.7-0.5)/(0.9-0.5) = 0.5 ...
    assert utrecht.loc["steady", "score"] == pytest.approx(0.5)
    assert utrecht.loc["brittle", "overall_position"] == 3
    assert list(tables[UTRECHT].index) == ["brittle", "steady", "middling"]
    assert amsterdam.loc["brittle", "position"] == 3
    assert amsterdam.loc["steady", "position"] == 1
    assert amsterdam.loc["brittle", "dice"] == pytest.approx(0.1)


def test_scanner_positions_agree_with_rank_split(field, tmp_path):
    ranking = rank_field(field)
    for scanner, _, table in scanner_tables(field, ranking):
        alone = rank_field(load_field(tmp_path, split=scanner)).set_index("team")
        mine = table.set_index("team")
        for team in ROWS:
            assert mine.loc[team, "position"] == alone.loc[team, "position"]
            assert mine.loc[team, "score"] == pytest.approx(alone.loc[team, "score"])
