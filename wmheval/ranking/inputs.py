"""Loading per-team results into a :class:`Field`: per-case tables or tables of team means.

Inputs accepted (see ``docs/ranking.md``):

* a table of per-team means, e.g. the published leaderboard (columns ``team`` plus the five
  metrics under our names ``dice, h95, avd, recall, f1`` or the leaderboard's ``dice,
  hd95_mm, avd_pct, lesion_recall, lesion_f1``; other columns are ignored);
* a folder of team folders, each holding a ``wmheval score`` output ``cases.csv``;
* one long per-case CSV with a ``team`` column.

Per-case handling: a row whose status is ``missing`` or ``error`` (or a subject a team has
no row for) is *missing*; a NaN metric in any other row is *undefined* (e.g. H95 of an empty
prediction). Each can count as the worst value of the field for that metric (``"worst"``,
the default) or be left out of the team's mean (``"exclude"``). A (subject, metric) cell
that is NaN for every team (e.g. an empty reference) is left out for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.metrics import METRICS
from wmheval.ranking.minmax import higher_is_better

METRIC_ALIASES = {
    "dice": "dice", "dsc": "dice",
    "h95": "h95", "hd95": "h95", "hd95_mm": "h95", "h95_mm": "h95",
    "avd": "avd", "avd_pct": "avd",
    "recall": "recall", "lesion_recall": "recall",
    "f1": "f1", "lesion_f1": "f1",
}
"""Column names accepted for each metric (the leaderboard's and ours)."""

MISSING_STATUSES = frozenset({"missing", "error"})
POLICIES = ("worst", "exclude")
SPLIT_HELP = "all, seen, unseen, test, training, or a scanner key (e.g. amsterdam_ge_1p5t)"
COUNT_COLUMNS = ("n_cases", "n_missing", "n_undefined")


class RankingInputError(ValueError):
    """An input table or folder cannot be used for ranking (the message names the file)."""


@dataclass(frozen=True)
class CaseCube:
    """Per-case results of a field as arrays: values[team, subject, metric].

    ``values`` already has the missing/undefined policy applied: imputed cells hold the
    worst value of the field, excluded cells are NaN. ``missing`` marks (team, subject)
    cells without a usable result; ``undefined`` marks (team, subject, metric) NaN metrics
    of usable rows.
    """

    teams: tuple[str, ...]
    subjects: tuple[str, ...]
    scanners: tuple[str, ...]
    metrics: tuple[str, ...]
    values: np.ndarray
    missing: np.ndarray
    undefined: np.ndarray


@dataclass(frozen=True)
class Field:
    """The teams being ranked: their means per metric and, when known, per-case results.

    ``means`` is indexed by team with columns ``dice, h95, avd, recall, f1`` and the counts
    ``n_cases, n_missing, n_undefined`` (NaN for teams known by their means only).
    ``cube`` and ``cases`` (the raw long table, after the split) exist when every team has
    per-case results. ``published`` holds a leaderboard's own ``published_position`` and
    ``published_score`` when the input had them.
    """

    means: pd.DataFrame
    cube: CaseCube | None = None
    cases: pd.DataFrame | None = None
    published: pd.DataFrame | None = None
    split: str = "all"
    missing: str = "worst"
    undefined: str = "worst"
    source: str = ""

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(self.means.index)

    @property
    def has_cases(self) -> bool:
        return self.cube is not None

    def metric_means(self) -> np.ndarray:
        """The (teams, metrics) array of means, in :data:`METRICS` order."""
        return self.means.loc[:, list(METRICS)].to_numpy(dtype=float)


# ---------------------------------------------------------------- reading files


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"id": str, "team": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as error:
        raise RankingInputError(f"{path}: cannot read table: {error}") from error


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
            f"{path}: missing metric columns {missing}; expected {list(METRICS)} or the "
            f"leaderboard's dice, hd95_mm, avd_pct, lesion_recall, lesion_f1")
    for metric in METRICS:
        table[metric] = pd.to_numeric(table[metric], errors="coerce")
    return table


def read_means_table(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read a table of per-team means: (means indexed by team, published columns or None)."""
    path = Path(path)
    table = _read_csv(path)
    if "team" not in table.columns:
        raise RankingInputError(f"{path}: no 'team' column (columns: {list(table.columns)})")
    table = _rename_metrics(table, path)
    table["team"] = table["team"].astype(str).str.strip()
    duplicated = table["team"][table["team"].duplicated()].tolist()
    if duplicated:
        raise RankingInputError(f"{path}: duplicate team names {duplicated[:5]}")
    means = table.set_index("team")[list(METRICS)].astype(float)
    means.index.name = "team"
    published = None
    found = {c: c2 for c, c2 in (("position", "published_position"),
                                 ("rank_score", "published_score"),
                                 ("score", "published_score")) if c in table.columns}
    if found:
        published = table.set_index("team")[list(found)].rename(columns=found)
        published = published.loc[:, ~published.columns.duplicated()]
    return means, published


def read_cases_table(path: str | Path, team: str | None = None) -> pd.DataFrame:
    """Read a ``cases.csv`` (one row per subject); ``team`` sets/overrides its team column."""
    path = Path(path)
    table = _read_csv(path)
    if "id" not in table.columns:
        raise RankingInputError(f"{path}: no 'id' column; is this a wmheval score cases.csv?")
    table = _rename_metrics(table, path)
    table["id"] = table["id"].astype(str)
    if team is not None:
        table["team"] = team
    elif "team" not in table.columns:
        raise RankingInputError(f"{path}: per-case table without a 'team' column")
    table["team"] = table["team"].astype(str)
    if "status" not in table.columns:
        table["status"] = "ok"
    table["status"] = table["status"].fillna("ok").astype(str)
    duplicated = table.duplicated(["team", "id"])
    if duplicated.any():
        first = table.loc[duplicated, ["team", "id"]].iloc[0].tolist()
        raise RankingInputError(f"{path}: duplicate rows for team/subject {first}")
    return table


def _is_cases_table(path: Path) -> bool:
    header = _read_csv(path).columns
    return "id" in header


def read_team_dir(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Per-case rows of one team from a ``wmheval score`` folder (or its ``cases.csv``)."""
    path = Path(path)
    file = path / "cases.csv" if path.is_dir() else path
    if not file.is_file():
        raise RankingInputError(f"{path}: no cases.csv found")
    team = name or (path.name if path.is_dir() else path.parent.name)
    return read_cases_table(file, team=team)


def read_teams_dir(path: str | Path) -> pd.DataFrame:
    """Concatenated per-case rows of every ``<path>/<team>/cases.csv`` (team = folder name)."""
    path = Path(path)
    folders = sorted(p for p in path.iterdir() if (p / "cases.csv").is_file())
    if not folders:
        raise RankingInputError(f"{path}: no team folders with a cases.csv inside")
    return pd.concat([read_team_dir(p) for p in folders], ignore_index=True)


# ---------------------------------------------------------------- splits and policies


def _as_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.astype(str).str.strip().str.lower().isin(["true", "1", "yes"])


def _with_manifest_columns(cases: pd.DataFrame, manifest: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``scanner``/``split``/``seen_in_training`` from the manifest where absent."""
    needed = [c for c in ("scanner", "split", "seen_in_training") if c not in cases.columns]
    if not needed:
        return cases
    if manifest is None:
        from wmheval.io.manifest import load_manifest

        manifest = load_manifest()
    extra = manifest.reindex(cases["id"])[needed].reset_index(drop=True)
    return pd.concat([cases.reset_index(drop=True), extra], axis=1)


def filter_split(cases: pd.DataFrame, split: str,
                 manifest: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of ``cases`` in ``split``: all, seen, unseen, test, training or a scanner key."""
    if split == "all":
        return cases.copy()
    cases = _with_manifest_columns(cases, manifest)
    if split in ("seen", "unseen"):
        seen = _as_bool(cases["seen_in_training"])
        return cases[seen if split == "seen" else ~seen].copy()
    if split in ("test", "training"):
        return cases[cases["split"].astype(str) == split].copy()
    scanners = set(cases["scanner"].dropna().astype(str))
    if split not in scanners:
        raise RankingInputError(f"unknown split {split!r}: use {SPLIT_HELP}; "
                                f"scanners here: {sorted(scanners)}")
    return cases[cases["scanner"].astype(str) == split].copy()


def _check_policy(name: str, value: str) -> None:
    if value not in POLICIES:
        raise ValueError(f"{name} must be one of {POLICIES}, got {value!r}")


def build_cube(cases: pd.DataFrame, missing: str = "worst",
               undefined: str = "worst") -> CaseCube:
    """Arrays of a long per-case table, with the missing/undefined policies applied."""
    _check_policy("missing", missing)
    _check_policy("undefined", undefined)
    teams = tuple(dict.fromkeys(cases["team"]))
    subjects = tuple(sorted(set(cases["id"])))
    metrics = tuple(METRICS)
    t_index = pd.Index(teams).get_indexer(cases["team"])
    s_index = pd.Index(subjects).get_indexer(cases["id"])
    values = np.full((len(teams), len(subjects), len(metrics)), np.nan)
    values[t_index, s_index] = cases[list(metrics)].to_numpy(dtype=float)
    present = np.zeros((len(teams), len(subjects)), dtype=bool)
    present[t_index, s_index] = ~cases["status"].isin(MISSING_STATUSES).to_numpy()
    values[~present] = np.nan
    if "scanner" in cases.columns:
        scanner_of = cases.drop_duplicates("id").set_index("id")["scanner"].astype(str)
        scanners = tuple(scanner_of.reindex(list(subjects)).fillna("unknown"))
    else:
        scanners = ("unknown",) * len(subjects)
    nan = np.isnan(values)
    uninformative = nan.all(axis=0, keepdims=True)  # no team has a value: drop for all
    missing_mask = ~present
    undefined_mask = nan & present[..., None] & ~uninformative
    higher = higher_is_better(metrics)
    oriented = np.where(higher, -values, values)
    with np.errstate(invalid="ignore"):
        worst_oriented = np.nanmax(oriented.reshape(-1, len(metrics)), axis=0) \
            if np.isfinite(oriented).any() else np.full(len(metrics), np.nan)
    worst = np.where(higher, -worst_oriented, worst_oriented)
    impute = np.zeros_like(nan)
    if missing == "worst":
        impute |= missing_mask[..., None] & ~uninformative
    if undefined == "worst":
        impute |= undefined_mask
    values = np.where(impute, np.broadcast_to(worst, values.shape), values)
    return CaseCube(teams, subjects, scanners, metrics, values, missing_mask, undefined_mask)


def cube_means(cube: CaseCube) -> pd.DataFrame:
    """Per-team means (NaN-skipping) and counts of a cube, indexed by team."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(cube.values, axis=1)
    table = pd.DataFrame(means, index=pd.Index(cube.teams, name="team"),
                         columns=list(cube.metrics))
    table["n_cases"] = len(cube.subjects)
    table["n_missing"] = cube.missing.sum(axis=1)
    table["n_undefined"] = cube.undefined.any(axis=2).sum(axis=1)
    return table


def field_from_cases(cases: pd.DataFrame, split: str = "all", missing: str = "worst",
                     undefined: str = "worst", source: str = "",
                     manifest: pd.DataFrame | None = None) -> Field:
    """A per-case field: filter to ``split``, apply the policies, average per team."""
    chosen = filter_split(cases, split, manifest)
    if chosen.empty:
        raise RankingInputError(f"{source or 'cases'}: no subjects in split {split!r}")
    cube = build_cube(chosen, missing, undefined)
    return Field(cube_means(cube), cube, chosen.reset_index(drop=True), None,
                 split, missing, undefined, source)


def field_from_means(means: pd.DataFrame, published: pd.DataFrame | None = None,
                     source: str = "") -> Field:
    """A means-only field (e.g. the published leaderboard)."""
    table = means.loc[:, list(METRICS)].astype(float).copy()
    for column in COUNT_COLUMNS:
        table[column] = np.nan
    table.index.name = "team"
    return Field(table, None, None, published, "all", "worst", "worst", source)


def load_field(path: str | Path, split: str = "all", missing: str = "worst",
               undefined: str = "worst", manifest: pd.DataFrame | None = None) -> Field:
    """Load a field from a means table, a per-case table, or a folder of team folders.

    A means table (no ``id`` column) can only be ranked on ``split="all"`` (its means are
    already averaged over some set of subjects).
    """
    path = Path(path)
    if path.is_dir():
        if (path / "cases.csv").is_file() and not any(
                (p / "cases.csv").is_file() for p in path.iterdir() if p.is_dir()):
            cases = read_team_dir(path)
        else:
            cases = read_teams_dir(path)
        return field_from_cases(cases, split, missing, undefined, str(path), manifest)
    if not path.is_file():
        raise RankingInputError(f"{path}: no such file or folder")
    if _is_cases_table(path):
        table = read_cases_table(path, team=None if "team" in _read_csv(path).columns
                                 else path.parent.name)
        return field_from_cases(table, split, missing, undefined, str(path), manifest)
    if split != "all":
        raise RankingInputError(f"{path}: a table of team means has no per-subject results, "
                                f"so it can only be ranked on split 'all' (got {split!r})")
    means, published = read_means_table(path)
    return field_from_means(means, published, str(path))


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

    Per-case fields are rebuilt, so "worst of the field" imputations use the kept teams.
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
    if field.cases is not None:
        cases = field.cases[field.cases["team"].isin(kept)]
        cube = build_cube(cases, field.missing, field.undefined)
        return replace(field, means=cube_means(cube), cube=cube,
                       cases=cases.reset_index(drop=True))
    published = field.published.reindex(kept) if field.published is not None else None
    return replace(field, means=field.means.loc[kept].copy(), published=published)


def _team_cases(source: str | Path | pd.DataFrame, name: str | None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        if name is None:
            raise ValueError("a name is needed to add a team given as a DataFrame")
        frame = source.copy()
        frame["team"] = name
        frame["id"] = frame["id"].astype(str)
        if "status" not in frame.columns:
            frame["status"] = "ok"
        return frame
    return read_team_dir(source, name)


def add_team(field: Field, source: str | Path | pd.DataFrame, name: str | None = None,
             manifest: pd.DataFrame | None = None) -> Field:
    """Insert a team (a ``wmheval score`` folder, its ``cases.csv``, or a cases DataFrame).

    Into a per-case field its rows join the others (same split and policies); into a
    means-only field (the published leaderboard) its means over the field's split are
    added, with "worst" imputations taken over its own cases.
    """
    cases = _team_cases(source, name)
    team = str(cases["team"].iloc[0]) if len(cases) else (name or "?")
    if team in field.means.index:
        raise RankingInputError(f"team {team!r} is already in the field; choose another name")
    if field.cases is not None:
        merged = pd.concat([field.cases, filter_split(cases, field.split, manifest)],
                           ignore_index=True)
        return replace(field, **_rebuilt(merged, field))
    own = field_from_cases(cases, field.split, field.missing, field.undefined,
                           str(source), manifest)
    means = pd.concat([field.means, own.means])
    return replace(field, means=means)


def _rebuilt(cases: pd.DataFrame, field: Field) -> dict:
    cube = build_cube(cases, field.missing, field.undefined)
    return {"means": cube_means(cube), "cube": cube, "cases": cases}


def prepare_field(path: str | Path, teams: Sequence[str] | None = None,
                  add: Sequence[tuple[str | Path, str | None]] = (), split: str = "all",
                  missing: str = "worst", undefined: str = "worst",
                  manifest: pd.DataFrame | None = None) -> Field:
    """Load, insert new teams, then restrict to ``teams`` (added teams are always kept)."""
    field = load_field(path, split, missing, undefined, manifest)
    added: list[str] = []
    for source, name in add:
        before = set(field.teams)
        field = add_team(field, source, name, manifest)
        added.extend(t for t in field.teams if t not in before)
    if teams:
        field = subset_field(field, list(teams) + added)
    return field
