"""Data pipeline: find subjects in the release layout, read volumes, normalise, slice, load.

Every image is reoriented (axes permuted and flipped, never interpolated) to one canonical
orientation, :data:`CANONICAL_ORIENTATION`, before the networks see it, so that a flipped,
permuted or oblique scanner gives the network the same picture; predictions are mapped back
to the reference image's own grid (:func:`from_canonical`). Arrays are (z, y, x) of the
canonical image; a training sample is one axial slice.
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

from wmheval.errors import InputError
from wmheval.io import images
from wmheval.io.layouts import walk_tree
from wmheval.io.manifest import release_folder_scanners


# Release folders (relative to the split folder) -> scanner keys of wmheval.io.manifest.
class DataError(InputError):
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
    Folders are walked as the scorer walks them (:func:`wmheval.io.layouts.walk_tree`):
    through symbolic links (a ``test`` folder linked from elsewhere is found), each once.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found")
    subjects = []
    for entry in walk_tree(root):
        flair = entry.path
        if flair.name != "FLAIR.nii.gz" or flair.parent.name != "pre":
            continue
        if not entry.is_file:  # e.g. a broken link: say so rather than drop the subject
            raise DataError(f"{flair}: {entry.problem}")
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


CANONICAL_ORIENTATION = "LPS"
"""DICOM orientation code of the networks' input (SimpleITK's identity direction): array axis
0 runs inferior->superior, so slices along it are axial whatever the file's storage order."""


def read_image(path: Path) -> sitk.Image:
    """Read a NIfTI image or raise :class:`DataError` naming the file."""
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    try:
        # wmheval's reader also rejects truncated files, which SimpleITK reads as zeros.
        return images.read_image(path).image
    except images.ImageError as error:
        raise DataError(str(error)) from None


def orientation_of(image: sitk.Image) -> str:
    """The image's DICOM orientation code (nearest axes for an oblique direction)."""
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())


def to_canonical(image: sitk.Image) -> sitk.Image:
    """Permute and flip the voxel axes to :data:`CANONICAL_ORIENTATION` (no interpolation;
    an oblique image keeps its obliquity but its axes become the nearest canonical ones)."""
    if orientation_of(image) == CANONICAL_ORIENTATION:
        return image
    return sitk.DICOMOrient(image, CANONICAL_ORIENTATION)


def from_canonical(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """Inverse of :func:`to_canonical`: an array on the canonical grid of ``reference`` ->
    an image on ``reference``'s own grid (same voxels, size, spacing, origin, direction)."""
    canonical = to_canonical(reference)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    if image.GetSize() != canonical.GetSize():
        raise DataError(f"prediction size {image.GetSize()} differs from the canonical "
                        f"reference size {canonical.GetSize()}")
    image.CopyInformation(canonical)
    back = sitk.DICOMOrient(image, orientation_of(reference))
    if back.GetSize() != reference.GetSize():
        raise DataError("reorientation did not return to the reference grid")
    back.CopyInformation(reference)
    return back


def read_array(path: Path, like: sitk.Image | None = None) -> np.ndarray:
    """Canonical voxel array (z, y, x) as float32; must match ``like``'s size when given."""
    image = read_image(path)
    if like is not None and image.GetSize() != like.GetSize():
        raise DataError(f"{path}: size {image.GetSize()} differs from the FLAIR's "
                        f"{like.GetSize()}")
    return sitk.GetArrayFromImage(to_canonical(image)).astype(np.float32)


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
    """A subject's canonical arrays in memory (z, y, x) and their spacing (x, y, z).

    ``wm`` is the white-matter *training label*: the white-matter mask united with the WMH
    (label 1), because FSL-style masks call lesions grey matter and a network trained on them
    would learn to cut lesions out of its mask.
    """

    subject: Subject
    flair: np.ndarray
    t1: np.ndarray
    spacing: tuple[float, float, float]
    wmh: np.ndarray | None = None
    wm: np.ndarray | None = None


def load_volume(subject: Subject, *, labels: bool = True, wm_masks: str | Path | None = None,
                need_wm: bool = False, lesions_in_wm: bool = True) -> Volume:
    """Read FLAIR, T1 (and the WMH and white-matter labels when asked) of one subject.

    ``lesions_in_wm``: the white-matter label includes the WMH (label 1), the training label
    of the white-matter networks; False keeps the mask as read.
    """
    flair_image = read_image(subject.flair_path)
    canonical = to_canonical(flair_image)
    flair = sitk.GetArrayFromImage(canonical).astype(np.float32)
    t1 = read_array(subject.t1_path, flair_image)
    volume = Volume(subject, flair, t1, tuple(float(s) for s in canonical.GetSpacing()))
    if labels:
        volume.wmh = np.rint(read_array(subject.wmh_path, flair_image)).astype(np.uint8)
    if need_wm:
        path = wm_label_path(subject, wm_masks)
        if path is None:
            raise DataError(
                f"{subject.path}: no white-matter label for subject {subject.id} (looked for "
                f"synth/wm_mask.nii.gz{' and in ' + str(wm_masks) if wm_masks else ''}); "
                "give a folder of masks with --wm-masks DIR")
        wm = read_array(path, flair_image) > 0.5
        if lesions_in_wm and volume.wmh is not None:
            wm |= volume.wmh == 1
        volume.wm = wm.astype(np.uint8)
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


FCN_REFERENCE_PERCENTILE = 95.0
FCN_REFERENCE_LEVEL = 100.0


def scale_0_255(volume: np.ndarray) -> np.ndarray:
    """FCN input scaling (paper 003 used 8-bit images): float32 with the 95th percentile of
    the non-zero voxels at 100, clipped to [0, 255] and *not* rounded.

    The old 0..99.9th-percentile requantisation put the percentile inside the lesions
    (a few per mille of the voxels), so lesions saturated at 255 (median 255) and lost their
    contrast; here lesions up to 2.5x the bulk of the brain keep their intensity.
    """
    values = volume[volume > 0]
    if values.size == 0:
        return np.zeros(volume.shape, np.float32)
    reference = float(np.percentile(values, FCN_REFERENCE_PERCENTILE))
    scaled = volume.astype(np.float32) * (FCN_REFERENCE_LEVEL / max(reference, 1e-6))
    return np.clip(scaled, 0.0, 255.0).astype(np.float32)


def _area_open_slices(args: tuple[np.ndarray, int]) -> np.ndarray:
    from skimage.morphology import area_opening

    slices, area_px = args
    return np.stack([area_opening(s, area_threshold=area_px) for s in slices])


def area_opening_residue(flair: np.ndarray, spacing: Sequence[float],
                         area_mm2: float = 60.0, jobs: int = 1) -> np.ndarray:
    """FLAIR minus its area opening, slice by slice (small bright structures remain).

    ``area_mm2`` (the paper gives no value) is converted to pixels with the in-plane spacing.
    Slices are opened on a 256-level quantisation (the max-tree's cost grows with the number
    of levels; the residue is then taken from the float image), in ``jobs`` processes.
    """
    area_px = max(1, int(round(area_mm2 / (spacing[0] * spacing[1]))))
    levels = np.rint(np.clip(flair, 0, 255)).astype(np.uint8)
    if jobs > 1 and len(levels) > 1:
        from concurrent.futures import ProcessPoolExecutor

        chunks = np.array_split(levels, min(jobs, len(levels)))
        with ProcessPoolExecutor(jobs) as pool:
            opened = np.concatenate(list(pool.map(_area_open_slices,
                                                  [(c, area_px) for c in chunks])))
    else:
        opened = _area_open_slices((levels, area_px))
    residue = levels.astype(np.float32) - opened.astype(np.float32)
    return np.clip(residue, 0.0, 255.0).astype(np.float32)


def fcn_input(flair: np.ndarray, t1: np.ndarray, spacing: Sequence[float],
              area_mm2: float = 60.0, jobs: int = 1) -> np.ndarray:
    """(z, 3, y, x) float32 colour slices in [0, 255]: R = area-opening residue,
    G = FLAIR, B = T1 (each scaled by :func:`scale_0_255`)."""
    flair_scaled = scale_0_255(flair)
    residue = area_opening_residue(flair_scaled, spacing, area_mm2, jobs)
    return np.stack([residue, flair_scaled, scale_0_255(t1)], axis=1)


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


def crop_to_region(inputs: np.ndarray, labels: np.ndarray, region: np.ndarray,
                   margin: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Training slices of one volume restricted to where the output is used: the slices
    that meet ``region`` (Z, H, W), cropped in-plane to its bounding box plus ``margin``
    pixels. Saves CPU time on empty slices and background; the networks are fully
    convolutional, so prediction still runs on whole slices. An empty region keeps the
    volume whole."""
    slices = np.flatnonzero(region.any(axis=(1, 2)))
    if slices.size == 0:  # e.g. an untrained white-matter net found nothing: keep it all
        return inputs, labels
    rows = np.flatnonzero(region.any(axis=(0, 2)))
    columns = np.flatnonzero(region.any(axis=(0, 1)))
    top, bottom = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, region.shape[1])
    left, right = max(columns[0] - margin, 0), min(columns[-1] + margin + 1, region.shape[2])
    return (np.ascontiguousarray(inputs[slices, ..., top:bottom, left:right]),
            np.ascontiguousarray(labels[slices, top:bottom, left:right]))


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
                device: torch.device, phase: int = 0, offset: int = 0,
                count: int | None = None, num_workers: int | None = None
                ) -> tuple[DataLoader, int]:
    """Batches of pass ``epoch`` of ``dataset``, from sample ``offset``, ``count`` samples;
    returns (loader, index of its first batch in the pass).

    The order is a permutation that depends only on (seed, phase, epoch), so a resumed run
    repeats it, also from the middle of a pass (``offset`` is a multiple of ``batch_size``
    whenever a run stops between two batches). On CUDA: worker processes, pinned memory and
    prefetching keep the GPU fed.
    """
    cuda = device.type == "cuda"
    workers = (4 if cuda else 0) if num_workers is None else num_workers
    generator = torch.Generator().manual_seed((seed * 1_000_003 + phase) * 100_003 + epoch)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    end = len(dataset) if count is None else min(len(dataset), offset + count)
    first_batch = offset // batch_size
    start = first_batch * batch_size
    batches = [order[i:min(i + batch_size, end)] for i in range(start, end, batch_size)]
    if start < offset:  # an offset inside a batch: drop the samples already seen
        batches[0] = order[offset:min(start + batch_size, end)]
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                        pin_memory=cuda, prefetch_factor=4 if workers > 0 else None)
    return loader, first_batch


BIAS_FIELD_ORDER = 3
"""Polynomial order of the random bias fields (``bias_range``), as TorchIO's default."""


def random_bias_fields(n: int, channels: int, height: int, width: int,
                       generator: torch.Generator, bias_range: float) -> torch.Tensor:
    """Smooth random log bias fields, shape (n, channels, height, width).

    Each is a polynomial of order :data:`BIAS_FIELD_ORDER` in the slice's coordinates
    (scaled to [-1, 1]) with Gaussian coefficients, centred and scaled to a standard
    deviation drawn uniformly in [0, ``bias_range``] over the slice: a multiplicative
    intensity non-uniformity ``exp(field)`` like an uncorrected coil bias.
    """
    rows = torch.linspace(-1.0, 1.0, height)
    columns = torch.linspace(-1.0, 1.0, width)
    yy, xx = torch.meshgrid(rows, columns, indexing="ij")
    terms = torch.stack([xx ** i * yy ** j for i in range(BIAS_FIELD_ORDER + 1)
                         for j in range(BIAS_FIELD_ORDER + 1 - i) if i + j > 0])
    coefficients = torch.randn(n, channels, len(terms), generator=generator)
    field = torch.einsum("nct,thw->nchw", coefficients, terms)
    field = field - field.mean(dim=(-2, -1), keepdim=True)
    field = field / field.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    strength = torch.rand(n, channels, 1, 1, generator=generator) * bias_range
    return field * strength


def augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator,
            max_degrees: float = 15.0, *, gamma_range: float = 0.0,
            bias_range: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random in-plane rotation (uniform in +-``max_degrees``) and left-right flip per
    slice, on the tensors' device (one batched ``grid_sample``; labels nearest).

    ``gamma_range`` > 0 also raises each slice's inputs (all channels, in [0, 1] as the
    networks get them) to a power ``exp(U(-gamma_range, gamma_range))``: contrast changes
    like those between scanners, with the labels unchanged. ``bias_range`` > 0 first
    multiplies each slice's channels by ``exp`` of a smooth random field with a standard
    deviation up to ``bias_range`` (:func:`random_bias_fields`): the residual bias of a
    scanner whose correction left more non-uniformity. Without them the random stream is
    exactly as before (no extra draws).
    """
    n = x.shape[0]
    if bias_range > 0:
        fields = random_bias_fields(n, x.shape[1], x.shape[-2], x.shape[-1], generator,
                                    bias_range)
        x = x.float() * torch.exp(fields.to(x.device))
    if gamma_range > 0:
        gammas = torch.exp((torch.rand(n, generator=generator) * 2 - 1) * gamma_range)
        x = x.float().clamp(min=0.0).pow(gammas.to(x.device).view(n, 1, 1, 1))
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
