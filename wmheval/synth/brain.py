"""One anatomical subject in template space: atrophy, lesions, normal hyperintensities, contrast.

Everything here lives on the 1 mm template grid (see :mod:`wmheval.synth.template`); the
subject's own shape comes later, from the smooth deformation applied when the maps are
resampled onto a scanner's grid (:mod:`wmheval.synth.acquisition`). Per subject we draw:

* atrophy (rising with age and lesion load): ventricles enlarged by 0.5-6 mm, a thinner
  cortical rim (outer CSF wider), a synthetic skull and scalp of random thickness;
* WMH (label 1) of a given total volume: periventricular caps at the horn tips and rims
  along the ventricles, confluent deep patches and small punctate lesions, with graded
  intensity, as a 1 mm partial-volume fraction;
* other pathology (label 2, in about 40 % of subjects): an infarct or a lacune;
* unlabelled normal hyperintensities: ependymal rim, septum pellucidum, choroid plexus and
  (mostly on 2D FLAIR) CSF flow artefacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wmheval.synth.fields import smooth_field, smooth_field_at, subject_rng
from wmheval.synth.template import Template

OTHER_PATHOLOGY_PROBABILITY = 0.4
UNIT = (1.0, 1.0, 1.0)
SKULL_MM = (4.5, 7.0)
SCALP_MM = (4.0, 7.0)
# Tissue classes of ``synth/tissue.nii.gz`` (shared with the geometric phantom).
BACKGROUND, SCALP, CSF, GREY, WHITE = 0, 1, 2, 3, 4


@dataclass
class SubjectMaps:
    """A subject's maps on the template grid (z, y, x), cropped to ``box``.

    ``flair`` and ``t1`` are noise-free intensities relative to white matter (= 1);
    ``lesion`` and ``other`` are the WMH and other-pathology fractions (0-1); ``tissue``
    the hard tissue class (lesions count as white matter).
    """

    flair: np.ndarray
    t1: np.ndarray
    lesion: np.ndarray
    other: np.ndarray
    tissue: np.ndarray
    lesion_box: tuple[slice, ...] | None
    other_box: tuple[slice, ...] | None
    target_ml: float
    lesion_ml: float


@dataclass(frozen=True)
class Contrast:
    """FLAIR levels relative to white matter for one subject on one scanner."""

    grey: float
    csf: float
    scalp: float
    lesion: float          # lesion / white matter at full strength (1.2-1.6 typical)
    rim: float             # ependymal rim and other normal hyperintensities
    flow: float            # CSF flow artefact strength (0: none)
    t1_lesion: float       # T1 lesion / white matter (< 1)


def _box(mask: np.ndarray, margin: int = 3) -> tuple[slice, ...] | None:
    """Bounding box of ``mask``'s true voxels widened by ``margin`` (clipped), or None.

    Found from the mask's projections on each axis (``any`` over the two others), not from
    ``argwhere``, which lists every true voxel (up to millions on the template grid).
    """
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        if not hits.size:
            return None
        lo = max(int(hits[0]) - margin, 0)
        hi = min(int(hits[-1]) + 1 + margin, mask.shape[axis])
        box.append(slice(lo, hi))
    return tuple(box)


def _ellipsoid(shape, centre, semi, rng, roughness=0.2):
    """(box, r2) of a rough ellipsoid around voxel ``centre`` (r2 < 1 inside)."""
    semi = np.asarray(semi, dtype=float)
    reach = np.ceil(semi * 1.5).astype(int) + 2
    lo = np.maximum(np.asarray(centre) - reach, 0)
    hi = np.minimum(np.asarray(centre) + reach + 1, shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    grids = np.ogrid[box]
    r2 = sum(((g - c) / a) ** 2 for g, c, a in zip(grids, centre, semi, strict=True))
    if roughness:
        bumps = ndimage.gaussian_filter(rng.standard_normal(r2.shape), 1.2)
        bumps /= max(float(bumps.std()), 1e-6)
        r2 = r2 * (1.0 + roughness * bumps)
    return box, r2.astype(np.float32)


def _mni_index(template: Template, mni_xyz) -> np.ndarray:
    """Array index (z, y, x) of an MNI point."""
    ox, oy, oz = template.origin
    x, y, z = mni_xyz
    return np.array([round(z - oz), round(oy + y), round(ox + x)], dtype=int)


def has_other_pathology(seed: int, subject_id: str) -> bool:
    """Whether a subject gets other pathology (label 2): its own random stream, so that the
    share over subjects is exactly a Bernoulli(``OTHER_PATHOLOGY_PROBABILITY``) sample."""
    return bool(subject_rng(seed, "other-pathology", subject_id).random()
                < OTHER_PATHOLOGY_PROBABILITY)


def draw_subject(template: Template, rng: np.random.Generator, *, target_ml: float,
                 atrophy: float, contrast: Contrast, scale: float = 1.0,
                 other_pathology: bool = False,
                 labelled_ml: Callable[[np.ndarray, tuple[slice, ...]], float] | None = None,
                 ) -> SubjectMaps:
    """Draw one subject's maps (see the module docstring).

    ``target_ml`` is the labelled WMH volume wanted on the scanner grid. Without
    ``labelled_ml`` the lesions get that volume in template space divided by ``scale`` (the
    deformation's volume scale); with it (a function giving the labelled volume of a lesion
    fraction map on the scanner grid) the periventricular volume is adjusted until the
    labelled volume is within 3 % of the target (partial volume loses thin lesions).
    """
    shape = template.shape
    z, y, x = template.mni_axes()
    gm, wm, csf = template.gm.copy(), template.wm.copy(), template.csf.copy()
    t1 = template.t1.copy()

    # Atrophy: ventricles grow by ``widen`` mm (never through the septum), cortex thins.
    widen = 0.5 + 5.5 * atrophy + 0.6 * rng.standard_normal()
    widen = float(np.clip(widen, 0.3, 7.0))
    vbox = _box(template.ventricle_mm < widen + 3.0, 1)
    vm = template.ventricle_mm[vbox]
    wobble = 0.8 * smooth_field(vm.shape, (1.0, 1.0, 1.0), 10.0, rng)
    grow = np.clip(widen + wobble - vm + 0.5, 0.0, 1.0)
    grow *= np.abs(x[:, :, vbox[2]]) > 1.2  # keep the septum pellucidum
    grow *= (template.depth[vbox] > 6.0)
    for tissue_map in (gm, wm):
        moved = tissue_map[vbox] * grow
        tissue_map[vbox] -= moved
        csf[vbox] += moved
    t1[vbox] = t1[vbox] * (1.0 - grow) + 0.32 * grow
    enlarged = np.zeros(shape, dtype=bool)
    enlarged[vbox] = grow > 0.5
    enlarged |= template.ventricles
    ventricle_mm = np.maximum(template.ventricle_mm - widen, 0.0)

    thin = 0.3 + 1.6 * atrophy
    shell = np.flatnonzero((template.depth < thin + 1.0).ravel())
    depth = template.depth.ravel()[shell]
    shell_thin = np.clip(thin - depth + 0.5, 0.0, 1.0) * (depth > 0)
    for tissue_map in (gm, wm):
        flat = tissue_map.reshape(-1)
        moved = flat[shell] * shell_thin
        flat[shell] -= moved
        csf.reshape(-1)[shell] += moved
    t1.reshape(-1)[shell] = t1.reshape(-1)[shell] * (1.0 - shell_thin) + 0.32 * shell_thin

    # Skull and scalp follow the brain envelope at random, smoothly varying thickness
    # (computed only in the band outside the brain where they can be).
    band = template.head_band
    outside = -template.depth.ravel()[band]
    skull = rng.uniform(*SKULL_MM) + 0.8 * smooth_field_at(shape, UNIT, 40.0, rng, band)
    scalp = rng.uniform(*SCALP_MM) + 0.8 * smooth_field_at(shape, UNIT, 40.0, rng, band)
    bone = np.zeros(shape, dtype=np.float32)
    skin = np.zeros(shape, dtype=np.float32)
    bone.ravel()[band] = np.clip(outside + 0.5, 0.0, 1.0) * np.clip(skull - outside + 0.5,
                                                                    0.0, 1.0)
    skin.ravel()[band] = np.clip(outside - skull + 0.5, 0.0, 1.0) * np.clip(
        skull + scalp - outside + 0.5, 0.0, 1.0)

    # Lesions, drawn in template space (1 mm); label 2 first, so that WMH avoid it.
    other, core = _draw_other(template, rng, wm, gm, ventricle_mm, other_pathology)
    model = LesionModel(template, rng, target_ml / scale, wm * (1.0 - other), ventricle_mm,
                        enlarged, (z, y, x))
    lesion, grade = model.fit(target_ml, scale, labelled_ml)
    lesion_ml = float(lesion.sum()) / 1000.0 * scale

    # FLAIR relative to white matter: tissue mixture, texture, lesions, normal bright spots.
    flair = wm + contrast.grey * gm + contrast.csf * csf
    flair += contrast.scalp * skin + 0.06 * bone
    # Graded lesions: faint edges (about 1.2 x WM) and bright cores (up to the full
    # contrast), an unlabelled halo of mildly raised signal around them, and diffuse
    # periventricular signal ("dirty-appearing" white matter) rising with atrophy.
    # Lesion and other-pathology terms are computed inside their boxes only: outside them
    # both fractions are 0 and every term leaves the maps unchanged (bit for bit).
    lesion_box = _box(lesion > 0.0, 0)
    if lesion_box is not None:
        flair[lesion_box] += lesion[lesion_box] * ((contrast.lesion - 1.0)
                                                   * (0.4 + 0.6 * grade[lesion_box]))
    flair += _halo(lesion, wm, (contrast.lesion - 1.0) * rng.uniform(0.25, 0.45))
    dawm_box = _box(ventricle_mm < 18.0, 1)
    if dawm_box is not None:
        dawm = (0.04 + 0.1 * atrophy) * np.exp(-ventricle_mm[dawm_box] / 7.0)
        flair[dawm_box] += dawm * wm[dawm_box] * (1.0 - lesion[dawm_box])
    flair += _normal_hyperintensities(template, rng, enlarged, ventricle_mm, csf, (z, y, x),
                                      contrast)
    other_box = _box(other > 0.0, 0)
    if other_box is not None:
        part, centre = other[other_box], core[other_box]
        flair[other_box] = flair[other_box] * (1.0 - part) + part * (
            centre * contrast.csf + (1.0 - centre) * contrast.lesion * 1.05)

    if lesion_box is not None:
        t1[lesion_box] = t1[lesion_box] * (1.0 - lesion[lesion_box]
                                           * (1.0 - contrast.t1_lesion))
    if other_box is not None:
        t1[other_box] = t1[other_box] * (1.0 - part) + part * (centre * 0.32
                                                               + (1.0 - centre) * 0.62)
    t1 += 1.15 * skin + 0.08 * bone

    # Hard classes: the largest of head (bone + skin), CSF, grey and white matter (with its
    # lesions), background where none reaches a half.
    tissue = np.zeros(shape, dtype=np.uint8)
    best = np.full(shape, 0.5, dtype=np.float32)
    for label, share in ((SCALP, bone + skin), (CSF, csf), (GREY, gm), (WHITE, wm)):
        better = share > best
        tissue[better] = label
        np.maximum(best, share, out=best)
    tissue[lesion > 0.5] = WHITE
    return SubjectMaps(flair=flair.astype(np.float32, copy=False),
                       t1=t1.astype(np.float32, copy=False),
                       lesion=lesion, other=other, tissue=tissue,
                       lesion_box=_box(lesion > 0.01), other_box=_box(other > 0.01),
                       target_ml=float(target_ml), lesion_ml=lesion_ml)


class LesionModel:
    """A subject's WMH: fixed deep lesions plus the ``n`` best-scoring periventricular voxels.

    Deep lesions: a few confluent patches when the load is high, many punctate ones.
    Periventricular caps (near the horn tips) and rims (along the walls) are the white
    matter voxels that score highest on closeness to the ventricles plus smooth noise; the
    sets for growing ``n`` are nested, so the lesion volume grows monotonically with ``n``.
    """

    def __init__(self, template, rng, volume_ml, white_share, ventricle_mm, enlarged, axes):
        shape = template.shape
        self.shape = shape
        z, y, x = axes
        volume_mm3 = volume_ml * 1000.0
        cerebral = (z > -14) & (template.depth > 3.0)
        white = (white_share > 0.5) & cerebral & ~enlarged
        self.white_share = white_share
        binary = np.zeros(shape, dtype=bool)
        grade = np.zeros(shape, dtype=np.float32)
        deep_budget = volume_mm3 * rng.uniform(0.15, 0.4)
        deep_sites = np.flatnonzero((white & (ventricle_mm > 7.0)
                                     & (template.depth > 6.0)).ravel())
        used = 0.0
        n_confluent = rng.poisson(volume_ml / 12.0)
        for n in range(80):
            if used >= deep_budget or deep_sites.size == 0:
                break
            confluent = n < n_confluent
            radius = rng.uniform(4.0, 9.0) if confluent else float(np.clip(
                rng.lognormal(np.log(1.7), 0.45), 0.9, 4.0))
            centre = np.unravel_index(rng.choice(deep_sites), shape)
            semi = radius * rng.uniform(0.7, 1.35, 3)
            box, r2 = _ellipsoid(shape, centre, semi, rng, 0.45 if confluent else 0.2)
            blob = (r2 < 1.0) & white[box] & ~binary[box]
            binary[box] |= blob
            grade[box] = np.where(blob, np.clip(1.0 - r2, 0.0, 1.0), grade[box])
            used += float(blob.sum())
        self.deep, self.deep_grade, self.deep_voxels = binary, grade, used
        self.initial = int(max(volume_mm3 - used, 0.0))

        near = white & (ventricle_mm < 24.0) & ~binary
        index = np.flatnonzero(near.ravel())
        self.order = np.zeros(0, dtype=np.int64)
        self.rank_grade = np.zeros(0, dtype=np.float32)
        if index.size:
            distance = ventricle_mm.ravel()[index]
            zz, yy, xx = np.unravel_index(index, shape)
            mni = np.column_stack([x.ravel()[xx], y.ravel()[yy], z.ravel()[zz]])
            cap = np.zeros(index.size, dtype=np.float32)
            for tip in template.horn_tips:
                weight = rng.uniform(0.6, 1.4)
                cap = np.maximum(cap, weight * np.exp(-np.sum((mni - tip) ** 2, axis=1)
                                                      / (2 * 11.0 ** 2)))
            noise = smooth_field_at(shape, UNIT, 8.0, rng, index)
            fine = smooth_field_at(shape, UNIT, 3.0, rng, index)
            score = -distance / 3.5 + 2.2 * cap + 0.9 * noise + 0.35 * fine
            ranking = np.argsort(-score, kind="stable")
            self.order = index[ranking]
            ranked = score[ranking]
            span = max(float(ranked[0] - ranked[-1]), 1e-6)
            self.rank_grade = ((ranked - ranked[-1]) / span).astype(np.float32)

    def fraction(self, n_pv: int) -> tuple[np.ndarray, np.ndarray, tuple[slice, ...] | None]:
        """(lesion fraction, grade, box) with the ``n_pv`` best periventricular voxels."""
        n_pv = int(np.clip(n_pv, 0, self.order.size))
        binary = self.deep.copy()
        grade = self.deep_grade.copy()
        chosen = self.order[:n_pv]
        binary.ravel()[chosen] = True
        if n_pv:
            top = self.rank_grade[:n_pv]
            grade.ravel()[chosen] = (top - top[-1]) / max(float(top[0] - top[-1]), 1e-6)
        box = _box(binary, 3)
        lesion = np.zeros(self.shape, dtype=np.float32)
        if box is not None:
            lesion[box] = np.minimum(ndimage.gaussian_filter(binary[box].astype(np.float32),
                                                             0.5), self.white_share[box])
            grade[box] = ndimage.gaussian_filter(grade[box], 1.0)
        return lesion, grade, box

    def fit(self, target_ml: float, scale: float,
            labelled_ml: Callable[[np.ndarray, tuple[slice, ...]], float] | None,
            rounds: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Lesion fraction and grade whose labelled volume is close to ``target_ml``."""
        n_pv = self.initial
        lesion, grade, box = self.fraction(n_pv)
        if labelled_ml is None or box is None:
            return lesion, grade
        best = None
        for _ in range(rounds):
            got = labelled_ml(lesion, box)
            error = abs(got - target_ml)
            if best is None or error < best[0]:
                best = (error, lesion, grade)
            if error <= 0.03 * target_ml:
                break
            total = self.deep_voxels + n_pv
            wanted = total * target_ml / got if got > 0 else 2.0 * total + 200.0
            new = int(np.clip(round(wanted - self.deep_voxels), 0, self.order.size))
            if new == n_pv:
                break
            n_pv = new
            lesion, grade, box = self.fraction(n_pv)
            if box is None:
                break
        return best[1], best[2]


def _halo(lesion: np.ndarray, wm: np.ndarray, strength: float) -> np.ndarray:
    """Mildly raised FLAIR signal spreading a few mm around the lesions (unlabelled)."""
    halo = np.zeros(lesion.shape, dtype=np.float32)
    box = _box(lesion > 0.01, 6)
    if box is not None:
        spread = ndimage.gaussian_filter(lesion[box], 2.5)
        halo[box] = strength * np.clip(spread * 2.0, 0.0, 1.0) * (1.0 - lesion[box]) * wm[box]
    return halo


def _draw_other(template, rng, wm, gm, ventricle_mm, present):
    """Label-2 fraction (infarct or lacune) and its CSF-like core fraction."""
    shape = template.shape
    other = np.zeros(shape, dtype=np.float32)
    core = np.zeros(shape, dtype=np.float32)
    if not present:
        return other, core
    z, _, _ = template.mni_axes()
    if rng.random() < 0.5:  # cortical-subcortical infarct
        where = (gm > 0.4) & (template.depth > 2.0) & (template.depth < 9.0) & (z > 0)
        radius = rng.uniform(6.0, 13.0)
    else:                   # lacune in the deep white or grey matter
        where = ((wm + gm) > 0.7) & (ventricle_mm > 4.0) & (ventricle_mm < 20.0)
        radius = rng.uniform(3.0, 5.0)
    sites = np.flatnonzero(where.ravel())
    if sites.size == 0:
        return other, core
    centre = np.unravel_index(rng.choice(sites), shape)
    box, r2 = _ellipsoid(shape, centre, radius * rng.uniform(0.75, 1.25, 3), rng, 0.25)
    brain = (wm + gm)[box]
    other[box] = np.clip((1.0 - r2) * radius, 0.0, 1.0) * np.clip(brain * 1.5, 0.0, 1.0)
    core[box] = np.clip((0.55 - r2) * 3.0, 0.0, 1.0)
    return other, core


def _normal_hyperintensities(template, rng, enlarged, ventricle_mm, csf, axes, contrast):
    """Unlabelled bright FLAIR signal: ependymal rim, septum, choroid plexus, CSF flow."""
    shape = template.shape
    z, y, x = axes
    extra = np.zeros(shape, dtype=np.float32)
    box = _box(ventricle_mm < 4.0, 2)
    # Ependymal rim: a thin bright lining just outside the (enlarged) ventricle wall.
    if box is not None:
        d = ventricle_mm[box]
        thickness = rng.uniform(0.8, 1.8)
        lining = np.exp(-0.5 * (d / thickness) ** 2) * (~enlarged[box])
        strength = (contrast.rim - 1.0) * (1.0 + 0.3 * smooth_field(d.shape, (1.0, 1.0, 1.0),
                                                                    12.0, rng))
        extra[box] += lining * np.clip(strength, 0.0, None)
        # Septum pellucidum: the midline sheet between the lateral ventricles.
        septum = (np.abs(x[:, :, box[2]]) < 1.3) & (ventricle_mm[box] < 3.0) & (
            y[:, box[1], :] > -20) & (z[box[0]] > 0)
        extra[box] += septum * rng.uniform(0.1, 0.3)
    # Choroid plexus: a bright tuft in each atrium.
    for atrium in template.atria:
        centre = _mni_index(template, atrium + rng.normal(0.0, 1.5, 3))
        if np.any(centre < 0) or np.any(centre >= shape):
            continue
        cbox, r2 = _ellipsoid(shape, centre, rng.uniform(3.0, 5.5) * rng.uniform(0.7, 1.3, 3),
                              rng, 0.3)
        extra[cbox] += np.clip(1.0 - r2, 0.0, 1.0) ** 0.5 * csf[cbox] * rng.uniform(0.45, 0.9)
    # CSF flow artefacts near the midline (third/fourth ventricle, basal cisterns).
    if contrast.flow > 0:
        sites = np.flatnonzero(((csf > 0.6) & (np.abs(x) < 12) & (z > -40) & (z < 12)
                                & (y > -60) & (y < 10)).ravel())
        for _ in range(rng.poisson(1.5 + 2.0 * contrast.flow)):
            if sites.size == 0:
                break
            centre = np.unravel_index(rng.choice(sites), shape)
            fbox, r2 = _ellipsoid(shape, centre, rng.uniform(2.5, 6.0) * rng.uniform(
                0.6, 1.4, 3), rng, 0.4)
            extra[fbox] += (np.clip(1.0 - r2, 0.0, 1.0) * csf[fbox] * contrast.flow
                            * rng.uniform(0.5, 1.3))
    return extra


LESION_LOAD: dict[str, tuple[float, float]] = {
    "utrecht_philips_3t": (9.71, 1.308),
    "singapore_siemens_3t": (9.49, 1.167),
    "amsterdam_ge_3t": (7.39, 1.155),
    "amsterdam_ge_1p5t": (7.13, 1.456),
    "amsterdam_philips_3t": (6.33, 1.146),
}
"""WMH volume per scanner: (geometric mean in ml, standard deviation of log volume), fitted
to the reference volumes (``true_ml``) of the 110 test subjects
(``leaderboard/nnunet_resencm_per_case_test110.csv``)."""
LOAD_RANGE_ML = (0.5, 200.0)


def sample_load(scanner: str, rng: np.random.Generator,
                size: int | None = None) -> float | np.ndarray:
    """Total WMH volume (ml) for a subject on ``scanner``: log-normal, clipped to 0.5-200."""
    centre, spread = LESION_LOAD.get(scanner, (8.37, 1.217))
    draw = np.exp(np.log(centre) + spread * rng.standard_normal(size))
    clipped = np.clip(draw, *LOAD_RANGE_ML)
    return float(clipped) if size is None else clipped


def atrophy_for(load_ml: float, age: float, rng: np.random.Generator) -> float:
    """Atrophy in [0, 1], rising with age and lesion load (both mark small-vessel disease)."""
    trend = np.log(load_ml / LOAD_RANGE_ML[0]) / np.log(LOAD_RANGE_ML[1] / LOAD_RANGE_ML[0])
    return float(np.clip(0.02 * (age - 55.0) + 0.45 * trend + rng.normal(0.0, 0.08), 0.0, 1.0))
