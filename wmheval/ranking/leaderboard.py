"""The challenge ranking of a field as a table, and writing it (CSV, Markdown, LaTeX, HTML)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.io.tables import TABLE_FORMATS, write_table_formats
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import COUNT_COLUMNS, Field
from wmheval.ranking.minmax import minmax_ranking, normalise_weights


def rank_field(field: Field, weights=None) -> pd.DataFrame:
    """The official ranking: one row per team, best first.

    Columns: ``position, team, score`` (weighted mean relative rank, lower is better), the
    per-metric means used for ranking ``dice, h95, avd, recall, f1`` (under the field's
    policy), the means over scored values ``<metric>_scored`` for the metrics where any
    team's differ, the per-metric relative ranks ``rank_<metric>``, the counts ``n_cases,
    n_missing, n_undefined, n_imputed``, ``comparable`` (the team covers the field's case
    set) and, for a published leaderboard, ``published_position, published_score``.
    ``weights``: None (equal, the challenge's rule), five numbers, or a mapping metric ->
    weight.
    """
    w = normalise_weights(weights, METRICS)
    rel, scores, positions = minmax_ranking(field.metric_means(), w, METRICS)
    table = pd.DataFrame({"position": positions, "team": list(field.teams), "score": scores})
    for metric in METRICS:
        table[metric] = field.means[metric].to_numpy(dtype=float)
    for metric in METRICS:
        column = f"{metric}_scored"
        if column in field.means and _differs(field.means[column], field.means[metric]):
            table[column] = field.means[column].to_numpy(dtype=float)
    for j, metric in enumerate(METRICS):
        table[f"rank_{metric}"] = rel[:, j]
    for column in COUNT_COLUMNS:
        table[column] = field.means[column].to_numpy() if column in field.means else np.nan
    table["comparable"] = (field.means["comparable"].to_numpy(dtype=bool)
                           if "comparable" in field.means else True)
    if field.published is not None:
        published = field.published.reindex(table["team"])
        for column in published.columns:
            table[column] = published[column].to_numpy()
    order = np.lexsort((table["team"].to_numpy(), table["position"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _differs(a: pd.Series, b: pd.Series) -> bool:
    """Whether two columns of means differ anywhere (NaN equal to NaN)."""
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    return not np.allclose(x, y, rtol=1e-12, atol=0.0, equal_nan=True)


def write_ranking(ranking: pd.DataFrame, out_dir: str | Path, stem: str = "ranking",
                  caption: str | None = None) -> list[Path]:
    """Write ``out_dir/<stem>.{csv,md,tex,html}`` atomically; returns the paths."""
    out_dir = Path(out_dir)
    shown = ranking.copy()
    for column in COUNT_COLUMNS:
        if column in shown and shown[column].isna().all():
            shown = shown.drop(columns=column)
    return write_table_formats(shown, out_dir / stem, TABLE_FORMATS, caption=caption)


def write_policy_notes(field: Field, out_dir: str | Path) -> Path:
    """Write ``out_dir/notes.md``: the policy (:func:`describe_policy`), the case set, and
    every note loading the field produced (left-out rows, absent rows, comparability)."""
    from wmheval.io.atomic import write_text_atomic
    from wmheval.scoring.policy import describe_policy

    lines = ["# How this ranking was computed", "", describe_policy(field.policy), ""]
    if field.case_ids is not None:
        lines += [f"Case set: {len(field.case_ids)} {field.case_label or 'subjects'}.", ""]
    if field.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in field.notes] + [""]
    return write_text_atomic(Path(out_dir) / "notes.md", "\n".join(lines))
