"""Five scanner profiles and the image model that turns labels into FLAIR and T1 images.

Each profile sets tissue contrast (relative to white matter), lesion contrast, intensity
scale, Rician noise, a residual multiplicative bias field and the slice profile (blur
across and within slices), so that the two scanners unseen in training differ in the
ways that hurt real models: lower lesion contrast and more noise at 1.5 T, a strong bias
field and another intensity scale on the PET-MR Philips.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from wmheval.synth.anatomy import BACKGROUND, CSF, GREY, SCALP, WHITE, Anatomy
from wmheval.synth.fields import smooth_field
from wmheval.synth.lesions import LesionSet

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class ScannerProfile:
    """How one scanner renders tissue. Levels are relative to white matter (= 1)."""

    key: str
    description: str
    flair_levels: dict[int, float]
    t1_levels: dict[int, float]
    flair_lesion: float            # lesion / white matter on FLAIR (at full strength)
    t1_lesion: float               # lesion / white matter on T1 (hypo-intense: < 1)
    flair_scale: float             # white matter intensity in the written FLAIR
    t1_scale: float
    noise: float                   # Rician sigma as a fraction of white matter
    bias: float                    # std of the log bias field
    slice_blur_mm: float           # blur across slices (slice profile), Gaussian sigma in mm
    inplane_blur_mm: float         # blur within slices, Gaussian sigma in mm
    direction: tuple[float, ...] = IDENTITY
    texture: float = 0.04          # smooth within-tissue variation
    extra: dict[str, str] = field(default_factory=dict)


def _levels(background, scalp, csf, grey):
    return {BACKGROUND: background, SCALP: scalp, CSF: csf, GREY: grey, WHITE: 1.0}


SCANNERS: dict[str, ScannerProfile] = {
    "utrecht_philips_3t": ScannerProfile(
        key="utrecht_philips_3t", description="Philips Achieva 3T, 2D FLAIR",
        flair_levels=_levels(0.0, 1.10, 0.22, 1.22), t1_levels=_levels(0.0, 1.25, 0.25, 0.62),
        flair_lesion=1.85, t1_lesion=0.78, flair_scale=420.0, t1_scale=600.0,
        noise=0.035, bias=0.06, slice_blur_mm=1.35, inplane_blur_mm=0.45),
    "singapore_siemens_3t": ScannerProfile(
        key="singapore_siemens_3t", description="Siemens TrioTim 3T, 2D FLAIR",
        flair_levels=_levels(0.0, 0.90, 0.15, 1.16), t1_levels=_levels(0.0, 1.10, 0.20, 0.58),
        flair_lesion=1.70, t1_lesion=0.80, flair_scale=650.0, t1_scale=380.0,
        noise=0.030, bias=0.05, slice_blur_mm=1.20, inplane_blur_mm=0.35),
    "amsterdam_ge_3t": ScannerProfile(
        key="amsterdam_ge_3t", description="GE Signa HDxt 3T, 3D FLAIR",
        flair_levels=_levels(0.0, 1.25, 0.30, 1.12), t1_levels=_levels(0.0, 1.30, 0.30, 0.66),
        flair_lesion=1.60, t1_lesion=0.82, flair_scale=1.6, t1_scale=2.2,
        noise=0.045, bias=0.09, slice_blur_mm=2.10, inplane_blur_mm=0.65),
    "amsterdam_ge_1p5t": ScannerProfile(
        key="amsterdam_ge_1p5t", description="GE Signa HDxt 1.5T, 2D FLAIR (unseen)",
        flair_levels=_levels(0.0, 1.35, 0.38, 1.08), t1_levels=_levels(0.0, 1.20, 0.35, 0.72),
        flair_lesion=1.38, t1_lesion=0.88, flair_scale=260.0, t1_scale=900.0,
        noise=0.075, bias=0.14, slice_blur_mm=2.55, inplane_blur_mm=1.00),
    "amsterdam_philips_3t": ScannerProfile(
        key="amsterdam_philips_3t", description="Philips Ingenuity PET-MR 3T, 3D FLAIR (unseen)",
        flair_levels=_levels(0.0, 0.75, 0.10, 1.32), t1_levels=_levels(0.0, 1.40, 0.22, 0.55),
        flair_lesion=1.55, t1_lesion=0.75, flair_scale=1400.0, t1_scale=150.0,
        noise=0.050, bias=0.24, slice_blur_mm=1.80, inplane_blur_mm=0.50,
        direction=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)),
}
"""Profiles by scanner key (``wmheval.io.manifest.SCANNER_ORDER``)."""


def get_profile(scanner: str) -> ScannerProfile:
    """The profile of a manifest scanner key, with a clear error for unknown keys."""
    try:
        return SCANNERS[scanner]
    except KeyError:
        raise ValueError(f"no synthetic profile for scanner {scanner!r}; "
                         f"known: {sorted(SCANNERS)}") from None


def _render(levels: dict[int, float], lesion: float, anatomy: Anatomy, lesions: LesionSet,
            texture: np.ndarray) -> np.ndarray:
    """Noise-free image relative to white matter: tissue levels, lesions, infarcts."""
    lut = np.array([levels[k] for k in range(5)], dtype=np.float32)
    image = lut[anatomy.tissue] * (1.0 + texture)
    # The inner part of the scalp/skull class is bone: dark on FLAIR and T1.
    image[anatomy.bone] = 0.08
    wmh = lesions.labels == 1
    weight = 0.55 + 0.45 * lesions.strength[wmh]
    image[wmh] = image[wmh] * (1.0 + (lesion - 1.0) * weight)
    other = lesions.labels == 2
    rim = other & ~lesions.infarct_core
    image[rim] = lesion * (1.0 + texture[rim])
    image[lesions.infarct_core] = levels[CSF]
    return image


def acquire(anatomy: Anatomy, lesions: LesionSet, profile: ScannerProfile,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Simulate (FLAIR, T1) float32 arrays for one subject on ``profile``'s scanner.

    Per subject the contrast jitters by a few per cent; partial volume comes from the
    slice profile blur; the bias field is multiplicative and the noise Rician.
    """
    shape, spacing = anatomy.tissue.shape, anatomy.spacing_zyx
    jitter = rng.uniform(0.96, 1.04)
    texture = profile.texture * smooth_field(shape, spacing, 6.0, rng)
    bias = np.exp(profile.bias * smooth_field(shape, spacing, 90.0, rng))
    images = []
    for levels, lesion, scale, blur in (
        (profile.flair_levels, profile.flair_lesion * jitter, profile.flair_scale,
         (profile.slice_blur_mm, profile.inplane_blur_mm, profile.inplane_blur_mm)),
        (profile.t1_levels, profile.t1_lesion, profile.t1_scale, (1.0, 0.5, 0.5)),
    ):
        clean = _render(levels, lesion, anatomy, lesions, texture)
        sigma_voxels = [mm / step for mm, step in zip(blur, spacing, strict=True)]
        clean = ndimage.gaussian_filter(clean, sigma_voxels, mode="nearest") * bias
        sigma = np.float32(profile.noise)
        real = clean + sigma * rng.standard_normal(shape, dtype=np.float32)
        imaginary = sigma * rng.standard_normal(shape, dtype=np.float32)
        magnitude = np.sqrt(real * real + imaginary * imaginary)
        images.append((magnitude * np.float32(scale)).astype(np.float32))
    return images[0], images[1]
