"""Loading a field of teams the way ``rank``, ``sensitivity`` and ``report`` all do: one
prelude, written once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from wmheval.errors import InputError
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
                    on_note: Note | None = None,
                    allow_mixed_scoring: bool = False) -> Field:
    """Load ``source``, insert the ``add`` teams, restrict to ``teams`` (added teams always
    stay) and pass every loading note to ``on_note``.

    ``source``: a means table (e.g. the published leaderboard), a folder of team folders
    with ``cases.csv``, or a long per-case CSV with a ``team`` column. ``add``: pairs
    (score output folder or cases.csv, name or None). ``missing``/``undefined`` override
    ``policy`` (default :data:`~wmheval.scoring.policy.DEFAULT_POLICY`); ``manifest`` (a
    path or table) maps ids of tables without scanner/split columns.

    Teams not scored alike (:func:`scoring_differences`: another reference or another
    binarisation rule in their score folders' manifests) raise :class:`MixedScoringError`
    unless ``allow_mixed_scoring``; then the field carries a note saying what differs.
    """
    field = prepare_field(source, teams, add, split, missing, undefined,
                          manifest_table(manifest), policy)
    differences = scoring_differences(field)
    if differences and not allow_mixed_scoring:
        raise MixedScoringError("the teams were not scored alike: " + "; ".join(differences)
                                + ". Score them again with the same reference and "
                                "--binarize, or pass --allow-mixed-scoring to rank them "
                                "together anyway (the outputs then say so)")
    if differences:
        field = replace(field, notes=(*field.notes, MIXED_SCORING_NOTE + "; ".join(
            differences)))
    if on_note is not None:
        for note in field.notes:
            on_note(note)
    return field


class MixedScoringError(InputError):
    """Teams scored against different references or with different binarisation rules are
    ranked together without ``allow_mixed_scoring`` (exit 2)."""


MIXED_SCORING_NOTE = ("WARNING: teams not scored alike, ranked together because "
                      "--allow-mixed-scoring was given: ")
"""The start of the note a field ranked despite mixed scoring carries (notes.md, HTML)."""


def _short(digest: str) -> str:
    return digest[:12] if digest else "unknown"


def _grouped(values: dict[str, str]) -> str:
    """``value (team, team); value (team)`` in first-seen order."""
    groups: dict[str, list[str]] = {}
    for team, value in values.items():
        groups.setdefault(value, []).append(team)
    return "; ".join(f"{value} ({', '.join(teams)})" for value, teams in groups.items())


def scoring_differences(field: Field) -> list[str]:
    """How the teams of ``field`` were scored differently, read from the
    ``wmheval_manifest.json`` of each team's score folder: the binarisation rule
    (``--binarize``), and the reference's hash among teams scored on the same subjects
    (a different subject set hashes another part of the same reference). Teams without a
    score manifest (hand-made tables, means) are not compared. Empty: scored alike."""
    from wmheval.io.outputs import MANIFEST_NAME

    cases = field.input_cases if field.input_cases is not None else field.cases
    if cases is None or "score_folder" not in cases:
        return []
    cases = cases[cases["team"].isin(field.teams)]
    rules: dict[str, str] = {}
    references: dict[frozenset, dict[str, str]] = {}
    for team, rows in cases.groupby("team", sort=False):
        folder = Path(str(rows["score_folder"].iloc[0]))
        try:
            manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(manifest, dict) or manifest.get("command") != "score":
            continue
        options = manifest.get("options") or {}
        inputs = manifest.get("inputs") or {}
        rules[str(team)] = str(options.get("rule", "official"))
        reference = inputs.get("reference") or {}
        ids = frozenset(rows["id"].astype(str))
        references.setdefault(ids, {})[str(team)] = _short(str(reference.get("sha256", "")))
    differences = []
    if len(set(rules.values())) > 1:
        differences.append(f"binarisation rule (--binarize) differs: {_grouped(rules)}")
    for hashes in references.values():
        if len(set(hashes.values())) > 1:
            differences.append("reference differs (sha256 of the reference cases scored): "
                               + _grouped(hashes))
    return differences


def input_paths(source: str | Path, add: Sequence[Addition] = (),
                **others: str | Path | None) -> dict[str, Path]:
    """The inputs to hash for the output set's manifest and the report's provenance:
    ``input``, ``add_1``..., then the named others that were given."""
    inputs = {"input": Path(source)}
    for k, (path, _) in enumerate(add, start=1):
        inputs[f"add_{k}"] = Path(path)
    inputs.update({name: Path(path) for name, path in others.items() if path is not None})
    return inputs
