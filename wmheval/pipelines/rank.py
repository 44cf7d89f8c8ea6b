"""``wmheval rank``: load a field, rank it, write one output set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wmheval.io.atomic import write_text_atomic
from wmheval.io.outputs import output_set
from wmheval.io.tables import write_table_formats
from wmheval.pipelines.inputs import (
    MIXED_SCORING_NOTE,
    Addition,
    Note,
    input_paths,
    load_team_field,
)
from wmheval.ranking.inputs import Field
from wmheval.ranking.leaderboard import (
    policy_notes,
    rank_field,
    ranking_html,
    ranking_latex,
    shown_ranking,
)


def write_ranking(ranking: pd.DataFrame, out_dir: str | Path, stem: str = "ranking",
                  caption: str | None = None) -> list[Path]:
    """Write ``out_dir/<stem>.{csv,md,tex,html}`` atomically (count columns empty for every
    team left out); returns the paths. CSV and Markdown hold every column; the LaTeX is
    paper-width with details tables after it
    (:func:`~wmheval.ranking.leaderboard.ranking_latex`); the HTML marks a non-comparable
    team's row (:func:`~wmheval.ranking.leaderboard.ranking_html`)."""
    out_dir = Path(out_dir)
    shown = shown_ranking(ranking)
    paths = write_table_formats(shown, out_dir / stem, ("csv", "md"), caption=caption)
    label = "tab:" + stem.replace("_", "-")
    paths.append(write_text_atomic(out_dir / f"{stem}.tex",
                                   ranking_latex(shown, caption, label)))
    paths.append(write_text_atomic(out_dir / f"{stem}.html", ranking_html(shown, caption)))
    return paths


def write_policy_notes(field: Field, out_dir: str | Path) -> Path:
    """Write ``out_dir/notes.md``: how the ranking was computed
    (:func:`wmheval.ranking.leaderboard.policy_notes`)."""
    return write_text_atomic(Path(out_dir) / "notes.md", policy_notes(field))


@dataclass
class RankOutput:
    """What :func:`rank_to_dir` produced: the ranking table and the files (final paths)."""

    ranking: pd.DataFrame
    written: list[Path]


def rank_to_dir(source: str | Path, out: str | Path, *, teams: Sequence[str] | None = None,
                add: Sequence[Addition] = (), split: str = "all", weights=None,
                missing: str | None = None, undefined: str | None = None, policy=None,
                manifest=None, on_note: Note | None = None,
                allow_mixed_scoring: bool = False) -> RankOutput:
    """What ``wmheval rank`` does: load ``source`` (:func:`load_team_field`), rank it, and
    write ``out/ranking.{csv,md,tex,html}`` and ``out/notes.md`` as one output set.

    ``weights``: None (equal, the challenge's rule), five numbers, or a mapping metric ->
    weight. ``on_note(text)`` receives every loading note (left-out rows, absent rows,
    non-comparable teams). ``allow_mixed_scoring``: rank teams scored against different
    references or binarisation rules (refused otherwise), with a warning in notes.md and
    the tables' caption.
    """
    out = Path(out)
    inputs = input_paths(source, add, manifest=manifest
                         if not isinstance(manifest, pd.DataFrame) else None)
    options = {"split": split, "weights": weights, "missing": missing,
               "undefined": undefined, "teams": list(teams or [])}
    if allow_mixed_scoring:
        options["allow_mixed_scoring"] = True
    with output_set(out, command="rank", inputs=inputs, options=options) as staging:
        field = load_team_field(source, teams=teams, add=add, split=split, missing=missing,
                                undefined=undefined, policy=policy, manifest=manifest,
                                on_note=on_note, allow_mixed_scoring=allow_mixed_scoring)
        ranking = rank_field(field, weights)
        label = "all subjects" if split == "all" else f"split {split}"
        caption = f"WMH challenge ranking ({label}; policy {field.policy.name})"
        mixed = [n for n in field.notes if n.startswith(MIXED_SCORING_NOTE)]
        if mixed:
            caption += ". " + mixed[0]
        paths = write_ranking(ranking, staging, caption=caption)
        paths.append(write_policy_notes(field, staging))
    return RankOutput(ranking, [out / p.relative_to(staging) for p in paths])
