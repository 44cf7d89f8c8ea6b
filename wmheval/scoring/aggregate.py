"""Aggregating per-case scores per scanner, for seen and unseen scanners, and overall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wmheval.scoring.case import SCORED_STATUSES, STATUS_ERROR, STATUS_MISSING
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy, apply_policy
from wmheval.vocabulary import METRIC_NAMES as METRICS
from wmheval.vocabulary import ordered_scanners, seen_flags

SUMMARY_COLUMNS = (
    "group_type", "group", "metric", "mean", "std", "median", "n", "n_undefined",
    "n_cases", "n_missing", "n_failed", "mean_ranked", "n_imputed", "policy",
)


def case_groups(cases: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(group_type, group, rows): all, seen, unseen, then each scanner in release order."""
    groups = [("all", "all", cases)]
    seen = seen_flags(cases["seen_in_training"])
    for name, selector in (("seen", seen == True), ("unseen", seen == False)):  # noqa: E712
        rows = cases[selector.fillna(False).to_numpy(dtype=bool)]
        if len(rows):
            groups.append((name, name, rows))
    ordered = ordered_scanners(cases["scanner"].astype(str))
    groups += [("scanner", s, cases[cases["scanner"].astype(str) == s]) for s in ordered]
    return groups


def summarize(cases: pd.DataFrame, policy: ScoringPolicy = DEFAULT_POLICY,
              with_notes: bool = False):
    """Long table of mean, std (ddof=1), median and counts per group and metric.

    ``mean``, ``std``, ``median`` and ``n`` use the scored, defined values only;
    ``n_undefined`` counts scored cases whose value is NaN (e.g. H95 of an empty
    prediction); ``n_missing`` and ``n_failed`` count cases without a usable prediction. So
    n + n_undefined + n_missing + n_failed = n_cases: no subject disappears from a table.
    ``mean_ranked`` is the mean under ``policy`` (what ``wmheval rank`` uses) and
    ``n_imputed`` how many values the policy filled in. ``cases`` are one submission:
    under ``worst`` its missing and undefined values count as its own worst scored value
    per metric (a note says so). With ``with_notes``, returns (table, notes of the
    policy).
    """
    applied = apply_policy(cases, policy, METRICS, one_submission=True)
    position = pd.Series(np.arange(len(cases)), index=cases.index)
    records = []
    for group_type, group, rows in case_groups(cases):
        scored = rows[rows["status"].isin(SCORED_STATUSES)]
        n_missing = int((rows["status"] == STATUS_MISSING).sum())
        n_failed = int((rows["status"] == STATUS_ERROR).sum())
        at = position.loc[rows.index].to_numpy()
        for k, metric in enumerate(METRICS):
            ranked = applied.values[at, k]
            ranked = ranked[np.isfinite(ranked)]
            values = scored[metric].to_numpy(dtype=float)
            defined = values[np.isfinite(values)]
            records.append({
                "group_type": group_type,
                "group": group,
                "metric": metric,
                "mean": float(defined.mean()) if defined.size else np.nan,
                "std": float(defined.std(ddof=1)) if defined.size > 1 else np.nan,
                "median": float(np.median(defined)) if defined.size else np.nan,
                "n": int(defined.size),
                "n_undefined": int(values.size - defined.size),
                "n_cases": len(rows),
                "n_missing": n_missing,
                "n_failed": n_failed,
                "mean_ranked": float(ranked.mean()) if ranked.size else np.nan,
                "n_imputed": int(applied.imputed[at, k].sum()),
                "policy": policy.name,
            })
    table = pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))
    notes = list(applied.notes)
    if policy.field_dependent and bool(applied.imputed.any()):
        notes.append("worst: the field of one submission is itself, so its missing/undefined "
                     "values count as its own worst scored value per metric; ranked with "
                     "other teams they count as the worst of the whole field")
    return (table, notes) if with_notes else table


def _differs(a: float, b: float) -> bool:
    """Whether two means differ as printed (NaN differs from a number)."""
    if np.isnan(a) and np.isnan(b):
        return False
    if np.isnan(a) or np.isnan(b):
        return True
    return f"{a:.3f}" != f"{b:.3f}"


def wide_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per group with ``mean ± std`` per metric: the table people read.

    Where the mean used for ranking (``mean_ranked``, with imputed values) differs from
    the mean of the scored values, it follows in brackets: ``0.612 ± 0.100 [0.571]``.
    """
    rows = []
    for (_, group), block in summary.groupby(["group_type", "group"], sort=False):
        first = block.iloc[0]
        row = {"group": group, "cases": int(first["n_cases"]),
               "missing": int(first["n_missing"]), "failed": int(first["n_failed"])}
        for _, entry in block.iterrows():
            undefined = f" ({int(entry['n_undefined'])} undef.)" if entry["n_undefined"] else ""
            if not np.isfinite(entry["mean"]):
                text = "nan"
            elif np.isfinite(entry["std"]):
                text = f"{entry['mean']:.3f} ± {entry['std']:.3f}"
            else:
                text = f"{entry['mean']:.3f}"
            ranked = entry.get("mean_ranked", entry["mean"])
            if _differs(ranked, entry["mean"]):
                text += f" [{ranked:.3f}]"
            row[entry["metric"]] = text + undefined
        rows.append(row)
    return pd.DataFrame(rows)
