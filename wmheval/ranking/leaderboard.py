"""The challenge ranking of a field as a table (written by :mod:`wmheval.pipelines.rank`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wmheval.ranking.inputs import COUNT_COLUMNS, Field
from wmheval.ranking.minmax import minmax_ranking, normalise_weights
from wmheval.vocabulary import METRIC_NAMES as METRICS


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


def shown_ranking(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking as tables show it: count columns that are empty for every team (a
    means-only field) left out."""
    shown = ranking.copy()
    for column in COUNT_COLUMNS:
        if column in shown and shown[column].isna().all():
            shown = shown.drop(columns=column)
    return shown


PAPER_COLUMNS = ("position", "team", "score", *METRICS)
"""The columns of the paper-width LaTeX table (the rest go to the details tables)."""
DETAIL_COLUMNS_PER_TABLE = 7
"""Columns (besides the team) per details table of ranking.tex, so each fits a page."""
NONCOMPARABLE_MARK = "not comparable"
"""The flag after a team's name in the HTML ranking when it was scored on other subjects."""


def ranking_latex(shown: pd.DataFrame, caption: str | None, label: str) -> str:
    """LaTeX of a ranking for a paper: a paper-width table first (:data:`PAPER_COLUMNS`:
    position, team, score and the five metrics), the other columns in details tables of
    at most :data:`DETAIL_COLUMNS_PER_TABLE` columns after it (each with the team)."""
    from wmheval.io.tables import render_latex

    main = [c for c in PAPER_COLUMNS if c in shown]
    rest = [c for c in shown.columns if c not in main]
    parts = [render_latex(shown[main], caption, label)]
    for k in range(0, len(rest), DETAIL_COLUMNS_PER_TABLE):
        chunk = rest[k:k + DETAIL_COLUMNS_PER_TABLE]
        number = k // DETAIL_COLUMNS_PER_TABLE + 1
        parts.append(render_latex(shown[["team", *chunk]],
                                  f"{caption or 'Ranking'}: details ({number})",
                                  f"{label}-details-{number}"))
    return "\n".join(parts)


def ranking_html(shown: pd.DataFrame, caption: str | None) -> str:
    """An HTML page of a ranking that marks a team that is not comparable (scored on other
    subjects than the field's case set) in its row (highlighted, a flag after the name, a
    note above), not only in the ``comparable`` column."""
    import html

    from wmheval.io.htmlpage import page
    from wmheval.io.tables import html_table

    comparable = (shown["comparable"].astype(bool).tolist() if "comparable" in shown
                  else [True] * len(shown))
    teams = [html.escape(str(t)) + ("" if ok else
                                    f"<span class='flag'>{NONCOMPARABLE_MARK}</span>")
             for t, ok in zip(shown["team"], comparable, strict=True)]
    note = ""
    if not all(comparable):
        note = (f"<p class='note'>Rows marked <span class='flag'>{NONCOMPARABLE_MARK}"
                "</span> are teams scored on other subjects than the field's case set: "
                "their position is not comparable (see notes.md).</p>")
    body = html_table(shown, caption, row_classes=["" if ok else "noncomparable"
                                                   for ok in comparable],
                      cell_html={"team": teams})
    return page(caption or "wmheval table", f"{note}<div class='tablewrap'>{body}</div>")


def policy_notes(field: Field) -> str:
    """Markdown of how a ranking was computed: the policy (:func:`describe_policy`), the
    case set, and every note loading the field produced (left-out rows, absent rows,
    comparability)."""
    from wmheval.scoring.policy import describe_policy

    lines = ["# How this ranking was computed", "", describe_policy(field.policy), ""]
    if field.case_ids is not None:
        lines += [f"Case set: {len(field.case_ids)} {field.case_label or 'subjects'}.", ""]
    elif field.case_label:
        lines += [f"Case set: {field.case_label}.", ""]
    if field.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in field.notes] + [""]
    return "\n".join(lines)
