"""The subject manifest: which scanner, split and grid each subject id belongs to."""

from __future__ import annotations

import functools
from pathlib import Path, PurePosixPath

import pandas as pd

from wmheval._resources import default_manifest_path

REQUIRED_COLUMNS = ("id", "split", "scanner", "seen_in_training")
SCANNER_ORDER = (
    "utrecht_philips_3t",
    "singapore_siemens_3t",
    "amsterdam_ge_3t",
    "amsterdam_ge_1p5t",
    "amsterdam_philips_3t",
)


class ManifestError(ValueError):
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
    table["seen_in_training"] = (
        table["seen_in_training"].astype(str).str.lower().isin(["true", "1", "yes"])
    )
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
