"""Reading the reference labels by value: 1 = WMH, 2 = other pathology (ignored)."""

from __future__ import annotations

import numpy as np

WMH_RANGE = (0.5, 1.5)
IGNORED_RANGE = (1.5, 2.5)


def reference_masks(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (wmh, ignored) boolean masks of a reference label image.

    Labels are read by value whatever the pixel type, with the official inclusive
    thresholds: WMH is 0.5 <= v <= 1.5 and ignored is 1.5 <= v <= 2.5 (so a voxel of value
    exactly 1.5 is both). The official script thresholds in the reference's own pixel type
    and breaks on integer references; reading by value avoids that.
    """
    values = np.asarray(reference)
    if values.dtype.kind not in "fc":
        # On integers the inclusive float ranges hold exactly one value each.
        return values == 1, values == 2
    wmh = (values >= WMH_RANGE[0]) & (values <= WMH_RANGE[1])
    ignored = (values >= IGNORED_RANGE[0]) & (values <= IGNORED_RANGE[1])
    return wmh, ignored


def reference_indices(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted flat indices of the (wmh, ignored) voxels; same rule as :func:`reference_masks`.

    Only non-zero voxels are classified, which is much faster on label images.
    """
    flat_values = np.asarray(reference).reshape(-1)
    nonzero = np.flatnonzero(flat_values != 0)
    wmh, ignored = reference_masks(flat_values[nonzero])
    return nonzero[wmh], nonzero[ignored]
