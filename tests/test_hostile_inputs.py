"""The seeded corpus of hostile tables, names, folders and figure sets (tests/hostile_corpus)
through rank, sensitivity, agreement and report on the command line (issue 33).

The same promises as ``score``: a clear error (exit 2) naming the file, or a result (exit
0/1) whose files people open are escaped; never a traceback; nothing written outside
``--out`` (the whole tmp tree is snapshotted, and the command runs from inside it so that a
relative escape would be seen); the inputs unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from hostile_corpus import HOSTILE_NAMES, folder_corpus, means_corpus
from report_fixtures import extra_figure_set
from test_agreement_analysis import _cases, _score_folder
from typer.testing import CliRunner

from wmheval.cli.main import app

runner = CliRunner()
MEANS = means_corpus()
FOLDERS = folder_corpus()
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def snapshot(root: Path, skip: Path) -> dict[str, tuple]:
    """Every entry under ``root`` but ``skip``: kind and content hash (FIFOs not opened)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == skip or skip in Path(folder).parents:
            dirs[:] = []
            continue
        for name in dirs + files:
            path = Path(folder) / name
            if path == skip:
                continue
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                digest = os.readlink(path)
            found[os.fsdecode(path)] = (stat.S_IFMT(info.st_mode), digest)
    return found


def run_hostile(tmp_path: Path, monkeypatch, args: list[str], out: Path, named: list[str]):
    """Run the command from inside ``tmp_path``; check the promises; return the result."""
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    before = snapshot(tmp_path, out)
    result = runner.invoke(app, args)
    after = snapshot(tmp_path, out)
    assert "Traceback" not in result.output, result.output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code in (0, 1, 2), result.output[-2000:]
    assert after == before, "written or changed outside --out: " + \
        str(sorted(set(after.items()) ^ set(before.items()))[:5])
    if result.exit_code == 2:
        message = result.output.strip().splitlines()[-1]
        assert message.startswith("error: ")
        assert any(name in message for name in named), message
    return result


def check_escaped_outputs(out: Path) -> None:
    """Every CSV cell a person may open is safe; Markdown has no raw HTML from a name."""
    for csv in out.rglob("*.csv"):
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
        for column in table.columns:
            assert not str(column).startswith(FORMULA_START), (csv, column)
            for cell in table[column]:
                assert not cell.startswith(FORMULA_START) or _number(cell), (csv, cell)
    for md in out.rglob("*.md"):
        text = md.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text, md


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def write_means(tmp_path: Path, data: bytes) -> Path:
    source = tmp_path / "in" / "means.csv"
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    return source


# --- rank -----------------------------------------------------------------------------------

@pytest.mark.parametrize("label, data", MEANS, ids=[label for label, _ in MEANS])
def test_rank_on_hostile_means_tables(tmp_path, monkeypatch, label, data):
    source = write_means(tmp_path, data)
    out = tmp_path / "out"
    result = run_hostile(tmp_path, monkeypatch, ["rank", str(source), "-o", str(out), "-q"],
                         out, [str(source)])
    if result.exit_code == 0:
        check_escaped_outputs(out)
        ranking = pd.read_csv(out / "ranking.csv", dtype=str, keep_default_na=False)
        assert len(ranking) >= 1
        notes = (out / "notes.md").read_text(encoding="utf-8")
        assert "case set unknown" in notes  # a user's table never claims the 110 subjects


@pytest.mark.parametrize("label, make", FOLDERS, ids=[label for label, _ in FOLDERS])
def test_rank_on_hostile_team_folders(tmp_path, monkeypatch, label, make):
    root = make(tmp_path / "in")
    out = tmp_path / "out"
    result = run_hostile(tmp_path, monkeypatch, ["rank", str(root), "-o", str(out), "-q"],
                         out, [str(root)])
    if result.exit_code == 0:
        check_escaped_outputs(out)
        assert len(pd.read_csv(out / "ranking.csv")) == 3  # no team vanished


def test_na_like_names_keep_their_rows_through_rank(tmp_path, monkeypatch):
    names = ["NA", "None", "null", "#N/A"]
    body = "team,dice,h95,avd,recall,f1\n" + "".join(
        f"{n},{0.6 + 0.1 * k:.1f},{4 - k},{15 - k},0.8,0.7\n" for k, n in enumerate(names))
    source = write_means(tmp_path, body.encode())
    out = tmp_path / "out"
    run_hostile(tmp_path, monkeypatch, ["rank", str(source), "-o", str(out), "-q"], out, [])
    ranking = pd.read_csv(out / "ranking.csv", dtype=str, keep_default_na=False)
    assert ranking["team"].tolist() == ["#N/A", "null", "None", "NA"]


def test_formula_and_html_names_are_escaped_in_what_rank_writes(tmp_path, monkeypatch):
    body = ("team,dice,h95,avd,recall,f1\n=cmd|' /C calc'!A0,0.8,3,10,0.9,0.8\n"
            "<script>alert(1)</script>,0.7,4,12,0.8,0.7\n@SUM(A1),0.6,5,14,0.7,0.6\n")
    source = write_means(tmp_path, body.encode())
    out = tmp_path / "out"
    run_hostile(tmp_path, monkeypatch, ["rank", str(source), "-o", str(out), "-q"], out, [])
    lines = (out / "ranking.csv").read_text().splitlines()
    assert any(",'=cmd|' /C calc'!A0," in line or line.startswith("'=cmd")
               or ",\"'=cmd" in line for line in lines), lines
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (out / "ranking.md").read_text()
    page = (out / "ranking.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


# --- sensitivity ---------------------------------------------------------------------------

SENSITIVITY = ["--bootstrap", "10", "--samples", "50", "-q"]


@pytest.mark.parametrize("label, make", FOLDERS, ids=[label for label, _ in FOLDERS])
def test_sensitivity_on_hostile_team_folders(tmp_path, monkeypatch, label, make):
    root = make(tmp_path / "in")
    out = tmp_path / "out"
    result = run_hostile(tmp_path, monkeypatch, ["sensitivity", str(root), "-o", str(out),
                                                 "--no-figures", *SENSITIVITY], out,
                         [str(root)])
    if result.exit_code == 0:
        check_escaped_outputs(out)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["$x$y$", "$\\alpha$", "\\frac{", "$", "团队",
                                  "<script>alert(1)</script>", "=cmd", "NA"])
def test_sensitivity_figures_draw_any_team_name(tmp_path, monkeypatch, name):
    body = "team,dice,h95,avd,recall,f1\nalpha,0.8,3,10,0.9,0.8\nbeta,0.6,6,20,0.7,0.6\n" \
        f"\"{name}\",0.7,4,15,0.8,0.7\n"
    source = write_means(tmp_path, body.encode())
    out = tmp_path / "out"
    result = run_hostile(tmp_path, monkeypatch, ["sensitivity", str(source), "-o", str(out),
                                                 *SENSITIVITY], out, [str(source)])
    assert result.exit_code == 0, result.output
    check_escaped_outputs(out)
    assert list(out.glob("*.png"))


# --- agreement -----------------------------------------------------------------------------

def _agreement_teams(root: Path) -> Path:
    _score_folder(root, "good", _cases(8, seed=5))
    _score_folder(root, "biased", _cases(8, seed=5, scale=1.5))
    return root


def _break(kind: str):
    def change(root: Path) -> None:
        target = root / "biased" / "cases.csv"
        if kind in ("folder", "fifo", "dangling", "devzero"):
            target.unlink()
            {"folder": target.mkdir, "fifo": lambda: os.mkfifo(target),
             "dangling": lambda: os.symlink(root / "gone", target),
             "devzero": lambda: os.symlink("/dev/zero", target)}[kind]()
        elif kind == "nul":
            target.write_bytes(target.read_bytes().replace(b"test", b"t\x00st", 1))
        elif kind == "latin1":
            target.write_bytes(target.read_bytes().replace(b"test", b"t\xe9st", 1))
        elif kind == "negative":
            table = pd.read_csv(target)
            table.loc[2, "reference_ml"] = -4.0
            table.to_csv(target, index=False)
        elif kind == "percent":
            table = pd.read_csv(target)
            table.loc[1, "dice"] = 71.0
            table.to_csv(target, index=False)
        else:  # a hostile team folder name
            os.rename(root / "biased", root / kind)
    return change


AGREEMENT_CASES = ["folder", "fifo", "dangling", "devzero", "nul", "latin1", "negative",
                   "percent", "=cmd", "<b>x", "$x$y$", "NA",
                   os.fsdecode(b"t\xe9am\xff")]


@pytest.mark.parametrize("kind", AGREEMENT_CASES, ids=[repr(k) for k in AGREEMENT_CASES])
def test_agreement_on_hostile_score_folders(tmp_path, monkeypatch, kind):
    root = _agreement_teams(tmp_path / "in" / "teams")
    _break(kind)(root)
    out = tmp_path / "out"
    result = run_hostile(tmp_path, monkeypatch, ["agreement", str(root), "-o", str(out),
                                                 "--no-figures"], out,
                         [str(root / "biased" / "cases.csv")])
    if kind in ("folder", "fifo", "dangling", "devzero", "nul", "latin1", "negative",
                "percent"):
        assert result.exit_code == 2, result.output
    else:
        assert result.exit_code in (0, 1), result.output
        check_escaped_outputs(out)
        teams = set(pd.read_csv(out / "agreement.csv", dtype=str,
                                keep_default_na=False).get("volumes_of", []))
        assert not teams or "good" in teams


# --- report ---------------------------------------------------------------------------------

def _hostile_extra(tmp_path: Path, kind: str) -> Path:
    folder = extra_figure_set(tmp_path / "in" / "set")
    (tmp_path / "in" / "secret.txt").write_text("SECRET")
    data = json.loads((folder / "figures.json").read_text())
    if kind == "link":
        os.symlink(tmp_path / "in" / "secret.txt", folder / "evil.csv")
        data["tables"][0]["csv"] = "evil.csv"
    else:
        data["tables"][0]["csv"] = kind
    (folder / "figures.json").write_text(json.dumps(data))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["../secret.txt", "/etc/passwd", "link"])
def test_report_refuses_extra_sets_reaching_outside(tmp_path, monkeypatch, kind):
    from wmheval._resources import published_leaderboard_path

    folder = _hostile_extra(tmp_path, kind)
    out = tmp_path / "out"
    result = run_hostile(tmp_path, monkeypatch, [
        "report", str(published_leaderboard_path()), "sysu_media_2", "pgs", "cian",
        "-o", str(out), "--samples", "50", "--bootstrap", "10", "-q", "--extra",
        str(folder)], out, [str(folder / "figures.json")])
    assert result.exit_code == 2, result.output
    assert not out.exists() or "SECRET" not in "".join(
        p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


def test_every_hostile_name_is_in_the_corpus_once():
    assert len(set(HOSTILE_NAMES)) == len(HOSTILE_NAMES)
