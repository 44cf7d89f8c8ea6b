"""The subject manifest: which scanner, split and grid each subject id belongs to."""

from __future__ import annotations

import functools
from pathlib import Path, PurePosixPath

import pandas as pd

from wmheval._resources import default_manifest_path
from wmheval.errors import InputError
from wmheval.vocabulary import SCANNER_ORDER, seen_flags  # noqa: F401  (re-exported)

REQUIRED_COLUMNS = ("id", "split", "scanner", "seen_in_training")


GRID_COLUMNS = ("shape_x", "shape_y", "shape_z", "spacing_x", "spacing_y", "spacing_z")
"""Columns recording each subject's FLAIR grid (size and spacing in x, y, z)."""
SPACING_TOLERANCE_MM = 0.01
"""Spacing agreement needed to match a manifest's grid (it records spacings to 0.01 mm)."""
DATA_MANIFEST_NAMES = ("data_manifest.csv", "synth_manifest.csv")
"""Manifests a reference folder may carry at its top (``wmheval synth`` writes
``synth_manifest.csv``); one found there applies to its subjects by id."""


class ManifestError(InputError):
    """The manifest file is missing columns or has duplicate ids."""


def load_manifest(path: str | Path | None = None) -> pd.DataFrame:
    """Read a subject manifest (default: the bundled 170-subject ``data_manifest.csv``).

    A user manifest needs at least the columns ``id``, ``split``, ``scanner`` and
    ``seen_in_training``; ids are kept as strings. The result is indexed by id.
    """
    path = Path(path) if path is not None else default_manifest_path()
    try:
        table = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read manifest: {error}") from error
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ManifestError(f"{path}: manifest lacks columns {missing}")
    duplicated = table["id"][table["id"].duplicated()].tolist()
    if duplicated:
        raise ManifestError(f"{path}: duplicate subject ids {duplicated[:5]}")
    # A manifest states every subject's status: anything not true is read as unseen.
    table["seen_in_training"] = seen_flags(table["seen_in_training"]).fillna(False).astype(bool)
    return table.set_index("id", drop=False)


@functools.cache
def release_folder_scanners() -> dict[tuple[str, ...], str]:
    """Scanner of each site[/scanner] folder of the release, from the bundled manifest.

    Keys are the folders between the split and the subject id, e.g. ``("Utrecht",)`` or
    ``("Amsterdam", "Philips_VU .PETMR_01.")``.
    """
    table = load_manifest()
    return {tuple(PurePosixPath(path).parts[1:-1]): str(scanner)
            for path, scanner in zip(table["release_path"], table["scanner"], strict=True)}


def manifest_grid(manifest: pd.DataFrame, case_id: str
                  ) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
    """The (size, spacing) the manifest records for ``case_id``, or None if it records none."""
    if case_id not in manifest.index or not all(c in manifest.columns for c in GRID_COLUMNS):
        return None
    row = manifest.loc[case_id]
    try:
        size = tuple(int(row[c]) for c in GRID_COLUMNS[:3])
        spacing = tuple(float(row[c]) for c in GRID_COLUMNS[3:])
    except (TypeError, ValueError):
        return None
    return size, spacing


def grid_matches(manifest: pd.DataFrame, case_id: str, size: tuple[int, ...],
                 spacing: tuple[float, ...]) -> bool:
    """Whether an image grid is the one the manifest records for ``case_id`` (same size,
    spacing within :data:`SPACING_TOLERANCE_MM`)."""
    recorded = manifest_grid(manifest, case_id)
    if recorded is None:
        return False
    return tuple(size) == recorded[0] and all(
        abs(float(a) - b) <= SPACING_TOLERANCE_MM for a, b in zip(spacing, recorded[1],
                                                                  strict=True))


def find_data_manifest(reference_dir: str | Path) -> Path | None:
    """A manifest shipped inside a reference folder (e.g. a synthetic challenge's), or None."""
    for name in DATA_MANIFEST_NAMES:
        path = Path(reference_dir) / name
        if path.is_file():
            return path
    return None
