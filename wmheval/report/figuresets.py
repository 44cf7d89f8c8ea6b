"""Figure sets: a folder whose ``figures.json`` lists figures (and tables) to embed in the
report (contract 3; written by the ranking analysis and by other analyses)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from wmheval.errors import InputError
from wmheval.io.paths import display_path, kind_of

FIGURES_JSON = "figures.json"
MAX_FIGURES_JSON_BYTES = 1 << 20
MAX_FIGURE_FILE_BYTES = 64 << 20
"""Largest figures.json and largest file of a figure set read or copied."""
SUFFIXES = {"png": (".png",), "svg": (".svg",), "csv": (".csv",), "html": (".html", ".htm")}
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


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
    if not os.path.lexists(path):
        raise FigureSetError(f"{display_path(path)}: not found (a figure set needs a "
                             f"{FIGURES_JSON})")
    try:
        data = json.loads(read_regular_file(path, MAX_FIGURES_JSON_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise FigureSetError(f"{display_path(path)}: cannot read JSON ({error})") from None
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
        raise FigureSetError(f"{display_path(path)}: every entry must be an object, got "
                             f"{str(entry)[:80]!r}")
    missing = [key for key in required if not entry.get(key)]
    if missing:
        raise FigureSetError(f"{display_path(path)}: entry "
                             f"{str(entry.get('title', entry))[:80]!r} lacks "
                             f"{', '.join(missing)}")
    result = {"title": str(entry["title"]), "explanation": str(entry.get("explanation", ""))}
    for key in files:
        if entry.get(key):
            result[key] = inside_file(path, path.parent, entry[key], key)
    return result


def inside_file(listing: Path, folder: Path, name: object, key: str) -> Path:
    """The file ``name`` (a relative POSIX path from ``listing``) inside ``folder``: no
    absolute path, no ``..``, no symbolic link on the way, a regular file with the suffix
    of ``key`` and at most :data:`MAX_FIGURE_FILE_BYTES`; else a :class:`FigureSetError`
    naming ``listing`` and the entry (a figure set never reaches outside its folder)."""
    where = f"{display_path(listing)}: {key} file {str(name)[:120]!r}"
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name:
        raise FigureSetError(f"{where}: not a relative file name")
    relative = PurePosixPath(name)
    if relative.is_absolute() or any(part in ("..", "") for part in relative.parts) or \
            name.startswith("~"):
        raise FigureSetError(f"{where}: outside the figure set's folder (only files inside "
                             f"{display_path(folder)} are taken)")
    if relative.suffix.lower() not in SUFFIXES.get(key, (relative.suffix.lower(),)):
        raise FigureSetError(f"{where}: a {key} file must end in "
                             f"{' or '.join(SUFFIXES[key])}")
    current = Path(folder)
    for part in relative.parts:
        current = current / part
        try:
            info = os.lstat(current)
        except OSError:
            raise FigureSetError(f"{where}: not found") from None
        if stat.S_ISLNK(info.st_mode):
            raise FigureSetError(f"{where}: {display_path(current)} is a symbolic link "
                                 "(links are not followed)")
    if not stat.S_ISREG(info.st_mode):
        raise FigureSetError(f"{where}: not a regular file but {kind_of(info.st_mode)}")
    if info.st_size > MAX_FIGURE_FILE_BYTES:
        raise FigureSetError(f"{where}: {info.st_size} bytes, more than the "
                             f"{MAX_FIGURE_FILE_BYTES} a figure-set file may have")
    return current.absolute()


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device: opened
    with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat``) of at most ``max_bytes``."""
    try:
        handle = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        reason = "a symbolic link (links are not followed)" if os.path.islink(path) \
            else error.strerror
        raise FigureSetError(f"{display_path(path)}: cannot read: {reason}") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise FigureSetError(f"{display_path(path)}: not a regular file but "
                                 f"{kind_of(info.st_mode)}")
        if info.st_size > max_bytes:
            raise FigureSetError(f"{display_path(path)}: {info.st_size} bytes, more than "
                                 f"the {max_bytes} allowed")
        with os.fdopen(os.dup(handle), "rb") as stream:  # the size known: no large buffer
            data = stream.read(min(info.st_size, max_bytes) + 1)
            if len(data) > info.st_size:  # it grew while read
                data += stream.read(max_bytes + 1 - len(data))
    finally:
        os.close(handle)
    if len(data) > max_bytes:
        raise FigureSetError(f"{display_path(path)}: more than the {max_bytes} bytes allowed")
    return data
