"""The challenge's 95th-percentile Hausdorff distance (H95) between lesion edges."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from wmheval.metrics.geometry import Geometry

# 3x3 in-plane square in (z, y, x) array order: erosion acts within each axial slice.
IN_PLANE_SQUARE = np.ones((1, 3, 3), dtype=bool)


def in_plane_edges(mask: np.ndarray) -> np.ndarray:
    """Edge voxels: the mask minus its in-plane 3x3 erosion.

    Voxels outside the image count as foreground during the erosion (ITK's default), so a
    voxel on the image border is an edge only if an in-image neighbour is background.
    ``mask`` is indexed (z, y, x).
    """
    mask = np.asarray(mask, dtype=bool)
    eroded = ndimage.binary_erosion(mask, structure=IN_PLANE_SQUARE, border_value=1)
    return mask & ~eroded


def edge_points(mask: np.ndarray, geometry: Geometry, offset_zyx=(0, 0, 0)) -> np.ndarray:
    """Physical (x, y, z) points in mm of the in-plane edge voxels of ``mask``.

    ``offset_zyx`` is the index of ``mask[0, 0, 0]`` in the full image when ``mask`` is a
    crop of it.
    """
    index_zyx = np.argwhere(in_plane_edges(mask)) + np.asarray(offset_zyx)
    return geometry.index_to_physical(index_zyx[:, ::-1])


def nearest_distances(from_points: np.ndarray, to_points: np.ndarray,
                      shared: np.ndarray | None = None) -> np.ndarray:
    """Exact Euclidean distance from each of ``from_points`` to the nearest of ``to_points``.

    ``shared`` marks points of ``from_points`` that are also in ``to_points`` (the same voxel,
    so the same coordinates): their distance is exactly 0 and they need no tree query.
    """
    distances = np.zeros(len(from_points))
    query = slice(None) if shared is None else ~shared
    queried = from_points[query]
    if len(queried):
        tree = cKDTree(to_points, balanced_tree=False, compact_nodes=False)
        distances[query] = tree.query(queried, k=1)[0]
    return distances


def h95_from_points(reference_points: np.ndarray, prediction_points: np.ndarray,
                    reference_shared: np.ndarray | None = None,
                    prediction_shared: np.ndarray | None = None) -> float:
    """max(p95 of prediction-to-reference, p95 of reference-to-prediction) distances.

    Each percentile uses linear interpolation (numpy's default), exactly as the official
    script; NaN when either point set is empty. The optional ``*_shared`` masks flag edge
    points present in both sets (see :func:`nearest_distances`).
    """
    if len(reference_points) == 0 or len(prediction_points) == 0:
        return math.nan
    pred_to_ref = nearest_distances(prediction_points, reference_points, prediction_shared)
    ref_to_pred = nearest_distances(reference_points, prediction_points, reference_shared)
    return float(max(np.percentile(pred_to_ref, 95), np.percentile(ref_to_pred, 95)))


def h95(
    reference: np.ndarray, prediction: np.ndarray, geometry: Geometry | None = None
) -> float:
    """H95 in mm between two boolean masks indexed (z, y, x); NaN if the prediction is empty.

    Also NaN when the reference has no edge voxels (empty reference, or a mask that fills
    whole slices), where the official script has no answer.
    """
    geometry = geometry or Geometry()
    if not np.any(prediction):
        return math.nan
    return h95_from_points(edge_points(reference, geometry), edge_points(prediction, geometry))
