"""Loading a field of teams the way ``rank``, ``sensitivity`` and ``report`` all do: one
prelude, written once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from wmheval.ranking.inputs import Field, prepare_field

Note = Callable[[str], None]
Addition = tuple[str | Path, str | None]


def manifest_table(manifest: str | Path | pd.DataFrame | None) -> pd.DataFrame | None:
    """A manifest table from a path (None and tables pass through)."""
    if manifest is None or isinstance(manifest, pd.DataFrame):
        return manifest
    from wmheval.io.manifest import load_manifest

    return load_manifest(manifest)


def load_team_field(source: str | Path, *, teams: Sequence[str] | None = None,
                    add: Sequence[Addition] = (), split: str = "all",
                    missing: str | None = None, undefined: str | None = None, policy=None,
                    manifest: str | Path | pd.DataFrame | None = None,
                    on_note: Note | None = None) -> Field:
    """Load ``source``, insert the ``add`` teams, restrict to ``teams`` (added teams always
    stay) and pass every loading note to ``on_note``.

    ``source``: a means table (e.g. the published leaderboard), a folder of team folders
    with ``cases.csv``, or a long per-case CSV with a ``team`` column. ``add``: pairs
    (score output folder or cases.csv, name or None). ``missing``/``undefined`` override
    ``policy`` (default :data:`~wmheval.scoring.policy.DEFAULT_POLICY`); ``manifest`` (a
    path or table) maps ids of tables without scanner/split columns.
    """
    field = prepare_field(source, teams, add, split, missing, undefined,
                          manifest_table(manifest), policy)
    if on_note is not None:
        for note in field.notes:
            on_note(note)
    return field


def input_paths(source: str | Path, add: Sequence[Addition] = (),
                **others: str | Path | None) -> dict[str, Path]:
    """The inputs to hash for the output set's manifest and the report's provenance:
    ``input``, ``add_1``..., then the named others that were given."""
    inputs = {"input": Path(source)}
    for k, (path, _) in enumerate(add, start=1):
        inputs[f"add_{k}"] = Path(path)
    inputs.update({name: Path(path) for name, path in others.items() if path is not None})
    return inputs
