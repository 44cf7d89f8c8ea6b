"""Tables for the terminal that read well at 80 columns (rich): names never truncated,
numbers with each metric's decimals, std in a separate table, counts in a footer."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from wmheval.vocabulary import METRIC_NAMES, METRIC_SPECS, SCORE_SPEC

METRIC_ORDER = METRIC_NAMES
SHORT = {spec.name: (spec.short, f"{spec.unit} {spec.arrow}".strip())
         for spec in (*METRIC_SPECS.values(), SCORE_SPEC)}
SHORT.update({f"{m}_{g}": (SHORT[m][0], f"{g} {SHORT[m][1][-1]}")
              for m in METRIC_ORDER for g in ("all", "seen", "unseen")})
SHORT["missing_or_failed"] = ("Missing", "or failed")
"""Two-line headers (name, then unit and better-direction) keep the columns narrow."""
DECIMALS = {spec.name: spec.decimals for spec in (*METRIC_SPECS.values(), SCORE_SPEC)}


def console(width: int | None = None):
    """A rich Console; 80 columns when the output is not a terminal (pipes, files)."""
    import sys

    from rich.console import Console

    if width is None and not sys.stdout.isatty():
        width = 80
    return Console(width=width, highlight=False)


def number(value, metric: str) -> str:
    """A metric value with its decimals (``dice_seen`` as Dice); ``n/a`` for NaN."""
    metric = metric.split("_")[0] if metric.split("_")[0] in DECIMALS else metric
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if value != value else f"{value:.{DECIMALS.get(metric, 3)}f}"


def _table(title: str, first: str, first_values: Sequence[str], columns: Sequence[str],
           rows: Sequence[Sequence[str]], caption: str | None = None,
           extra_first: tuple[str, Sequence[str]] | None = None, arrows: bool = True,
           width: int = 80):
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                  collapse_padding=True, show_edge=False,
                  caption=caption, caption_justify="left", title_justify="left")
    if extra_first is not None:
        table.add_column(extra_first[0], justify="right", no_wrap=True,
                         min_width=max(len(v) for v in [extra_first[0], *extra_first[1]]))
    widths = []
    for k, column in enumerate(columns):
        label, arrow = SHORT.get(column, (column, ""))
        arrow = arrow if arrows else arrow.rstrip("↑↓ ")
        widths.append(max([len(label), len(arrow),
                           *(len(line) for row in rows for line in row[k].split("\n"))]))
    # The numbers keep their width; a name longer than the room left folds onto more
    # lines (never cut, never pushing a number column out).
    used = sum(w + 2 for w in widths)  # each column and the gap before it
    if extra_first is not None:
        used += max(len(v) for v in [extra_first[0], *extra_first[1]]) + 2
    room = max(width - used, 8)
    names = max([len(first), *(len(v) for v in first_values)])
    if names <= room:
        table.add_column(first, justify="left", no_wrap=True, min_width=names)
    else:
        table.add_column(first, justify="left", no_wrap=False, overflow="fold",
                         min_width=room, max_width=room)
    for k, column in enumerate(columns):
        label, arrow = SHORT.get(column, (column, ""))
        arrow = arrow if arrows else arrow.rstrip("↑↓ ")
        table.add_column(f"{label}\n{arrow}" if arrow else label, justify="right",
                         no_wrap=True, min_width=widths[k])
    for k, (name, row) in enumerate(zip(first_values, rows, strict=True)):
        cells = [name, *row]
        if extra_first is not None:
            cells.insert(0, extra_first[1][k])
        table.add_row(*cells)
    return table


def _mean_cells(block: pd.DataFrame, metrics: Sequence[str]) -> tuple[list[str], bool]:
    """One summary group's (rows indexed by metric) mean per metric, with ``[the mean used
    for ranking]`` on a second line where it differs as printed; and whether any does."""
    cells, bracketed = [], False
    for m in metrics:
        scored = number(block.at[m, "mean"], m)
        ranked = number(block.at[m, "mean_ranked"], m) if "mean_ranked" in block else scored
        if ranked != scored:  # the mean used for ranking differs as printed
            bracketed = True
            scored += f"\n[{ranked}]"
        cells.append(scored)
    return cells, bracketed


def summary_tables(summary: pd.DataFrame, show_std: bool = False) -> list:
    """The mean table of a ``summary.csv`` (one row per group) and, with ``show_std``, a
    second table of standard deviations; counts go in the caption (footer)."""
    groups = list(dict.fromkeys(summary["group"].astype(str)))
    metrics = [m for m in METRIC_ORDER if m in set(summary["metric"])]
    means, stds, counts = [], [], []
    bracketed = False
    for group in groups:
        block = summary[summary["group"].astype(str) == group].set_index("metric")
        cells, differs = _mean_cells(block, metrics)
        bracketed |= differs
        means.append(cells)
        stds.append([number(block.at[m, "std"], m) for m in metrics])
        first = block.iloc[0]
        counts.append((int(first["n_cases"]), int(first["n_missing"]), int(first["n_failed"]),
                       int(block["n_undefined"].sum())))
    everything = counts[groups.index("all")] if "all" in groups else counts[0]
    footer = (f"{everything[0]} cases: {everything[0] - everything[1] - everything[2]} scored, "
              f"{everything[1]} missing, {everything[2]} failed; {everything[3]} undefined "
              "metric values. Means over scored values; n = cases per group.")
    if bracketed:
        footer += (" [Bracketed]: the mean used for ranking, with missing, failed and "
                   "undefined values imputed under the policy.")
    rows = [[*row, str(c[0])] for row, c in zip(means, counts, strict=True)]
    tables = [_table("WMH challenge metrics (mean)", "group", groups, [*metrics, "n"], rows,
                     caption=footer)]
    if show_std:
        tables.append(_table("Standard deviation", "group", groups, metrics, stds))
    return tables


def ranking_tables(ranking: pd.DataFrame, show_ranks: bool = False,
                   width: int = 80) -> list:
    """The ranking (position, team, score, metric means) and, with ``show_ranks``, the
    per-metric relative ranks; counts (cases, missing, undefined) in the footer. A team
    name too long for ``width`` columns folds onto more lines; numbers are never cut."""
    metrics = [m for m in METRIC_ORDER if m in ranking.columns]
    comparable = (ranking["comparable"].astype(bool).tolist() if "comparable" in ranking
                  else [True] * len(ranking))
    teams = [str(t) + ("" if ok else " *") for t, ok in zip(ranking["team"], comparable,
                                                             strict=True)]
    positions = [str(int(p)) if float(p).is_integer() else f"{p:g}"
                 for p in ranking["position"]]
    rows = [[number(r["score"], "score"), *[number(r[m], m) for m in metrics]]
            for _, r in ranking.iterrows()]
    footer = None
    if "n_cases" in ranking and ranking["n_cases"].notna().any():
        n_missing = int(ranking.get("n_missing", pd.Series([0])).fillna(0).sum())
        n_undefined = int(ranking.get("n_undefined", pd.Series([0])).fillna(0).sum())
        footer = (f"{len(ranking)} teams, {int(ranking['n_cases'].max())} cases each; "
                  f"{n_missing} missing/failed and {n_undefined} undefined values in all.")
    else:
        footer = f"{len(ranking)} teams (means only)."
    if not all(comparable):
        footer += (" * not comparable: scored on other subjects than the field's case set "
                   "(see notes.md).")
    tables = [_table("Ranking", "team", teams, ["score", *metrics], rows, caption=footer,
                     extra_first=("#", positions), width=width)]
    if show_ranks:
        ranks = [[number(r[f"rank_{m}"], "rank") for m in metrics]
                 for _, r in ranking.iterrows()]
        tables.append(_table("Relative rank per metric (0 best, 1 worst)", "team", teams,
                             metrics, ranks, extra_first=("#", positions), arrows=False,
                             width=width))
    return tables


def overview_table(overview: pd.DataFrame, columns: Sequence[str], title: str):
    """A per-team table of the given metric columns (e.g. the demo's ``dice_all``); a
    ``missing_or_failed`` column goes to the caption (teams with any), so the metrics fit 80
    columns (the column was cut off there)."""
    shown = [c for c in columns if c in overview.columns and c != "missing_or_failed"]
    rows = [[number(r[c], c) for c in shown] for _, r in overview.iterrows()]
    caption = None
    if "missing_or_failed" in columns and "missing_or_failed" in overview.columns:
        counts = overview.set_index("team")["missing_or_failed"].fillna(0).astype(int)
        listed = [f"{team} {n}" for team, n in counts.items() if n]
        caption = ("Missing or failed cases: " + ", ".join(listed) + "." if listed
                   else "No missing or failed cases.")
    return _table(title, "team", [str(t) for t in overview["team"]], shown, rows,
                  caption=caption)


def teams_table(combined: pd.DataFrame):
    """One row per team of ``wmheval score --teams`` (its ``teams_summary.csv`` rows): the
    mean of each metric over all scored subjects, ``[the mean used for ranking]`` below it
    where it differs; missing and failed cases per team in the caption."""
    overall = combined[combined["group_type"].astype(str) == "all"]
    teams = list(dict.fromkeys(overall["team"].astype(str)))
    metrics = [m for m in METRIC_ORDER if m in set(overall["metric"])]
    rows, problems = [], []
    bracketed = False
    for team in teams:
        block = overall[overall["team"].astype(str) == team].set_index("metric")
        cells, differs = _mean_cells(block, metrics)
        bracketed |= differs
        first = block.iloc[0]
        rows.append([*cells, str(int(first["n_cases"]))])
        lost = int(first["n_missing"]) + int(first["n_failed"])
        if lost:
            problems.append(f"{team} {int(first['n_missing'])} missing, "
                            f"{int(first['n_failed'])} failed")
    caption = ("Missing or failed cases: " + "; ".join(problems) + "." if problems
               else "No missing or failed cases.")
    if bracketed:
        caption += (" [Bracketed]: the mean used for ranking, with missing, failed and "
                    "undefined values imputed under the policy.")
    return _table("WMH challenge metrics per team (mean over all subjects)", "team", teams,
                  [*metrics, "n"], rows, caption=caption)
