"""White matter hyperintensities and other pathology drawn into an :class:`Anatomy`.

Lesion load is log-normal over subjects (well under 1 ml to tens of ml, as in the real
challenge). Periventricular caps and bands grow from the ventricle walls (the top-scoring
white-matter voxels of a distance-plus-noise score, so their volume is exact); deep
punctate and patchy lesions are small irregular ellipsoids elsewhere in white matter.
Some subjects also get an infarct or lacune, labelled 2 (other pathology).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wmheval.synth.anatomy import GREY, WHITE, Anatomy
from wmheval.synth.fields import smooth_field

LOAD_MEDIAN_ML = 4.5
LOAD_SIGMA = 1.2
LOAD_RANGE_ML = (0.2, 90.0)
OTHER_PATHOLOGY_PROBABILITY = 0.3


@dataclass
class LesionSet:
    """Labels (0/1/2, uint8) and a lesion strength map in [0, 1] for the intensity model."""

    labels: np.ndarray
    strength: np.ndarray
    infarct_core: np.ndarray
    target_ml: float


def sample_lesion_load(rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
    """Total WMH volume in ml: log-normal (median 4.5 ml), clipped to 0.2-90 ml."""
    draw = np.exp(np.log(LOAD_MEDIAN_ML) + LOAD_SIGMA * rng.standard_normal(size))
    clipped = np.clip(draw, *LOAD_RANGE_ML)
    return float(clipped) if size is None else clipped


def atrophy_for_load(load_ml: float, rng: np.random.Generator) -> float:
    """Atrophy in [0, 1], rising with lesion load (both grow with age and vascular risk)."""
    trend = np.log(load_ml / LOAD_RANGE_ML[0]) / np.log(LOAD_RANGE_ML[1] / LOAD_RANGE_ML[0])
    return float(np.clip(0.15 + 0.6 * trend + rng.normal(0.0, 0.12), 0.0, 1.0))


def _blob(shape_zyx, spacing_zyx, centre, semi_mm, rng, roughness=0.25):
    """Slices and a boolean mask of an irregular ellipsoid around voxel ``centre``."""
    spacing = np.asarray(spacing_zyx)
    reach = np.ceil(semi_mm * 1.4 / spacing).astype(int) + 1
    lo = np.maximum(np.asarray(centre) - reach, 0)
    hi = np.minimum(np.asarray(centre) + reach + 1, shape_zyx)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    grids = np.ogrid[box]
    r2 = sum(((g - c) * s / a) ** 2 for g, c, s, a in
             zip(grids, centre, spacing, semi_mm, strict=True))
    r2 = r2 + roughness * rng.standard_normal(r2.shape)
    mask = r2 < 1.0
    mask[tuple(c - lo_ for c, lo_ in zip(centre, lo, strict=True))] = True  # never empty
    return box, mask, np.clip(1.0 - r2, 0.0, 1.0)


def _deep_lesions(anatomy: Anatomy, load_ml: float, rng: np.random.Generator):
    """Deep punctate and patchy lesions; returns (mask, strength)."""
    shape = anatomy.tissue.shape
    mask = np.zeros(shape, dtype=bool)
    strength = np.zeros(shape, dtype=np.float32)
    candidates = np.flatnonzero((anatomy.tissue == WHITE) & (anatomy.ventricle_mm > 8.0)
                                & (anatomy.depth_mm > 4.0))
    if candidates.size == 0:
        return mask, strength
    count = 1 + rng.poisson(2.0 + 3.0 * np.sqrt(load_ml))
    centres = np.column_stack(np.unravel_index(rng.choice(candidates, count), shape))
    radii = np.clip(rng.lognormal(np.log(1.6 + 0.25 * np.sqrt(load_ml)), 0.45, count), 0.8,
                    9.0)
    for centre, radius in zip(centres, radii, strict=True):
        semi = radius * rng.uniform(0.7, 1.3, 3)
        box, blob, inner = _blob(shape, anatomy.spacing_zyx, centre, semi, rng)
        mask[box] |= blob
        strength[box] = np.maximum(strength[box], np.where(blob, 0.4 + 0.6 * inner, 0.0))
    white = anatomy.tissue == WHITE
    return mask & white, np.where(white, strength, 0.0).astype(np.float32)


def _periventricular(anatomy: Anatomy, n_voxels: int, rng: np.random.Generator):
    """The ``n_voxels`` white-matter voxels that score highest for caps and bands."""
    shape = anatomy.tissue.shape
    mask = np.zeros(shape, dtype=bool)
    strength = np.zeros(shape, dtype=np.float32)
    near = (anatomy.tissue == WHITE) & (anatomy.ventricle_mm < 22.0) & (anatomy.depth_mm > 6.0)
    index = np.flatnonzero(near)
    if n_voxels <= 0 or index.size == 0:
        return mask, strength
    noise = smooth_field(shape, anatomy.spacing_zyx, 7.0, rng).ravel()[index]
    distance = anatomy.ventricle_mm.ravel()[index]
    horn = np.clip(anatomy.horn.ravel()[index], 0.0, 1.5)
    score = -distance / 4.0 + 1.6 * horn ** 3 + 0.7 * noise
    n_voxels = min(n_voxels, index.size)
    order = np.argpartition(-score, n_voxels - 1)[:n_voxels]
    chosen = index[order]
    mask.ravel()[chosen] = True
    top = score[order]
    span = max(float(top.max() - top.min()), 1e-6)
    strength.ravel()[chosen] = 0.45 + 0.55 * (top - top.min()) / span
    return mask, strength


def _other_pathology(anatomy: Anatomy, rng: np.random.Generator):
    """An infarct (cortical-subcortical) or lacune: (region, core) boolean masks."""
    shape = anatomy.tissue.shape
    region = np.zeros(shape, dtype=bool)
    if rng.random() >= OTHER_PATHOLOGY_PROBABILITY:
        return region, region.copy()
    if rng.random() < 0.5:
        where = (anatomy.tissue == GREY) & (anatomy.depth_mm > 1.0) & (anatomy.depth_mm < 10.0)
        radius = rng.uniform(6.0, 13.0)
    else:
        where = (anatomy.tissue == WHITE) & (anatomy.ventricle_mm > 6.0)
        radius = rng.uniform(2.5, 5.0)
    candidates = np.flatnonzero(where)
    if candidates.size == 0:
        return region, region.copy()
    centre = np.unravel_index(rng.choice(candidates), shape)
    semi = radius * rng.uniform(0.8, 1.2, 3)
    box, blob, inner = _blob(shape, anatomy.spacing_zyx, centre, semi, rng, roughness=0.15)
    region[box] = blob
    core = np.zeros(shape, dtype=bool)
    core[box] = blob & (inner > 0.35)
    region &= anatomy.brain
    return region, core & region


def draw_lesions(anatomy: Anatomy, load_ml: float, rng: np.random.Generator) -> LesionSet:
    """Draw WMH of about ``load_ml`` millilitres (labels 1) and maybe other pathology (2)."""
    voxel_ml = float(np.prod(anatomy.spacing_zyx)) / 1000.0
    deep, deep_strength = _deep_lesions(anatomy, load_ml, rng)
    deep_share = float(np.count_nonzero(deep)) * voxel_ml
    periventricular_ml = max(load_ml - deep_share, 0.0)
    pv, pv_strength = _periventricular(anatomy, int(round(periventricular_ml / voxel_ml)), rng)
    wmh = deep | pv
    strength = np.maximum(deep_strength, pv_strength)
    region, core = _other_pathology(anatomy, rng)
    labels = wmh.astype(np.uint8)
    labels[region] = 2
    strength[region] = 0.0
    return LesionSet(labels=labels, strength=strength, infarct_core=core, target_ml=load_ml)
