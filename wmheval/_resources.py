"""Locating the data files the package ships (subject manifest, published leaderboard)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# Installed wheels carry the files in wmheval/_data; a source checkout keeps them at the top.
_CANDIDATES = {
    "data_manifest.csv": ("_data/data_manifest.csv", "../data_manifest.csv"),
    "wmh2017_leaderboard.csv": (
        "_data/wmh2017_leaderboard.csv",
        "../leaderboard/wmh2017_leaderboard.csv",
    ),
}


def resource_path(name: str) -> Path:
    """Path of a shipped data file, from an installed wheel or a source checkout."""
    for relative in _CANDIDATES[name]:
        path = (_PACKAGE_DIR / relative).resolve()
        if path.is_file():
            return path
    raise FileNotFoundError(f"shipped data file {name} not found; is wmheval installed fully?")


def default_manifest_path() -> Path:
    """The bundled ``data_manifest.csv`` (all 170 subjects of the 2017 release)."""
    return resource_path("data_manifest.csv")


def published_leaderboard_path() -> Path:
    """The bundled published leaderboard (57 teams, December 2022)."""
    return resource_path("wmh2017_leaderboard.csv")
