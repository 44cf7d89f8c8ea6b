"""Data pipeline: find subjects in the release layout, read volumes, normalise, slice, load.

Arrays are (z, y, x) as SimpleITK returns them; a training sample is one axial slice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from torch.utils.data import DataLoader, Dataset

from wmheval.io import images
from wmheval.io.manifest import release_folder_scanners


# Release folders (relative to the split folder) -> scanner keys of wmheval.io.manifest.
class DataError(ValueError):
    """A data folder or volume cannot be used (the message names the file)."""


@dataclass(frozen=True)
class Subject:
    """One subject folder of the release: ``<root>/<split>/<scanner folder>/<id>``."""

    id: str
    path: Path
    split: str
    scanner: str | None

    @property
    def flair_path(self) -> Path:
        return self.path / "pre" / "FLAIR.nii.gz"

    @property
    def t1_path(self) -> Path:
        return self.path / "pre" / "T1.nii.gz"

    @property
    def wmh_path(self) -> Path:
        return self.path / "wmh.nii.gz"


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def find_subjects(root: str | Path, manifest=None) -> list[Subject]:
    """Every folder under ``root`` holding ``pre/FLAIR.nii.gz``, with split and scanner.

    The split is the first folder below ``root``; the scanner comes from the release's
    folder names, or from ``manifest`` (a DataFrame indexed by id) for unknown folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found")
    subjects = []
    for flair in root.rglob("FLAIR.nii.gz"):
        if flair.parent.name != "pre":
            continue
        folder = flair.parent.parent
        parts = folder.relative_to(root).parts
        if len(parts) < 2:
            continue
        scanner = release_folder_scanners().get(tuple(parts[1:-1]))
        if scanner is None and manifest is not None and folder.name in manifest.index:
            scanner = str(manifest.loc[folder.name, "scanner"])
        subjects.append(Subject(folder.name, folder, parts[0], scanner))
    if not subjects:
        raise DataError(f"{root}: no subject folders with pre/FLAIR.nii.gz found")
    ids = [s.id for s in subjects]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise DataError(f"{root}: subject ids appear twice: {duplicated[:5]}")
    return sorted(subjects, key=lambda s: (s.split, _natural_key(s.id)))


def read_image(path: Path) -> sitk.Image:
    """Read a NIfTI image or raise :class:`DataError` naming the file."""
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    try:
        # wmheval's reader also rejects truncated files, which SimpleITK reads as zeros.
        return images.read_image(path).image
    except images.ImageError as error:
        raise DataError(str(error)) from None


def read_array(path: Path, like: sitk.Image | None = None) -> np.ndarray:
    """Voxel array (z, y, x) as float32; must match ``like``'s size when given."""
    image = read_image(path)
    if like is not None and image.GetSize() != like.GetSize():
        raise DataError(f"{path}: size {image.GetSize()} differs from the FLAIR's "
                        f"{like.GetSize()}")
    return sitk.GetArrayFromImage(image).astype(np.float32)


def wm_label_path(subject: Subject, wm_masks: str | Path | None) -> Path | None:
    """Where this subject's white-matter label is: ``wm_masks/<id>.nii.gz``,
    ``wm_masks/<id>/wm_mask.nii.gz``, or the synthetic ``synth/wm_mask.nii.gz``."""
    candidates = []
    if wm_masks is not None:
        candidates += [Path(wm_masks) / f"{subject.id}.nii.gz",
                       Path(wm_masks) / subject.id / "wm_mask.nii.gz"]
    candidates.append(subject.path / "synth" / "wm_mask.nii.gz")
    return next((c for c in candidates if c.is_file()), None)


@dataclass
class Volume:
    """A subject's arrays in memory (z, y, x) and its FLAIR grid."""

    subject: Subject
    flair: np.ndarray
    t1: np.ndarray
    spacing: tuple[float, float, float]
    wmh: np.ndarray | None = None
    wm: np.ndarray | None = None


def load_volume(subject: Subject, *, labels: bool = True, wm_masks: str | Path | None = None,
                need_wm: bool = False) -> Volume:
    """Read FLAIR, T1 (and the WMH and white-matter labels when asked) of one subject."""
    flair_image = read_image(subject.flair_path)
    flair = sitk.GetArrayFromImage(flair_image).astype(np.float32)
    t1 = read_array(subject.t1_path, flair_image)
    volume = Volume(subject, flair, t1, tuple(float(s) for s in flair_image.GetSpacing()))
    if labels:
        volume.wmh = np.rint(read_array(subject.wmh_path, flair_image)).astype(np.uint8)
    if need_wm:
        path = wm_label_path(subject, wm_masks)
        if path is None:
            raise DataError(
                f"{subject.path}: no white-matter label for subject {subject.id} (looked for "
                f"synth/wm_mask.nii.gz{' and in ' + str(wm_masks) if wm_masks else ''}); "
                "give a folder of masks with --wm-masks DIR")
        volume.wm = (read_array(path, flair_image) > 0.5).astype(np.uint8)
    return volume


# --- normalisations -----------------------------------------------------------------------

def minmax_within(volume: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """ResU-Net paper: scale to [0, 1] with the min and max *inside* the white-matter mask
    (clipped to [0, 1] outside it). An empty mask falls back to the whole volume."""
    values = volume[mask > 0] if np.any(mask) else volume.ravel()
    low, high = float(values.min()), float(values.max())
    scaled = (volume - low) / max(high - low, 1e-6)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def robust_unit(volume: np.ndarray) -> np.ndarray:
    """[0, 1] scaling between the 0.5th and 99.5th percentiles of the non-zero voxels
    (input of the white-matter U-Net; the paper does not say how T1 was scaled)."""
    values = volume[volume > 0]
    if values.size == 0:
        return np.zeros_like(volume, dtype=np.float32)
    low, high = np.percentile(values, [0.5, 99.5])
    return np.clip((volume - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)


def requantise_8bit(volume: np.ndarray) -> np.ndarray:
    """FCN paper: requantise to 8 bits (0 to the 99.9th percentile -> 0..255, uint8)."""
    high = float(np.percentile(volume, 99.9)) if volume.size else 0.0
    low = min(float(volume.min()), 0.0) if volume.size else 0.0
    scaled = (volume - low) / max(high - low, 1e-6) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def area_opening_residue(flair8: np.ndarray, spacing: Sequence[float],
                         area_mm2: float = 60.0) -> np.ndarray:
    """FLAIR minus its area opening, slice by slice (small bright structures remain).

    ``area_mm2`` (the paper gives no value) is converted to pixels with the in-plane spacing.
    """
    from skimage.morphology import area_opening

    area_px = max(1, int(round(area_mm2 / (spacing[0] * spacing[1]))))
    opened = np.stack([area_opening(s, area_threshold=area_px) for s in flair8])
    return (flair8 - opened).astype(np.uint8)


def fcn_input(flair: np.ndarray, t1: np.ndarray, spacing: Sequence[float],
              area_mm2: float = 60.0) -> np.ndarray:
    """(z, 3, y, x) uint8 colour slices: R = area-opening residue, G = FLAIR, B = T1."""
    flair8 = requantise_8bit(flair)
    residue = area_opening_residue(flair8, spacing, area_mm2)
    return np.stack([residue, flair8, requantise_8bit(t1)], axis=1)


# --- slices, padding, dataset -------------------------------------------------------------

def round_up(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def pad_slices(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Zero-pad the last two axes at the end (bottom, right) to ``height`` x ``width``."""
    pad = [(0, 0)] * (array.ndim - 2) + [(0, height - array.shape[-2]),
                                         (0, width - array.shape[-1])]
    if any(after < 0 for _, after in pad):
        raise DataError(f"slice {array.shape[-2:]} larger than the canvas {(height, width)}")
    return np.pad(array, pad)


class SliceDataset(Dataset):
    """Axial slices kept in memory: inputs (N, C, H, W) and labels (N, H, W), padded to one
    canvas so that batches stack. Indexing is cheap, so loader workers only copy."""

    def __init__(self, inputs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                 multiple: int = 16) -> None:
        if not inputs:
            raise DataError("no training volumes")
        height = round_up(max(a.shape[-2] for a in inputs), multiple)
        width = round_up(max(a.shape[-1] for a in inputs), multiple)
        self.canvas = (height, width)
        self.inputs = torch.from_numpy(np.concatenate(
            [pad_slices(a, height, width) for a in inputs]))
        self.labels = torch.from_numpy(np.concatenate(
            [pad_slices(a, height, width) for a in labels]).astype(np.uint8))

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.labels[index]


def make_loader(dataset: SliceDataset, batch_size: int, *, seed: int, epoch: int,
                device: torch.device, num_workers: int | None = None) -> DataLoader:
    """A shuffling loader whose order depends only on (seed, epoch), so resumed runs repeat
    it. On CUDA: worker processes, pinned memory and persistent workers keep the GPU fed."""
    cuda = device.type == "cuda"
    workers = (4 if cuda else 0) if num_workers is None else num_workers
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator,
                      num_workers=workers, pin_memory=cuda, drop_last=len(dataset) > batch_size,
                      persistent_workers=cuda and workers > 0,
                      prefetch_factor=4 if workers > 0 else None)


def augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator,
            max_degrees: float = 15.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random in-plane rotation (uniform in +-``max_degrees``) and left-right flip per
    slice, on the tensors' device (one batched ``grid_sample``; labels nearest)."""
    n = x.shape[0]
    angles = (torch.rand(n, generator=generator) * 2 - 1) * np.deg2rad(max_degrees)
    flips = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angles), torch.sin(angles)
    theta = torch.stack([torch.stack([cos * flips, -sin, torch.zeros(n)], 1),
                         torch.stack([sin * flips, cos, torch.zeros(n)], 1)], 1)
    theta = theta.to(device=x.device, dtype=torch.float32)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    x_out = torch.nn.functional.grid_sample(x.float(), grid, mode="bilinear",
                                            padding_mode="zeros", align_corners=False)
    y_out = torch.nn.functional.grid_sample(y[:, None].float(), grid, mode="nearest",
                                            padding_mode="zeros", align_corners=False)
    return x_out.to(x.dtype), y_out[:, 0].round().to(y.dtype)
