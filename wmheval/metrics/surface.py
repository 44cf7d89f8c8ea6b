"""The challenge's 95th-percentile Hausdorff distance (H95) between lesion edges."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from wmheval.metrics._checks import check_3d, check_same_grid
from wmheval.metrics.geometry import Geometry

# 3x3 in-plane square in (z, y, x) array order: erosion acts within each axial slice.
IN_PLANE_SQUARE = np.ones((1, 3, 3), dtype=bool)


def in_plane_edges(mask: np.ndarray) -> np.ndarray:
    """Edge voxels of a mask: the mask minus its in-plane 3x3 erosion.

    Parameters
    ----------
    mask : (Z, Y, X) array_like of bool
        The mask, indexed (z, y, x).

    Returns
    -------
    (Z, Y, X) ndarray of bool
        True on the foreground voxels that have at least one in-image background voxel
        among their 8 in-plane (x, y) neighbours.

    Raises
    ------
    wmheval.errors.InputError
        If ``mask`` is not 3D.

    Notes
    -----
    The erosion acts within each axial slice (not along z), so the top and bottom slices
    of a lesion are not all edge. Voxels outside the image count as foreground during the
    erosion (ITK's default), so a voxel on the image border is an edge only if an in-image
    neighbour is background.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    A 3x3 square: its ring of 8 voxels is edge, its centre is not.

    >>> import numpy as np
    >>> mask = np.zeros((1, 5, 5), dtype=bool)
    >>> mask[0, 1:4, 1:4] = True
    >>> print(in_plane_edges(mask)[0].astype(int))
    [[0 0 0 0 0]
     [0 1 1 1 0]
     [0 1 0 1 0]
     [0 1 1 1 0]
     [0 0 0 0 0]]

    A mask that fills the whole slice has no edge (outside the image counts as
    foreground):

    >>> int(in_plane_edges(np.ones((1, 4, 4), dtype=bool)).sum())
    0
    """
    check_3d(mask, name="mask")
    mask = np.asarray(mask, dtype=bool)
    eroded = ndimage.binary_erosion(mask, structure=IN_PLANE_SQUARE, border_value=1)
    return mask & ~eroded


def edge_points(mask: np.ndarray, geometry: Geometry, *,
                offset_zyx: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Physical (x, y, z) points in mm of the in-plane edge voxels of ``mask``.

    ``offset_zyx`` is the index of ``mask[0, 0, 0]`` in the full image when ``mask`` is a
    crop of it.
    """
    index_zyx = np.argwhere(in_plane_edges(mask)) + np.asarray(offset_zyx)
    return geometry.index_to_physical(index_zyx[:, ::-1])


def nearest_distances(from_points: np.ndarray, to_points: np.ndarray, *,
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


def h95_from_points(reference_points: np.ndarray, prediction_points: np.ndarray, *,
                    reference_shared: np.ndarray | None = None,
                    prediction_shared: np.ndarray | None = None) -> float:
    """max(p95 of prediction-to-reference, p95 of reference-to-prediction) distances.

    Each percentile uses linear interpolation (numpy's default), exactly as the official
    script; NaN when either point set is empty. The optional ``*_shared`` masks flag edge
    points present in both sets (see :func:`nearest_distances`).
    """
    if len(reference_points) == 0 or len(prediction_points) == 0:
        return math.nan
    pred_to_ref = nearest_distances(prediction_points, reference_points,
                                    shared=prediction_shared)
    ref_to_pred = nearest_distances(reference_points, prediction_points,
                                    shared=reference_shared)
    return float(max(np.percentile(pred_to_ref, 95), np.percentile(ref_to_pred, 95)))


def h95(reference: np.ndarray, prediction: np.ndarray, *,
        geometry: Geometry | None = None) -> float:
    """The challenge's modified Hausdorff distance (95th percentile) in mm.

    Parameters
    ----------
    reference : (Z, Y, X) array_like of bool
        The reference WMH mask T.
    prediction : (Z, Y, X) array_like of bool
        The binarised prediction P, on the same grid.
    geometry : Geometry, optional
        Where the grid lies in space (the reference image's); the default is 1 mm
        isotropic voxels at the origin.

    Returns
    -------
    float
        ``max(p95(d(P->T)), p95(d(T->P)))`` over the in-plane edge voxels
        (:func:`in_plane_edges`), each distance the exact Euclidean distance in mm to the
        nearest edge point of the other mask, each percentile linearly interpolated. NaN
        when the prediction is empty, and when the reference has no edge voxels (empty, or
        filling whole slices), where the official script has no answer.

    Raises
    ------
    wmheval.errors.InputError
        If the masks are not 3D or differ in shape.

    Notes
    -----
    This is neither a pooled percentile nor a surface-element distance: general HD95
    libraries give different numbers.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    A 3x3 square and the same square moved one voxel along x: half of each ring's 8 edge
    points lie on the other ring (distance 0), the others 1 voxel away, so both 95th
    percentiles are 1 voxel.

    >>> import numpy as np
    >>> from wmheval.metrics import Geometry
    >>> reference = np.zeros((1, 7, 7), dtype=bool)
    >>> reference[0, 2:5, 2:5] = True
    >>> prediction = np.roll(reference, 1, axis=2)
    >>> h95(reference, prediction)
    1.0
    >>> h95(reference, prediction, geometry=Geometry(spacing=(0.5, 0.5, 3.0)))
    0.5
    >>> h95(reference, np.zeros_like(reference))  # empty prediction: undefined
    nan
    """
    check_same_grid(reference, prediction)
    geometry = geometry or Geometry()
    if not np.any(prediction):
        return math.nan
    return h95_from_points(edge_points(reference, geometry), edge_points(prediction, geometry))
