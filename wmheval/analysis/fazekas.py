"""Fazekas-like grades from lesion volume: thresholds fitted by cross-validation, confusion.

As in the CT-versus-MRI study (seed paper 002): ordered grades (e.g. ``0-1``, ``2``, ``3``)
are estimated from a volume by thresholds; the thresholds that classify the most training
subjects correctly are found exactly (dynamic programming over the sorted volumes), and the
share of correct grades is estimated by k-fold cross-validation with a seeded split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.errors import InputError

DEFAULT_FOLDS = 10
"""k of the k-fold cross-validation (the study used 10-fold)."""


class RatingsError(InputError):
    """A ratings table cannot be used (the message names the file and the problem)."""


CLINICAL_WORDS = ("none", "absent", "minimal", "mild", "low", "medium", "moderate", "high",
                  "severe", "very high")
"""Words of ordinal grades from least to most (clinical order, not alphabetical)."""


def grade_order(grades: Sequence[str]) -> list[str]:
    """Distinct grades in their natural order: by the first number in the label (``0-1`` <
    ``2`` < ``3``), then clinical words from least to most (:data:`CLINICAL_WORDS`: low <
    moderate < high), then alphabetically for other labels."""
    def key(label: str) -> tuple[int, float, str]:
        found = re.search(r"-?\d+(\.\d+)?", label)
        if found:
            return (0, float(found.group()), label)
        word = label.strip().lower()
        if word in CLINICAL_WORDS:
            return (1, float(CLINICAL_WORDS.index(word)), label)
        return (2, 0.0, label)

    return sorted({str(g) for g in grades}, key=key)


def read_ratings(path: str | Path) -> pd.DataFrame:
    """Read a ratings table: columns ``id`` and ``grade`` (other columns ignored).

    Returns columns ``id`` and ``grade`` as strings; rows with an empty grade are dropped.
    Raises :class:`RatingsError` for an unreadable file, missing columns or duplicate ids.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as error:
        raise RatingsError(f"{path}: cannot read ratings: {error}") from error
    columns = {c.strip().lower(): c for c in table.columns}
    grade_column = next((columns[c] for c in ("grade", "fazekas", "rating") if c in columns),
                        None)
    if "id" not in columns or grade_column is None:
        raise RatingsError(f"{path}: ratings need columns 'id' and 'grade' (or 'fazekas'); "
                           f"found {list(table.columns)}")
    table = pd.DataFrame({"id": table[columns["id"]].str.strip(),
                          "grade": table[grade_column].str.strip()})
    table = table[table["grade"] != ""]
    duplicated = table["id"][table["id"].duplicated()].tolist()
    if duplicated:
        raise RatingsError(f"{path}: duplicate subject ids {duplicated[:5]}")
    if table.empty:
        raise RatingsError(f"{path}: no ratings")
    return table.reset_index(drop=True)


def fit_thresholds(volumes, grades, order: Sequence[str]) -> np.ndarray:
    """The len(order) - 1 volume thresholds that grade the most subjects correctly.

    A subject gets grade ``order[g]`` where g = the number of thresholds <= its volume.
    Exact: dynamic programming over the distinct sorted volumes, assigning each a grade that
    never decreases with volume. Thresholds lie midway between neighbouring volumes (±inf
    for a grade boundary beyond all data). Ties between equally good solutions: at every
    step back the lowest grade wins, so thresholds are as high as the data allow.
    """
    volumes = np.asarray(volumes, dtype=float)
    index = {g: k for k, g in enumerate(order)}
    codes = np.array([index[str(g)] for g in grades], dtype=int)
    n_grades = len(order)
    values, inverse = np.unique(volumes, return_inverse=True)
    counts = np.zeros((values.size, n_grades), dtype=int)
    np.add.at(counts, (inverse, codes), 1)
    best = np.zeros((values.size, n_grades), dtype=int)
    best[0] = counts[0]
    for u in range(1, values.size):
        best[u] = counts[u] + np.maximum.accumulate(best[u - 1])
    assigned = np.zeros(values.size, dtype=int)
    grade = int(np.argmax(best[-1]))  # argmax: the lowest grade among ties
    for u in range(values.size - 1, -1, -1):
        assigned[u] = grade
        if u:
            grade = int(np.argmax(best[u - 1][: grade + 1]))
    thresholds = np.empty(n_grades - 1)
    for g in range(n_grades - 1):
        below = np.flatnonzero(assigned <= g)
        above = np.flatnonzero(assigned > g)
        if not above.size:
            thresholds[g] = np.inf
        elif not below.size:
            thresholds[g] = -np.inf
        else:
            thresholds[g] = (values[below[-1]] + values[above[0]]) / 2
    return thresholds


def apply_thresholds(volumes, thresholds, order: Sequence[str]) -> np.ndarray:
    """Grade of each volume: ``order[#thresholds <= volume]``."""
    volumes = np.asarray(volumes, dtype=float)
    codes = np.searchsorted(np.asarray(thresholds, dtype=float), volumes, side="right")
    return np.asarray(order, dtype=object)[codes]


def fold_assignment(n: int, folds: int = DEFAULT_FOLDS, seed: int = 0) -> np.ndarray:
    """Fold of each of n subjects: a seeded random permutation dealt into min(folds, n)
    folds of (nearly) equal size."""
    k = max(2, min(folds, n))
    permutation = np.random.default_rng(seed).permutation(n)
    assignment = np.empty(n, dtype=int)
    assignment[permutation] = np.arange(n) % k
    return assignment


@dataclass(frozen=True)
class GradeEstimate:
    """Cross-validated grades of one volume source against the ratings."""

    predicted: np.ndarray
    """Cross-validated grade of each subject (fitted without its fold)."""
    thresholds: np.ndarray
    """Thresholds fitted on all subjects (what one would use on new subjects)."""
    confusion: pd.DataFrame
    """Rows: rated grade; columns: estimated grade; counts."""

    @property
    def share_correct(self) -> float:
        matrix = self.confusion.to_numpy()
        return float(np.trace(matrix) / matrix.sum()) if matrix.sum() else float("nan")


def confusion_matrix(rated, estimated, order: Sequence[str]) -> pd.DataFrame:
    """Counts of (rated, estimated) grade pairs, rows and columns in ``order``."""
    index = {g: k for k, g in enumerate(order)}
    matrix = np.zeros((len(order), len(order)), dtype=int)
    for a, b in zip(rated, estimated, strict=True):
        matrix[index[str(a)], index[str(b)]] += 1
    return pd.DataFrame(matrix, index=pd.Index(list(order), name="rated"),
                        columns=pd.Index(list(order), name="estimated"))


def cross_validate(volumes, grades, order: Sequence[str], folds: int = DEFAULT_FOLDS,
                   seed: int = 0) -> GradeEstimate:
    """k-fold cross-validated grades from volumes (see :func:`fit_thresholds`)."""
    volumes = np.asarray(volumes, dtype=float)
    grades = np.asarray([str(g) for g in grades], dtype=object)
    assignment = fold_assignment(volumes.size, folds, seed)
    predicted = np.empty(volumes.size, dtype=object)
    for fold in np.unique(assignment):
        test = assignment == fold
        thresholds = fit_thresholds(volumes[~test], grades[~test], order)
        predicted[test] = apply_thresholds(volumes[test], thresholds, order)
    return GradeEstimate(predicted, fit_thresholds(volumes, grades, order),
                         confusion_matrix(grades, predicted, order))
