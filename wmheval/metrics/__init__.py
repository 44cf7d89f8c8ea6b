"""The metrics core: pure functions on arrays that reproduce the official WMH evaluation.

Arrays are indexed (z, y, x) like SimpleITK's ``GetArrayFromImage``; geometry follows ITK's
(x, y, z) conventions (:class:`Geometry`).
"""

from wmheval.metrics.binarize import (
    BinarizationError,
    BinarizeReport,
    binarize_prediction,
    foreground_indices,
    official_upper_threshold,
)
from wmheval.metrics.evaluate import (
    HIGHER_IS_BETTER,
    METRICS,
    CaseMetrics,
    evaluate_arrays,
    evaluate_indices,
    evaluate_masks,
)
from wmheval.metrics.geometry import Geometry
from wmheval.metrics.labels import reference_indices, reference_masks
from wmheval.metrics.lesions import LesionCounts, lesion_counts
from wmheval.metrics.overlap import avd_from_counts, dice_from_counts
from wmheval.metrics.surface import h95, in_plane_edges

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "BinarizationError",
    "BinarizeReport",
    "CaseMetrics",
    "Geometry",
    "LesionCounts",
    "avd_from_counts",
    "binarize_prediction",
    "dice_from_counts",
    "evaluate_arrays",
    "evaluate_indices",
    "evaluate_masks",
    "foreground_indices",
    "h95",
    "in_plane_edges",
    "lesion_counts",
    "official_upper_threshold",
    "reference_indices",
    "reference_masks",
]
