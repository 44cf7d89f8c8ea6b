"""Reading a hosted platform's results export back: grand-challenge.org evaluations (with
wmheval's ``metrics.json`` inside) and Codabench's leaderboard CSV.

Both are files from others: size-capped, parsed strictly (no NaN), team names checked by
the caller. The result is a table of team means (the means used for ranking) and, where
the platform kept per-case values (grand-challenge with ``--per-case admin``), the long
per-case table, so the official ranking and its intervals can be computed by wmheval.

Accepted shapes:

* grand-challenge: a JSON list of evaluations, or the API's page ``{"results": [...]}``;
  each evaluation has its team in ``submission.creator.username`` (or ``creator.username``,
  ``team``, ``user``, ``username``) and wmheval's ``metrics.json`` in ``metrics`` (or is
  the metrics object itself, with a ``team`` key). A team with several evaluations keeps the
  latest by ``created`` (else the last in the file).
* Codabench: the leaderboard CSV; the team in a ``team``/``username``/``participant``
  column, the metrics in columns named by wmheval's keys (``dice``, ``h95``, ``avd``,
  ``recall``, ``f1``) or titles (``Dice``, ``H95 (mm)``, ...).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wmheval.errors import DataProblem
from wmheval.io.paths import display_path, not_a_file_problem
from wmheval.metrics import METRICS
from wmheval.vocabulary import METRIC_SPECS, PLATFORMS

MAX_EXPORT_BYTES = 64 << 20
MAX_TEAMS = 10_000
_TEAM_COLUMNS = ("team", "team_name", "username", "participant", "user", "submitter")


@dataclass
class ImportedResults:
    """Team means (index ``team``, columns :data:`METRICS`) and, when the export kept them,
    per-case values (``team, id`` and the metrics; NaN where the platform had null)."""

    platform: str
    means: pd.DataFrame
    cases: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def per_case(self) -> bool:
        return self.cases is not None


def _read_text(path: Path) -> str:
    problem = not_a_file_problem(path)
    if problem is not None:
        raise DataProblem(f"{display_path(path)}: {problem}")
    size = os.stat(path).st_size
    if size > MAX_EXPORT_BYTES:
        raise DataProblem(f"{display_path(path)}: {size} bytes, more than the "
                          f"{MAX_EXPORT_BYTES} read")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_EXPORT_BYTES + 1).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataProblem(f"{display_path(path)}: cannot be read as UTF-8 text ({error})"
                          ) from None


def _number(value, where: str) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise DataProblem(f"{where}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataProblem(f"{where}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise DataProblem(f"{where}: {str(value)[:40]!r} is not a finite number")
    return number


def _team_of(evaluation: dict) -> str | None:
    submission = evaluation.get("submission")
    candidates = []
    if isinstance(submission, dict):
        creator = submission.get("creator")
        if isinstance(creator, dict):
            candidates.append(creator.get("username"))
    creator = evaluation.get("creator")
    if isinstance(creator, dict):
        candidates.append(creator.get("username"))
    candidates += [evaluation.get(k) for k in ("team", "user", "username")]
    return next((str(c) for c in candidates if isinstance(c, str) and c.strip()), None)


def read_grand_challenge_export(path: str | Path) -> ImportedResults:
    """Team means (``aggregates.<metric>.mean_ranked``) and, where every evaluation has
    ``case``, the per-case values; :class:`~wmheval.errors.DataProblem` names the file."""
    path = Path(path)
    try:
        document = json.loads(_read_text(path), parse_constant=_refuse)
    except (ValueError, RecursionError) as error:
        raise DataProblem(f"{display_path(path)}: not a JSON file ({str(error)[:120]})"
                          ) from None
    evaluations = document.get("results") if isinstance(document, dict) else document
    if not isinstance(evaluations, list):
        raise DataProblem(f"{display_path(path)}: expected a list of evaluations (or the "
                          "API's {\"results\": [...]})")
    if len(evaluations) > MAX_TEAMS:
        raise DataProblem(f"{display_path(path)}: {len(evaluations)} evaluations, more than "
                          f"the {MAX_TEAMS} read")
    chosen: dict[str, tuple[str, dict]] = {}
    notes: list[str] = []
    for number, evaluation in enumerate(evaluations):
        where = f"{display_path(path)}: evaluation {number}"
        if not isinstance(evaluation, dict):
            raise DataProblem(f"{where}: not an object")
        team = _team_of(evaluation)
        if team is None:
            raise DataProblem(f"{where}: no team (submission.creator.username)")
        metrics = evaluation.get("metrics", evaluation)
        if not isinstance(metrics, dict) or not isinstance(metrics.get("aggregates"), dict):
            raise DataProblem(f"{where} ({team}): no wmheval metrics.json (aggregates)")
        created = str(evaluation.get("created", ""))
        if team in chosen:
            notes.append(f"{team}: several evaluations; the latest is used")
            if created < chosen[team][0]:
                continue
        chosen[team] = (created, metrics)
    if not chosen:
        raise DataProblem(f"{display_path(path)}: no evaluations")
    means_rows, case_frames = {}, []
    per_case = all(isinstance(m.get("case"), dict) for _, m in chosen.values())
    for team, (_, metrics) in sorted(chosen.items()):
        aggregates = metrics["aggregates"]
        row = {}
        for metric in METRICS:
            block = aggregates.get(metric)
            if not isinstance(block, dict):
                raise DataProblem(f"{display_path(path)}: {team}: no aggregates.{metric}")
            row[metric] = _number(block.get("mean_ranked"),
                                  f"{display_path(path)}: {team}: {metric}")
        means_rows[team] = row
        if per_case:
            case_frames.append(_cases_of(path, team, metrics["case"]))
    if not per_case and any(isinstance(m.get("case"), dict) for _, m in chosen.values()):
        notes.append("only some evaluations carry per-case values: imported as means only")
    means = pd.DataFrame.from_dict(means_rows, orient="index")[list(METRICS)]
    means.index.name = "team"
    cases = pd.concat(case_frames, ignore_index=True) if per_case else None
    return ImportedResults("grand-challenge", means, cases, notes)


def _refuse(name: str):
    raise ValueError(f"{name} is not JSON")


def _cases_of(path: Path, team: str, case: dict) -> pd.DataFrame:
    ids: set[str] = set()
    for metric in METRICS:
        values = case.get(metric)
        if not isinstance(values, dict):
            raise DataProblem(f"{display_path(path)}: {team}: case.{metric} is missing")
        ids |= set(values)
    rows = []
    for case_id in sorted(ids):
        row = {"team": team, "id": str(case_id)}
        for metric in METRICS:
            row[metric] = _number(case[metric].get(case_id),
                                  f"{display_path(path)}: {team}: case.{metric}.{case_id}")
        rows.append(row)
    return pd.DataFrame(rows, columns=["team", "id", *METRICS])


def read_codabench_leaderboard(path: str | Path) -> ImportedResults:
    """Team means from Codabench's leaderboard CSV (means only, no per-case values)."""
    path = Path(path)
    text = _read_text(path)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise DataProblem(f"{display_path(path)}: not a CSV file ({error})") from None
    if len(rows) < 2:
        raise DataProblem(f"{display_path(path)}: no teams in the table")
    if len(rows) > MAX_TEAMS + 1:
        raise DataProblem(f"{display_path(path)}: more than {MAX_TEAMS} rows")
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    team_column = next((lowered.index(c) for c in _TEAM_COLUMNS if c in lowered), None)
    if team_column is None:
        raise DataProblem(f"{display_path(path)}: no team column (one of "
                          f"{', '.join(_TEAM_COLUMNS)})")
    columns = {}
    for metric in METRICS:
        names = {metric, METRIC_SPECS[metric].axis_label.lower(),
                 METRIC_SPECS[metric].label.lower()}
        found = [k for k, h in enumerate(lowered) if h in names]
        if len(found) != 1:
            raise DataProblem(f"{display_path(path)}: expected one column for {metric} "
                              f"(named {metric} or {METRIC_SPECS[metric].axis_label})")
        columns[metric] = found[0]
    means_rows: dict[str, dict] = {}
    notes: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataProblem(f"{display_path(path)}: line {number} has {len(row)} cells, "
                              f"the header {len(header)}")
        team = row[team_column].strip()
        if not team:
            raise DataProblem(f"{display_path(path)}: line {number} has no team")
        if team in means_rows:
            notes.append(f"{team}: several rows; the first (the leaderboard's best) is used")
            continue
        means_rows[team] = {m: _number(row[k], f"{display_path(path)}: line {number}: {m}")
                            for m, k in columns.items()}
    means = pd.DataFrame.from_dict(means_rows, orient="index")[list(METRICS)]
    means.index.name = "team"
    return ImportedResults("codabench", means, None, notes)


def read_platform_results(platform: str, path: str | Path) -> ImportedResults:
    """:func:`read_grand_challenge_export` or :func:`read_codabench_leaderboard`."""
    if platform == "grand-challenge":
        return read_grand_challenge_export(path)
    if platform == "codabench":
        return read_codabench_leaderboard(path)
    raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
