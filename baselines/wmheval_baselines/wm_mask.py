"""White-matter mask post-processing (paper 000): largest connected component + dilation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def in_plane_disk(radius_px: int) -> np.ndarray:
    """(1, 2r+1, 2r+1) boolean disk: a dilation in each axial slice only."""
    r = max(int(radius_px), 0)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy**2 + xx**2 <= r * r)[None]


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of a 3D boolean mask (empty stays empty)."""
    labels, count = ndimage.label(mask > 0, structure=np.ones((3, 3, 3), bool))
    if count == 0:
        return np.zeros(mask.shape, bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def refine_wm_mask(mask: np.ndarray, spacing: Sequence[float] | None = None,
                   dilation_mm: float = 4.0, radius_px: int | None = None) -> np.ndarray:
    """Largest component, then an in-plane dilation of ``dilation_mm`` (converted with the
    smallest in-plane spacing, at least one pixel) or of ``radius_px`` pixels if given."""
    if radius_px is None:
        pixel = min(spacing[0], spacing[1]) if spacing is not None else 1.0
        radius_px = max(1, int(round(dilation_mm / pixel)))
    kept = largest_component(mask)
    if radius_px == 0 or not kept.any():
        return kept
    return ndimage.binary_dilation(kept, structure=in_plane_disk(radius_px))
