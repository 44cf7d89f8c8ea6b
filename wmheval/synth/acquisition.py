"""Imaging an anatomical subject on a scanner: pose, deformation, resampling, labels, images.

The subject's template-space maps (:mod:`wmheval.synth.brain`) are resampled onto the
scanner's real grid (size, spacing, direction): every output voxel is mapped through the
scanner geometry, the head pose and scale, and a smooth random deformation to the template
grid, so each scanner sees the anatomy in its own orientation. Labels are the partial-volume
fractions averaged over each voxel's footprint (1 mm sub-samples) and thresholded at > 0.5,
as the reference counts a voxel when more than half of it lies inside the contour. Label 2
("other pathology") is dilated 3 x 3 x 1 in-plane and label 1 wins where the two meet.
The images get the scanner's slice profile (2D or 3D FLAIR), contrast, bias field and
Rician noise; ``orig/`` is as acquired (uint16), ``pre/`` bias-corrected as the release's
(a residual bias remains).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wmheval.synth.brain import CSF, WHITE, Contrast, SubjectMaps
from wmheval.synth.fields import smooth_field
from wmheval.synth.template import Template

LABEL_THRESHOLD = 0.5
"""A voxel is labelled when more than this fraction of it lies inside a lesion."""
OTHER_DILATION = np.ones((1, 3, 3), dtype=bool)
TEXTURE = 0.035
"""Smooth within-tissue intensity variation (relative, 5 mm correlation)."""
"""Label 2 is dilated with this (z, y, x) structure: 3 x 3 in-plane, 1 across slices."""


def _rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Rotation (degrees) about z (yaw), x (pitch) and y (roll), applied in that order."""
    a, b, c = np.deg2rad([yaw, pitch, roll])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return ry @ rx @ rz


def direction_for(flips: tuple[float, float, float], pitch: float = 0.0,
                  yaw: float = 0.0) -> tuple[float, ...]:
    """A direction matrix (row-major, 9 values): axis flips then an oblique tilt."""
    matrix = _rotation(yaw=yaw, pitch=pitch) @ np.diag(flips)
    return tuple(float(v) for v in np.round(matrix, 6).ravel())


@dataclass(frozen=True)
class AcquisitionProfile:
    """How one scanner images the anatomical subjects (FLAIR levels relative to WM = 1)."""

    key: str
    description: str
    flair_3d: bool
    direction: tuple[float, ...]
    grey: float                # FLAIR grey / white matter
    csf: float                 # FLAIR CSF / white matter (suppressed)
    scalp: float
    lesion_gain: float         # scales the subject's lesion contrast (1.2-1.6 before)
    rim: float                 # ependymal rim / white matter
    flow: float                # CSF flow artefact strength (2D FLAIR: high)
    t1_lesion: float           # T1 lesion / white matter
    flair_scale: float         # white matter level in pre/FLAIR
    t1_scale: float
    orig_scale: float          # white matter level in orig/ (uint16)
    noise: float               # Rician sigma / white matter
    bias: float                # std of the log bias field as acquired
    residual_bias: float       # share of the log bias left in pre/ after correction
    slice_blur_mm: float       # Gaussian slice-profile tails beyond the slice box
    inplane_blur_mm: float     # in-plane point spread (acquired resolution)
    slice_jitter: float        # 2D: slice-to-slice (interleave) intensity variation


PROFILES: dict[str, AcquisitionProfile] = {
    "utrecht_philips_3t": AcquisitionProfile(
        key="utrecht_philips_3t", description="Philips Achieva 3T, 2D FLAIR",
        flair_3d=False, direction=direction_for((1.0, 1.0, 1.0), pitch=0.0),
        grey=1.20, csf=0.20, scalp=1.05, lesion_gain=1.05, rim=1.32, flow=0.9,
        t1_lesion=0.78, flair_scale=420.0, t1_scale=600.0, orig_scale=420.0,
        noise=0.035, bias=0.12, residual_bias=0.15, slice_blur_mm=0.6,
        inplane_blur_mm=0.45, slice_jitter=0.02),
    "singapore_siemens_3t": AcquisitionProfile(
        key="singapore_siemens_3t", description="Siemens TrioTim 3T, 2D FLAIR",
        flair_3d=False, direction=direction_for((1.0, 1.0, 1.0), pitch=-7.0),
        grey=1.15, csf=0.14, scalp=0.90, lesion_gain=1.0, rim=1.28, flow=1.0,
        t1_lesion=0.80, flair_scale=650.0, t1_scale=380.0, orig_scale=650.0,
        noise=0.030, bias=0.10, residual_bias=0.15, slice_blur_mm=0.5,
        inplane_blur_mm=0.40, slice_jitter=0.025),
    "amsterdam_ge_3t": AcquisitionProfile(
        key="amsterdam_ge_3t", description="GE Signa HDxt 3T, 3D FLAIR",
        flair_3d=True, direction=direction_for((1.0, -1.0, -1.0), pitch=5.0),
        grey=1.12, csf=0.28, scalp=1.25, lesion_gain=1.0, rim=1.22, flow=0.25,
        t1_lesion=0.82, flair_scale=1.6, t1_scale=2.2, orig_scale=1600.0,
        noise=0.040, bias=0.15, residual_bias=0.2, slice_blur_mm=1.2,
        inplane_blur_mm=0.70, slice_jitter=0.0),
    "amsterdam_ge_1p5t": AcquisitionProfile(
        key="amsterdam_ge_1p5t", description="GE Signa HDxt 1.5T, 2D FLAIR (unseen)",
        flair_3d=False, direction=direction_for((1.0, -1.0, -1.0), pitch=9.0),
        grey=1.08, csf=0.36, scalp=1.35, lesion_gain=0.86, rim=1.25, flow=1.3,
        t1_lesion=0.88, flair_scale=260.0, t1_scale=900.0, orig_scale=260.0,
        noise=0.070, bias=0.22, residual_bias=0.3, slice_blur_mm=1.0,
        inplane_blur_mm=1.00, slice_jitter=0.035),
    "amsterdam_philips_3t": AcquisitionProfile(
        key="amsterdam_philips_3t", description="Philips Ingenuity PET-MR 3T, 3D FLAIR (unseen)",
        flair_3d=True, direction=direction_for((-1.0, -1.0, 1.0), pitch=-4.0, yaw=3.0),
        grey=1.30, csf=0.10, scalp=0.75, lesion_gain=0.95, rim=1.35, flow=0.2,
        t1_lesion=0.75, flair_scale=1400.0, t1_scale=150.0, orig_scale=1400.0,
        noise=0.045, bias=0.30, residual_bias=0.35, slice_blur_mm=1.0,
        inplane_blur_mm=0.55, slice_jitter=0.0),
}
"""Anatomical acquisition profiles by scanner key. Directions are plausible axial
orientations (axis flips and an oblique tilt), not measured on the release (the shared
subject table has no direction cosines)."""


def get_acquisition(scanner: str) -> AcquisitionProfile:
    """The acquisition profile of a manifest scanner key (clear error for unknown keys)."""
    try:
        return PROFILES[scanner]
    except KeyError:
        raise ValueError(f"no synthetic profile for scanner {scanner!r}; "
                         f"known: {sorted(PROFILES)}") from None


@dataclass(frozen=True)
class Pose:
    """Where the subject's head sits: scale (x, y, z), rotation (degrees), shift (mm)."""

    scale: tuple[float, float, float]
    rotation: tuple[float, float, float]   # yaw, pitch, roll
    shift: tuple[float, float, float]
    warp_mm: float

    @property
    def volume_scale(self) -> float:
        return float(np.prod(self.scale))


def draw_pose(rng: np.random.Generator) -> Pose:
    """A random head size, pose and deformation strength."""
    size = rng.uniform(0.92, 1.05)
    return Pose(scale=tuple(float(size * s) for s in rng.uniform(0.96, 1.04, 3)),
                rotation=(float(rng.normal(0, 3.0)), float(rng.normal(0, 5.0)),
                          float(rng.normal(0, 2.0))),
                shift=tuple(float(v) for v in rng.normal(0.0, 3.0, 3)),
                warp_mm=float(rng.uniform(1.5, 3.0)))


def draw_contrast(profile: AcquisitionProfile, rng: np.random.Generator) -> Contrast:
    """One subject's FLAIR contrast on ``profile``'s scanner (a few per cent of jitter)."""
    jitter = rng.uniform(0.97, 1.03, 4)
    lesion = rng.uniform(1.32, 1.68) * profile.lesion_gain
    return Contrast(grey=profile.grey * jitter[0], csf=profile.csf * jitter[1],
                    scalp=profile.scalp * jitter[2], lesion=float(max(lesion, 1.15)),
                    rim=profile.rim * jitter[3], flow=profile.flow * rng.uniform(0.3, 1.2),
                    t1_lesion=profile.t1_lesion)


def template_coordinates(template: Template, size_xyz, spacing_xyz, direction, origin,
                         pose: Pose, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(coords, jacobian): template array index (3, z, y, x) of every output voxel centre,
    and the 3 x 3 matrix mapping an output index step (x, y, z) to a template index step."""
    size = np.asarray(size_xyz, dtype=int)
    spacing = np.asarray(spacing_xyz, dtype=float)
    grid_to_physical = np.asarray(direction, dtype=float).reshape(3, 3) @ np.diag(spacing)
    rotation = _rotation(*pose.rotation)
    subject_to_template = np.diag(1.0 / np.asarray(pose.scale)) @ rotation.T
    to_index, index_offset = template.physical_to_index()
    centre = template.brain_centre * np.array([-1.0, -1.0, 1.0]) + np.array([0.0, 0.0, 4.0])
    matrix = to_index @ subject_to_template @ grid_to_physical
    offset = to_index @ (subject_to_template @ (np.asarray(origin) - np.asarray(pose.shift))
                         + centre) + index_offset
    shape_zyx = tuple(int(n) for n in size[::-1])
    axes = [np.arange(n, dtype=np.float32) for n in size]  # x, y, z
    coords = np.empty((3, *shape_zyx), dtype=np.float32)
    physical = np.empty((3, *shape_zyx), dtype=np.float32)
    for row in range(3):
        physical[row] = (origin[row] + (grid_to_physical[row, 0] * axes[0])[None, None, :]
                         + (grid_to_physical[row, 1] * axes[1])[None, :, None]
                         + (grid_to_physical[row, 2] * axes[2])[:, None, None])
    warp = physical_warp(physical, pose.warp_mm, rng)
    for row in range(3):
        coords[row] = (offset[row] + sum(to_index[row, c] * warp[c] for c in range(3))
                       + (matrix[row, 0] * axes[0])[None, None, :]
                       + (matrix[row, 1] * axes[1])[None, :, None]
                       + (matrix[row, 2] * axes[2])[:, None, None])
    return coords, matrix


WARP_EXTENT_MM = 320.0
WARP_KNOT_MM = 16.0


def physical_warp(physical: np.ndarray, amplitude_mm: float,
                  rng: np.random.Generator) -> np.ndarray:
    """A smooth random displacement (3, ...) in mm at physical points (3, ...), defined in
    physical space so that a subject has the same anatomy on every scanner grid."""
    n = int(WARP_EXTENT_MM / WARP_KNOT_MM) + 1
    knots = ndimage.gaussian_filter(rng.standard_normal((3, n, n, n)), (0, 1.2, 1.2, 1.2),
                                    mode="wrap")
    knots /= max(float(knots.std()), 1e-6)
    points = ((physical.reshape(3, -1) + WARP_EXTENT_MM / 2.0) / WARP_KNOT_MM).astype(
        np.float32)
    warp = np.stack([ndimage.map_coordinates(knots[c].astype(np.float32), points, order=1,
                                             mode="nearest", prefilter=False)
                     for c in range(3)])
    return (amplitude_mm * warp).reshape(physical.shape).astype(np.float32)


def _subsample_offsets(spacing_xyz, matrix, counts=None) -> list[np.ndarray]:
    """Template index offsets of 1 mm sub-samples spread over one output voxel."""
    if counts is None:
        counts = [max(1, int(np.ceil(s - 0.05))) for s in spacing_xyz]
    steps = [((np.arange(n) + 0.5) / n - 0.5) for n in counts]
    return [matrix @ np.array([u, v, w]) for w in steps[2] for v in steps[1] for u in steps[0]]


def _average(channel: np.ndarray, coords: np.ndarray, selection: np.ndarray,
             offsets: list[np.ndarray]) -> np.ndarray:
    """Mean of ``channel`` over the sub-samples of the selected voxels (flat indices)."""
    points = coords.reshape(3, -1)[:, selection]
    total = np.zeros(selection.size, dtype=np.float32)
    for delta in offsets:
        total += ndimage.map_coordinates(channel, points + delta.astype(np.float32)[:, None],
                                         order=1, mode="constant", cval=0.0, prefilter=False)
    return total / len(offsets)


def _select(coords: np.ndarray, box: tuple[slice, ...] | None, margin: float) -> np.ndarray:
    """Flat indices of output voxels whose template coordinates fall inside ``box``."""
    if box is None:
        return np.zeros(0, dtype=np.int64)
    inside = np.ones(coords.shape[1:], dtype=bool)
    for axis, part in enumerate(box):
        inside &= (coords[axis] > part.start - margin) & (coords[axis] < part.stop - 1 + margin)
    return np.flatnonzero(inside)


def label_from_fractions(lesion: np.ndarray, other: np.ndarray,
                         tissue: np.ndarray | None = None) -> np.ndarray:
    """Labels 0/1/2 from per-voxel fractions: > 0.5 inside, label 2 dilated 3 x 3 x 1
    in-plane (inside the brain when ``tissue`` is given), label 1 where both apply."""
    wmh = lesion > LABEL_THRESHOLD
    region = other > LABEL_THRESHOLD
    labels = np.zeros(lesion.shape, dtype=np.uint8)
    if region.any():
        region = ndimage.binary_dilation(region, structure=OTHER_DILATION)
        if tissue is not None:
            region &= tissue >= CSF
        labels[region] = 2
    labels[wmh] = 1
    return labels


@dataclass
class Acquired:
    """A subject on a scanner grid, arrays (z, y, x)."""

    labels: np.ndarray         # uint8 0/1/2
    lesion_fraction: np.ndarray
    tissue: np.ndarray         # uint8 classes
    flair: np.ndarray          # pre/: float32, bias-corrected
    t1: np.ndarray
    flair_orig: np.ndarray     # orig/: uint16 as acquired
    t1_orig: np.ndarray


def labelled_volume(coords: np.ndarray, matrix: np.ndarray, spacing_xyz):
    """A function giving the labelled volume (ml) of a template-space lesion fraction map
    (non-zero inside ``box``) on the scanner grid of ``coords``."""
    offsets = _subsample_offsets(spacing_xyz, matrix)
    voxel_ml = float(np.prod(spacing_xyz)) / 1000.0

    def measure(lesion: np.ndarray, box: tuple[slice, ...]) -> float:
        chosen = _select(coords, box, 3.0)
        if not chosen.size:
            return 0.0
        inside = _average(lesion, coords, chosen, offsets) > LABEL_THRESHOLD
        return float(np.count_nonzero(inside)) * voxel_ml

    return measure


def acquire_subject(template: Template, maps: SubjectMaps, profile: AcquisitionProfile,
                    spacing_xyz, coords: np.ndarray, matrix: np.ndarray,
                    rng: np.random.Generator) -> Acquired:
    """Resample ``maps`` onto the scanner grid of ``coords`` (see
    :func:`template_coordinates`) and simulate the acquisition."""
    shape = coords.shape[1:]
    n_voxels = int(np.prod(shape))
    whole = tuple(slice(0, n) for n in template.shape)

    # Labels: fractions averaged over every voxel's footprint at 1 mm.
    label_offsets = _subsample_offsets(spacing_xyz, matrix)
    fractions = []
    for channel, box in ((maps.lesion, maps.lesion_box), (maps.other, maps.other_box)):
        values = np.zeros(n_voxels, dtype=np.float32)
        chosen = _select(coords, box, 3.0)
        if chosen.size:
            values[chosen] = _average(channel, coords, chosen, label_offsets)
        fractions.append(values.reshape(shape))
    head = _select(coords, whole, 1.0)
    tissue = np.zeros(n_voxels, dtype=np.uint8)
    tissue[head] = ndimage.map_coordinates(maps.tissue, coords.reshape(3, -1)[:, head],
                                           order=0, mode="constant", cval=0, prefilter=False)
    tissue = tissue.reshape(shape)
    labels = label_from_fractions(fractions[0], fractions[1], tissue)
    tissue[labels == 1] = WHITE

    # Images: a box slice profile (1 mm sub-samples across the slice), then the scanner's
    # point spread, bias field and Rician noise.
    image_offsets = _subsample_offsets(spacing_xyz, matrix,
                                       counts=(1, 1, max(1, int(np.ceil(spacing_xyz[2])))))
    spacing_zyx = np.asarray(spacing_xyz, dtype=float)[::-1]
    blur = np.array([profile.slice_blur_mm, profile.inplane_blur_mm, profile.inplane_blur_mm])
    inplane_alias = np.array([0.0, 0.35, 0.35]) * np.maximum(spacing_zyx - 1.0, 0.0)
    sigma = np.sqrt(blur ** 2 + inplane_alias ** 2) / spacing_zyx
    bias_log = smooth_field(shape, tuple(spacing_zyx), 90.0, rng) * profile.bias
    texture = 1.0 + TEXTURE * smooth_field(shape, tuple(spacing_zyx), 5.0, rng)
    images = {}
    for name, channel, scale, psf in (("flair", maps.flair, profile.flair_scale, sigma),
                                      ("t1", maps.t1, profile.t1_scale,
                                       np.array([0.6, 0.5, 0.5]) / spacing_zyx)):
        clean = np.zeros(n_voxels, dtype=np.float32)
        clean[head] = _average(channel, coords, head, image_offsets)
        clean = ndimage.gaussian_filter(clean.reshape(shape) * texture, psf, mode="nearest")
        if name == "flair" and profile.slice_jitter:
            interleave = np.where(np.arange(shape[0]) % 2 == 0, 1.0, -1.0)
            wobble = interleave * profile.slice_jitter + rng.normal(0, profile.slice_jitter / 2,
                                                                    shape[0])
            clean *= (1.0 + wobble).astype(np.float32)[:, None, None]
        log_bias = bias_log if name == "flair" else 0.8 * bias_log
        acquired = clean * np.exp(log_bias)
        noise = np.float32(profile.noise)
        real = acquired + noise * rng.standard_normal(shape, dtype=np.float32)
        imaginary = noise * rng.standard_normal(shape, dtype=np.float32)
        magnitude = np.sqrt(real * real + imaginary * imaginary)
        orig_scale = profile.orig_scale if name == "flair" else scale * (
            1000.0 if scale < 100 else 1.0)
        orig = np.clip(np.round(magnitude * orig_scale), 0, 65535).astype(np.uint16)
        corrected = orig.astype(np.float32) * np.exp(-(1.0 - profile.residual_bias) * log_bias)
        images[name] = ((corrected * np.float32(scale / orig_scale)).astype(np.float32), orig)
    return Acquired(labels=labels, lesion_fraction=fractions[0], tissue=tissue,
                    flair=images["flair"][0], t1=images["t1"][0],
                    flair_orig=images["flair"][1], t1_orig=images["t1"][1])
