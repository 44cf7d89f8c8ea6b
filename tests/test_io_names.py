"""Labels never become paths (issue 33 item 1): one function makes every file name."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_agreement_analysis import _segmentation_folders
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.io.names import MAX_NAME_LENGTH, safe_file_name

labels = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list("./\\\0:.-_ aAzZ09\n\t$=")), max_size=40),
    st.sampled_from(["..", ".", "", "/", "CON", "nul.txt", "com1", "LPT9.x", "-rf",
                     "../../../../tmp/x", "/etc/passwd", "a_b-12345678"]),
    st.binary(max_size=30).map(os.fsdecode),  # non-UTF-8 folder names (surrogates)
)


def assert_one_safe_component(name: str, folder: Path) -> None:
    assert name and len(name) <= MAX_NAME_LENGTH
    assert Path(name).name == name and len(Path(name).parts) == 1
    assert (folder / name).resolve().parent == folder.resolve()
    assert name not in (".", "..") and ".." not in name
    assert not name.startswith((".", "-")) and not name.endswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert name.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "com1", "lpt9"}


@settings(max_examples=400, deadline=None)
@given(label=labels)
def test_any_label_is_one_safe_component_inside_the_folder(label, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp()
    assert_one_safe_component(safe_file_name(label), folder)


@settings(max_examples=200, deadline=None)
@given(label_list=st.lists(labels, unique=True, max_size=20))
def test_distinct_labels_give_distinct_names_ignoring_case(label_list):
    taken: set[str] = set()
    names = [safe_file_name(label, taken) for label in label_list]
    assert len({n.lower() for n in names}) == len(label_list)
    assert taken == {n.lower() for n in names}


@settings(max_examples=200, deadline=None)
@given(first=labels, second=labels)
def test_distinct_labels_differ_even_without_a_taken_set(first, second):
    """Cleaning alone (``a/b`` and ``a:b``) never merges two labels: the hash tells them
    apart (case aside, which needs the taken set of one folder)."""
    if first != second:
        assert safe_file_name(first) != safe_file_name(second)


@pytest.mark.parametrize("label, expected", [
    ("alpha", "alpha"), ("team_2.v1", "team_2.v1"),  # safe labels are kept as they are
])
def test_safe_labels_are_unchanged(label, expected):
    assert safe_file_name(label) == expected


def test_altered_labels_keep_a_readable_base_and_a_hash():
    name = safe_file_name("../../../../tmp/x")
    assert name.startswith("tmp_x-") and len(name) == len("tmp_x-") + 8
    assert safe_file_name("CON").startswith("CON_-")
    assert len(safe_file_name("a" * 10_000)) == MAX_NAME_LENGTH
    # A participant cannot take the name another label was given.
    assert safe_file_name(safe_file_name("a/b")) != safe_file_name("a/b")


@pytest.mark.parametrize("name", ["../../../../escaped", "/ABS/escaped", "..", "",
                                  "a/../../escaped"])
def test_agreement_name_never_writes_outside_out(tmp_path, name):
    mri, ct = _segmentation_folders(tmp_path / "in")
    work = tmp_path / "work" / "deep" / "er" / "still"
    work.mkdir(parents=True)
    out = work / "out"
    before = {p for p in tmp_path.rglob("*")}
    absolute = name.replace("/ABS", str(tmp_path))
    result = CliRunner().invoke(app, ["agreement", str(ct), "--reference", str(mri),
                                      "--out", str(out), "--name", absolute, "-j", "1",
                                      "--no-figures"])
    assert "Traceback" not in result.output and result.exit_code == 1, result.output
    new = {p for p in tmp_path.rglob("*")} - before
    assert new and all(p == out or out in p.parents for p in new), sorted(new)
    pairs = [p for p in (out / "pairs").iterdir()]
    assert len(pairs) == 1 and (pairs[0] / "cases.csv").is_file()
    assert pd.read_csv(pairs[0] / "cases.csv")["id"].astype(str).tolist()[:1] == ["0"]
