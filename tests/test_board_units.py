"""Small pieces of the board, checked directly: the TOML writer (round trip through
tomllib), windows, CSV cells, slugs, the event chain."""

from __future__ import annotations

import sqlite3
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wmheval_leaderboard.config import toml_value, window_seconds
from wmheval_leaderboard.errors import BoardUsageError


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_toml_strings_round_trip(text):
    assert tomllib.loads(f"key = {toml_value(text)}\n")["key"] == text


@given(st.lists(st.text(max_size=8), max_size=4), st.integers(-10**9, 10**9), st.booleans())
def test_toml_values_round_trip(items, number, flag):
    text = (f"a = {toml_value(items)}\nb = {toml_value(number)}\nc = {toml_value(flag)}\n")
    assert tomllib.loads(text) == {"a": items, "b": number, "c": flag}


@pytest.mark.parametrize(("window", "seconds"), [("24h", 86400), ("7d", 604800),
                                                 ("total", None), ("1h", 3600)])
def test_windows(window, seconds):
    assert window_seconds(window) == seconds


@pytest.mark.parametrize("window", ["", "0h", "24", "1w", "-1d", "24h "])
def test_bad_windows(window):
    with pytest.raises(BoardUsageError):
        window_seconds(window)


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"),
    ("team", "team"), (-1.5, "-1.5"), (3, "3"), (True, "true"), (None, ""),
    (float("nan"), "")])
def test_csv_cells(value, cell):
    from wmheval_leaderboard.site import csv_cell

    assert csv_cell(value) == cell


@given(st.text(min_size=1, max_size=80))
def test_slugs_never_carry_the_name(name):
    from wmheval_leaderboard.board import team_slug

    slug = team_slug(name)
    assert slug.startswith("team-") and len(slug) == 17
    assert all(c in "0123456789abcdef" for c in slug[5:])


def test_event_chain_finds_every_edit(tmp_path):
    from wmheval_leaderboard.ledger import Ledger

    ledger = Ledger.open(tmp_path, create=True)
    for k in range(4):
        with ledger.write():
            ledger.append_event("test", f"r{k}", {"k": k})
    assert ledger.check_chain() == []
    db = ledger.connection
    db.execute("UPDATE events SET ref_id = 'x' WHERE seq = 2")
    assert any("event 2" in p for p in ledger.check_chain())
    db.execute("UPDATE events SET ref_id = 'r1' WHERE seq = 2")
    assert ledger.check_chain() == []
    db.execute("UPDATE events SET prev_hash = hash WHERE seq = 3")
    assert any("event 3 does not link" in p for p in ledger.check_chain())
    ledger.close()
    with sqlite3.connect(tmp_path / "ledger.sqlite") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
