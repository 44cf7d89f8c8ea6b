"""The report's "Dice unseen" agrees with ``rank --split unseen`` and summary.csv: subjects
whose seen status is unknown are in neither group (issue 26; the report counted them as
unseen)."""

import pandas as pd
import pytest
from ranking_fixtures import cases_frame, write_team

from wmheval.ranking import load_field, rank_field
from wmheval.report.build import leaderboard_table, scanner_tables
from wmheval.scoring.aggregate import summarize

ROWS = {"A": [(0.9, 2.0, 10.0, 0.8, 0.8), (0.5, 3.0, 20.0, 0.7, 0.7),
              (0.1, 9.0, 80.0, 0.2, 0.2)],
        "B": [(0.8, 2.5, 12.0, 0.7, 0.7), (0.6, 4.0, 25.0, 0.6, 0.6),
              (0.7, 5.0, 30.0, 0.5, 0.5)]}


@pytest.fixture
def field_root(tmp_path):
    """Two teams, three subjects seen in training True, False and blank."""
    for team, rows in ROWS.items():
        frame = cases_frame(rows, scanners=["utrecht_philips_3t", "amsterdam_ge_3t",
                                            "amsterdam_ge_3t"])
        frame["seen_in_training"] = ["True", "False", ""]
        write_team(tmp_path, team, frame)
    return tmp_path


def test_report_dice_unseen_leaves_out_unknown_subjects(field_root):
    field = load_field(field_root)
    board = leaderboard_table(field, rank_field(field)).set_index("team")
    unseen = rank_field(load_field(field_root, split="unseen")).set_index("team")
    seen = rank_field(load_field(field_root, split="seen")).set_index("team")
    assert unseen.loc["A", "dice"] == pytest.approx(0.5)  # subject 2 only
    assert board.loc["A", "dice_unseen"] == pytest.approx(0.5)
    assert board.loc["B", "dice_unseen"] == pytest.approx(0.6)
    assert board.loc["A", "dice_seen"] == pytest.approx(seen.loc["A", "dice"]) == 0.9
    for team in ROWS:
        assert board.loc[team, "dice_unseen"] == pytest.approx(unseen.loc[team, "dice"])


def test_report_dice_unseen_agrees_with_summary_csv(field_root):
    cases = pd.read_csv(field_root / "A" / "cases.csv", dtype={"id": str})
    summary = summarize(cases)
    row = summary[(summary["group"] == "unseen") & (summary["metric"] == "dice")]
    field = load_field(field_root)
    board = leaderboard_table(field, rank_field(field)).set_index("team")
    assert float(row["mean_ranked"].iloc[0]) == pytest.approx(board.loc["A", "dice_unseen"])


def test_scanner_tables_do_not_call_an_unknown_scanner_unseen(field_root):
    """A scanner whose subjects' status is unknown gets no seen/unseen tag."""
    cases = {team: cases_frame(rows, scanners=["utrecht_philips_3t", "amsterdam_ge_3t",
                                               "singapore_siemens_3t"])
             for team, rows in ROWS.items()}
    for team, frame in cases.items():
        frame["seen_in_training"] = ["True", "False", ""]
        write_team(field_root, team, frame)
    field = load_field(field_root)
    flags = {scanner: flag for scanner, flag, _ in scanner_tables(field, rank_field(field))}
    assert flags == {"utrecht_philips_3t": True, "singapore_siemens_3t": None,
                     "amsterdam_ge_3t": False}
