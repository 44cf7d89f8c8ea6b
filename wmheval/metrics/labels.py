"""Reading the reference labels by value: 1 = WMH, 2 = other pathology (ignored)."""

from __future__ import annotations

import numpy as np

WMH_RANGE = (0.5, 1.5)
IGNORED_RANGE = (1.5, 2.5)


def reference_masks(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The WMH and ignored-region masks of a reference label image.

    Parameters
    ----------
    reference : array_like
        The reference labels (0 background, 1 WMH, 2 other pathology), any real pixel
        type and any shape (the rule is voxel by voxel).

    Returns
    -------
    wmh, ignored : ndarray of bool
        Masks of the shape of ``reference``: WMH is 0.5 <= v <= 1.5 and ignored is
        1.5 <= v <= 2.5, the official inclusive thresholds (so a voxel of exactly 1.5 is
        both).

    Notes
    -----
    Labels are read by value whatever the pixel type. The official script thresholds in
    the reference's own pixel type and so breaks on integer references (every voxel
    becomes WMH); reading by value avoids that.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    >>> import numpy as np
    >>> wmh, ignored = reference_masks(np.array([0.0, 0.49, 1.0, 1.5, 2.0, 2.6]))
    >>> wmh.tolist()
    [False, False, True, True, False, False]
    >>> ignored.tolist()
    [False, False, False, True, True, False]
    >>> [m.tolist() for m in reference_masks(np.array([0, 1, 2, 3], dtype=np.uint8))]
    [[False, True, False, False], [False, False, True, False]]
    """
    values = np.asarray(reference)
    if values.dtype.kind not in "fc":
        # On integers the inclusive float ranges hold exactly one value each.
        return values == 1, values == 2
    wmh = (values >= WMH_RANGE[0]) & (values <= WMH_RANGE[1])
    ignored = (values >= IGNORED_RANGE[0]) & (values <= IGNORED_RANGE[1])
    return wmh, ignored


def reference_indices(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted flat indices of the WMH and ignored voxels of a reference label image.

    Same rule as :func:`reference_masks`; only non-zero voxels are classified, which is
    much faster on label images.

    Parameters
    ----------
    reference : array_like
        The reference labels, any real pixel type and any shape.

    Returns
    -------
    wmh, ignored : ndarray of int
        Flat (C-order) indices into ``reference``, sorted, as ``np.flatnonzero`` of the
        masks of :func:`reference_masks` would give them.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[[0, 1, 1], [2, 0, 1]]], dtype=np.float32)
    >>> wmh, ignored = reference_indices(labels)
    >>> wmh.tolist(), ignored.tolist()
    ([1, 2, 5], [3])
    """
    flat_values = np.asarray(reference).reshape(-1)
    nonzero = np.flatnonzero(flat_values != 0)
    wmh, ignored = reference_masks(flat_values[nonzero])
    return nonzero[wmh], nonzero[ignored]
