"""Figure sets: a folder whose ``figures.json`` lists figures (and tables) to embed in the
report (contract 3; written by the ranking analysis and by other analyses)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from wmheval.errors import InputError

FIGURES_JSON = "figures.json"


class FigureSetError(InputError):
    """A figures.json cannot be used (the message names the file and the problem)."""


@dataclass(frozen=True)
class FigureSet:
    """The figures (title, explanation, png, svg) and tables (title, csv, html) of a folder;
    paths are absolute."""

    folder: Path
    title: str
    figures: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)


def read_figure_set(folder: str | Path, title: str | None = None) -> FigureSet:
    """Read ``folder/figures.json``: a list of ``{"title", "explanation", "png", "svg"}``,
    or an object ``{"title", "figures": [...], "tables": [{"title", "csv", "html"}, ...]}``
    (the set's title defaults to the folder's name, ``load_groups`` read as "Load groups";
    a list entry may also carry its own "tables"). Paths are relative to the folder; each must
    exist. Raises :class:`FigureSetError` naming the file and the problem."""
    folder = Path(folder)
    path = folder / FIGURES_JSON
    if not path.is_file():
        raise FigureSetError(f"{path}: not found (a figure set needs a {FIGURES_JSON})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FigureSetError(f"{path}: cannot read JSON ({error})") from None
    default_title = folder.name.replace("_", " ").replace("-", " ").capitalize()
    if isinstance(data, list):
        figures, tables = data, [t for entry in data if isinstance(entry, dict)
                                 for t in entry.get("tables", [])]
    elif isinstance(data, dict):
        figures, tables = data.get("figures", []), data.get("tables", [])
        default_title = str(data.get("title") or default_title)
    else:
        raise FigureSetError(f"{path}: expected a list of figures or an object with "
                             "'figures'")
    checked_figures = [_checked(path, entry, ("title", "png"), ("png", "svg"))
                       for entry in figures]
    checked_tables = [_checked(path, entry, ("title",), ("csv", "html")) for entry in tables]
    return FigureSet(folder, title or default_title, checked_figures, checked_tables)


def _checked(path: Path, entry, required: tuple[str, ...], files: tuple[str, ...]) -> dict:
    if not isinstance(entry, dict):
        raise FigureSetError(f"{path}: every entry must be an object, got {entry!r}")
    missing = [key for key in required if not entry.get(key)]
    if missing:
        raise FigureSetError(f"{path}: entry {entry.get('title', entry)!r} lacks "
                             f"{', '.join(missing)}")
    result = {"title": str(entry["title"]), "explanation": str(entry.get("explanation", ""))}
    for key in files:
        if entry.get(key):
            target = (path.parent / str(entry[key])).resolve()
            if not target.is_file():
                raise FigureSetError(f"{path}: {key} file {entry[key]!r} of "
                                     f"{entry['title']!r} not found")
            result[key] = target
    return result
