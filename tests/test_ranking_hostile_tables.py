"""Tables and folders from strangers for ranking (issue 33 items 3, 4, 9, 10; issue 27
items 3 and 5): values are checked, names stay names, errors name the file and the row."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
from ranking_fixtures import HAND_CASES, cases_frame, write_hand_teams, write_team

from wmheval.io.tables import (
    escape_formula,
    read_text_table,
    render_table,
    unescape_formula,
    write_table,
)
from wmheval.ranking import RankingInputError, load_field, rank_field

NAN = math.nan
HEADER = "team,dice,h95,avd,recall,f1\n"


def means_csv(tmp_path, body: str, name: str = "means.csv", header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


GOOD_ROWS = "alpha,0.8,3,10,0.9,0.8\nbeta,0.6,6,20,0.7,0.6\n"


# --- team names ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["NA", "None", "null", "#N/A", "nan", "N/A", "-", "NULL"])
def test_na_like_team_names_stay_team_names(tmp_path, name):
    path = means_csv(tmp_path, GOOD_ROWS + f"{name},0.7,4,15,0.8,0.7\n")
    field = load_field(path)
    assert field.teams == ("alpha", "beta", name)
    assert field.means.loc[name, "dice"] == 0.7
    ranking = rank_field(field)
    assert ranking["team"].tolist() == ["alpha", name, "beta"]


def test_na_team_names_in_a_long_per_case_table(tmp_path):
    frames = []
    for team, rows in (("NA", HAND_CASES["alpha"]), ("None", HAND_CASES["beta"])):
        frame = cases_frame(rows)
        frame.insert(0, "team", team)
        frames.append(frame)
    path = tmp_path / "long.csv"
    pd.concat(frames).to_csv(path, index=False)
    field = load_field(path)
    assert field.teams == ("NA", "None")
    np.testing.assert_allclose(field.means.loc["None", "dice"], 0.6)


@pytest.mark.parametrize("name, reason", [
    ("", "row 3: the team name is empty"),
    ("   ", "row 3: the team name is empty"),
    ("x" * 100_000, "characters long"),
    ('"a\nb"', "control characters"),
])
def test_unusable_team_names_are_refused_naming_file_and_row(tmp_path, name, reason):
    path = means_csv(tmp_path, GOOD_ROWS + f"{name},0.7,4,15,0.8,0.7\n")
    with pytest.raises(RankingInputError) as error:
        load_field(path)
    assert str(path) in str(error.value) and reason in str(error.value)


def test_a_team_folder_whose_name_is_not_utf8_is_ranked_under_an_escaped_name(tmp_path):
    root = write_hand_teams(tmp_path / "teams")
    os.rename(root / "gamma", root / os.fsdecode(b"g\xe4mma"))
    field = load_field(root)
    assert field.teams == ("alpha", "beta", "g\\xe4mma")
    np.testing.assert_allclose(field.means.loc["g\\xe4mma", "dice"], 0.4)


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("row, reason", [
    ("gamma,80,4,15,0.8,0.7", "row 3, team 'gamma': dice 80 is outside 0-1 (a percentage? "
                              "give 0.8, not 80)"),
    ("gamma,7,4,15,0.8,0.7", "dice 7 is outside 0-1"),
    ("gamma,0.7,-4,15,0.8,0.7", "h95 -4 is negative"),
    ("gamma,0.7,4,-1,0.8,0.7", "avd -1 is negative"),
    ("gamma,0.7,inf,15,0.8,0.7", "h95 is infinite"),
    ("gamma,0.7,4,15,abc,0.7", "recall 'abc' is not a number"),
    ("gamma,0.7,4,15,0.8,1e999", "f1 is infinite"),
])
def test_impossible_values_are_refused_naming_file_row_and_column(tmp_path, row, reason):
    path = means_csv(tmp_path, GOOD_ROWS + row + "\n")
    with pytest.raises(RankingInputError) as error:
        load_field(path)
    assert str(path) in str(error.value) and reason in str(error.value)


def test_a_per_case_value_out_of_range_names_team_and_subject(tmp_path):
    root = write_hand_teams(tmp_path / "teams")
    table = pd.read_csv(root / "beta" / "cases.csv")
    table.loc[1, "dice"] = 60.0
    table.to_csv(root / "beta" / "cases.csv", index=False)
    with pytest.raises(RankingInputError) as error:
        load_field(root)
    assert f"{root / 'beta' / 'cases.csv'}: values that cannot be right: row 2, team " \
           f"'beta', id 's2': dice 60 is outside 0-1" in str(error.value)


@pytest.mark.parametrize("content, reason", [
    (HEADER.encode() + b"alpha,0.8,3,10,0.9,0.8\nbe\x00ta,0.6,6,20,0.7,0.6\n",
     "line 3: a NUL byte"),
    (HEADER.encode() + b"alpha,0.8,3,10,0.9,0.8\n\xffbeta,0.6,6,20,0.7,0.6\n",
     "line 3: not UTF-8 text (byte 0xff)"),
    (HEADER.encode(), "a header but no rows"),
    (b"", "the file is empty"),
    (b'team,dice\n"unclosed,0.5\n', "cannot read the table"),
])
def test_unreadable_tables_are_refused_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "means.csv"
    path.write_bytes(content)
    with pytest.raises(RankingInputError) as error:
        load_field(path)
    assert str(path) in str(error.value) and reason in str(error.value)


def test_a_blank_mean_is_counted_missing_and_the_case_set_is_unknown(tmp_path):
    path = means_csv(tmp_path, GOOD_ROWS + "gamma,0.7,4,,0.8,0.7\n")
    field = load_field(path)
    assert math.isnan(field.means.loc["gamma", "avd"])
    assert field.means["n_missing"].tolist() == [0, 0, 1]
    assert field.means["n_cases"].isna().all() and field.case_ids is None
    assert any("gamma: no avd value" in n for n in field.notes)
    assert any("case set unknown" in n for n in field.notes)
    ranking = rank_field(field).set_index("team")
    assert ranking.loc["gamma", "rank_avd"] == 1.0  # ranked last on AVD
    assert ranking.loc["gamma", "n_missing"] == 1


def test_a_means_table_that_states_its_cases_keeps_them(tmp_path):
    path = means_csv(tmp_path, "alpha,0.8,3,10,0.9,0.8,12\nbeta,0.6,6,20,0.7,0.6,12\n",
                     header=HEADER.strip() + ",n_cases\n")
    assert load_field(path).means["n_cases"].tolist() == [12, 12]


# --- statuses and empty rows -------------------------------------------------------------

def _field_with_beta_s2(tmp_path, status_column: bool, status: str | None):
    root = tmp_path / f"teams_{status}_{status_column}"
    for team, rows in HAND_CASES.items():
        frame = cases_frame(rows)
        if team == "beta":
            frame.loc[1, ["dice", "h95", "avd", "recall", "f1"]] = NAN
            if status is not None:
                frame.loc[1, "status"] = status
        if not status_column:
            frame = frame.drop(columns="status")
        write_team(root, team, frame)
    return load_field(root)


@pytest.mark.parametrize("status_column, status", [(False, None), (True, "ok"),
                                                   (True, ""), (True, "failed"),
                                                   (True, "FAILED")])
def test_an_all_empty_row_is_a_missing_case_whatever_the_columns(tmp_path, status_column,
                                                                 status):
    expected = _field_with_beta_s2(tmp_path, True, "missing")
    got = _field_with_beta_s2(tmp_path, status_column, status)
    beta = expected.means.loc["beta"]
    # Missing under the default policy is an empty mask: Dice 0 on s2, so the mean is 0.4,
    # not the 0.6 of a perfect score or of leaving s2 out.
    assert beta["dice"] == pytest.approx((0.6 + 0 + 0.6) / 3)
    assert beta["n_missing"] == 1
    pd.testing.assert_frame_equal(got.means, expected.means)
    if status != "failed" and status != "FAILED":
        assert any("without any metric value" in n and "counted as missing" in n
                   for n in got.notes)


def test_unknown_statuses_are_refused_naming_the_row(tmp_path):
    root = write_hand_teams(tmp_path / "teams")
    table = pd.read_csv(root / "alpha" / "cases.csv")
    table.loc[2, "status"] = "great"
    table.to_csv(root / "alpha" / "cases.csv", index=False)
    with pytest.raises(RankingInputError) as error:
        load_field(root)
    assert "row 3, team 'alpha', id 's3': status 'great' is unknown" in str(error.value)


# --- folders -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, reason", [
    ("folder", "not a regular file but a folder"),
    ("fifo", "FIFO"),
    ("dangling", "broken symbolic link"),
    ("devzero", "character device"),
])
def test_a_cases_csv_that_is_not_a_file_is_reported_not_dropped(tmp_path, kind, reason):
    root = write_hand_teams(tmp_path / "teams")
    target = root / "beta" / "cases.csv"
    target.unlink()
    {"folder": lambda: target.mkdir(), "fifo": lambda: os.mkfifo(target),
     "dangling": lambda: os.symlink(tmp_path / "gone.csv", target),
     "devzero": lambda: os.symlink("/dev/zero", target)}[kind]()
    with pytest.raises(RankingInputError) as error:
        load_field(root)
    assert str(target) in str(error.value) and reason in str(error.value)


# --- outputs people open ----------------------------------------------------------------

@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)",
                                  "\tx", "\rx", "'=x", "'plain", "plain", ""])
def test_formula_escaping_round_trips(text):
    escaped = escape_formula(text)
    assert unescape_formula(escaped) == text
    assert not escaped or escaped[0] not in "=+-@\t\r"


def test_csv_cells_that_start_a_formula_are_escaped_and_read_back(tmp_path):
    table = pd.DataFrame({"team": ["=cmd|' /C calc'!A0", "+x", "@y", "-z", "ok"],
                          "avd_difference": [-1.5, 2.0, -3.0, 0.0, 1.0]})
    path = write_table(table, tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    assert lines[1].startswith("'=cmd") and lines[2].startswith("'+x")
    assert lines[3].startswith("'@y") and lines[4] == "'-z,0.0"
    assert lines[1].endswith(",-1.5")  # numbers are not text
    back = read_text_table(path)
    assert back["team"].tolist() == table["team"].tolist()


def test_markdown_tables_escape_html_and_pipes():
    table = pd.DataFrame({"team": ["<img src=x onerror=alert(1)>", "a|b"], "dice": [0.5, 0.6]})
    text = render_table(table, "md")
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "a\\|b" in text
