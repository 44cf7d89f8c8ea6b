"""A brain-like head phantom: scalp/skull, CSF, ventricles, cortex and white matter.

Everything is computed in millimetres from the grid centre, so the same subject keeps its
physical size on any voxel grid. Axes: x left-right, y posterior-anterior, z inferior-
superior; arrays are indexed (z, y, x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wmheval.synth.fields import smooth_field

BACKGROUND, SCALP, CSF, GREY, WHITE = 0, 1, 2, 3, 4
TISSUE_NAMES = {BACKGROUND: "background", SCALP: "scalp/skull", CSF: "CSF",
                GREY: "grey matter", WHITE: "white matter"}
SKULL_MM = 5.0
SCALP_MM = 5.0
VENTRICLE_REACH_MM = 30.0
"""Distances to the ventricles are computed up to this far; beyond it they read as inf."""


@dataclass
class Anatomy:
    """One subject's anatomy on its grid, plus the fields the lesion model needs."""

    tissue: np.ndarray          # uint8 (z, y, x), codes BACKGROUND..WHITE
    ventricles: np.ndarray      # bool, lateral ventricles (part of CSF)
    depth_mm: np.ndarray        # float32, depth below the brain surface (negative outside)
    ventricle_mm: np.ndarray    # float32, distance to the ventricles (inf far away)
    horn: np.ndarray            # float32, 0 at the ventricle middle, 1+ at the horns
    spacing_zyx: tuple[float, float, float]
    atrophy: float

    @property
    def csf_outer_mm(self) -> float:
        """Width of the CSF between the brain surface and the skull."""
        return 1.5 + 3.0 * self.atrophy

    @property
    def bone(self) -> np.ndarray:
        """The inner part of the scalp/skull class: the skull itself."""
        return (self.tissue == SCALP) & (self.depth_mm > -(self.csf_outer_mm + SKULL_MM))

    @property
    def brain(self) -> np.ndarray:
        """Grey matter, white matter and the CSF inside the skull."""
        return self.tissue >= CSF


def _axes(shape_zyx, spacing_zyx, offset_mm, yaw):
    """Open-grid coordinates in mm (z column, y/x planes rotated by ``yaw`` about z)."""
    z, y, x = (
        (np.arange(n, dtype=np.float32) - (n - 1) / 2.0) * s - o
        for n, s, o in zip(shape_zyx, spacing_zyx, offset_mm, strict=True)
    )
    z = z[:, None, None]
    y, x = y[None, :, None], x[None, None, :]
    cos, sin = np.float32(np.cos(yaw)), np.float32(np.sin(yaw))
    return z, (cos * y - sin * x), (cos * x + sin * y)


def _ventricle_distance(ventricles: np.ndarray, spacing_zyx) -> np.ndarray:
    """Euclidean distance (mm) to the ventricles inside their bounding box plus a margin."""
    distance = np.full(ventricles.shape, np.inf, dtype=np.float32)
    if not ventricles.any():
        return distance
    box = []
    for axis, step in enumerate(spacing_zyx):
        others = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(ventricles.any(axis=others))
        margin = int(np.ceil(VENTRICLE_REACH_MM / step))
        box.append(slice(max(present[0] - margin, 0),
                         min(present[-1] + 1 + margin, ventricles.shape[axis])))
    box = tuple(box)
    distance[box] = ndimage.distance_transform_edt(~ventricles[box], sampling=spacing_zyx)
    return distance


def build_anatomy(shape_zyx: tuple[int, int, int], spacing_zyx: tuple[float, float, float],
                  rng: np.random.Generator, atrophy: float = 0.3) -> Anatomy:
    """Draw one subject's head on a (z, y, x) grid.

    ``atrophy`` in [0, 1] widens the ventricles and the CSF spaces (older, more atrophic
    brains also carry more WMH; the caller correlates the two).
    """
    shape_zyx = tuple(int(n) for n in shape_zyx)
    spacing_zyx = tuple(float(s) for s in spacing_zyx)
    size = rng.uniform(0.93, 1.04)
    semi = np.array([66.0, 82.0, 55.0]) * size * rng.uniform(0.97, 1.03, 3)  # x, y, z
    offset = rng.uniform(-3.0, 3.0, 3)[::-1] * np.array([0.5, 1.0, 1.0])  # z, y, x
    z, y, x = _axes(shape_zyx, spacing_zyx, offset, np.deg2rad(rng.uniform(-4.0, 4.0)))

    def field(correlation_mm: float) -> np.ndarray:
        return smooth_field(shape_zyx, spacing_zyx, correlation_mm, rng)

    # Brain: a wobbly ellipsoid; depth = distance to its surface along the ray from the centre.
    radius = np.sqrt((x / semi[0]) ** 2 + (y / semi[1]) ** 2 + (z / semi[2]) ** 2)
    radius *= 1.0 + 0.035 * field(60.0)
    rho = np.sqrt(x * x + y * y + z * z)
    depth = rho * (1.0 / np.maximum(radius, 1e-3) - 1.0)
    depth = depth.astype(np.float32)
    csf_outer = 1.5 + 3.0 * atrophy  # = Anatomy.csf_outer_mm
    # Skull (about 5 mm) and scalp (about 5 mm) follow the brain surface at fixed depths.
    head = depth > -(csf_outer + SKULL_MM + SCALP_MM)

    tissue = np.zeros(shape_zyx, dtype=np.uint8)
    tissue[head] = SCALP
    tissue[depth > -csf_outer] = CSF
    # Cortex: a ribbon of varying thickness, folded around the zero sheets of a random field.
    thickness = np.clip(4.5 + 1.8 * field(12.0), 2.0, 9.0)
    sheets = field(9.0)
    fold_depth = 20.0 + 4.0 * atrophy
    in_folds = depth < fold_depth
    grey = (depth >= 0) & ((depth < thickness) | (in_folds & (np.abs(sheets) < 0.6)))
    sulcus = (depth >= 0) & in_folds & (np.abs(sheets) < 0.06 + 0.08 * atrophy)
    tissue[depth >= 0] = WHITE
    tissue[grey] = GREY
    tissue[sulcus] = CSF

    # Lateral ventricles: two bent ellipsoids either side of the midline.
    half_width = (3.0 + 6.0 * atrophy) * size
    length = (27.0 + 5.0 * atrophy) * size
    height = (6.5 + 3.0 * atrophy) * size
    centre_y, centre_z = rng.uniform(-6.0, 0.0), rng.uniform(6.0, 11.0) * size
    bend = z - (centre_z - 0.012 * (y - centre_y) ** 2)
    along = (y - centre_y) / length
    width = half_width * (1.0 + 0.35 * np.clip(along, 0.0, 1.0))  # frontal horns wider
    ventricles = np.zeros(shape_zyx, dtype=bool)
    for side in (-1.0, 1.0):
        across = (x - side * (half_width + 1.2)) / width
        ventricles |= (across ** 2 + along ** 2 + (bend / height) ** 2) < 1.0
    ventricles &= depth > 8.0
    # Deep grey matter (thalami, basal ganglia) below and beside the ventricles.
    for side in (-1.0, 1.0):
        nuclei = (((x - side * (2.0 * half_width + 12.0)) / 8.5) ** 2
                  + ((y - centre_y + 2.0) / 14.0) ** 2 + ((z - centre_z + 13.0) / 8.0) ** 2)
        tissue[(nuclei < 1.0) & (depth > 8.0)] = GREY
    # Interhemispheric fissure above the corpus callosum: CSF lined with medial cortex.
    above = z > centre_z + height + 4.0
    tissue[above & (np.abs(x) < 1.0 + 0.8 * atrophy + 3.0) & (tissue == WHITE)] = GREY
    tissue[above & (np.abs(x) < 1.0 + 0.8 * atrophy) & (depth > -csf_outer)] = CSF
    tissue[ventricles] = CSF

    ventricle_mm = _ventricle_distance(ventricles, spacing_zyx)
    horn = np.abs(along).astype(np.float32)
    return Anatomy(tissue=tissue, ventricles=ventricles, depth_mm=depth,
                   ventricle_mm=ventricle_mm, horn=np.broadcast_to(horn, shape_zyx),
                   spacing_zyx=spacing_zyx, atrophy=float(atrophy))
