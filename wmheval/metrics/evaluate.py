"""All five challenge metrics for one subject, from arrays.

Three entry points, from the rawest input to the most prepared: :func:`evaluate_arrays`
(a label image and a raw prediction), :func:`evaluate_masks` (two boolean masks) and
:func:`evaluate_indices` (the masks' sorted flat voxel indices). Each checks its inputs
with the one grid check of :mod:`wmheval.metrics._checks` and returns a
:class:`CaseMetrics`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from wmheval.metrics._checks import check_flat_indices, check_same_grid, check_shape
from wmheval.metrics.binarize import OFFICIAL, foreground_indices
from wmheval.metrics.geometry import Geometry
from wmheval.metrics.labels import reference_indices
from wmheval.metrics.lesions import LesionCounts, lesion_counts
from wmheval.metrics.overlap import avd_from_counts, dice_from_counts
from wmheval.metrics.sparse import SparseMask
from wmheval.metrics.surface import edge_points, h95_from_points
from wmheval.vocabulary import HIGHER_IS_BETTER, METRIC_NAMES

__all__ = ["HIGHER_IS_BETTER", "METRICS", "CaseMetrics", "evaluate_arrays", "evaluate_indices",
           "evaluate_masks"]

METRICS = METRIC_NAMES
"""The challenge's five metrics, in leaderboard order (from :mod:`wmheval.vocabulary`)."""


@dataclass
class CaseMetrics:
    """The five challenge metrics for one subject, plus the counts behind them.

    Undefined values are NaN: Dice when both masks are empty, H95 when the prediction (or
    the reference) has no edge voxels, AVD when the reference is empty.
    ``n_overlap_voxels``/``overlap_ml`` are the correctly segmented (true positive) voxels
    |T ∩ P|: false positives are prediction minus overlap, false negatives reference minus
    overlap (the volumetric agreement analysis draws them).

    Attributes
    ----------
    dice, h95, avd, recall, f1 : float
        The challenge's five metrics (H95 in mm, AVD in percent).
    precision : float
        Lesion precision, the other half of F1.
    n_reference_voxels, n_prediction_voxels : int
        |T| and |P|.
    n_reference_lesions, n_prediction_lesions : int
        26-connected components of T and of P.
    reference_ml, prediction_ml : float
        |T| and |P| in millilitres (voxel volume from the geometry's spacing).
    n_overlap_voxels : int
        |T ∩ P|.
    overlap_ml : float
        |T ∩ P| in millilitres.
    warnings : list of str
        Why a value is undefined, and what binarisation did to unusual values.
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
        """The fields as a plain dict (one row of a per-case table)."""
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
        reference_points=edge_points(ref, geometry, offset_zyx=offset),
        prediction_points=edge_points(pred, geometry, offset_zyx=offset),
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
    *,
    geometry: Geometry | None = None,
) -> CaseMetrics:
    """The challenge metrics from the foreground voxels' flat indices.

    The fast path for sparse masks: WMH masks fill well under 1 % of a FLAIR grid, so
    working from voxel indices avoids touching the whole grid.

    Parameters
    ----------
    reference_flat : (N,) array_like of int
        Flat (C-order) indices of the reference WMH mask T in a grid of ``shape``:
        sorted, unique and inside the grid, as ``np.flatnonzero`` returns them.
    prediction_flat : (M,) array_like of int
        The same for the binarised prediction P.
    shape : tuple of 3 int
        The grid's (z, y, x) shape.
    geometry : Geometry, optional
        The reference image's geometry (default: 1 mm isotropic at the origin).

    Returns
    -------
    CaseMetrics
        As :func:`evaluate_masks` returns it for the masks these indices describe.

    Raises
    ------
    wmheval.errors.InputError
        If ``shape`` is not three positive integers, or either index array is not sorted,
        holds a repeated index or an index outside the grid.

    See Also
    --------
    evaluate_masks : The same from boolean masks.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    The masks of :func:`evaluate_masks`'s example, as flat indices into a (1, 5, 5) grid:
    a 3x3 square (9 voxels) and its left two columns (6 voxels).

    >>> reference = [6, 7, 8, 11, 12, 13, 16, 17, 18]
    >>> prediction = [6, 7, 11, 12, 16, 17]
    >>> metrics = evaluate_indices(reference, prediction, (1, 5, 5))
    >>> metrics.dice, metrics.recall
    (0.8, 1.0)
    >>> evaluate_indices([7, 6], [], (1, 5, 5))
    Traceback (most recent call last):
    ...
    wmheval.errors.InputError: reference_flat must be sorted in increasing order (as
    np.flatnonzero returns them)
    """
    shape = check_shape(shape)
    reference_flat = check_flat_indices(reference_flat, shape, name="reference_flat")
    prediction_flat = check_flat_indices(prediction_flat, shape, name="prediction_flat")
    return _evaluate_indices(reference_flat, prediction_flat, shape, geometry)


def _evaluate_indices(
    reference_flat: np.ndarray,
    prediction_flat: np.ndarray,
    shape: tuple[int, int, int],
    geometry: Geometry | None,
) -> CaseMetrics:
    """:func:`evaluate_indices` on indices already known to be valid.

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
                              reference_shared=parts.reference_shared,
                              prediction_shared=parts.prediction_shared)
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
    reference: np.ndarray, prediction: np.ndarray, *, geometry: Geometry | None = None
) -> CaseMetrics:
    """The challenge metrics between a reference mask and a binarised prediction.

    Parameters
    ----------
    reference : (Z, Y, X) array_like of bool
        The reference WMH mask T (label 1 only; see :func:`evaluate_arrays` to start from
        the label image).
    prediction : (Z, Y, X) array_like of bool
        The already binarised and masked prediction P, on the same grid.
    geometry : Geometry, optional
        The reference image's geometry (default: 1 mm isotropic at the origin); it sets
        H95's millimetres and the volumes in ml.

    Returns
    -------
    CaseMetrics
        Dice, H95 (mm), AVD (%), lesion recall and F1, with the counts behind them.
        Undefined values are NaN with a warning: Dice when both masks are empty, H95 when
        the prediction (or the reference) has no edge voxels, AVD when the reference is
        empty.

    Raises
    ------
    wmheval.errors.InputError
        If the masks are not 3D or differ in shape.

    See Also
    --------
    evaluate_arrays : The same from a label image and a raw prediction.
    h95, lesion_counts, dice_from_counts, avd_from_counts : The metrics one by one.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    A 3x3 square (9 voxels) and a prediction of its left two columns (6 voxels): Dice
    2 * 6 / 15 = 0.8, AVD 3 / 9 = 33.3 %, the one lesion is found and the one predicted
    lesion is true (recall = F1 = 1), and H95 is 1 voxel (the missing column).

    >>> import numpy as np
    >>> reference = np.zeros((1, 5, 5), dtype=bool)
    >>> reference[0, 1:4, 1:4] = True
    >>> prediction = np.zeros_like(reference)
    >>> prediction[0, 1:4, 1:3] = True
    >>> metrics = evaluate_masks(reference, prediction)
    >>> metrics.dice, round(metrics.avd, 2), metrics.recall, metrics.f1, metrics.h95
    (0.8, 33.33, 1.0, 1.0, 1.0)
    >>> metrics.n_reference_voxels, metrics.n_prediction_voxels, metrics.n_overlap_voxels
    (9, 6, 6)

    Masks on different grids cannot be compared:

    >>> evaluate_masks(np.zeros((3, 8, 8), bool), np.zeros((3, 9, 9), bool))
    Traceback (most recent call last):
    ...
    wmheval.errors.InputError: size mismatch: reference (8, 8, 3) vs prediction (9, 9, 3)
    (x, y, z)
    """
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    check_same_grid(reference, prediction)
    return _evaluate_indices(np.flatnonzero(reference), np.flatnonzero(prediction),
                             reference.shape, geometry)


def evaluate_arrays(
    reference_labels: np.ndarray,
    prediction: np.ndarray,
    *,
    geometry: Geometry | None = None,
    rule: str = OFFICIAL,
) -> CaseMetrics:
    """The challenge metrics from a reference label image and a raw prediction.

    This is the whole official evaluation of one subject on arrays: the reference is read
    by value (1 = WMH, 2 = ignored, :func:`reference_indices`), the prediction binarised
    with ``rule`` (:func:`binarize_prediction`), its voxels in the ignored region set to
    background, and :func:`evaluate_masks`'s metrics computed.

    Parameters
    ----------
    reference_labels : (Z, Y, X) array_like
        The reference label image, any real pixel type, indexed (z, y, x) as SimpleITK's
        ``GetArrayFromImage`` returns it.
    prediction : (Z, Y, X) array_like
        The raw prediction on the same grid; its dtype is its pixel type, which matters
        for the official rule (uint8 reads 233..255 as background).
    geometry : Geometry, optional
        The reference image's geometry (default: 1 mm isotropic at the origin).
    rule : str, optional
        The binarisation rule: ``"official"`` (default), ``"nonzero"`` or
        ``"threshold:T"``.

    Returns
    -------
    CaseMetrics
        The metrics; a warning says how many unusual prediction values became background.

    Raises
    ------
    wmheval.errors.InputError
        If the arrays are not 3D or differ in shape.
    BinarizationError
        For an int8 prediction under the official rule, or an unknown rule.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    A reference with two WMH voxels and one ignored voxel; the prediction, saved as
    0/255 uint8, marks the two WMH voxels and the ignored one:

    >>> import numpy as np
    >>> labels = np.array([[[0, 1, 1, 2, 0]]], dtype=np.float32)
    >>> prediction = np.array([[[0, 255, 255, 255, 0]]], dtype=np.uint8)
    >>> metrics = evaluate_arrays(labels, prediction)
    >>> metrics.dice, metrics.n_prediction_voxels  # 255 > 232: background, officially
    (0.0, 0)
    >>> print(metrics.warnings[0])
    3 voxels have values other than 0/1 (e.g. 255); the official rule counted 3 of them as
    background
    >>> metrics = evaluate_arrays(labels, prediction, rule="nonzero")
    >>> metrics.dice, metrics.n_prediction_voxels  # the ignored voxel is masked away
    (1.0, 2)
    """
    reference_labels = np.asarray(reference_labels)
    prediction = np.asarray(prediction)
    check_same_grid(reference_labels, prediction)
    wmh, ignored = reference_indices(reference_labels)
    foreground, report = foreground_indices(prediction, rule=rule)
    if ignored.size and foreground.size:
        foreground = foreground[~np.isin(foreground, ignored, assume_unique=True)]
    metrics = _evaluate_indices(wmh, foreground, reference_labels.shape, geometry)
    warning = report.warning(rule)
    if warning:
        metrics.warnings.insert(0, warning)
    return metrics
