"""Reading label and prediction images with SimpleITK, with errors that name the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from wmheval.metrics.geometry import Geometry

NIFTI_SUFFIXES = (".nii.gz", ".nii")


class ImageError(ValueError):
    """An image cannot be used: unreadable, wrong dimension, vector pixels, ..."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass
class LoadedImage:
    """A 3D scalar image as a (z, y, x) array with its geometry and ITK pixel type."""

    path: Path
    array: np.ndarray
    geometry: Geometry
    pixel_type: str

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape[::-1])


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if "ERROR" in line or "error" in line.lower()]
    return (useful[-1] if useful else lines[-1] if lines else type(error).__name__)[:300]


def read_image(path: str | Path) -> LoadedImage:
    """Read a 3D scalar image (NIfTI or any format SimpleITK reads), as the official script.

    Raises :class:`ImageError` naming the file for a missing or unreadable file (including a
    truncated gzip), vector pixels, and images that are not 3D.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(path, "file not found")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise ImageError(path, f"cannot read image ({_first_line(error)})") from None
    components = image.GetNumberOfComponentsPerPixel()
    if components != 1:
        raise ImageError(path, f"vector image with {components} components per voxel; "
                               "expected one scalar label per voxel")
    if image.GetDimension() != 3:
        raise ImageError(path, f"{image.GetDimension()}D image of size {image.GetSize()}; "
                               "expected a 3D image")
    try:
        array = sitk.GetArrayFromImage(image)
    except RuntimeError as error:
        raise ImageError(path, f"cannot read voxel data ({_first_line(error)})") from None
    return LoadedImage(path, array, Geometry.from_image(image), image.GetPixelIDTypeAsString())


def write_mask(array: np.ndarray, geometry: Geometry, path: str | Path,
               dtype: type = np.uint8) -> Path:
    """Write a (z, y, x) array as an image with ``geometry`` (used by tests and generators)."""
    from wmheval.io.atomic import atomic_path

    image = sitk.GetImageFromArray(np.asarray(array).astype(dtype, copy=False))
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    with atomic_path(path) as temporary:
        sitk.WriteImage(image, str(temporary), useCompression=str(path).endswith(".gz"))
    return Path(path)
