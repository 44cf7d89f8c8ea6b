"""A deliberately literal, slow implementation of the metric spec, to test the engine against.

Each step is done the obvious way with SimpleITK (threshold, mask, erosion, connected
components), a Python loop over edge voxels for the physical points, and scipy's KDTree,
following ``shared/spec/metrics.md`` line by line. Only the reference is cast to float64
first, so that labels are read by value (the spec's fix of the official script).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.spatial
import SimpleITK as sitk


class OracleBinarizationError(Exception):
    """The official rule cannot binarise this pixel type (int8)."""


def oracle_masks(reference: sitk.Image, prediction: sitk.Image) -> tuple[sitk.Image, sitk.Image]:
    """(T, P) as uint8 images, the official way (prediction takes the reference geometry)."""
    reference = sitk.Cast(reference, sitk.sitkFloat64)
    prediction = sitk.Image(prediction)
    prediction.CopyInformation(reference)
    wmh = sitk.BinaryThreshold(reference, 0.5, 1.5, 1, 0)
    not_ignored = sitk.BinaryThreshold(reference, 1.5, 2.5, 0, 1)
    masked = sitk.Mask(prediction, not_ignored)
    try:
        if "integer" in masked.GetPixelIDTypeAsString():
            binary = sitk.BinaryThreshold(masked, 1, 1000, 1, 0)
        else:
            binary = sitk.BinaryThreshold(masked, 0.5, 1000, 1, 0)
    except RuntimeError as error:
        raise OracleBinarizationError(str(error)) from error
    return wmh, binary


def oracle_dice(t: sitk.Image, p: sitk.Image) -> float:
    t_array = sitk.GetArrayFromImage(t).flatten()
    p_array = sitk.GetArrayFromImage(p).flatten()
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - scipy.spatial.distance.dice(t_array, p_array)


def oracle_avd(t: sitk.Image, p: sitk.Image) -> float:
    stats_t = sitk.StatisticsImageFilter()
    stats_t.Execute(t)
    stats_p = sitk.StatisticsImageFilter()
    stats_p.Execute(p)
    if stats_t.GetSum() == 0:
        return math.nan
    return float(abs(stats_p.GetSum() - stats_t.GetSum())) / float(stats_t.GetSum()) * 100


def oracle_edge_points(mask: sitk.Image, geometry_of: sitk.Image) -> list:
    eroded = sitk.BinaryErode(mask, (1, 1, 0))
    edges = sitk.GetArrayFromImage(sitk.Subtract(mask, eroded))
    points = []
    for zyx in np.transpose(np.nonzero(edges)):
        xyz = [int(v) for v in zyx[::-1]]
        points.append(geometry_of.TransformIndexToPhysicalPoint(xyz))
    return points


def oracle_h95(t: sitk.Image, p: sitk.Image) -> float:
    stats = sitk.StatisticsImageFilter()
    stats.Execute(p)
    if stats.GetSum() == 0:
        return math.nan
    t_points = oracle_edge_points(t, t)
    p_points = oracle_edge_points(p, t)
    if not t_points or not p_points:
        return math.nan
    d_t_to_p = scipy.spatial.KDTree(t_points, leafsize=100).query(p_points, k=1, eps=0, p=2)[0]
    d_p_to_t = scipy.spatial.KDTree(p_points, leafsize=100).query(t_points, k=1, eps=0, p=2)[0]
    return max(np.percentile(d_t_to_p, 95), np.percentile(d_p_to_t, 95))


def _n_labels(image: sitk.Image) -> int:
    """Distinct non-zero labels (the official ``len(np.unique(a)) - 1`` assumes a zero)."""
    return len(set(np.unique(sitk.GetArrayFromImage(image)).tolist()) - {0})


def oracle_lesions(t: sitk.Image, p: sitk.Image) -> tuple[float, float]:
    components = sitk.ConnectedComponentImageFilter()
    components.SetFullyConnected(True)
    cc_t = components.Execute(t)
    hit_t = sitk.Multiply(cc_t, sitk.Cast(p, sitk.sitkUInt32))
    n_t = _n_labels(cc_t)
    recall = 1.0 if n_t == 0 else float(_n_labels(hit_t)) / n_t
    cc_p = components.Execute(p)
    hit_p = sitk.Multiply(cc_p, sitk.Cast(t, sitk.sitkUInt32))
    n_p = _n_labels(cc_p)
    precision = 1.0 if n_p == 0 else float(_n_labels(hit_p)) / n_p
    f1 = 0.0 if precision + recall == 0.0 else 2.0 * (precision * recall) / (precision + recall)
    return recall, f1


def oracle_metrics(reference: sitk.Image, prediction: sitk.Image) -> dict[str, float]:
    """Dice, H95, AVD, recall, F1 computed literally from the two images."""
    t, p = oracle_masks(reference, prediction)
    recall, f1 = oracle_lesions(t, p)
    return {"dice": oracle_dice(t, p), "h95": oracle_h95(t, p), "avd": oracle_avd(t, p),
            "recall": recall, "f1": f1}
