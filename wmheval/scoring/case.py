"""Scoring one subject from files: every problem becomes a status and a message, never a crash."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wmheval.io.images import ImageError, read_grid, read_image
from wmheval.metrics import METRICS, BinarizationError, CaseMetrics, evaluate_arrays
from wmheval.scoring.policy import diagonal_mm
from wmheval.vocabulary import (  # noqa: F401  (the statuses' home; re-exported here)
    SCORED_STATUSES,
    STATUS_EMPTY_REFERENCE,
    STATUS_ERROR,
    STATUS_MISSING,
    STATUS_MISSING_AS_EMPTY,
    STATUS_OK,
)

COUNT_COLUMNS = (
    "precision", "n_reference_voxels", "n_prediction_voxels", "n_reference_lesions",
    "n_prediction_lesions", "reference_ml", "prediction_ml", "reference_diagonal_mm",
    "n_overlap_voxels", "overlap_ml",
)
"""Per-case counts; ``reference_diagonal_mm`` (the reference image extent's diagonal) is
what the policy imputes for an undefined H95. Reference facts are filled for missing
cases too, when the reference is readable."""
REFERENCE_FACTS = ("n_reference_voxels", "n_reference_lesions", "reference_ml",
                   "reference_diagonal_mm")


@dataclass(frozen=True)
class CaseTask:
    """What to score for one subject: files, rule, and what to do without a prediction."""

    id: str
    reference_path: Path
    prediction_path: Path | None
    rule: str = "official"
    duplicate_paths: tuple[Path, ...] = field(default_factory=tuple)
    geometry_tolerance: float = 1e-4
    reference_diagonal_mm: float = math.nan
    check_encoding: bool = False
    """Fail a prediction saved as a 0-255/0-100 map or a 0/255 uint8 mask (the rule was
    not chosen explicitly): :mod:`wmheval.scoring.encodings`."""


def _empty_row(task: CaseTask, status: str, error: str = "") -> dict:
    row = {"id": task.id, "status": status}
    row.update({name: math.nan for name in (*METRICS, *COUNT_COLUMNS)})
    row.update({
        "prediction_path": str(task.prediction_path) if task.prediction_path else "",
        "error": error,
        "warnings": "",
    })
    return row


def evaluate_files(reference_path: str | Path, prediction_path: str | Path | None,
                   rule: str = "official", geometry_tolerance: float = 1e-4,
                   check_encoding: bool = False) -> CaseMetrics:
    """The five metrics of one subject from its reference and prediction files.

    ``prediction_path=None`` scores an empty mask. Raises :class:`ImageError` (naming the
    file) for an unreadable or truncated file, vector or non-3D pixels and a size mismatch,
    and :class:`BinarizationError` for int8 under the official rule. Differing geometry and
    NaN/inf voxels (which SimpleITK reads as 0) become warnings on the result. With
    ``check_encoding``, a prediction the official rule would misread (a 0-255 or 0-100
    probability map, a 0/255 uint8 mask) is a :class:`BinarizationError` naming the fix.
    """
    reference = read_image(reference_path)
    warnings: list[str] = [f"reference: {w}" for w in reference.warnings]
    if prediction_path is None:
        prediction = np.zeros(reference.array.shape, dtype=np.uint8)
        warnings.append("no prediction: scored as an empty mask")
    else:
        # The prediction's declared grid is checked before any of its voxels is inflated.
        loaded = read_image(prediction_path, expected_size=reference.size_xyz,
                            expected_from=reference_path)
        differences = reference.geometry.differences(loaded.geometry,
                                                     tolerance=geometry_tolerance)
        if differences:
            warnings.append("prediction geometry differs from the reference (" +
                            "; ".join(differences) + "): scored on the reference grid")
        warnings += loaded.warnings
        prediction = loaded.array
        if check_encoding:
            from wmheval.scoring.encodings import detect_encoding

            encoding = detect_encoding(prediction)
            if encoding is not None:
                raise BinarizationError(encoding.message(prediction_path))
        if loaded.n_nonfinite:
            warnings.append(f"{loaded.n_nonfinite} voxels are NaN or inf in the file; "
                            "SimpleITK reads them as 0, so they count as background")
    try:
        metrics = evaluate_arrays(reference.array, prediction,
                                  geometry=reference.geometry, rule=rule)
    except BinarizationError as error:
        raise BinarizationError(f"{prediction_path}: {error}") from None
    metrics.warnings[:0] = warnings
    return metrics


def _diagonal(task: CaseTask) -> float:
    """The reference extent's diagonal (mm): from the task, else from the file's header."""
    if not math.isnan(task.reference_diagonal_mm):
        return float(task.reference_diagonal_mm)
    try:
        return diagonal_mm(*read_grid(task.reference_path))
    except ImageError:
        return math.nan


def _unusable_row(task: CaseTask, status: str, error: str) -> dict:
    """A missing/error row that still records the reference facts the policy needs."""
    row = _empty_row(task, status, error)
    if error.startswith("reference "):
        return row
    try:
        facts = evaluate_files(task.reference_path, None).as_dict()
    except (ImageError, BinarizationError):
        return row
    row.update({name: facts[name] for name in REFERENCE_FACTS if name in facts})
    row["reference_diagonal_mm"] = _diagonal(task)
    return row


def score_case(task: CaseTask) -> dict:
    """Score one subject; returns a row for ``cases.csv`` with ``status`` and messages.

    Never raises for bad input: a missing, unreadable, mismatched or unsupported prediction,
    or an unreadable reference, yields ``status="error"`` (or ``"missing"``) and an
    ``error`` message naming the file and the problem. Such rows keep NaN metrics (the
    scoring policy decides what they count as) but record the reference facts.
    """
    if task.duplicate_paths:
        listed = ", ".join(str(p) for p in task.duplicate_paths)
        return _unusable_row(task, STATUS_ERROR, f"several predictions for subject "
                                                 f"{task.id}: {listed}; keep exactly one")
    if task.prediction_path is None:
        return _unusable_row(task, STATUS_MISSING, f"no prediction for subject {task.id}")
    try:
        metrics = evaluate_files(task.reference_path, task.prediction_path, task.rule,
                                 task.geometry_tolerance, task.check_encoding)
    except ImageError as error:
        prefix = "reference " if error.path == Path(task.reference_path) else ""
        return _unusable_row(task, STATUS_ERROR, f"{prefix}{error}")
    except BinarizationError as error:
        return _unusable_row(task, STATUS_ERROR, str(error))
    status = STATUS_EMPTY_REFERENCE if metrics.n_reference_voxels == 0 else STATUS_OK
    row = {"id": task.id, "status": status}
    values = metrics.as_dict()
    values["reference_diagonal_mm"] = _diagonal(task)
    row.update({name: values[name] for name in (*METRICS, *COUNT_COLUMNS)})
    row.update({
        "prediction_path": str(task.prediction_path) if task.prediction_path else "",
        "error": "",
        "warnings": " | ".join(metrics.warnings),
    })
    return row


def crashed_row(task: CaseTask, reason: str) -> dict:
    """The row of a case whose worker process died while scoring it (e.g. killed by the
    out-of-memory killer): an error naming the file; the other cases are kept."""
    where = task.prediction_path or task.reference_path
    return _empty_row(task, STATUS_ERROR, f"{where}: scoring stopped: {reason}; the other "
                                          "cases are kept (too large for the memory here?)")


def safe_score_case(task: CaseTask) -> dict:
    """:func:`score_case`, turning any unexpected exception into an error row."""
    try:
        return score_case(task)
    except Exception as error:  # noqa: BLE001 - one bad case must never kill a batch
        where = task.prediction_path or task.reference_path
        return _empty_row(task, STATUS_ERROR,
                          f"{where}: unexpected {type(error).__name__}: {error}")
