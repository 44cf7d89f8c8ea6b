"""The one grid check that every public metric runs on its inputs.

Two masks are compared voxel by voxel, so they must lie on the same (z, y, x) grid; a
function that silently accepted two different shapes would return a number for images that
cannot be compared (``h95`` once returned 0.0 for a 3x8x8 and a 3x9x9 mask). Flat voxel
indices must be what ``np.flatnonzero`` gives: sorted, unique and inside the grid.
"""

from __future__ import annotations

import numpy as np

from wmheval.errors import InputError


def check_3d(array: np.ndarray, *, name: str) -> None:
    """Raise :class:`InputError` unless ``array`` is 3D (indexed z, y, x)."""
    if np.ndim(array) != 3:
        raise InputError(f"{name} must be a 3D array indexed (z, y, x), got shape "
                         f"{np.shape(array)}")


def check_same_grid(first: np.ndarray, second: np.ndarray, *,
                    names: tuple[str, str] = ("reference", "prediction")) -> None:
    """Raise :class:`InputError` unless both arrays are 3D and of the same shape.

    The message gives the sizes in (x, y, z) order, as image headers and ITK state them.
    """
    first_shape, second_shape = np.shape(first), np.shape(second)
    if first_shape != second_shape:
        raise InputError(f"size mismatch: {names[0]} {first_shape[::-1]} vs {names[1]} "
                         f"{second_shape[::-1]} (x, y, z)")
    check_3d(first, name=names[0])


def check_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """``shape`` as three positive ints (z, y, x); :class:`InputError` otherwise."""
    try:
        dims = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise InputError(f"shape must be three positive integers (z, y, x), got {shape!r}"
                         ) from None
    if len(dims) != 3 or min(dims) < 1:
        raise InputError(f"shape must be three positive integers (z, y, x), got {shape!r}")
    return dims  # type: ignore[return-value]


def check_flat_indices(flat: np.ndarray, shape: tuple[int, int, int], *,
                       name: str) -> np.ndarray:
    """``flat`` as a 1D int64 array, after checking that it holds sorted, unique flat
    indices into a grid of ``shape`` (what ``np.flatnonzero`` returns)."""
    values = np.asarray(flat)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise InputError(f"{name} must be a 1D array of integer flat indices, got "
                         f"{values.dtype} of shape {values.shape}")
    values = values.astype(np.int64, copy=False)
    steps = np.diff(values)
    if np.any(steps < 0):
        raise InputError(f"{name} must be sorted in increasing order (as np.flatnonzero "
                         "returns them)")
    if np.any(steps == 0):
        raise InputError(f"{name} holds repeated indices; each voxel may appear once")
    size = int(np.prod(shape))
    if values[0] < 0 or values[-1] >= size:
        raise InputError(f"{name} holds indices outside the grid {tuple(shape)} "
                         f"(0..{size - 1}): {int(values[0])}..{int(values[-1])}")
    return values
