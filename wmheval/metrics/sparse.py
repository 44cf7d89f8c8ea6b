"""Exact neighbourhood operations on sparse masks, from sorted flat voxel indices.

WMH masks fill well under 1% of a FLAIR grid, so labelling components and finding edges
from the foreground voxels' indices (neighbours found through a lookup table over the
mask's index span, components with ``scipy.sparse.csgraph``) is several times faster than
``scipy.ndimage`` on the whole grid, with identical results. Arrays are indexed (z, y, x).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Half of the 26-neighbourhood: each undirected edge of the voxel graph once.
HALF_26_OFFSETS = tuple(
    (dz, dy, dx)
    for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    if (dz, dy, dx) > (0, 0, 0)
)
IN_PLANE_8_OFFSETS = tuple(
    (0, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)
)


MAX_LOOKUP_SPAN = 50_000_000
"""Index spans beyond this (200 MB of int32) fall back to ``searchsorted`` lookups."""


class SparseMask:
    """A boolean mask stored as the sorted flat indices of its foreground voxels."""

    def __init__(self, flat: np.ndarray, shape: tuple[int, int, int]):
        self.flat = np.asarray(flat, dtype=np.int64)
        self.shape = tuple(int(n) for n in shape)
        self.zyx = np.unravel_index(self.flat, self.shape)
        self._lookup: np.ndarray | None = None
        # Any neighbour's flat index lies within this padding of the mask's index span.
        self._pad = self.shape[1] * self.shape[2] + self.shape[2] + 1
        self._base = int(self.flat[0]) - self._pad if self.flat.size else 0
        span = int(self.flat[-1]) + self._pad - self._base + 1 if self.flat.size else 0
        self._use_lookup = 0 < span <= MAX_LOOKUP_SPAN
        self._span = span

    def _positions(self, target: np.ndarray) -> np.ndarray:
        """Position in this mask of each flat index in ``target`` (-1 where background).

        ``target`` must lie within the padded index span (neighbours of mask voxels do).
        """
        if self._use_lookup:
            if self._lookup is None:
                self._lookup = np.full(self._span, -1, dtype=np.int32)
                self._lookup[self.flat - self._base] = np.arange(self.flat.size, dtype=np.int32)
            return self._lookup[target - self._base]
        return self._search(target)

    def _search(self, target: np.ndarray) -> np.ndarray:
        """Like :meth:`_positions` by binary search, for any flat indices."""
        if self.flat.size == 0:
            return np.full(np.shape(target), -1, dtype=np.int64)
        position = np.minimum(np.searchsorted(self.flat, target), self.flat.size - 1)
        return np.where(self.flat[position] == target, position, -1)

    def neighbour(self, offset: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """For each voxel: is its neighbour at ``offset`` inside the image, and the position
        of that neighbour in this mask (-1 where it is background or outside)."""
        inside = np.ones(self.flat.size, dtype=bool)
        for axis in range(3):
            if offset[axis] < 0:
                inside &= self.zyx[axis] >= -offset[axis]
            elif offset[axis] > 0:
                inside &= self.zyx[axis] < self.shape[axis] - offset[axis]
        step = (offset[0] * self.shape[1] + offset[1]) * self.shape[2] + offset[2]
        position = self._positions(self.flat + step)
        return inside, np.where(inside, position, -1)

    def contains(self, flat: np.ndarray) -> np.ndarray:
        """Which of the given flat indices are foreground in this mask."""
        return self._search(flat) >= 0

    def components(self) -> tuple[int, np.ndarray]:
        """26-connected components: (count, component label of each voxel)."""
        n = self.flat.size
        if n == 0:
            return 0, np.zeros(0, dtype=np.int32)
        rows, cols = [], []
        for offset in HALF_26_OFFSETS:
            _, position = self.neighbour(offset)
            linked = position >= 0
            rows.append(np.flatnonzero(linked))
            cols.append(position[linked])
        row, col = np.concatenate(rows), np.concatenate(cols)
        graph = coo_matrix((np.ones(row.size, dtype=np.int8), (row, col)), shape=(n, n))
        return connected_components(graph, directed=False)

    def in_plane_edges(self) -> np.ndarray:
        """Which voxels have an in-image in-plane 8-neighbour that is background.

        Neighbours outside the image count as foreground, as in ITK's erosion.
        """
        edge = np.zeros(self.flat.size, dtype=bool)
        for offset in IN_PLANE_8_OFFSETS:
            inside, position = self.neighbour(offset)
            edge |= inside & (position < 0)
        return edge
