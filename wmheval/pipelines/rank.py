"""``wmheval rank``: load a field, rank it, write one output set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wmheval.io.outputs import output_set
from wmheval.pipelines.inputs import Addition, Note, input_paths, load_team_field
from wmheval.ranking.leaderboard import rank_field, write_policy_notes, write_ranking


@dataclass
class RankOutput:
    """What :func:`rank_to_dir` produced: the ranking table and the files (final paths)."""

    ranking: pd.DataFrame
    written: list[Path]


def rank_to_dir(source: str | Path, out: str | Path, *, teams: Sequence[str] | None = None,
                add: Sequence[Addition] = (), split: str = "all", weights=None,
                missing: str | None = None, undefined: str | None = None, policy=None,
                manifest=None, on_note: Note | None = None) -> RankOutput:
    """What ``wmheval rank`` does: load ``source`` (:func:`load_team_field`), rank it, and
    write ``out/ranking.{csv,md,tex,html}`` and ``out/notes.md`` as one output set.

    ``weights``: None (equal, the challenge's rule), five numbers, or a mapping metric ->
    weight. ``on_note(text)`` receives every loading note (left-out rows, absent rows,
    non-comparable teams).
    """
    out = Path(out)
    inputs = input_paths(source, add, manifest=manifest
                         if not isinstance(manifest, pd.DataFrame) else None)
    options = {"split": split, "weights": weights, "missing": missing,
               "undefined": undefined, "teams": list(teams or [])}
    with output_set(out, command="rank", inputs=inputs, options=options) as staging:
        field = load_team_field(source, teams=teams, add=add, split=split, missing=missing,
                                undefined=undefined, policy=policy, manifest=manifest,
                                on_note=on_note)
        ranking = rank_field(field, weights)
        label = "all subjects" if split == "all" else f"split {split}"
        caption = f"WMH challenge ranking ({label}; policy {field.policy.name})"
        paths = write_ranking(ranking, staging, caption=caption)
        paths.append(write_policy_notes(field, staging))
    return RankOutput(ranking, [out / p.relative_to(staging) for p in paths])
