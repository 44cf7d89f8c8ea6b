"""All five challenge metrics for one subject, from arrays."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from wmheval.metrics.binarize import OFFICIAL, foreground_indices
from wmheval.metrics.geometry import Geometry
from wmheval.metrics.labels import reference_indices
from wmheval.metrics.lesions import LesionCounts, lesion_counts
from wmheval.metrics.overlap import avd_from_counts, dice_from_counts
from wmheval.metrics.sparse import SparseMask
from wmheval.metrics.surface import edge_points, h95_from_points

METRICS = ("dice", "h95", "avd", "recall", "f1")
"""The challenge's five metrics, in leaderboard order."""

HIGHER_IS_BETTER = {"dice": True, "h95": False, "avd": False, "recall": True, "f1": True}


@dataclass
class CaseMetrics:
    """The five challenge metrics for one subject, plus the counts behind them.

    Undefined values are NaN: Dice when both masks are empty, H95 when the prediction (or
    the reference) has no edge voxels, AVD when the reference is empty.
    ``n_overlap_voxels``/``overlap_ml`` are the correctly segmented (true positive) voxels
    |T ∩ P|: false positives are prediction minus overlap, false negatives reference minus
    overlap (the volumetric agreement analysis draws them).
    """

    dice: float
    h95: float
    avd: float
    recall: float
    f1: float
    precision: float
    n_reference_voxels: int
    n_prediction_voxels: int
    n_reference_lesions: int
    n_prediction_lesions: int
    reference_ml: float
    prediction_ml: float
    n_overlap_voxels: int = 0
    overlap_ml: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


SPARSE_MAX_SHARE = 0.03
"""Masks covering at most this share of the grid (together) take the sparse path."""


@dataclass(frozen=True)
class _Parts:
    """What every metric is computed from: counts, lesion counts, edge points."""

    n_overlap: int
    lesions: LesionCounts
    reference_points: np.ndarray
    prediction_points: np.ndarray
    reference_shared: np.ndarray | None = None
    prediction_shared: np.ndarray | None = None


def _bounding_slices(mask: np.ndarray, margin_yx: int = 1) -> tuple[slice, ...] | None:
    """Slices of the bounding box of ``mask``, widened in y and x and clipped to the image."""
    slices = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(np.any(mask, axis=others))
        if present.size == 0:
            return None
        margin = 0 if axis == 0 else margin_yx
        start = max(int(present[0]) - margin, 0)
        stop = min(int(present[-1]) + 1 + margin, mask.shape[axis])
        slices.append(slice(start, stop))
    return tuple(slices)


def _dense_parts(reference: np.ndarray, prediction: np.ndarray, geometry: Geometry) -> _Parts:
    """scipy.ndimage on the bounding box of T ∪ P plus a one-voxel in-plane margin, which
    gives the same edges and components as the full grid."""
    box = _bounding_slices(reference | prediction)
    ref, pred = reference[box], prediction[box]
    offset = tuple(s.start for s in box)
    return _Parts(
        n_overlap=int(np.count_nonzero(ref & pred)),
        lesions=lesion_counts(ref, pred),
        reference_points=edge_points(ref, geometry, offset),
        prediction_points=edge_points(pred, geometry, offset),
    )


def _sparse_parts(ref: SparseMask, pred: SparseMask, geometry: Geometry) -> _Parts:
    """The same quantities from the foreground voxels' flat indices (fast for WMH masks)."""
    n_ref_lesions, ref_labels = ref.components()
    n_pred_lesions, pred_labels = pred.components()
    ref_hit = pred.contains(ref.flat)
    pred_hit = ref.contains(pred.flat)
    lesions = LesionCounts(
        n_reference=n_ref_lesions,
        n_reference_detected=int(np.unique(ref_labels[ref_hit]).size),
        n_prediction=n_pred_lesions,
        n_prediction_true=int(np.unique(pred_labels[pred_hit]).size),
    )

    ref_edge, pred_edge = ref.in_plane_edges(), pred.in_plane_edges()
    ref_edge_flat, pred_edge_flat = ref.flat[ref_edge], pred.flat[pred_edge]

    def points(mask: SparseMask, edge: np.ndarray) -> np.ndarray:
        index_xyz = np.stack([mask.zyx[2][edge], mask.zyx[1][edge], mask.zyx[0][edge]], axis=1)
        return geometry.index_to_physical(index_xyz)

    return _Parts(
        n_overlap=int(np.count_nonzero(ref_hit)),
        lesions=lesions,
        reference_points=points(ref, ref_edge),
        prediction_points=points(pred, pred_edge),
        reference_shared=np.isin(ref_edge_flat, pred_edge_flat, assume_unique=True),
        prediction_shared=np.isin(pred_edge_flat, ref_edge_flat, assume_unique=True),
    )


def evaluate_indices(
    reference_flat: np.ndarray,
    prediction_flat: np.ndarray,
    shape: tuple[int, int, int],
    geometry: Geometry | None = None,
) -> CaseMetrics:
    """Challenge metrics from the sorted flat indices of T and P in a (z, y, x) grid.

    Sparse masks (the usual case) are processed from their voxel indices, crowded ones
    with scipy.ndimage on their bounding box; both give identical results.
    """
    geometry = geometry or Geometry()
    n_ref, n_pred = int(np.size(reference_flat)), int(np.size(prediction_flat))
    size = int(np.prod(shape))
    voxel_ml = float(np.prod(geometry.spacing)) / 1000.0
    warnings = ["empty reference: AVD and H95 are undefined (NaN)"] if n_ref == 0 else []
    if n_ref + n_pred == 0:
        parts = _Parts(0, LesionCounts(0, 0, 0, 0), np.zeros((0, 3)), np.zeros((0, 3)))
    elif n_ref + n_pred <= SPARSE_MAX_SHARE * size:
        parts = _sparse_parts(SparseMask(reference_flat, shape),
                              SparseMask(prediction_flat, shape), geometry)
    else:
        reference, prediction = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
        reference[reference_flat] = True
        prediction[prediction_flat] = True
        parts = _dense_parts(reference.reshape(shape), prediction.reshape(shape), geometry)
    h95 = math.nan
    if n_pred > 0:
        h95 = h95_from_points(parts.reference_points, parts.prediction_points,
                              parts.reference_shared, parts.prediction_shared)
        if n_ref > 0 and math.isnan(h95):
            which = "reference" if len(parts.reference_points) == 0 else "prediction"
            warnings.append(f"the {which} has no in-plane edge voxels: H95 is undefined (NaN)")
    lesions = parts.lesions
    return CaseMetrics(
        dice=dice_from_counts(n_ref, n_pred, parts.n_overlap),
        h95=h95,
        avd=avd_from_counts(n_ref, n_pred),
        recall=lesions.recall,
        f1=lesions.f1,
        precision=lesions.precision,
        n_reference_voxels=n_ref,
        n_prediction_voxels=n_pred,
        n_reference_lesions=lesions.n_reference,
        n_prediction_lesions=lesions.n_prediction,
        reference_ml=n_ref * voxel_ml,
        prediction_ml=n_pred * voxel_ml,
        n_overlap_voxels=parts.n_overlap,
        overlap_ml=parts.n_overlap * voxel_ml,
        warnings=warnings,
    )


def evaluate_masks(
    reference: np.ndarray, prediction: np.ndarray, geometry: Geometry | None = None
) -> CaseMetrics:
    """Challenge metrics between two boolean masks indexed (z, y, x).

    ``reference`` is the WMH mask T, ``prediction`` the already binarised and masked
    prediction P.
    """
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    if reference.shape != prediction.shape or reference.ndim != 3:
        raise ValueError(
            f"masks must be 3D and of equal shape, got {reference.shape} and {prediction.shape}"
        )
    return evaluate_indices(np.flatnonzero(reference), np.flatnonzero(prediction),
                            reference.shape, geometry)


def evaluate_arrays(
    reference_labels: np.ndarray,
    prediction: np.ndarray,
    geometry: Geometry | None = None,
    rule: str = OFFICIAL,
) -> CaseMetrics:
    """Challenge metrics from a reference label array and a raw prediction array.

    The reference is read by value (1 = WMH, 2 = ignored); the prediction is binarised with
    ``rule`` (see :mod:`wmheval.metrics.binarize`; the dtype matters for the official
    rule), and its voxels in the ignored region are set to background. Arrays are indexed
    (z, y, x), as SimpleITK's ``GetArrayFromImage`` returns them; ``geometry`` is the
    reference's.
    """
    reference_labels = np.asarray(reference_labels)
    prediction = np.asarray(prediction)
    if reference_labels.shape != prediction.shape:
        raise ValueError(
            f"size mismatch: reference {reference_labels.shape[::-1]} vs prediction "
            f"{prediction.shape[::-1]} (x, y, z)"
        )
    if reference_labels.ndim != 3:
        raise ValueError(f"images must be 3D, got shape {reference_labels.shape}")
    wmh, ignored = reference_indices(reference_labels)
    foreground, report = foreground_indices(prediction, rule)
    if ignored.size and foreground.size:
        foreground = foreground[~np.isin(foreground, ignored, assume_unique=True)]
    metrics = evaluate_indices(wmh, foreground, reference_labels.shape, geometry)
    warning = report.warning(rule)
    if warning:
        metrics.warnings.insert(0, warning)
    return metrics
