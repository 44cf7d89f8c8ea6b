"""What the hosted platforms read from wmheval: grand-challenge.org's ``metrics.json`` and
phase settings, Codabench's ``scores.json``, ``detailed_results.html`` and
``competition.yaml``. Pure functions that return objects and text; the pipelines
(:mod:`wmheval.pipelines.platforms`) write them.

The platforms' rules these follow (read from their code; ``docs/platforms.md``):

* grand-challenge reads a leaderboard value by splitting its path on ``.`` and indexing
  keys (``get_jsonpath``), so no key may contain a dot; a missing key shows as empty.
* Codabench keeps only ``scores.json`` keys that are leaderboard column keys, stores each
  as a decimal with 10 places and |x| < 10^10, and fails on NaN; column titles and keys
  are at most 36 characters, leaderboard titles at most 64.
* Python's ``json`` writes ``NaN``, which is not JSON: every number goes through
  :func:`finite_or_none` and every document is dumped with ``allow_nan=False``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wmheval.metrics import METRICS
from wmheval.ranking.frozen import FrozenFieldScore
from wmheval.vocabulary import (
    METRIC_SPECS,
    SCORED_STATUSES,
    SEEN_GROUPS,
    STATUS_ERROR,
    STATUS_MISSING,
    UNSEEN,
)

METRIC_TITLES = {name: spec.axis_label for name, spec in METRIC_SPECS.items()}
STAT_KEYS = ("mean", "std", "median", "mean_ranked", "n", "n_undefined")
PRIMARY_PATH = "aggregates.wmh2017.rank_score"
PRIMARY_TITLE = "WMH 2017 rank score vs frozen field (proxy)"
CODABENCH_SCORE_LIMIT = 1e10
CODABENCH_DECIMALS = 10
CODABENCH_TITLE_LIMIT = 36
CODABENCH_KEY_LIMIT = 36
CODABENCH_LEADERBOARD_TITLE_LIMIT = 64


def finite_or_none(value: Any) -> float | int | None:
    """A JSON-safe number: ints stay ints, NaN/inf/NA become None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def dotless(key: str) -> str:
    """A key grand-challenge can address: dots become underscores."""
    return str(key).replace(".", "_")


def dotted_lookup(document: Mapping, path: str) -> Any:
    """The value at ``path`` by grand-challenge's rule (split on ``.``, index keys).

    Raises KeyError where the platform would show an empty cell.
    """
    value: Any = document
    for key in str(path).split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise KeyError(path)
        value = value[key]
    return value


def _stats(block: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    out: dict[str, dict[str, float | int | None]] = {}
    for metric in METRICS:
        rows = block[block["metric"] == metric]
        if rows.empty:
            continue
        row = rows.iloc[0]
        out[metric] = {key: finite_or_none(row[key]) for key in STAT_KEYS}
    return out


def _group(summary: pd.DataFrame, group_type: str, group: str | None = None) -> pd.DataFrame:
    chosen = summary["group_type"] == group_type
    if group is not None:
        chosen &= summary["group"] == group
    return summary[chosen]


def overall_ranked_means(summary: pd.DataFrame) -> dict[str, float]:
    """metric -> the mean used for ranking over all scored subjects (NaN when none)."""
    block = _group(summary, "all")
    return {m: float(block[block["metric"] == m]["mean_ranked"].iloc[0]) for m in METRICS}


def case_counts(cases: pd.DataFrame) -> dict[str, int]:
    status = cases["status"]
    return {"n_cases": int(len(cases)),
            "n_scored": int(status.isin(SCORED_STATUSES).sum()),
            "n_missing": int((status == STATUS_MISSING).sum()),
            "n_failed": int((status == STATUS_ERROR).sum())}


def _unique_keys(ids: Sequence[str], what: str) -> list[str]:
    keys = [dotless(i) for i in ids]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two {what} differ only by '.' and '_'; grand-challenge could not "
                         "tell them apart (rename them)")
    return keys


def grand_challenge_metrics(cases: pd.DataFrame, summary: pd.DataFrame,
                            frozen: FrozenFieldScore, *, per_case: bool,
                            provenance: Mapping[str, str]) -> dict:
    """The ``metrics.json`` document (see ``docs/platforms.md`` for every key).

    ``aggregates`` holds per metric ``mean, std, median`` (over the scored, defined
    values), ``mean_ranked`` (under the scoring policy, what ranking uses), ``n`` and
    ``n_undefined``; the same per ``seen``/``unseen`` scanner group and per scanner;
    ``wmh2017`` the frozen-field proxy; and the case counts. ``case`` (metric -> subject
    -> value) only with ``per_case``. No key holds a dot; numbers are finite or null.
    """
    aggregates: dict[str, Any] = dict(_stats(_group(summary, "all")))
    for group in SEEN_GROUPS:
        block = _group(summary, group)
        if not block.empty:
            aggregates[group] = _stats(block)
    scanners = list(dict.fromkeys(_group(summary, "scanner")["group"].astype(str)))
    aggregates["scanner"] = {
        key: _stats(_group(summary, "scanner", name))
        for key, name in zip(_unique_keys(scanners, "scanner names"), scanners, strict=True)}
    aggregates["wmh2017"] = {
        "rank_score": finite_or_none(frozen.rank_score),
        "position": frozen.position,
        "field_size": frozen.field_size,
        **{f"rank_{m}": finite_or_none(v) for m, v in frozen.relative_ranks.items()},
    }
    aggregates.update(case_counts(cases))
    document: dict[str, Any] = {"aggregates": aggregates}
    if per_case:
        ids = [str(i) for i in cases["id"]]
        keys = _unique_keys(ids, "subject ids")
        document["case"] = {
            metric: {key: finite_or_none(value) for key, value
                     in zip(keys, cases[metric].to_numpy(dtype=float), strict=True)}
            for metric in METRICS}
    document["wmheval"] = {
        **{dotless(k): str(v) for k, v in provenance.items()},
        "primary_score": (f"{PRIMARY_PATH}: the submission's relative min-max rank score "
                          f"(lower is better) among {frozen.field_label} plus itself; a "
                          "proxy for sorting, not the official ranking, which wmheval "
                          "computes over all submissions (wmheval board import)"),
    }
    return document


def dumps_json(document: Any) -> str:
    """JSON text; raises ValueError on any NaN or infinity (never written)."""
    return json.dumps(document, indent=1, allow_nan=False, sort_keys=False) + "\n"


@dataclass(frozen=True)
class ResultColumn:
    """One leaderboard column: where its value is, its title, and its sort order."""

    key: str
    title: str
    path: str
    sorting: str
    precision: int
    error_path: str | None = None


def grand_challenge_columns() -> list[ResultColumn]:
    """The extra result columns: each metric's policy mean (± std), then unseen Dice."""
    columns = [ResultColumn(m, METRIC_TITLES[m], f"aggregates.{m}.mean_ranked",
                            "desc" if METRIC_SPECS[m].higher_is_better else "asc", 4,
                            f"aggregates.{m}.std") for m in METRICS]
    columns.append(ResultColumn("dice_unseen", "Dice, unseen scanners",
                                "aggregates.unseen.dice.mean_ranked", "desc", 4,
                                "aggregates.unseen.dice.std"))
    columns.append(ResultColumn("n_failed", "Cases failed", "aggregates.n_failed", "asc", 0))
    columns.append(ResultColumn("n_missing", "Cases missing", "aggregates.n_missing", "asc",
                                0))
    return columns


def grand_challenge_phase_settings(*, per_case_admin: bool, kind: str) -> dict:
    """The values to enter in the phase's Scoring settings (``phase-settings.json``)."""
    extra = []
    for column in grand_challenge_columns():
        entry = {"title": column.title, "path": column.path, "order": column.sorting,
                 "exclude_from_ranking": True}
        if column.error_path:
            entry["error_path"] = column.error_path
        extra.append(entry)
    return {
        "submission_kind": kind,
        "score_title": PRIMARY_TITLE,
        "score_jsonpath": PRIMARY_PATH,
        "score_default_sort": "asc",
        "score_decimal_places": 4,
        "scoring_method_choice": "abs",
        "extra_results_columns": extra,
        "display_all_metrics": not per_case_admin,
        "evaluation_requires_memory_gb": 8,
        "evaluation_time_limit": 3600,
    }


def codabench_columns() -> list[ResultColumn]:
    """The Codabench leaderboard columns, primary first; keys are ``scores.json``'s."""
    return [
        ResultColumn("rank2017", "Rank score, 2017 field (proxy)", "", "asc", 4),
        *[ResultColumn(m, METRIC_TITLES[m], "", "desc" if METRIC_SPECS[m].higher_is_better
                       else "asc", METRIC_SPECS[m].decimals) for m in METRICS],
        ResultColumn("dice_unseen", "Dice, unseen scanners", "", "desc", 3),
        ResultColumn("n_failed", "Cases missing or failed", "", "asc", 0),
    ]


def _codabench_number(value: float) -> float | int:
    if float(value).is_integer() and abs(value) < CODABENCH_SCORE_LIMIT:
        return int(value)
    clipped = max(-CODABENCH_SCORE_LIMIT + 1, min(CODABENCH_SCORE_LIMIT - 1, value))
    return round(clipped, CODABENCH_DECIMALS)


def codabench_scores(cases: pd.DataFrame, summary: pd.DataFrame,
                     frozen: FrozenFieldScore) -> tuple[dict[str, float | int], list[str]]:
    """(``scores.json``, notes): finite numbers only, one per column key.

    A value that is undefined (e.g. Dice on unseen scanners when the reference has none)
    is left out (Codabench shows an empty cell) and named in the notes; one beyond the
    platform's storage (|x| >= 10^10) is clipped, with a note.
    """
    means = overall_ranked_means(summary)
    unseen = _group(summary, UNSEEN)
    dice_unseen = float(unseen[unseen["metric"] == "dice"]["mean_ranked"].iloc[0]) \
        if not unseen.empty else math.nan
    counts = case_counts(cases)
    raw = {"rank2017": frozen.rank_score, **means, "dice_unseen": dice_unseen,
           "n_failed": counts["n_missing"] + counts["n_failed"]}
    scores: dict[str, float | int] = {}
    notes: list[str] = []
    for column in codabench_columns():
        value = float(raw[column.key])
        if not math.isfinite(value):
            notes.append(f"{column.key} is undefined for this submission (left empty)")
            continue
        if abs(value) >= CODABENCH_SCORE_LIMIT:
            notes.append(f"{column.key} is beyond what Codabench stores; clipped")
        scores[column.key] = _codabench_number(value)
    return scores, notes


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wmheval: detailed results</title>
<style>body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.6em 0 1.4em}
td,th{border:1px solid #bbb;padding:0.25em 0.6em;text-align:right}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:bold}
.note{color:#555;max-width:60em}</style></head><body>
<h1>Detailed results</h1>
<p class="note">Primary score: relative min-max rank score (lower is better) among
{{ field_label }} plus this submission: a proxy for sorting. The official ranking is
computed by wmheval over all submissions.</p>
<table><caption>Scores</caption><tr><th>Column</th><th>Value</th></tr>
{% for title, value in score_rows %}<tr><td>{{ title }}</td><td>{{ value }}</td></tr>
{% endfor %}</table>
<table><caption>Subjects</caption><tr><th>Status</th><th>Count</th></tr>
{% for name, count in counts %}<tr><td>{{ name }}</td><td>{{ count }}</td></tr>
{% endfor %}</table>
<table><caption>Per group: mean &plusmn; std of the scored values [mean used for ranking]
</caption><tr>{% for name in group_header %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in group_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if case_rows %}<table><caption>Per subject</caption><tr>
{% for name in case_header %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in case_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
{% for note in notes %}<p class="note">{{ note }}</p>
{% endfor %}<p class="note">{{ provenance }}</p>
</body></html>
"""


def _cell(value: Any, digits: int = 4) -> str:
    number = finite_or_none(value)
    return "" if number is None else (str(number) if isinstance(number, int)
                                      else f"{number:.{digits}f}")


def detailed_results_html(cases: pd.DataFrame, summary: pd.DataFrame,
                          frozen: FrozenFieldScore, scores: Mapping[str, float], *,
                          per_case: bool, notes: Sequence[str] = (),
                          provenance: str = "") -> str:
    """Codabench's ``detailed_results.html`` (Jinja2, autoescaped): scores, counts and
    the per-group table; per-subject rows only with ``per_case``."""
    from jinja2 import Environment

    from wmheval.scoring.aggregate import wide_summary

    environment = Environment(autoescape=True)
    titles = {c.key: c.title for c in codabench_columns()}
    wide = wide_summary(summary)
    group_header = list(wide.columns)
    group_rows = [[str(v) for v in row] for row in wide.itertuples(index=False)]
    counts = [(k.replace("n_", ""), v) for k, v in case_counts(cases).items()]
    case_header: list[str] = []
    case_rows: list[list[str]] = []
    if per_case:
        case_header = ["id", "scanner", "status", *METRICS]
        case_rows = [[str(row["id"]), str(row["scanner"]), str(row["status"]),
                      *[_cell(row[m]) for m in METRICS]] for _, row in cases.iterrows()]
    return environment.from_string(_HTML).render(
        field_label=frozen.field_label,
        score_rows=[(titles[k], _cell(v)) for k, v in scores.items()],
        counts=counts, group_header=group_header, group_rows=group_rows,
        case_header=case_header, case_rows=case_rows, notes=list(notes),
        provenance=provenance)


def participant_sentence(cases: pd.DataFrame, unmatched: pd.DataFrame, *,
                         layout_hint: str, reference_dir: str = "") -> str:
    """One sentence a participant can act on, naming no reference value.

    It names counts, at most one subject id and one of the participant's own file
    problems (never a message about a reference file; a reference path inside such a
    message, ``reference_dir``, is left out).
    """
    counts = case_counts(cases)
    if counts["n_scored"] == 0 and counts["n_failed"] == 0:
        return (f"No prediction matched any of the {counts['n_cases']} test subjects: "
                f"{layout_hint}.")
    parts = [f"Scored {counts['n_scored']} of {counts['n_cases']} subjects"]
    if counts["n_missing"]:
        first = cases[cases["status"] == STATUS_MISSING]["id"].iloc[0]
        parts.append(f"{counts['n_missing']} had no prediction (first: subject {first}; "
                     f"{layout_hint})")
    if counts["n_failed"]:
        failed = cases[cases["status"] == STATUS_ERROR]
        own = failed[~failed["error"].astype(str).str.startswith("reference ")]
        detail = ""
        if len(own):
            message = str(own["error"].iloc[0])
            if reference_dir:
                message = re.sub(r"\s*\(" + re.escape(reference_dir) + r"[^)]*\)", "", message)
                message = message.replace(reference_dir, "<reference>")
            detail = f"; subject {own['id'].iloc[0]}: {_short(message)}"
        parts.append(f"{counts['n_failed']} could not be scored{detail}")
    if len(unmatched):
        parts.append(f"{len(unmatched)} file(s) matched no subject (first: "
                     f"{_short(str(unmatched['path'].iloc[0]), 160)})")
    sentence = "; ".join(parts)
    if counts["n_missing"] or counts["n_failed"] or len(unmatched):
        sentence += "; fix these and resubmit"
    return sentence + "."


def _short(text: str, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- Codabench bundle YAML

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("YAML value is not a finite number")
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return _double_quoted(text)


def _double_quoted(text: str) -> str:
    """A double-quoted YAML scalar: printable ASCII as is, everything else escaped."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block YAML for the bundle's fixed shapes: mappings, lists, strings, numbers, bools.

    Strings that could read as anything else are double-quoted (JSON escaping, valid YAML).
    """
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                lines.append(to_yaml(item, indent + 2).rstrip("\n"))
            else:
                empty = "{}" if isinstance(item, Mapping) else "[]"
                shown = empty if isinstance(item, Mapping | list) else _scalar(item)
                lines.append(f"{pad}{_scalar(key)}: {shown}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping) and item:
                inner = to_yaml(item, indent + 2).rstrip("\n").split("\n")
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                lines.append(to_yaml(item, indent + 2).rstrip("\n"))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return "\n".join(lines) + "\n"


def check_codabench_columns(columns: Sequence[ResultColumn], leaderboard_title: str) -> None:
    """Raise ValueError where a column breaks Codabench's limits (or keys repeat)."""
    keys = [c.key for c in columns]
    if len(set(keys)) != len(keys):
        raise ValueError("leaderboard column keys repeat")
    if len(leaderboard_title) > CODABENCH_LEADERBOARD_TITLE_LIMIT:
        raise ValueError(f"leaderboard title longer than {CODABENCH_LEADERBOARD_TITLE_LIMIT}")
    for column in columns:
        if len(column.key) > CODABENCH_KEY_LIMIT or len(column.title) > CODABENCH_TITLE_LIMIT:
            raise ValueError(f"column {column.key!r}: key or title longer than "
                             f"{CODABENCH_KEY_LIMIT} characters")


def competition_document(*, title: str, docker_image: str, with_reference: bool,
                         execution_time_limit: int = 3600) -> dict:
    """The ``competition.yaml`` mapping (version 2) of a one-phase, one-task bundle."""
    columns = codabench_columns()
    leaderboard_title = "WMH segmentation results"
    check_codabench_columns(columns, leaderboard_title)
    task: dict[str, Any] = {"index": 0, "name": "WMH segmentation",
                            "description": "Binary WMH masks scored by wmheval",
                            "scoring_program": "scoring_program"}
    if with_reference:
        task["reference_data"] = "reference_data"
    return {
        "version": 2,
        "title": title,
        "description": "White matter hyperintensity segmentation, scored by wmheval as the "
                       "MICCAI 2017 WMH challenge does",
        "image": "logo.png",
        "terms": "terms.md",
        "docker_image": docker_image,
        "enable_detailed_results": True,
        "show_detailed_results_in_submission_panel": True,
        "show_detailed_results_in_leaderboard": False,
        "make_programs_available": False,
        "pages": [{"title": "Overview", "file": "overview.md"},
                  {"title": "Evaluation", "file": "evaluation.md"}],
        "tasks": [task],
        "phases": [{
            "index": 0, "name": "Test", "description": "Submit a zip of <id>/result.nii.gz",
            "start": "2026-01-01", "max_submissions_per_day": 5, "max_submissions": 100,
            # Seconds in the current unpacker; older unpackers read milliseconds.
            "execution_time_limit": execution_time_limit,
            "execution_time_limit_ms": execution_time_limit * 1000, "hide_output": True,
            "tasks": [0]}],
        "leaderboards": [{
            "title": leaderboard_title, "key": "main", "submission_rule": "Force_Last",
            "columns": [{"title": c.title, "key": c.key, "index": i, "sorting": c.sorting,
                         "precision": c.precision} for i, c in enumerate(columns)]}],
    }
