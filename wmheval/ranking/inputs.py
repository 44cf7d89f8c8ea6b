"""Loading per-team results into a :class:`Field`: per-case tables or tables of team means.

Inputs accepted (see ``docs/ranking.md``):

* a table of per-team means, e.g. the published leaderboard (columns ``team`` plus the five
  metrics under our names ``dice, h95, avd, recall, f1`` or the leaderboard's ``dice,
  hd95_mm, avd_pct, lesion_recall, lesion_f1``; other columns are ignored);
* a folder of team folders, each holding a ``wmheval score`` output ``cases.csv``;
* one long per-case CSV with a ``team`` column.

Per-case handling (see ``docs/ranking.md``, "How missing and undefined values are
handled"): a ranking compares every team on one case set. Rows of splits that not every
team was scored on are left out with a note; within the case set, a subject a team has no
row for, or a row whose status is ``missing`` or ``error``, is a *missing* case; a NaN
metric of any other row is *undefined*. What each counts as is the
:class:`~wmheval.scoring.policy.ScoringPolicy` (default: an empty mask; fixed values per
case; "worst of the field" and "exclude" as options).
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.errors import InputError
from wmheval.io.paths import display_path, display_text
from wmheval.io.tables import TableError, numeric_cells, read_text_table, with_numbers
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy, apply_policy, make_policy
from wmheval.vocabulary import METRIC_NAMES as METRICS
from wmheval.vocabulary import STATUS_ERROR, STATUS_MISSING, STATUS_OK, STATUSES, seen_flags

METRIC_ALIASES = {
    "dice": "dice", "dsc": "dice",
    "h95": "h95", "hd95": "h95", "hd95_mm": "h95", "h95_mm": "h95",
    "avd": "avd", "avd_pct": "avd",
    "recall": "recall", "lesion_recall": "recall",
    "f1": "f1", "lesion_f1": "f1",
}
"""Column names accepted for each metric (the leaderboard's and ours)."""

SPLIT_HELP = "all, seen, unseen, test, training, or a scanner key (e.g. amsterdam_ge_1p5t)"
COUNT_COLUMNS = ("n_cases", "n_missing", "n_undefined", "n_imputed")
PUBLISHED_CASE_LABEL = "test subjects of the 2017 release"


class RankingInputError(InputError):
    """An input table or folder cannot be used for ranking (the message names the file and,
    for a bad value, the row)."""


MAX_TEAM_NAME_LENGTH = 200
"""Longest team name accepted (longer names are refused, never cut: two cut names could
become one)."""
METRIC_RANGES = {"dice": (0.0, 1.0), "recall": (0.0, 1.0), "f1": (0.0, 1.0),
                 "h95": (0.0, math.inf), "avd": (0.0, math.inf)}
"""The values a metric can take (H95 in mm, AVD in percent; Dice, recall and F1 are
fractions, so 80 is a percentage typed where 0.80 belongs)."""
KNOWN_STATUSES = STATUSES
STATUS_ALIASES = {"failed": STATUS_ERROR, "fail": STATUS_ERROR, "failure": STATUS_ERROR,
                  "absent": STATUS_MISSING, "not_submitted": STATUS_MISSING}
"""Status words of other tools that mean a case without a usable result."""
TEXT_COLUMNS = ("team", "id", "status", "scanner", "split", "seen_in_training",
                "prediction_path", "error", "warnings")
_NOTES_KEY = "wmheval_notes"
MAX_LISTED = 5


def _row_label(table: pd.DataFrame, position: int) -> str:
    """How a row is named in messages: its row number (1 = first data row) and team/id."""
    parts = [f"row {position + 1}"]
    for column in ("team", "id"):
        if column in table.columns:
            parts.append(f"{column} {display_text(str(table[column].iloc[position]))!r}")
    return ", ".join(parts)


def _refuse(path, problems: list[str], what: str) -> None:
    if problems:
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED \
            else ""
        raise RankingInputError(f"{display_path(path)}: {what}: "
                                + "; ".join(problems[:MAX_LISTED]) + more)


def check_team_name(name: str, where: str) -> str:
    """``name`` stripped, or a :class:`RankingInputError` naming ``where`` when it is empty,
    longer than :data:`MAX_TEAM_NAME_LENGTH` or holds control characters."""
    name = display_text(str(name)).strip()
    if not name:
        raise RankingInputError(f"{where}: the team name is empty")
    if len(name) > MAX_TEAM_NAME_LENGTH:
        raise RankingInputError(f"{where}: the team name is {len(name)} characters long, "
                                f"more than {MAX_TEAM_NAME_LENGTH} (starts "
                                f"{name[:40]!r})")
    bad = sorted({c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})
    if bad:
        raise RankingInputError(f"{where}: the team name {name[:60]!r} holds control "
                                f"characters {[hex(ord(c)) for c in bad][:3]}")
    return name


def _check_team_column(table: pd.DataFrame, path) -> None:
    """Check every distinct team name once (:func:`check_team_name`), naming the first row
    of a refused one; the column is replaced by the stripped names."""
    names = table["team"].astype(str)
    cleaned: dict[str, str] = {}
    for name in names.unique():
        try:
            cleaned[name] = check_team_name(name, "")
        except RankingInputError as error:
            first = int(np.flatnonzero((names == name).to_numpy())[0])
            raise RankingInputError(f"{display_path(path)}, row {first + 1}{error}") from None
    table["team"] = names.map(cleaned).to_numpy()


def _check_metrics(table: pd.DataFrame, path) -> pd.DataFrame:
    """The metric columns as floats (blank and NaN cells NaN); any cell that is not a
    number, infinite or outside :data:`METRIC_RANGES` is refused, naming row and column."""
    problems: list[str] = []
    for metric in METRICS:
        numbers, bad = numeric_cells(table[metric])
        for position in np.flatnonzero(bad.to_numpy()):
            problems.append(f"{_row_label(table, position)}: {metric} "
                            f"{display_text(str(table[metric].iloc[position]))[:40]!r} is "
                            "not a number")
        low, high = METRIC_RANGES[metric]
        values = numbers.to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            for position in np.flatnonzero(np.isinf(values)):
                problems.append(f"{_row_label(table, position)}: {metric} is infinite")
            outside = np.isfinite(values) & ((values < low) | (values > high))
        for position in np.flatnonzero(outside):
            value = values[position]
            hint = ""
            if high == 1.0 and 1.0 < value <= 100.0:
                hint = f" (a percentage? give {value / 100:g}, not {value:g})"
            allowed = f"outside {low:g}-{high:g}" if math.isfinite(high) else "negative"
            problems.append(f"{_row_label(table, position)}: {metric} {value:g} is "
                            f"{allowed}{hint}")
        table[metric] = numbers
    _refuse(path, problems, "values that cannot be right")
    return table


def _check_status(table: pd.DataFrame, path, notes: list[str]) -> pd.DataFrame:
    """Statuses known or mapped (``failed`` is ``error``); a row with no metric value at all
    whose status does not say why is a missing case (never an "undefined" perfect one)."""
    status = table["status"].astype(str).str.strip().str.lower() if "status" in table \
        else pd.Series("", index=table.index)
    status = status.replace(STATUS_ALIASES)
    unknown = ~status.isin((*KNOWN_STATUSES, ""))
    _refuse(path, [f"{_row_label(table, p)}: status {table['status'].iloc[p]!r} is unknown "
                   f"(known: {', '.join(KNOWN_STATUSES)})"
                   for p in np.flatnonzero(unknown.to_numpy())], "unknown statuses")
    empty = table[list(METRICS)].isna().all(axis=1) & status.isin(("", STATUS_OK))
    if empty.any():
        rows = [str(p + 1) for p in np.flatnonzero(empty.to_numpy())]
        notes.append(f"{display_path(path)}: {len(rows)} row(s) without any metric value "
                     f"(rows {', '.join(rows[:MAX_LISTED])}{' ...' if len(rows) > 5 else ''})"
                     ": counted as missing cases")
    status = status.mask(status == "", STATUS_OK).mask(empty, STATUS_MISSING)
    table["status"] = status.to_numpy()
    return table


@dataclass(frozen=True)
class CaseCube:
    """Per-case results of a field as arrays: values[team, subject, metric].

    ``values`` has the policy applied (imputed cells filled in, excluded cells NaN);
    ``scored`` holds the values as scored (NaN where missing or undefined). ``missing``
    marks (team, subject) cells without a usable result, ``absent`` those without any row;
    ``undefined`` marks NaN metrics of usable rows; ``imputed`` the cells the policy
    filled in.
    """

    teams: tuple[str, ...]
    subjects: tuple[str, ...]
    scanners: tuple[str, ...]
    metrics: tuple[str, ...]
    values: np.ndarray
    missing: np.ndarray
    undefined: np.ndarray
    scored: np.ndarray | None = None
    imputed: np.ndarray | None = None
    absent: np.ndarray | None = None


@dataclass(frozen=True)
class Field:
    """The teams being ranked: their means per metric and, when known, per-case results.

    ``means`` is indexed by team with columns ``dice, h95, avd, recall, f1`` (the means
    used for ranking, under ``policy``), ``<metric>_scored`` (means over scored values),
    the counts :data:`COUNT_COLUMNS` and ``comparable`` (the team covers the field's case
    set). ``cube`` and ``cases`` (the long table of the case set) exist when every team
    has per-case results; ``input_cases`` keeps the rows before the case set was chosen
    (to rebuild after a subset or an addition). ``published`` holds a leaderboard's own
    ``published_position`` and ``published_score``. ``case_ids``/``case_label``: the
    subjects every team is compared on. ``notes``: what loading had to decide.
    """

    means: pd.DataFrame
    cube: CaseCube | None = None
    cases: pd.DataFrame | None = None
    published: pd.DataFrame | None = None
    split: str = "all"
    policy: ScoringPolicy = DEFAULT_POLICY
    source: str = ""
    notes: tuple[str, ...] = ()
    case_ids: tuple[str, ...] | None = None
    case_label: str = ""
    input_cases: pd.DataFrame | None = None

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(self.means.index)

    @property
    def has_cases(self) -> bool:
        return self.cube is not None

    @property
    def missing(self) -> str:
        return self.policy.missing.value

    @property
    def undefined(self) -> str:
        return self.policy.undefined.value

    def metric_means(self) -> np.ndarray:
        """The (teams, metrics) array of means used for ranking, in :data:`METRICS` order."""
        return self.means.loc[:, list(METRICS)].to_numpy(dtype=float)


def resolve_policy(missing: str | None = None, undefined: str | None = None,
                   policy: ScoringPolicy | None = None) -> ScoringPolicy:
    """``policy`` (default :data:`DEFAULT_POLICY`) with ``missing``/``undefined`` set."""
    return make_policy(missing, undefined, policy or DEFAULT_POLICY)


# ---------------------------------------------------------------- reading files


def _read_csv(path: Path) -> pd.DataFrame:
    """A table as text (names never become NaN); errors name the file and line."""
    try:
        table = read_text_table(path)
    except TableError as error:
        raise RankingInputError(str(error)) from None
    if table.empty:
        raise RankingInputError(f"{display_path(path)}: the table has a header but no rows")
    return table


def _rename_metrics(table: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """Rename metric columns to our names; error naming the file if any metric is absent."""
    renames: dict[str, str] = {}
    for column in table.columns:
        key = str(column).strip().lower()
        target = METRIC_ALIASES.get(key)
        if target is not None and target not in renames.values():
            renames[column] = target
    table = table.rename(columns=renames)
    missing = [m for m in METRICS if m not in table.columns]
    if missing:
        raise RankingInputError(
            f"{display_path(path)}: missing metric columns {missing}; expected "
            f"{list(METRICS)} or the leaderboard's dice, hd95_mm, avd_pct, lesion_recall, "
            "lesion_f1")
    if not all(pd.api.types.is_float_dtype(table[m]) for m in METRICS):
        table = _check_metrics(table, path)
    else:
        _refuse(path, [f"{_row_label(table, p)}: {m} is out of range or infinite"
                       for m in METRICS for p in np.flatnonzero(
                           (np.isinf(table[m].to_numpy(dtype=float)))
                           | (table[m].to_numpy(dtype=float) < METRIC_RANGES[m][0])
                           | (table[m].to_numpy(dtype=float) > METRIC_RANGES[m][1]))],
                "values that cannot be right")
    return table


def read_means_table(path: str | Path, table: pd.DataFrame | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read a table of per-team means: (means indexed by team, published columns or None).

    Team names are kept as written (``NA``, ``None``, ``#N/A`` are names); an empty, very
    long or control-character name, a duplicate name, a metric cell that is not a number,
    is infinite or is out of range is a :class:`RankingInputError` naming the row. A blank
    metric cell is a missing value (counted in ``n_missing``; ranked last on that metric).
    """
    path = Path(path)
    table = _read_csv(path) if table is None else table.copy()
    if "team" not in table.columns:
        raise RankingInputError(f"{display_path(path)}: no 'team' column (columns: "
                                f"{list(table.columns)})")
    _check_team_column(table, path)
    table = _rename_metrics(table, path)
    duplicated = table["team"][table["team"].duplicated()].tolist()
    if duplicated:
        raise RankingInputError(f"{display_path(path)}: duplicate team names "
                                f"{duplicated[:5]}")
    table = with_numbers(table, ("team",))
    means = table.set_index("team")[list(METRICS)].astype(float)
    means.index.name = "team"
    if "n_cases" in table.columns:
        means.attrs["n_cases"] = table.set_index("team")["n_cases"]
    published = None
    found = {c: c2 for c, c2 in (("position", "published_position"),
                                 ("rank_score", "published_score"),
                                 ("score", "published_score")) if c in table.columns}
    if found:
        published = table.set_index("team")[list(found)].rename(columns=found)
        published = published.loc[:, ~published.columns.duplicated()]
    return means, published


def read_cases_table(path: str | Path, team: str | None = None,
                     table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read a ``cases.csv`` (one row per subject); ``team`` sets/overrides its team column.

    Names and ids stay text; metric cells are checked (see :func:`read_means_table`);
    statuses must be known (``failed`` means ``error``); a row without any metric value is
    a missing case. What reading decided is in ``table.attrs["wmheval_notes"]``.
    """
    path = Path(path)
    table = _read_csv(path) if table is None else table.copy()
    if "id" not in table.columns:
        raise RankingInputError(f"{display_path(path)}: no 'id' column; is this a wmheval "
                                "score cases.csv?")
    notes: list[str] = []
    if team is not None:
        table["team"] = check_team_name(team, f"{display_path(path)}: its team")
    elif "team" not in table.columns:
        raise RankingInputError(f"{display_path(path)}: per-case table without a 'team' "
                                "column")
    else:
        _check_team_column(table, path)
    table = _rename_metrics(table, path)
    blank_ids = table["id"].astype(str).str.strip() == ""
    _refuse(path, [f"row {p + 1}: the subject id is empty"
                   for p in np.flatnonzero(blank_ids.to_numpy())], "rows without an id")
    table = _check_status(table, path, notes)
    table = with_numbers(table, TEXT_COLUMNS)
    if "seen_in_training" in table.columns:  # True/False as booleans, as pandas reads them
        flags = seen_flags(table["seen_in_training"])
        if flags.notna().all():
            table["seen_in_training"] = flags.astype(bool)
    duplicated = table.duplicated(["team", "id"])
    if duplicated.any():
        first = table.loc[duplicated, ["team", "id"]].iloc[0].tolist()
        raise RankingInputError(f"{display_path(path)}: duplicate rows for team/subject "
                                f"{first}")
    table.attrs[_NOTES_KEY] = notes
    return table


def read_team_dir(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Per-case rows of one team from a ``wmheval score`` folder (or its ``cases.csv``).

    The team is ``name``, else the folder's name (a name that is not UTF-8 is shown with
    ``\\xNN`` escapes)."""
    path = Path(path)
    file = path / "cases.csv" if path.is_dir() else path
    if not os.path.lexists(file):
        raise RankingInputError(f"{display_path(path)}: no cases.csv found")
    team = name or display_path(path.name if path.is_dir() else path.parent.name)
    table = read_cases_table(file, team=team)
    # Where cases.csv lies: its prediction_path cells are relative to this folder.
    table["score_folder"] = os.path.abspath(file.parent)
    return table


def _team_folders(path: Path) -> list[Path]:
    """The sub-folders of ``path`` that hold a ``cases.csv`` entry of any kind (a folder,
    FIFO or broken link named so is reported when read, never skipped in silence)."""
    try:
        entries = sorted(path.iterdir(), key=lambda p: os.fsencode(p.name))
    except OSError as error:
        raise RankingInputError(f"{display_path(path)}: cannot list the folder: "
                                f"{error.strerror}") from None
    return [p for p in entries if p.is_dir() and os.path.lexists(p / "cases.csv")]


def read_teams_dir(path: str | Path) -> pd.DataFrame:
    """Concatenated per-case rows of every ``<path>/<team>/cases.csv`` (team = folder name)."""
    path = Path(path)
    folders = _team_folders(path)
    if not folders:
        raise RankingInputError(f"{display_path(path)}: no team folders with a cases.csv "
                                "inside")
    tables = [read_team_dir(p) for p in folders]
    teams = [str(t["team"].iloc[0]) for t in tables if len(t)]
    same = sorted({t for t in teams if teams.count(t) > 1})
    if same:
        raise RankingInputError(f"{display_path(path)}: team folders with the same name "
                                f"{same[:5]}")
    merged = pd.concat(tables, ignore_index=True)
    merged.attrs[_NOTES_KEY] = [n for t in tables for n in t.attrs.get(_NOTES_KEY, [])]
    return merged


# ---------------------------------------------------------------- splits and case sets


def _with_manifest_columns(cases: pd.DataFrame, manifest: pd.DataFrame | None,
                           notes: list[str] | None = None) -> pd.DataFrame:
    """Fill absent ``scanner``/``split``/``seen_in_training`` columns: from ``manifest``
    when one is given, else ``unknown`` with one note (the bundled 2017 manifest is not
    applied to ids whose images nobody checked)."""
    needed = [c for c in ("scanner", "split", "seen_in_training") if c not in cases.columns]
    if not needed:
        return cases
    cases = cases.reset_index(drop=True)
    if manifest is not None:
        extra = manifest.reindex(cases["id"])[needed].reset_index(drop=True)
        return pd.concat([cases, extra], axis=1)
    if notes is not None:
        notes.append(f"the per-case table has no {', '.join(needed)} column(s): 'unknown' "
                     "for every subject (pass a manifest to map ids)")
    cases = cases.copy()
    for column in needed:
        cases[column] = pd.NA if column == "seen_in_training" else "unknown"
    return cases


def filter_split(cases: pd.DataFrame, split: str, manifest: pd.DataFrame | None = None,
                 notes: list[str] | None = None) -> pd.DataFrame:
    """Rows of ``cases`` in ``split``: all, seen, unseen, test, training or a scanner key.

    Subjects whose seen status is unknown are in neither ``seen`` nor ``unseen``.
    """
    if split == "all":
        return cases.copy()
    cases = _with_manifest_columns(cases, manifest, notes)
    if split in ("seen", "unseen"):
        seen = seen_flags(cases["seen_in_training"])
        wanted = seen == (split == "seen")
        return cases[wanted.fillna(False).to_numpy(dtype=bool)].copy()
    if split in ("test", "training"):
        return cases[cases["split"].astype(str) == split].copy()
    scanners = set(cases["scanner"].dropna().astype(str))
    if split not in scanners:
        raise RankingInputError(f"unknown split {split!r}: use {SPLIT_HELP}; "
                                f"scanners here: {sorted(scanners)}")
    return cases[cases["scanner"].astype(str) == split].copy()


def common_splits(cases: pd.DataFrame, notes: list[str] | None = None) -> pd.DataFrame:
    """Rows of the splits (training/test) that every team was scored on; the others are
    left out with a note naming who had them (``score --split auto`` does the same)."""
    if "split" not in cases.columns or cases.empty:
        return cases
    split = cases["split"].astype(str)
    by_team = split.groupby(cases["team"].to_numpy()).agg(lambda s: frozenset(s))
    common = frozenset.intersection(*by_team)
    dropped = sorted(frozenset.union(*by_team) - common)
    if not common:
        raise RankingInputError("the teams share no split (training/test): "
                                + "; ".join(f"{t}: {', '.join(sorted(v))}"
                                            for t, v in by_team.items()))
    for name in dropped:
        having = [str(t) for t, v in by_team.items() if name in v]
        if notes is not None:
            notes.append(f"rows of the {name} split left out: only {len(having)} of "
                         f"{len(by_team)} teams were scored on it ({', '.join(having[:5])}"
                         f"{' ...' if len(having) > 5 else ''}); every team is ranked on "
                         f"the {', '.join(sorted(common))} subjects")
    return cases[split.isin(common).to_numpy()].copy() if dropped else cases


def _absent_rows(cases: pd.DataFrame, teams: Sequence[str],
                 subjects: Sequence[str]) -> pd.DataFrame:
    """Rows with status ``missing`` for every (team, subject) of the case set without one."""
    have = set(zip(cases["team"].astype(str), cases["id"].astype(str), strict=True))
    info = cases.drop_duplicates("id").set_index("id")
    rows = []
    for team in teams:
        lacking = [s for s in subjects if (team, s) not in have]
        for subject in lacking:
            row = {"team": team, "id": subject, "status": STATUS_MISSING, "absent": True}
            for column in ("scanner", "split", "seen_in_training"):
                if column in info.columns:
                    row[column] = info.at[subject, column]
            rows.append(row)
    return pd.DataFrame(rows)


def build_cube(cases: pd.DataFrame, policy: ScoringPolicy | str | None = None,
               undefined: str | None = None, notes: list[str] | None = None) -> CaseCube:
    """Arrays of a long per-case table (the case set), with ``policy`` applied.

    Every team is given a row for every subject of the table (an absent row is a missing
    case). ``policy`` may also be a missing-policy name, with ``undefined`` beside it.
    """
    if not isinstance(policy, ScoringPolicy):
        policy = resolve_policy(policy, undefined)
    teams = tuple(dict.fromkeys(cases["team"].astype(str)))
    subjects = tuple(sorted(set(cases["id"].astype(str)), key=_id_key))
    absent = _absent_rows(cases, teams, subjects)
    if len(absent):
        counts = absent.groupby("team").size()
        if notes is not None:
            for team, count in counts.items():
                notes.append(f"warning: team {team} has no row for {count} of {len(subjects)} "
                             f"subjects of the case set: counted as missing "
                             f"({policy.missing.value})")
        full = pd.concat([cases.assign(absent=False), absent], ignore_index=True)
    else:
        full = cases.assign(absent=False).reset_index(drop=True)
    applied = apply_policy(full, policy, METRICS)
    if notes is not None:
        notes.extend(applied.notes)
    metrics = tuple(METRICS)
    t_index = pd.Index(teams).get_indexer(full["team"].astype(str))
    s_index = pd.Index(subjects).get_indexer(full["id"].astype(str))
    shape = (len(teams), len(subjects), len(metrics))
    values, scored = np.full(shape, np.nan), np.full(shape, np.nan)
    values[t_index, s_index] = applied.values
    scored[t_index, s_index] = applied.scored
    missing = np.zeros(shape[:2], dtype=bool)
    missing[t_index, s_index] = applied.missing
    absent_mask = np.zeros(shape[:2], dtype=bool)
    absent_mask[t_index, s_index] = full["absent"].to_numpy(dtype=bool)
    undefined_mask, imputed = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    undefined_mask[t_index, s_index] = applied.undefined
    imputed[t_index, s_index] = applied.imputed
    if "scanner" in full.columns:
        scanner_of = full.drop_duplicates("id").set_index("id")["scanner"].astype(str)
        scanners = tuple(scanner_of.reindex(list(subjects)).fillna("unknown"))
    else:
        scanners = ("unknown",) * len(subjects)
    return CaseCube(teams, subjects, scanners, metrics, values, missing, undefined_mask,
                    scored, imputed, absent_mask)


def _id_key(case_id: str) -> tuple[int, int | str]:
    return (0, int(case_id)) if case_id.isdigit() else (1, case_id)


def cube_means(cube: CaseCube) -> pd.DataFrame:
    """Per-team means used for ranking, means over scored values, counts, comparability."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(cube.values, axis=1)
        scored = np.nanmean(cube.scored, axis=1) if cube.scored is not None else means
    table = pd.DataFrame(means, index=pd.Index(cube.teams, name="team"),
                         columns=list(cube.metrics))
    for k, metric in enumerate(cube.metrics):
        table[f"{metric}_scored"] = scored[:, k]
    table["n_cases"] = len(cube.subjects)
    table["n_missing"] = cube.missing.sum(axis=1)
    table["n_undefined"] = cube.undefined.any(axis=2).sum(axis=1)
    imputed = cube.imputed if cube.imputed is not None else np.zeros_like(cube.undefined)
    table["n_imputed"] = imputed.any(axis=2).sum(axis=1)
    table["comparable"] = True
    return table


def _case_set_field(cases: pd.DataFrame, field_args: dict) -> dict:
    """Choose the case set of split-filtered rows and build cube and means."""
    notes: list[str] = list(field_args.get("notes", ()))
    chosen = common_splits(cases, notes)
    cube = build_cube(chosen, field_args["policy"], notes=notes)
    return {"means": cube_means(cube), "cube": cube,
            "cases": chosen.reset_index(drop=True), "notes": tuple(dict.fromkeys(notes)),
            "case_ids": cube.subjects, "input_cases": cases.reset_index(drop=True),
            "case_label": f"subjects of split {field_args['split']}"}


def field_from_cases(cases: pd.DataFrame, split: str = "all", missing: str | None = None,
                     undefined: str | None = None, source: str = "",
                     manifest: pd.DataFrame | None = None,
                     policy: ScoringPolicy | None = None) -> Field:
    """A per-case field: filter to ``split``, choose the case set, apply the policy."""
    policy = resolve_policy(missing, undefined, policy)
    notes: list[str] = list(cases.attrs.get(_NOTES_KEY, []))
    chosen = filter_split(cases, split, manifest, notes)
    if chosen.empty:
        raise RankingInputError(f"{source or 'cases'}: no subjects in split {split!r}")
    built = _case_set_field(chosen, {"policy": policy, "split": split, "notes": notes})
    return Field(published=None, split=split, policy=policy, source=source, **built)


def published_case_ids() -> tuple[str, ...]:
    """The 110 test subjects of the 2017 release: the case set of the published means."""
    from wmheval.io.manifest import load_manifest

    manifest = load_manifest()
    return tuple(manifest.index[manifest["split"].astype(str) == "test"])


CASE_SET_UNKNOWN = "case set unknown (the table does not say which subjects its means are over)"


def field_from_means(means: pd.DataFrame, published: pd.DataFrame | None = None,
                     source: str = "", case_ids: Sequence[str] | None = None,
                     case_label: str = PUBLISHED_CASE_LABEL) -> Field:
    """A means-only field (e.g. the published leaderboard), averaged over ``case_ids``
    (default: the 110 test subjects of the 2017 release; with ``case_label``
    :data:`CASE_SET_UNKNOWN`, no case set: ``n_cases`` is what the table states, if it does).

    A blank (NaN) mean is a missing value: counted in ``n_missing`` and noted."""
    unknown = case_label == CASE_SET_UNKNOWN
    ids = None if unknown else (tuple(case_ids) if case_ids is not None
                                else published_case_ids())
    table = means.loc[:, list(METRICS)].astype(float).copy()
    for metric in METRICS:
        table[f"{metric}_scored"] = table[metric]
    stated = means.attrs.get("n_cases")
    if ids is not None:
        table["n_cases"] = len(ids)
    elif stated is not None:
        table["n_cases"] = pd.to_numeric(stated.reindex(table.index), errors="coerce")
    else:
        table["n_cases"] = np.nan
    blanks = table[list(METRICS)].isna()
    table["n_missing"] = blanks.sum(axis=1).astype(float)
    for column in COUNT_COLUMNS[2:]:
        table[column] = np.nan
    table["comparable"] = True
    table.index.name = "team"
    notes = [f"{team}: no {', '.join(m for m in METRICS if blanks.loc[team, m])} value in "
             f"the table: a missing value, ranked last on that metric"
             for team in table.index[blanks.any(axis=1).to_numpy()]]
    if unknown:
        notes.append(f"{source or 'the means table'}: {CASE_SET_UNKNOWN}; teams are "
                     "compared as if their means were over the same subjects")
    return Field(table, None, None, published, "all", DEFAULT_POLICY, source, tuple(notes),
                 ids, case_label)


def _is_bundled_leaderboard(path: Path) -> bool:
    """Whether ``path`` is the bundled published leaderboard (the same bytes)."""
    from wmheval._resources import published_leaderboard_path

    bundled = Path(published_leaderboard_path())
    try:
        return path.stat().st_size == bundled.stat().st_size and \
            path.read_bytes() == bundled.read_bytes()
    except OSError:
        return False


def load_field(path: str | Path, split: str = "all", missing: str | None = None,
               undefined: str | None = None, manifest: pd.DataFrame | None = None,
               policy: ScoringPolicy | None = None) -> Field:
    """Load a field from a means table, a per-case table, or a folder of team folders.

    A means table (no ``id`` column) can only be ranked on ``split="all"`` (its means are
    already averaged over some set of subjects: the 110 test subjects of the 2017 release
    for the bundled leaderboard, :data:`CASE_SET_UNKNOWN` for any other table).
    ``missing``/``undefined`` override ``policy`` (default
    :data:`~wmheval.scoring.policy.DEFAULT_POLICY`).
    """
    policy = resolve_policy(missing, undefined, policy)
    path = Path(path)
    if path.is_dir():
        if os.path.lexists(path / "cases.csv") and not _team_folders(path):
            cases = read_team_dir(path)
        else:
            cases = read_teams_dir(path)
        return field_from_cases(cases, split, source=str(path), manifest=manifest,
                                policy=policy)
    if not os.path.lexists(path):
        raise RankingInputError(f"{display_path(path)}: no such file or folder")
    text = _read_csv(path)  # read once: the header says which kind of table it is
    if "id" in text.columns:
        table = read_cases_table(path, team=None if "team" in text.columns
                                 else display_path(path.parent.name), table=text)
        return field_from_cases(table, split, source=str(path), manifest=manifest,
                                policy=policy)
    if split != "all":
        raise RankingInputError(f"{path}: a table of team means has no per-subject results, "
                                f"so it can only be ranked on split 'all' (got {split!r})")
    means, published = read_means_table(path, table=text)
    label = PUBLISHED_CASE_LABEL if _is_bundled_leaderboard(path) else CASE_SET_UNKNOWN
    return replace(field_from_means(means, published, display_path(path), case_label=label),
                   policy=policy)


# ---------------------------------------------------------------- editing a field


def read_team_list(path: str | Path) -> list[str]:
    """Team names from a text file, one per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RankingInputError(f"{path}: cannot read team list: {error}") from error
    names = [line.split("#", 1)[0].strip() for line in lines]
    return [n for n in names if n]


def subset_field(field: Field, teams: Iterable[str]) -> Field:
    """The field restricted to ``teams`` (in the field's order); unknown names are an error.

    Per-case fields are rebuilt (case set, and "worst" imputations, over the kept teams).
    """
    wanted = list(dict.fromkeys(teams))
    unknown = [t for t in wanted if t not in field.means.index]
    if unknown:
        hints = {t: get_close_matches(t, field.teams, n=1) for t in unknown}
        detail = ", ".join(f"{t!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                           for t, h in hints.items())
        raise RankingInputError(f"unknown team(s) {detail} in {field.source or 'the field'}")
    if not wanted:
        raise RankingInputError("the team list is empty")
    kept = [t for t in field.teams if t in set(wanted)]
    if field.input_cases is not None:
        cases = field.input_cases[field.input_cases["team"].isin(kept)]
        return replace(field, **_case_set_field(cases, {"policy": field.policy,
                                                         "split": field.split}))
    published = field.published.reindex(kept) if field.published is not None else None
    return replace(field, means=field.means.loc[kept].copy(), published=published)


def _team_cases(source: str | Path | pd.DataFrame, name: str | None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        if name is None:
            raise ValueError("a name is needed to add a team given as a DataFrame")
        where = f"the table of team {name}"
        frame = _rename_metrics(source.copy(), where)
        frame["team"] = check_team_name(name, where)
        frame["id"] = frame["id"].astype(str)
        return _check_status(frame, where, [])
    return read_team_dir(source, name)


def add_team(field: Field, source: str | Path | pd.DataFrame, name: str | None = None,
             manifest: pd.DataFrame | None = None) -> Field:
    """Insert a team (a ``wmheval score`` folder, its ``cases.csv``, or a cases DataFrame).

    Into a per-case field its rows join the others (same split, case set and policy).
    Into a means-only field (the published leaderboard) only its rows of the field's case
    set count (the 110 test subjects for the bundled leaderboard); a team that does not
    cover them all is flagged ``comparable=False`` with a warning in ``notes``. Its
    "worst" imputations, if chosen, come from its own cases.
    """
    cases = _team_cases(source, name)
    team = str(cases["team"].iloc[0]) if len(cases) else (name or "?")
    if team in field.means.index:
        raise RankingInputError(f"team {team!r} is already in the field; choose another name")
    if field.input_cases is not None:
        notes = list(field.notes)
        merged = pd.concat([field.input_cases,
                            filter_split(cases, field.split, manifest, notes)],
                           ignore_index=True)
        return replace(field, **_case_set_field(merged, {"policy": field.policy,
                                                          "split": field.split,
                                                          "notes": notes}))
    return _add_to_means_field(field, cases, team, str(source))


def _add_to_means_field(field: Field, cases: pd.DataFrame, team: str, source: str) -> Field:
    """Average the team over the means field's case set; flag it when it does not cover it."""
    notes = list(field.notes)
    if field.case_ids is None and field.case_label == CASE_SET_UNKNOWN:
        cube = build_cube(cases, field.policy, notes=notes)
        means = cube_means(cube)
        means["comparable"] = False
        notes.append(f"WARNING: {team}: the means table's case set is unknown, so its "
                     f"{len(cube.subjects)} subjects cannot be known to be the same: ranked, "
                     "flagged comparable=False")
        merged = pd.concat([field.means, means.reindex(columns=field.means.columns)])
        merged.index.name = "team"
        return replace(field, means=merged, notes=tuple(notes))
    case_ids = field.case_ids if field.case_ids is not None else published_case_ids()
    inside = cases["id"].astype(str).isin(set(case_ids))
    if (~inside).any():
        notes.append(f"{team}: {int((~inside).sum())} row(s) outside the field's case set "
                     f"(the {len(case_ids)} {field.case_label}) left out")
    own = cases[inside.to_numpy()]
    if own.empty:
        raise RankingInputError(f"{source}: none of its {len(cases)} subjects is among the "
                                f"field's {len(case_ids)} {field.case_label}; its means "
                                "cannot be compared")
    cube = build_cube(own, field.policy, notes=notes)
    means = cube_means(cube)
    covered = len(cube.subjects)
    means["comparable"] = covered == len(case_ids)
    if covered < len(case_ids):
        notes.append(f"WARNING: {team}: {covered} of {len(case_ids)} {field.case_label}: "
                     f"not comparable "
                     f"(its means are over other subjects than the field's; ranked, flagged "
                     f"comparable=False)")
    merged = pd.concat([field.means, means.reindex(columns=field.means.columns)])
    merged.index.name = "team"
    return replace(field, means=merged, notes=tuple(notes))


def prepare_field(path: str | Path, teams: Sequence[str] | None = None,
                  add: Sequence[tuple[str | Path, str | None]] = (), split: str = "all",
                  missing: str | None = None, undefined: str | None = None,
                  manifest: pd.DataFrame | None = None,
                  policy: ScoringPolicy | None = None) -> Field:
    """Load, insert new teams, then restrict to ``teams`` (added teams are always kept)."""
    field = load_field(path, split, missing, undefined, manifest, policy)
    added: list[str] = []
    for source, name in add:
        before = set(field.teams)
        field = add_team(field, source, name, manifest)
        added.extend(t for t in field.teams if t not in before)
    if teams:
        field = subset_field(field, list(teams) + added)
    return field
