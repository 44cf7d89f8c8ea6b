"""The metrics core: pure functions on arrays that reproduce the official WMH evaluation.

Arrays are indexed (z, y, x) like SimpleITK's ``GetArrayFromImage``; geometry follows ITK's
(x, y, z) conventions (:class:`Geometry`). In the manner of scikit-image's metrics, the
inputs come first and every option is keyword-only (``h95(t, p, geometry=g)``); every
function that compares two arrays checks that they are 3D and on the same grid and raises
:class:`wmheval.errors.InputError` (a ``ValueError``) otherwise.

The definitions are those of the MICCAI 2017 WMH Segmentation Challenge (Kuijf et al.,
"Standardized Assessment of Automatic Segmentation of White Matter Hyperintensities and
Results of the WMH Segmentation Challenge", IEEE Transactions on Medical Imaging
38(11):2556-2568, 2019) as its organisers' evaluation script ``evaluation.py``
(https://github.com/hjkuijf/wmhchallenge) computes them; ``docs/scoring.md`` states them.

Examples
--------
>>> import numpy as np
>>> from wmheval.metrics import evaluate_masks
>>> reference = np.zeros((1, 5, 5), dtype=bool)
>>> reference[0, 1:4, 1:4] = True
>>> metrics = evaluate_masks(reference, reference)
>>> metrics.dice, metrics.h95, metrics.avd, metrics.recall, metrics.f1
(1.0, 0.0, 0.0, 1.0, 1.0)
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
