"""``report --extra SET`` takes only regular files inside the set's folder (issue 33 item 2)."""

from __future__ import annotations

import json
import os

import pytest
from report_fixtures import extra_figure_set

from wmheval.report.figuresets import FigureSetError, read_figure_set


def hostile_set(tmp_path, png=None, csv=None, figures_json=None):
    folder = extra_figure_set(tmp_path / "set")
    (tmp_path / "secret.txt").write_text("SECRET")
    data = json.loads((folder / "figures.json").read_text())
    if png is not None:
        data["figures"][0]["png"] = png
    if csv is not None:
        data["tables"][0]["csv"] = csv
    (folder / "figures.json").write_text(json.dumps(data) if figures_json is None
                                         else figures_json)
    return folder


@pytest.mark.parametrize("csv, reason", [
    ("../secret.txt", "outside the figure set's folder"),
    ("/etc/hostname", "outside the figure set's folder"),
    ("/etc/passwd", "outside the figure set's folder"),
    ("sub/../../secret.txt", "outside the figure set's folder"),
    ("~/x.csv", "outside the figure set's folder"),
    ("numbers.txt", "must end in .csv"),
    ("..\\secret.csv", "not a relative file name"),
    (["numbers.csv"], "not a relative file name"),
])
def test_names_outside_the_folder_are_refused(tmp_path, csv, reason):
    folder = hostile_set(tmp_path, csv=csv)
    with pytest.raises(FigureSetError) as error:
        read_figure_set(folder)
    assert str(folder / "figures.json") in str(error.value)
    assert reason in str(error.value)


@pytest.mark.parametrize("kind, reason", [
    ("link_out", "is a symbolic link"),
    ("link_in", "is a symbolic link"),
    ("folder_link", "is a symbolic link"),
    ("fifo", "not a regular file but a FIFO"),
    ("folder", "not a regular file but a folder"),
    ("devzero", "is a symbolic link"),
])
def test_links_fifos_and_folders_are_refused(tmp_path, kind, reason):
    folder = hostile_set(tmp_path, csv="evil.csv" if kind != "folder_link" else "up/x.csv")
    target = folder / "evil.csv"
    if kind == "link_out":
        os.symlink(tmp_path / "secret.txt", target)
    elif kind == "link_in":
        os.symlink(folder / "numbers.csv", target)
    elif kind == "folder_link":
        (tmp_path / "x.csv").write_text("a\n1\n")
        os.symlink(tmp_path, folder / "up")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        os.symlink("/dev/zero", target)
    with pytest.raises(FigureSetError) as error:
        read_figure_set(folder)
    assert reason in str(error.value)


@pytest.mark.parametrize("kind", ["fifo", "link", "huge", "deep"])
def test_a_hostile_figures_json_is_refused(tmp_path, kind):
    folder = extra_figure_set(tmp_path / "set")
    listing = folder / "figures.json"
    listing.unlink()
    if kind == "fifo":
        os.mkfifo(listing)
    elif kind == "link":
        (tmp_path / "other.json").write_text("[]")
        os.symlink(tmp_path / "other.json", listing)
    elif kind == "huge":
        listing.write_text("[" + " " * (2 << 20) + "]")
    else:
        listing.write_text("[" * 100_000)
    with pytest.raises(FigureSetError) as error:
        read_figure_set(folder)
    assert str(listing) in str(error.value)


def test_a_good_set_still_reads(tmp_path):
    folder = extra_figure_set(tmp_path / "set")
    figure_set = read_figure_set(folder)
    assert figure_set.figures[0]["png"] == folder / "line.png"
    assert figure_set.tables[0]["csv"] == folder / "numbers.csv"
