"""The resume cache never returns a wrong number (issue 33 item 8).

Every hostile entry below used to be trusted (an edited Dice came back as it was, another
case's entry was used, ``{}`` gave an empty status, a FIFO blocked, a link to /dev/zero
was read until memory ran out); now each is refused, the case is scored afresh with a note
naming the entry, and the tables equal those of a run without a cache.
"""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from test_scoring_folder import TEST_IDS, write_submission

from wmheval.scoring import score_folder
from wmheval.scoring.cache import (
    MAX_ENTRY_BYTES,
    CacheMiss,
    CaseCache,
    case_key,
    key_inputs,
    row_problem,
)


def entries_by_case(cache: Path) -> dict[str, Path]:
    """Each case's entry file, by case id (the prediction path recorded in the row)."""
    found = {}
    for path in cache.rglob("*.json"):
        row = json.loads(path.read_text())["body"]["row"]
        found[Path(row["prediction_path"]).parent.name] = path
    return found


@pytest.fixture
def scored(release_tree, tmp_path):
    """(submission, cache folder, fresh cases without a cache, entries by case id)."""
    submission = write_submission(tmp_path / "sub")
    cache = tmp_path / "cache"
    fresh = score_folder(release_tree, submission, jobs=1, cache=None).cases
    first = score_folder(release_tree, submission, jobs=1, cache=cache).cases
    pd.testing.assert_frame_equal(fresh, first)
    entries = entries_by_case(cache)
    assert sorted(entries) == sorted(TEST_IDS)
    return submission, cache, fresh, entries


def rescore(release_tree, submission, cache, fresh):
    """Score again with the cache (an alarm fails a run that blocks); compare with fresh."""
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("scoring blocked on a cache entry"))
    signal.alarm(60)
    try:
        again = score_folder(release_tree, submission, jobs=1, cache=cache).cases
    finally:
        signal.alarm(0)
    columns = [c for c in fresh.columns if c != "warnings"]
    pd.testing.assert_frame_equal(fresh[columns], again[columns])
    return again.set_index("id")


def note_of(cases: pd.DataFrame, case_id: str) -> str:
    return cases.loc[case_id, "warnings"]


def test_an_edited_value_is_refused_and_the_right_number_comes_back(release_tree, scored):
    submission, cache, fresh, entries = scored
    entry = json.loads(entries["1"].read_text())
    right = entry["body"]["row"]["dice"]
    entry["body"]["row"]["dice"] = 1 - right  # the report's 0.775 -> 0.225
    entries["1"].write_text(json.dumps(entry))
    again = rescore(release_tree, submission, cache, fresh)
    assert again.loc["1", "dice"] == right
    assert "does not match its hash" in note_of(again, "1")
    assert str(entries["1"]) in note_of(again, "1")
    assert note_of(again, "3") == fresh.set_index("id").loc["3", "warnings"]
    # The bad entry was replaced by a good one: the next run uses it without a note.
    again = rescore(release_tree, submission, cache, fresh)
    assert "cache entry" not in note_of(again, "1")


def test_a_resealed_edit_is_refused_by_the_counts(release_tree, scored):
    """Someone who recomputes the hash still cannot make Dice disagree with the counts."""
    from wmheval.scoring.cache import _seal

    submission, cache, fresh, entries = scored
    entry = json.loads(entries["1"].read_text())
    entry["body"]["row"]["dice"] = 0.225
    entry["sha256"] = _seal(entry["body"])
    entries["1"].write_text(json.dumps(entry))
    again = rescore(release_tree, submission, cache, fresh)
    assert again.loc["1", "dice"] == fresh.set_index("id").loc["1", "dice"] != 0.225
    assert "is not the" in note_of(again, "1") and "its counts give" in note_of(again, "1")


def test_another_cases_entry_under_a_key_is_refused(release_tree, scored):
    submission, cache, fresh, entries = scored
    entries["1"].write_bytes(entries["3"].read_bytes())
    again = rescore(release_tree, submission, cache, fresh)
    expected = fresh.set_index("id")
    assert again.loc["1", "dice"] == expected.loc["1", "dice"]
    metrics = ["dice", "h95", "avd", "recall", "f1"]
    assert list(expected.loc["1", metrics]) != list(expected.loc["3", metrics])
    assert "belongs to another key" in note_of(again, "1")


@pytest.mark.parametrize("content, reason", [
    (b"{}", "not in the cache's format"),
    (b"", "not JSON"),
    (b"\x00\xff" * 10, "not JSON"),
    (b"[" * 100_000, "not JSON"),
    (b'{"status": "ok", "dice": 0.5}', "not in the cache's format"),
])
def test_damaged_entries_are_refused(release_tree, scored, content, reason):
    submission, cache, fresh, entries = scored
    entries["1"].write_bytes(content)
    again = rescore(release_tree, submission, cache, fresh)
    assert again.loc["1", "status"] == "ok"
    assert reason in note_of(again, "1")


@pytest.mark.parametrize("kind, reason", [
    ("fifo", "not a regular file but a FIFO"),
    ("devzero", "symbolic link"),
    ("link_to_good", "symbolic link"),
    ("folder", "not a regular file but a folder"),
    ("huge", f"more than the {MAX_ENTRY_BYTES}"),
])
def test_entries_that_are_not_small_regular_files_are_never_read(release_tree, scored, kind,
                                                                 reason):
    submission, cache, fresh, entries = scored
    target = entries["1"]
    good = target.with_name("elsewhere.json")
    target.rename(good)
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "devzero":
        os.symlink("/dev/zero", target)
    elif kind == "link_to_good":  # even a link to a right entry is not followed
        os.symlink(good, target)
    elif kind == "folder":
        target.mkdir()
    else:
        target.write_bytes(b" " * (MAX_ENTRY_BYTES + 1))
    again = rescore(release_tree, submission, cache, fresh)
    assert reason in note_of(again, "1")
    assert again.loc["1", "status"] == "ok"


def test_lookup_checks_the_inputs_against_the_key(tmp_path):
    cache = CaseCache(tmp_path)
    inputs = key_inputs("a" * 64, "b" * 64, {"rule": "official"})
    key = case_key("a" * 64, "b" * 64, {"rule": "official"})
    other = key_inputs("a" * 64, "c" * 64, {"rule": "official"})
    found = cache.lookup(key, other)
    assert isinstance(found, CacheMiss) and "not the hash" in found.reason
    assert cache.lookup(key, inputs) == CacheMiss("no entry", absent=True)


def good_row() -> dict:
    from wmheval.metrics.overlap import avd_from_counts, dice_from_counts

    return {"id": "1", "status": "ok", "dice": dice_from_counts(100, 90, 80), "h95": 2.0,
            "avd": avd_from_counts(100, 90), "recall": 0.5, "f1": 0.5, "precision": 0.8,
            "n_reference_voxels": 100, "n_prediction_voxels": 90, "n_reference_lesions": 4,
            "n_prediction_lesions": 2, "reference_ml": 0.1, "prediction_ml": 0.09,
            "reference_diagonal_mm": 300.0, "n_overlap_voxels": 80, "overlap_ml": 0.08,
            "prediction_path": "p", "error": "", "warnings": ""}


@pytest.mark.parametrize("change, reason", [
    ({"dice": 7.0}, "outside 0-1"),
    ({"h95": -1.0}, "negative"),
    ({"recall": math.inf}, "not a finite number"),
    ({"status": "error"}, "not a scored one"),
    ({"n_overlap_voxels": 95}, "larger than a mask"),
    ({"n_reference_voxels": 100.5}, "whole numbers"),
    ({"avd": 0.0}, "its counts give"),
    ({"dice": "0.9"}, "not a finite number"),
    ({"extra": 1}, "other columns"),
])
def test_row_problem_names_what_is_wrong(change, reason):
    assert row_problem(good_row()) is None
    problem = row_problem({**good_row(), **change})
    assert problem is not None and reason in problem


def test_a_row_round_trips_through_put_and_lookup(tmp_path):
    cache = CaseCache(tmp_path)
    inputs = key_inputs("a" * 64, None, {"rule": "official"})
    key = case_key("a" * 64, None, {"rule": "official"})
    row = {**good_row(), "precision": math.nan}
    cache.put(key, inputs, row)
    found = cache.lookup(key, inputs)
    assert math.isnan(found.pop("precision"))
    assert found == {k: v for k, v in row.items() if k != "precision"}
    cache.put(key, inputs, {**row, "dice": 0.1})  # an impossible row is never stored
    assert cache.lookup(key, inputs)["dice"] == row["dice"]
