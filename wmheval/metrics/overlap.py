"""Voxel-overlap metrics: Dice and absolute volume difference (AVD).

Both are computed from voxel counts, so they need no grid: the counts come from masks
that :func:`wmheval.metrics.evaluate_masks` has checked.
"""

from __future__ import annotations

import math


def dice_from_counts(n_reference: int, n_prediction: int, n_overlap: int) -> float:
    """Dice similarity coefficient from voxel counts.

    Dice = 2|T ∩ P| / (|T| + |P|), where T is the reference WMH mask and P the prediction.

    Parameters
    ----------
    n_reference : int
        |T|, voxels in the reference mask.
    n_prediction : int
        |P|, voxels in the prediction mask.
    n_overlap : int
        |T ∩ P|, voxels in both (true positives).

    Returns
    -------
    float
        Dice in [0, 1]; NaN when both masks are empty (as in the official script).

    Notes
    -----
    Computed as ``1 - (FP + FN) / (2 TP + FP + FN)``, the arithmetic of the official script
    (scipy's Dice dissimilarity), so the result matches it to the last bit.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    A reference of 9 voxels and a prediction of 6 voxels, all inside it:
    2 * 6 / (9 + 6) = 0.8.

    >>> dice_from_counts(9, 6, 6)
    0.8
    >>> dice_from_counts(4, 4, 0)  # disjoint masks
    0.0
    >>> dice_from_counts(0, 0, 0)  # both empty: undefined
    nan
    """
    false_pos = n_prediction - n_overlap
    false_neg = n_reference - n_overlap
    denominator = 2.0 * n_overlap + false_pos + false_neg
    if denominator == 0:
        return math.nan
    return 1.0 - (false_neg + false_pos) / denominator


def avd_from_counts(n_reference: int, n_prediction: int) -> float:
    """Absolute volume difference in percent of the reference volume.

    AVD = | |T| - |P| | / |T| * 100, on voxel counts (not log-transformed).

    Parameters
    ----------
    n_reference : int
        |T|, voxels in the reference mask.
    n_prediction : int
        |P|, voxels in the prediction mask.

    Returns
    -------
    float
        AVD in percent (0 is best; it exceeds 100 when the prediction is more than twice
        the reference); NaN for an empty reference, where the official script divides
        by zero.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    A 9-voxel reference and a 6-voxel prediction: |9 - 6| / 9 * 100 = 33.3 %.

    >>> round(avd_from_counts(9, 6), 4)
    33.3333
    >>> avd_from_counts(10, 25)  # over-segmentation counts the same way
    150.0
    >>> avd_from_counts(0, 5)  # empty reference: undefined
    nan
    """
    if n_reference == 0:
        return math.nan
    return float(abs(float(n_prediction) - float(n_reference))) / float(n_reference) * 100
