"""Volumetric agreement and lesion-load analysis of segmentations against a reference.

What the CT-versus-MRI study (seed paper 002) reports, per team and per group of subjects
(all, seen, unseen, each scanner): correlation, line fits, ICC and Bland–Altman on the
lesion volumes (mL, optionally log volume); Dice, recall and volume error per lesion-load
group; the correctly (TP) and wrongly (FP, FN) segmented volumes per subject; and Fazekas
grades estimated from volume. Inputs are ``cases.csv`` tables of ``wmheval score`` (or of
:func:`wmheval.scoring.pair.score_pair`). The statistics are in
:mod:`wmheval.analysis.agreement_stats`, the grades in :mod:`wmheval.analysis.fazekas`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.analysis import fazekas
from wmheval.analysis.agreement_stats import CONFIDENCE, MIN_SUBJECTS, agreement_row
from wmheval.errors import InputError
from wmheval.scoring.aggregate import case_groups
from wmheval.vocabulary import SCORED_STATUSES, STATUS_OK, VOLUME_SCALES, seen_flags

SCALES = VOLUME_SCALES
"""``ml``: volumes in millilitres; ``log``: natural log of the volumes (zero volumes left out).
On the log scale the Bland–Altman bias is the mean log ratio: exp(bias) is the typical
ratio compared / reference."""

DEFAULT_LOAD_GROUPS: tuple[tuple[str, float, float], ...] = (
    ("small (<5 mL)", 0.0, 5.0),
    ("medium (5-15 mL)", 5.0, 15.0),
    ("large (>=15 mL)", 15.0, math.inf),
)
"""Lesion-load groups by reference volume, [low, high) mL. Fixed bins rather than sample
tertiles so that teams and data sets are compared on the same footing; on the 110 real test
subjects of the challenge (``nnunet_resencm_per_case_test110.csv``) the reference-volume
tertiles are 4.5 and 14.3 mL, so these bins split the real test set about in thirds
(41/34/35 subjects)."""

REFERENCE_TEAM = "(reference)"
"""Name of the reference volumes' row in the Fazekas tables."""

VOLUME_COLUMNS = ("team", "id", "scanner", "seen_in_training", "status", "reference_ml",
                  "prediction_ml", "tp_ml", "fp_ml", "fn_ml", "dice", "recall")


class AgreementInputError(InputError):
    """An input cannot be used for the agreement analysis (the message names it)."""


# ---------------------------------------------------------------- inputs


def _overlap_ml(cases: pd.DataFrame) -> pd.Series:
    """TP volume: the ``overlap_ml`` column, or for older ``cases.csv`` files without it,
    Dice·(|T| + |P|)/2 in voxels, rounded to whole voxels (exact: Dice came from counts)."""
    if "overlap_ml" in cases.columns:
        return pd.to_numeric(cases["overlap_ml"], errors="coerce")
    n_ref = pd.to_numeric(cases.get("n_reference_voxels"), errors="coerce")
    n_pred = pd.to_numeric(cases.get("n_prediction_voxels"), errors="coerce")
    dice = pd.to_numeric(cases["dice"], errors="coerce")
    overlap = (dice * (n_ref + n_pred) / 2).round()
    overlap = overlap.where(~((n_ref + n_pred == 0) & dice.isna()), 0.0)
    ref_ml = pd.to_numeric(cases["reference_ml"], errors="coerce")
    pred_ml = pd.to_numeric(cases["prediction_ml"], errors="coerce")
    voxel_ml = (ref_ml / n_ref).where(n_ref > 0, pred_ml / n_pred)
    return (overlap * voxel_ml).where(overlap > 0, overlap)


def volumes_from_cases(cases: pd.DataFrame, team: str | None = None) -> pd.DataFrame:
    """Per-subject volumes (mL) of one ``cases.csv`` table: reference, prediction, TP, FP, FN,
    with Dice and lesion recall. Rows whose status is not scored get NaN volumes."""
    missing = [c for c in ("id", "reference_ml", "prediction_ml", "dice") if c not in cases]
    if missing:
        raise AgreementInputError(f"cases table lacks columns {missing}; is it a wmheval "
                                  "score cases.csv?")
    table = pd.DataFrame({"id": cases["id"].astype(str)})
    table.insert(0, "team", team if team is not None else cases.get("team", "compared"))
    table["scanner"] = cases["scanner"].astype(str) if "scanner" in cases else "unknown"
    seen = cases.get("seen_in_training", pd.NA)
    table["seen_in_training"] = seen_flags(pd.Series(seen, index=cases.index))
    table["status"] = (cases["status"].fillna(STATUS_OK).astype(str) if "status" in cases
                       else STATUS_OK)
    scored = table["status"].isin(SCORED_STATUSES)
    reference = pd.to_numeric(cases["reference_ml"], errors="coerce").where(scored)
    prediction = pd.to_numeric(cases["prediction_ml"], errors="coerce").where(scored)
    overlap = _overlap_ml(cases).where(scored)
    table["reference_ml"] = reference
    table["prediction_ml"] = prediction
    table["tp_ml"] = overlap
    table["fp_ml"] = (prediction - overlap).clip(lower=0)
    table["fn_ml"] = (reference - overlap).clip(lower=0)
    table["dice"] = pd.to_numeric(cases["dice"], errors="coerce").where(scored)
    table["recall"] = (pd.to_numeric(cases["recall"], errors="coerce").where(scored)
                       if "recall" in cases else np.nan)
    return table[list(VOLUME_COLUMNS)].reset_index(drop=True)


def read_score_folder(path: str | Path, team: str | None = None) -> pd.DataFrame:
    """Volumes of one ``wmheval score`` output folder (or its ``cases.csv``); team = the
    folder's name unless given."""
    from wmheval.io.paths import display_path
    from wmheval.io.tables import TableError, read_text_table, with_numbers

    path = Path(path)
    file = path / "cases.csv" if path.is_dir() else path
    if not os.path.lexists(file):
        raise AgreementInputError(f"{display_path(path)}: no cases.csv found (a wmheval "
                                  "score output folder is expected)")
    try:
        cases = with_numbers(read_text_table(file), ("id", "team", "status", "scanner",
                                                     "split", "seen_in_training",
                                                     "prediction_path", "error", "warnings"))
    except TableError as error:
        raise AgreementInputError(str(error)) from None
    problems = []
    for column, low, high in (("reference_ml", 0, np.inf), ("prediction_ml", 0, np.inf),
                              ("dice", 0, 1), ("recall", 0, 1)):
        if column in cases and pd.api.types.is_numeric_dtype(cases[column]):
            values = cases[column].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(np.isinf(values) | (values < low) | (values > high))
            problems += [f"row {k + 1}: {column} {values[k]:g} is outside {low:g}-{high:g}"
                         for k in bad[:3]]
    if problems:
        raise AgreementInputError(f"{display_path(file)}: values that cannot be right: "
                                  + "; ".join(problems[:5]))
    name = team or display_path(path.name if path.is_dir() else path.parent.name)
    try:
        return volumes_from_cases(cases, name)
    except AgreementInputError as error:
        raise AgreementInputError(f"{file}: {error}") from None


def read_score_folders(paths: Sequence[str | Path],
                       names: Sequence[str] | None = None) -> pd.DataFrame:
    """Volumes of several score folders, one team each (names default to folder names).

    A folder holding no ``cases.csv`` but team folders that do (``teams/<team>/cases.csv``)
    contributes every team in it.
    """
    names = list(names or [])
    if len(names) > len(paths):
        raise AgreementInputError(f"{len(names)} team names for {len(paths)} inputs")
    tables = []
    for k, path in enumerate(paths):
        path = Path(path)
        name = names[k] if k < len(names) else None
        if path.is_dir() and not os.path.lexists(path / "cases.csv"):
            # Any entry named cases.csv counts: a FIFO or folder is reported, not skipped.
            inner = sorted(p for p in path.iterdir()
                           if p.is_dir() and os.path.lexists(p / "cases.csv"))
            if inner and name is None:
                tables += [read_score_folder(p) for p in inner]
                continue
        tables.append(read_score_folder(path, name))
    volumes = pd.concat(tables, ignore_index=True)
    duplicated = volumes.duplicated(["team", "id"])
    if duplicated.any():
        team, case = volumes.loc[duplicated, ["team", "id"]].iloc[0]
        raise AgreementInputError(f"team {team!r} has two rows for subject {case!r}: give "
                                  "each input a distinct name (--name)")
    return volumes


# ---------------------------------------------------------------- load groups


def load_groups_from_edges(edges) -> tuple[tuple[str, float, float], ...]:
    """Groups from edges in mL, e.g. ``(5, 15)`` -> <5, 5-15, >=15 (names from the edges);
    a ValueError unless the edges are positive and increasing."""
    edges = [float(e) for e in edges]
    if not edges or any(not e > 0 for e in edges) or sorted(set(edges)) != edges:
        raise ValueError(f"load-group edges must be positive and increasing, got "
                         f"{','.join(f'{e:g}' for e in edges)!r}")
    bounds = [0.0, *edges, math.inf]

    def label(low: float, high: float) -> str:
        if low == 0:
            return f"<{high:g} mL"
        return f">={low:g} mL" if math.isinf(high) else f"{low:g}-{high:g} mL"

    return tuple((label(lo, hi), lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False))


def load_group_of(volume_ml, groups=DEFAULT_LOAD_GROUPS) -> np.ndarray:
    """Name of each volume's lesion-load group ("" for NaN)."""
    volume_ml = np.asarray(volume_ml, dtype=float)
    names = np.full(volume_ml.shape, "", dtype=object)
    for name, low, high in groups:
        names[(volume_ml >= low) & (volume_ml < high)] = name
    return names


# ---------------------------------------------------------------- the analysis


@dataclass
class AgreementResult:
    """Tables of one agreement analysis and what it had to leave out."""

    volumes: pd.DataFrame
    statistics: pd.DataFrame
    strata: pd.DataFrame
    load_groups: tuple[tuple[str, float, float], ...]
    fazekas_summary: pd.DataFrame | None = None
    fazekas_confusion: pd.DataFrame | None = None
    fazekas_mode: str = "skipped"
    ratings: pd.DataFrame | None = None
    grading: tuple[Sequence[float], Sequence[str]] | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def teams(self) -> list[str]:
        return list(dict.fromkeys(self.volumes["team"]))


def _transform(x: np.ndarray, y: np.ndarray, scale: str) -> tuple[np.ndarray, np.ndarray]:
    if scale == "log":
        keep = (x > 0) & (y > 0)
        return np.log(x[keep]), np.log(y[keep])
    return x, y


def group_statistics(volumes: pd.DataFrame, scales: Sequence[str] = ("ml",),
                     confidence: float = CONFIDENCE, error_ratio: float = 1.0,
                     notes: list[str] | None = None) -> pd.DataFrame:
    """One row of statistics per team, scale and group (all, seen, unseen, each scanner).

    Subjects without both volumes are left out; on the log scale so are zero volumes;
    groups with fewer than :data:`MIN_SUBJECTS` subjects are skipped with a note.
    """
    notes = notes if notes is not None else []
    rows = []
    for scale in scales:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        for team, team_rows in volumes.groupby("team", sort=False):
            usable = team_rows.dropna(subset=["reference_ml", "prediction_ml"])
            if scale == "log":
                zero = usable[(usable["reference_ml"] <= 0) | (usable["prediction_ml"] <= 0)]
                if len(zero):
                    notes.append(f"{team}: {len(zero)} subject(s) with a zero volume left out "
                                 f"of the log-scale analysis ({_ids(zero)})")
                    usable = usable.drop(zero.index)
            for group_type, group, rows_in in case_groups(usable):
                x = rows_in["reference_ml"].to_numpy(dtype=float)
                y = rows_in["prediction_ml"].to_numpy(dtype=float)
                x, y = _transform(x, y, scale)
                if x.size < MIN_SUBJECTS:
                    notes.append(f"{team}, {group} ({scale}): {x.size} subject(s), fewer than "
                                 f"{MIN_SUBJECTS}: not analysed")
                    continue
                row = {"team": team, "scale": scale, "group_type": group_type,
                       "group": group}
                row |= agreement_row(x, y, confidence, error_ratio)
                rows.append(row)
    return pd.DataFrame(rows)


def _ids(rows: pd.DataFrame, limit: int = 5) -> str:
    ids = rows["id"].astype(str).tolist()
    return ", ".join(ids[:limit]) + (" ..." if len(ids) > limit else "")


def load_strata(volumes: pd.DataFrame, groups=DEFAULT_LOAD_GROUPS,
                notes: list[str] | None = None) -> pd.DataFrame:
    """Per team and lesion-load group (by reference volume): subjects, mean and median Dice,
    mean lesion recall, mean volume error (compared - reference, mL), mean absolute relative
    volume error (%, the challenge's AVD), and the summed TP/FP/FN volumes."""
    notes = notes if notes is not None else []
    rows = []
    usable = volumes.dropna(subset=["reference_ml", "prediction_ml"]).copy()
    usable["load_group"] = load_group_of(usable["reference_ml"], groups)
    for team, team_rows in usable.groupby("team", sort=False):
        for name, low, high in groups:
            block = team_rows[team_rows["load_group"] == name]
            error = block["prediction_ml"] - block["reference_ml"]
            positive = block["reference_ml"] > 0
            relative = (error.abs() / block["reference_ml"]).where(positive) * 100
            if 0 < len(block) < MIN_SUBJECTS:
                notes.append(f"{team}, load group {name}: only {len(block)} subject(s); "
                             "its means are shown but are fragile")
            rows.append({
                "team": team, "load_group": name, "low_ml": low, "high_ml": high,
                "n": len(block),
                "reference_ml_median": block["reference_ml"].median(),
                "dice_mean": block["dice"].mean(), "dice_median": block["dice"].median(),
                "recall_mean": block["recall"].mean(),
                "volume_error_ml_mean": error.mean(),
                "abs_relative_error_pct_mean": relative.mean(),
                "tp_ml_sum": block["tp_ml"].sum(), "fp_ml_sum": block["fp_ml"].sum(),
                "fn_ml_sum": block["fn_ml"].sum(),
            })
    return pd.DataFrame(rows)


def _fazekas(volumes: pd.DataFrame, ratings: pd.DataFrame | None,
             grading: tuple[Sequence[float], Sequence[str]] | None, folds: int, seed: int,
             notes: list[str], problems: list[str]
             ) -> tuple[str, pd.DataFrame | None, pd.DataFrame | None]:
    """Fazekas tables: (mode, summary per volume source, long confusion table)."""
    if ratings is None and grading is None:
        notes.append("Fazekas: no ratings table (--ratings) and no volume grading "
                     "(--grading) given: skipped")
        return "skipped", None, None
    usable = volumes.dropna(subset=["reference_ml", "prediction_ml"])
    reference = usable.drop_duplicates("id").set_index("id")["reference_ml"]
    sources = [(REFERENCE_TEAM, reference)] + [
        (team, rows.set_index("id")["prediction_ml"])
        for team, rows in usable.groupby("team", sort=False)]
    summaries, confusions = [], []
    if ratings is not None:
        order = fazekas.grade_order(ratings["grade"])
        rated = ratings.set_index("id")["grade"]
        unknown = sorted(set(rated.index) - set(volumes["id"]))
        if unknown:
            problems.append(f"Fazekas: {len(unknown)} rated subject(s) not in the volume "
                            f"tables: {', '.join(unknown[:5])}")
        for name, series in sources:
            common = series.index.intersection(rated.index)
            unrated = len(series) - len(common)
            if unrated:
                notes.append(f"Fazekas, {name}: {unrated} subject(s) without a rating "
                             "left out")
            if len(common) < MIN_SUBJECTS or len(common) < 2 * len(order):
                notes.append(f"Fazekas, {name}: {len(common)} rated subject(s) with volumes, "
                             "too few to fit thresholds")
                continue
            estimate = fazekas.cross_validate(series[common].to_numpy(),
                                              rated[common].to_numpy(), order, folds, seed)
            summaries.append(_grade_summary(name, estimate.confusion, estimate.thresholds,
                                            len(common)))
            confusions.append(_long_confusion(name, estimate.confusion))
        mode = "ratings"
    else:
        thresholds, order = grading
        order = list(order)
        rated_grades = fazekas.apply_thresholds(reference.to_numpy(), thresholds, order)
        rated = pd.Series(rated_grades, index=reference.index)
        for name, series in sources[1:]:
            estimated = fazekas.apply_thresholds(series.to_numpy(), thresholds, order)
            matrix = fazekas.confusion_matrix(rated[series.index], estimated, order)
            summaries.append(_grade_summary(name, matrix, np.asarray(thresholds, float),
                                            len(series)))
            confusions.append(_long_confusion(name, matrix))
        mode = "grading"
    return (mode, pd.DataFrame(summaries) if summaries else None,
            pd.concat(confusions, ignore_index=True) if confusions else None)


def _grade_summary(name: str, matrix: pd.DataFrame, thresholds: np.ndarray, n: int) -> dict:
    values = matrix.to_numpy()
    return {"volumes_of": name, "n": n,
            "share_correct": float(np.trace(values) / values.sum()) if values.sum() else np.nan,
            "thresholds_ml": ", ".join(f"{t:.3g}" for t in thresholds)}


def _long_confusion(name: str, matrix: pd.DataFrame) -> pd.DataFrame:
    table = matrix.reset_index().melt(id_vars="rated", var_name="estimated", value_name="n")
    table.insert(0, "volumes_of", name)
    return table


def grade_table(volumes: pd.DataFrame, ratings: pd.DataFrame | None,
                grading: tuple[Sequence[float], Sequence[str]] | None) -> pd.DataFrame | None:
    """Each subject's grade (rated, or from its reference volume under ``grading``), for the
    volume-distribution figure; None without ratings or grading."""
    if ratings is not None:
        return ratings[["id", "grade"]]
    if grading is None:
        return None
    reference = volumes.dropna(subset=["reference_ml"]).drop_duplicates("id")
    thresholds, order = grading
    return pd.DataFrame({"id": reference["id"].to_numpy(),
                         "grade": fazekas.apply_thresholds(reference["reference_ml"],
                                                           thresholds, list(order))})


def analyse_agreement(volumes: pd.DataFrame, *, scales: Sequence[str] = ("ml",),
                      load_groups=DEFAULT_LOAD_GROUPS, ratings: pd.DataFrame | None = None,
                      grading: tuple[Sequence[float], Sequence[str]] | None = None,
                      folds: int = fazekas.DEFAULT_FOLDS, seed: int = 0,
                      confidence: float = CONFIDENCE, error_ratio: float = 1.0
                      ) -> AgreementResult:
    """The whole analysis on a volume table (:func:`read_score_folders`,
    :func:`volumes_from_cases`).

    ``ratings`` (columns id, grade) enables the cross-validated Fazekas estimation;
    ``grading`` = (thresholds in mL, grade names) grades subjects by reference volume
    instead. Subjects without volumes are reported in ``problems``; everything that was
    left out or skipped is said in ``notes``.
    """
    notes: list[str] = []
    problems: list[str] = []
    if grading is not None and len(grading[1]) != len(grading[0]) + 1:
        raise ValueError(f"a grading with {len(grading[0])} thresholds needs "
                         f"{len(grading[0]) + 1} grade names, got {list(grading[1])}")
    for team, rows in volumes.groupby("team", sort=False):
        lost = rows[rows["reference_ml"].isna() | rows["prediction_ml"].isna()]
        if len(lost):
            statuses = ", ".join(sorted(set(lost["status"].astype(str))))
            problems.append(f"{team}: {len(lost)} subject(s) without volumes (status "
                            f"{statuses}): left out ({_ids(lost)})")
        zero = rows[rows["reference_ml"] == 0]
        if len(zero):
            notes.append(f"{team}: {len(zero)} subject(s) with an empty reference (0 mL): "
                         f"Dice and relative volume error undefined there ({_ids(zero)})")
    statistics = group_statistics(volumes, scales, confidence, error_ratio, notes)
    strata = load_strata(volumes, load_groups, notes)
    mode, summary, confusion = _fazekas(volumes, ratings, grading, folds, seed, notes,
                                        problems)
    return AgreementResult(volumes=volumes, statistics=statistics, strata=strata,
                           load_groups=tuple(load_groups), fazekas_summary=summary,
                           fazekas_confusion=confusion, fazekas_mode=mode, ratings=ratings,
                           grading=grading, notes=notes,
                           problems=problems)


# ---------------------------------------------------------------- readable tables

READABLE_STATISTICS = (
    ("Pearson r", "pearson_r"), ("Spearman rho", "spearman_rho"),
    ("OLS slope", "ols_slope"), ("Deming slope", "deming_slope"),
    ("PB slope", "pb_slope"), ("ICC(A,1)", "icc_a1"), ("ICC(C,1)", "icc_c1"),
    ("BA bias", "ba_bias"),
)


def _with_ci(row: pd.Series, key: str) -> str:
    value, low, high = row[key], row[f"{key}_low"], row[f"{key}_high"]
    if not np.isfinite(value):
        return "nan"
    if np.isfinite(low) and np.isfinite(high):
        return f"{value:.3f} [{low:.3f}, {high:.3f}]"
    return f"{value:.3f}"


def readable_statistics(statistics: pd.DataFrame) -> pd.DataFrame:
    """The main numbers with their 95 % CIs as text, one row per team, scale and group."""
    rows = []
    for _, row in statistics.iterrows():
        entry = {"team": row["team"], "scale": row["scale"], "group": row["group"],
                 "n": int(row["n"])}
        for label, key in READABLE_STATISTICS:
            entry[label] = _with_ci(row, key)
        entry["BA limits"] = f"{row['ba_loa_lower']:.3f} to {row['ba_loa_upper']:.3f}"
        entry["prop. bias p"] = (f"{row['ba_prop_p']:.3g}" if np.isfinite(row["ba_prop_p"])
                                 else "nan")
        rows.append(entry)
    return pd.DataFrame(rows)
