"""Scoring one subject from files: every problem becomes a status and a message, never a crash."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wmheval.io.images import ImageError, count_nonfinite_on_disk, read_image
from wmheval.metrics import METRICS, BinarizationError, CaseMetrics, evaluate_arrays

STATUS_OK = "ok"
STATUS_EMPTY_REFERENCE = "empty_reference"
STATUS_MISSING = "missing"
STATUS_MISSING_AS_EMPTY = "missing_as_empty"
STATUS_ERROR = "error"
SCORED_STATUSES = (STATUS_OK, STATUS_EMPTY_REFERENCE, STATUS_MISSING_AS_EMPTY)
"""Statuses whose metric values come from an evaluation (possibly NaN where undefined)."""

MISSING_POLICIES = ("fail", "empty")
COUNT_COLUMNS = (
    "precision", "n_reference_voxels", "n_prediction_voxels", "n_reference_lesions",
    "n_prediction_lesions", "reference_ml", "prediction_ml", "n_overlap_voxels", "overlap_ml",
)


@dataclass(frozen=True)
class CaseTask:
    """What to score for one subject: files, rule, and what to do without a prediction."""

    id: str
    reference_path: Path
    prediction_path: Path | None
    rule: str = "official"
    missing: str = "fail"
    duplicate_paths: tuple[Path, ...] = field(default_factory=tuple)
    geometry_tolerance: float = 1e-4


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
                   rule: str = "official", geometry_tolerance: float = 1e-4) -> CaseMetrics:
    """The five metrics of one subject from its reference and prediction files.

    ``prediction_path=None`` scores an empty mask. Raises :class:`ImageError` (naming the
    file) for an unreadable or truncated file, vector or non-3D pixels and a size mismatch,
    and :class:`BinarizationError` for int8 under the official rule. Differing geometry and
    NaN/inf voxels (which SimpleITK reads as 0) become warnings on the result.
    """
    reference = read_image(reference_path)
    warnings: list[str] = []
    if prediction_path is None:
        prediction = np.zeros(reference.array.shape, dtype=np.uint8)
        warnings.append("no prediction: scored as an empty mask")
    else:
        loaded = read_image(prediction_path)
        if loaded.size_xyz != reference.size_xyz:
            raise ImageError(prediction_path, f"size {loaded.size_xyz} differs from the "
                                              f"reference's {reference.size_xyz} "
                                              f"({reference_path})")
        differences = reference.geometry.differences(loaded.geometry, geometry_tolerance)
        if differences:
            warnings.append("prediction geometry differs from the reference (" +
                            "; ".join(differences) + "): scored on the reference grid")
        prediction = loaded.array
        if prediction.dtype.kind == "f":
            n_nonfinite = count_nonfinite_on_disk(prediction_path)
            if n_nonfinite:
                warnings.append(f"{n_nonfinite} voxels are NaN or inf in the file; SimpleITK "
                                "reads them as 0, so they count as background")
    try:
        metrics = evaluate_arrays(reference.array, prediction, reference.geometry, rule)
    except BinarizationError as error:
        raise BinarizationError(f"{prediction_path}: {error}") from None
    metrics.warnings[:0] = warnings
    return metrics


def score_case(task: CaseTask) -> dict:
    """Score one subject; returns a row for ``cases.csv`` with ``status`` and messages.

    Never raises for bad input: a missing, unreadable, mismatched or unsupported prediction,
    or an unreadable reference, yields ``status="error"`` (or ``"missing"``) and an
    ``error`` message naming the file and the problem.
    """
    if task.duplicate_paths:
        listed = ", ".join(str(p) for p in task.duplicate_paths)
        return _empty_row(task, STATUS_ERROR, f"several predictions for subject {task.id}: "
                                              f"{listed}; keep exactly one")
    if task.prediction_path is None and task.missing != "empty":
        return _empty_row(task, STATUS_MISSING, f"no prediction for subject {task.id}")
    try:
        metrics = evaluate_files(task.reference_path, task.prediction_path, task.rule,
                                 task.geometry_tolerance)
    except ImageError as error:
        prefix = "reference " if error.path == Path(task.reference_path) else ""
        return _empty_row(task, STATUS_ERROR, f"{prefix}{error}")
    except BinarizationError as error:
        return _empty_row(task, STATUS_ERROR, str(error))
    if task.prediction_path is None:
        status = STATUS_MISSING_AS_EMPTY
    elif metrics.n_reference_voxels == 0:
        status = STATUS_EMPTY_REFERENCE
    else:
        status = STATUS_OK
    row = {"id": task.id, "status": status}
    values = metrics.as_dict()
    row.update({name: values[name] for name in (*METRICS, *COUNT_COLUMNS)})
    row.update({
        "prediction_path": str(task.prediction_path) if task.prediction_path else "",
        "error": "",
        "warnings": " | ".join(metrics.warnings),
    })
    return row


def safe_score_case(task: CaseTask) -> dict:
    """:func:`score_case`, turning any unexpected exception into an error row."""
    try:
        return score_case(task)
    except Exception as error:  # noqa: BLE001 - one bad case must never kill a batch
        where = task.prediction_path or task.reference_path
        return _empty_row(task, STATUS_ERROR,
                          f"{where}: unexpected {type(error).__name__}: {error}")
