"""Lesion-wise detection: recall and F1 over 3D connected components (26-connectivity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class LesionCounts:
    """Component counts behind lesion recall, precision and F1."""

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

    Lesions are 3D connected components with 26-connectivity (corner neighbours count);
    any shared voxel is a detection, with no size or overlap threshold.
    """
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    n_ref, n_ref_hit = _components_hit(reference, prediction)
    n_pred, n_pred_hit = _components_hit(prediction, reference)
    return LesionCounts(n_ref, n_ref_hit, n_pred, n_pred_hit)
