"""Smooth random fields and per-subject random streams: the noise behind every phantom."""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import ndimage


def subject_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator seeded from ``seed`` and string keys (subject id, stream name, team).

    Keys are hashed (not Python's salted ``hash``), so the same (seed, id) gives the same
    subject whatever other subjects are generated, in any process.
    """
    words = [int(seed) & 0xFFFFFFFF]
    for key in keys:
        digest = hashlib.sha256(str(key).encode("utf-8")).digest()
        words.extend(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    return np.random.default_rng(np.random.SeedSequence(words))


def smooth_field(shape_zyx: tuple[int, int, int], spacing_zyx: tuple[float, float, float],
                 correlation_mm: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth zero-mean, unit-variance random field (float32) on a (z, y, x) grid.

    White noise on a coarse grid (knots about ``correlation_mm / 2`` apart) is smoothed and
    interpolated linearly to the full grid: cheap, and the same in millimetres whatever
    the voxel size.
    """
    shape = np.asarray(shape_zyx, dtype=int)
    extent = shape * np.asarray(spacing_zyx, dtype=float)
    knots = np.maximum(np.ceil(extent / (correlation_mm / 2.0)).astype(int) + 1, 2)
    knots = np.minimum(knots, np.maximum(shape, 2))
    coarse = ndimage.gaussian_filter(rng.standard_normal(tuple(knots)), 1.0, mode="wrap")
    coarse = (coarse - coarse.mean()) / max(float(coarse.std()), 1e-6)
    field = coarse.astype(np.float32)
    # Separable linear interpolation as three small matrix products (faster than zoom).
    for axis in (2, 1, 0):
        weights = _linear_weights(int(shape[axis]), int(knots[axis]))
        field = np.moveaxis(np.tensordot(weights, field, axes=([1], [axis])), 0, axis)
    return np.ascontiguousarray(field, dtype=np.float32)


def _linear_weights(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix of linear interpolation from ``n_in`` knots spanning the axis."""
    position = np.arange(n_out) * ((n_in - 1) / max(n_out - 1, 1))
    left = np.minimum(np.floor(position).astype(int), n_in - 2)
    fraction = (position - left).astype(np.float32)
    weights = np.zeros((n_out, n_in), dtype=np.float32)
    rows = np.arange(n_out)
    weights[rows, left] = 1.0 - fraction
    weights[rows, left + 1] += fraction
    return weights


def smooth_field_at(shape_zyx: tuple[int, int, int], spacing_zyx: tuple[float, float, float],
                    correlation_mm: float, rng: np.random.Generator,
                    flat_index: np.ndarray) -> np.ndarray:
    """:func:`smooth_field` evaluated only at ``flat_index`` (float32): the same field
    (same random draws), cheap when few voxels are wanted."""
    shape = np.asarray(shape_zyx, dtype=int)
    extent = shape * np.asarray(spacing_zyx, dtype=float)
    knots = np.maximum(np.ceil(extent / (correlation_mm / 2.0)).astype(int) + 1, 2)
    knots = np.minimum(knots, np.maximum(shape, 2))
    coarse = ndimage.gaussian_filter(rng.standard_normal(tuple(knots)), 1.0, mode="wrap")
    coarse = ((coarse - coarse.mean()) / max(float(coarse.std()), 1e-6)).astype(np.float32)
    points = np.unravel_index(np.asarray(flat_index), tuple(shape))
    scaled = [p * np.float32((k - 1) / max(n - 1, 1))
              for p, k, n in zip(points, knots, shape, strict=True)]
    return ndimage.map_coordinates(coarse, np.stack(scaled), order=1, mode="nearest",
                                   prefilter=False).astype(np.float32)
