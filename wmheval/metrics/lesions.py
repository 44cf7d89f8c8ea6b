"""Lesion-wise detection: recall and F1 over 3D connected components (26-connectivity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wmheval.metrics._checks import check_same_grid

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class LesionCounts:
    """Component counts behind lesion recall, precision and F1.

    Attributes
    ----------
    n_reference : int
        Lesions (26-connected components) of the reference.
    n_reference_detected : int
        Reference lesions with at least one predicted voxel.
    n_prediction : int
        Lesions of the prediction.
    n_prediction_true : int
        Predicted lesions with at least one reference voxel.

    Examples
    --------
    >>> counts = LesionCounts(n_reference=4, n_reference_detected=3, n_prediction=2,
    ...                       n_prediction_true=1)
    >>> counts.recall, counts.precision
    (0.75, 0.5)
    >>> round(counts.f1, 4)  # 2 * 0.5 * 0.75 / (0.5 + 0.75)
    0.6
    """

    n_reference: int
    n_reference_detected: int
    n_prediction: int
    n_prediction_true: int

    @property
    def recall(self) -> float:
        """Share of reference lesions touched by the prediction; 1.0 with none to find."""
        if self.n_reference == 0:
            return 1.0
        return float(self.n_reference_detected) / self.n_reference

    @property
    def precision(self) -> float:
        """Share of predicted lesions touching the reference; 1.0 with no prediction."""
        if self.n_prediction == 0:
            return 1.0
        return float(self.n_prediction_true) / self.n_prediction

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall; 0 when both are 0."""
        precision, recall = self.precision, self.recall
        if precision + recall == 0.0:
            return 0.0
        return 2.0 * (precision * recall) / (precision + recall)


def _components_hit(mask: np.ndarray, other: np.ndarray) -> tuple[int, int]:
    """(number of components of mask, number of them with a voxel of other)."""
    labels, n_components = ndimage.label(mask, structure=FULL_CONNECTIVITY)
    if n_components == 0:
        return 0, 0
    hit = np.unique(labels[other & mask])
    return n_components, int(np.count_nonzero(hit))


def lesion_counts(reference: np.ndarray, prediction: np.ndarray) -> LesionCounts:
    """Count reference and predicted lesions and which of them overlap the other mask.

    Parameters
    ----------
    reference : (Z, Y, X) array_like of bool
        The reference WMH mask T.
    prediction : (Z, Y, X) array_like of bool
        The binarised prediction P, on the same grid.

    Returns
    -------
    LesionCounts
        The counts; its ``recall``, ``precision`` and ``f1`` are the challenge's lesion
        metrics.

    Raises
    ------
    wmheval.errors.InputError
        If the masks are not 3D or differ in shape.

    Notes
    -----
    Lesions are 3D connected components with 26-connectivity (corner neighbours count);
    any shared voxel is a detection, with no size or overlap threshold.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    Two reference lesions; the prediction touches the first with one voxel and adds a
    lesion of its own elsewhere:

    >>> import numpy as np
    >>> reference = np.zeros((1, 1, 12), dtype=bool)
    >>> reference[0, 0, 0:3] = reference[0, 0, 6:9] = True
    >>> prediction = np.zeros_like(reference)
    >>> prediction[0, 0, 2] = prediction[0, 0, 11] = True
    >>> counts = lesion_counts(reference, prediction)
    >>> counts
    LesionCounts(n_reference=2, n_reference_detected=1, n_prediction=2, n_prediction_true=1)
    >>> counts.recall, counts.f1
    (0.5, 0.5)

    Voxels that touch only at a corner are one lesion (26-connectivity):

    >>> corner = np.zeros((2, 2, 2), dtype=bool)
    >>> corner[0, 0, 0] = corner[1, 1, 1] = True
    >>> lesion_counts(corner, corner).n_reference
    1
    """
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    check_same_grid(reference, prediction)
    n_ref, n_ref_hit = _components_hit(reference, prediction)
    n_pred, n_pred_hit = _components_hit(prediction, reference)
    return LesionCounts(n_ref, n_ref_hit, n_pred, n_pred_hit)
