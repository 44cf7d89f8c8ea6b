"""Voxel-overlap metrics: Dice and absolute volume difference (AVD)."""

from __future__ import annotations

import math


def dice_from_counts(n_reference: int, n_prediction: int, n_overlap: int) -> float:
    """Dice = 2|T∩P| / (|T| + |P|); NaN when both masks are empty.

    Computed as ``1 - (FP + FN) / (2 TP + FP + FN)``, the arithmetic of the official
    script (scipy's dice dissimilarity), so results match it to the last bit.
    """
    false_pos = n_prediction - n_overlap
    false_neg = n_reference - n_overlap
    denominator = 2.0 * n_overlap + false_pos + false_neg
    if denominator == 0:
        return math.nan
    return 1.0 - (false_neg + false_pos) / denominator


def avd_from_counts(n_reference: int, n_prediction: int) -> float:
    """AVD (%) = | |T| - |P| | / |T| * 100 on voxel counts; NaN for an empty reference."""
    if n_reference == 0:
        return math.nan
    return float(abs(float(n_prediction) - float(n_reference))) / float(n_reference) * 100
