"""A seeded corpus of hostile tables, team names and folders for the commands that read
them (rank, sensitivity, agreement, report): every entry must give a clear error or note
naming the file, no traceback, nothing written outside --out, inputs unchanged."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from ranking_fixtures import random_teams

HEADER = "team,dice,h95,avd,recall,f1\n"
GOOD = ["alpha,0.80,3.1,10.5,0.90,0.80", "beta,0.60,6.2,20.1,0.70,0.60",
        "gamma,0.70,4.4,15.0,0.80,0.70"]

HOSTILE_NAMES = [
    "", "   ", "x" * 100_000, "NA", "None", "null", "#N/A", "nan", "=cmd|' /C calc'!A0",
    "+1+1", "-2", "@SUM(A1)", "\tx", "<script>alert(1)</script>", "<img src=x onerror=1>",
    "$\\alpha$", "$\\\\alpha$", "$x$y$", "\\frac{", "$", "a|b", "**bold**", "../../etc/x",
    "/etc/passwd", "CON", "团队", "チーム", "😀" * 3, "a\u202eb", "é" * 300, "nul.txt",
]
"""Team names from participants; some are refused (empty, long, control characters)."""


def means_body(rows: list[str]) -> str:
    return HEADER + "\n".join(rows) + "\n"


def _name_row(name: str) -> str:
    quoted = '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n\r') \
        else name
    return f"{quoted},0.75,3.9,12.0,0.85,0.75"


def means_corpus(seed: int = 33) -> list[tuple[str, bytes]]:
    """(label, bytes of a means table): hostile names and cells, shuffled with ``seed``."""
    rng = random.Random(seed)
    entries = [(f"name {name[:20]!r}", means_body(GOOD + [_name_row(name)]).encode())
               for name in HOSTILE_NAMES]
    cells = ["abc", "inf", "-inf", "1e999", "80", "-3", "", "NaN", "0x10", "1,5", "  0.5 ",
             "=1+1", "None"]
    for cell in cells:
        quoted = f'"{cell}"' if "," in cell else cell
        entries.append((f"dice cell {cell!r}",
                        means_body(GOOD + [f"delta,{quoted},3,10,0.9,0.8"]).encode()))
        entries.append((f"h95 cell {cell!r}",
                        means_body(GOOD + [f"delta,0.7,{quoted},10,0.9,0.8"]).encode()))
    raw = means_body(GOOD).encode()
    entries += [
        ("NUL byte", raw.replace(b"beta", b"be\x00ta")),
        ("latin-1 byte", raw.replace(b"beta", b"b\xe9ta")),
        ("header only", HEADER.encode()),
        ("empty file", b""),
        ("BOM", b"\xef\xbb\xbf" + raw),
        ("CRLF", raw.replace(b"\n", b"\r\n")),
        ("duplicate team", means_body(GOOD + [GOOD[0]]).encode()),
        ("missing column", raw.replace(b",f1", b",other")),
        ("ragged row", raw + b"delta,0.5\n"),
        ("extra cells", raw + b"delta,0.5,1,2,0.3,0.4,9,9,9\n"),
        ("unclosed quote", raw + b'"delta,0.5,1,2,0.3,0.4\n'),
        ("only newlines", b"\n\n\n"),
        ("binary", bytes(rng.randrange(256) for _ in range(2000))),
        ("duplicate column", b"team,dice,dice,h95,avd,recall,f1\nalpha,0.5,0.5,1,2,0.3,0.4\n"),
        ("one team", means_body(GOOD[:1]).encode()),
    ]
    rng.shuffle(entries)
    return entries


def _team_root(root: Path) -> Path:
    return random_teams(root, n_teams=3, n_subjects=6, seed=1)


def _edit_cases(root: Path, team: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = root / team / "cases.csv"
    edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)


def _set(column: str, row: int, value: str):
    def edit(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[row, column] = value
        return table
    return edit


def folder_corpus() -> list[tuple[str, Callable[[Path], Path]]]:
    """(label, make(tmp) -> folder of team folders) with one hostile change each."""
    def make(change):
        def build(tmp: Path) -> Path:
            root = _team_root(tmp / "teams")
            change(root)
            return root
        return build

    def replace_cases(kind):
        def change(root: Path) -> None:
            target = root / "team1" / "cases.csv"
            target.unlink()
            if kind == "folder":
                target.mkdir()
            elif kind == "fifo":
                os.mkfifo(target)
            elif kind == "dangling":
                os.symlink(root / "gone.csv", target)
            else:
                os.symlink("/dev/zero", target)
        return change

    return [
        ("cases.csv is a folder", make(replace_cases("folder"))),
        ("cases.csv is a FIFO", make(replace_cases("fifo"))),
        ("cases.csv is a dangling link", make(replace_cases("dangling"))),
        ("cases.csv is a link to /dev/zero", make(replace_cases("devzero"))),
        ("non-UTF-8 team folder", make(lambda r: os.rename(
            r / "team2", r / os.fsdecode(b"t\xe9am\xff")))),
        ("team folder NA", make(lambda r: os.rename(r / "team2", r / "NA"))),
        ("team folder =cmd", make(lambda r: os.rename(r / "team2", r / "=cmd"))),
        ("team folder $x$y$", make(lambda r: os.rename(r / "team2", r / "$x$y$"))),
        ("unknown status", make(lambda r: _edit_cases(r, "team0", _set("status", 2,
                                                                          "great")))),
        ("status failed", make(lambda r: _edit_cases(r, "team0", _set("status", 2,
                                                                         "failed")))),
        ("Dice in percent", make(lambda r: _edit_cases(r, "team1", _set("dice", 3, "81")))),
        ("negative H95", make(lambda r: _edit_cases(r, "team1", _set("h95", 0, "-2")))),
        ("inf AVD", make(lambda r: _edit_cases(r, "team1", _set("avd", 0, "inf")))),
        ("text in recall", make(lambda r: _edit_cases(r, "team1", _set("recall", 1, "high")))),
        ("empty id", make(lambda r: _edit_cases(r, "team1", _set("id", 1, "")))),
        ("all-empty row, no status", make(lambda r: _edit_cases(r, "team0", lambda t: (
            t.drop(columns="status").assign(**{m: [""] + list(t[m][1:])
                                               for m in ("dice", "h95", "avd", "recall",
                                                         "f1")}))))),
        ("header-only cases.csv", make(lambda r: (r / "team0" / "cases.csv").write_text(
            (r / "team0" / "cases.csv").read_text().splitlines()[0] + "\n"))),
        ("NUL in cases.csv", make(lambda r: (r / "team0" / "cases.csv").write_bytes(
            (r / "team0" / "cases.csv").read_bytes().replace(b"test", b"te\x00st", 1)))),
    ]
