"""Reading label and prediction images with SimpleITK, with errors that name the file."""

from __future__ import annotations

import gzip
import struct
import zlib
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
    image: object = None  # the SimpleITK image read (``array`` is an owned copy of its voxels)

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape[::-1])


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if "ERROR" in line or "error" in line.lower()]
    return (useful[-1] if useful else lines[-1] if lines else type(error).__name__)[:300]


@dataclass(frozen=True)
class NiftiHeader:
    """The few NIfTI-1/2 header fields needed to check a file and find its voxel data."""

    endian: str
    shape: tuple[int, ...]
    datatype: int
    bitpix: int
    vox_offset: int

    @property
    def payload_size(self) -> int:
        """Bytes the file should hold: header, extensions and voxel data."""
        n_voxels = 1
        for size in self.shape:
            n_voxels *= size
        return self.vox_offset + n_voxels * self.bitpix // 8


FLOAT_DATATYPES = {16: "f4", 64: "f8"}
GZIP_MAGIC = b"\x1f\x8b"


def parse_nifti_header(header: bytes) -> NiftiHeader | None:
    """Parse a NIfTI-1 or NIfTI-2 header (either byte order); None if it is not one."""
    for endian in ("<", ">"):
        if len(header) < 4:
            return None
        (size_of_header,) = struct.unpack(endian + "i", header[:4])
        if size_of_header == 348 and len(header) >= 112:
            dims = struct.unpack(endian + "8h", header[40:56])
            datatype, bitpix = struct.unpack(endian + "2h", header[70:74])
            (vox_offset,) = struct.unpack(endian + "f", header[108:112])
        elif size_of_header == 540 and len(header) >= 184:
            datatype, bitpix = struct.unpack(endian + "2h", header[12:16])
            dims = struct.unpack(endian + "8q", header[16:80])
            (vox_offset,) = struct.unpack(endian + "q", header[168:176])
        else:
            continue
        n_dims = dims[0]
        shape = tuple(int(d) for d in dims[1:n_dims + 1])
        if not 1 <= n_dims <= 7 or bitpix <= 0 or any(d <= 0 for d in shape):
            return None
        return NiftiHeader(endian, shape, int(datatype), int(bitpix), int(vox_offset))
    return None


def _open_nifti(path: Path):
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def count_nonfinite_on_disk(path: str | Path) -> int:
    """NaN and inf voxels stored in a float NIfTI file (0 for other types and formats).

    ITK's NIfTI reader replaces them by 0 when it loads the file, so they can only be seen
    in the raw data; the scorer uses this to warn about them.
    """
    path = Path(path)
    if not path.name.endswith((".nii", ".nii.gz")):
        return 0
    with _open_nifti(path) as stream:
        header = parse_nifti_header(stream.read(540))
        if header is None or header.datatype not in FLOAT_DATATYPES:
            return 0
        stream.seek(header.vox_offset)
        data = stream.read(header.payload_size - header.vox_offset)
    dtype = np.dtype(header.endian + FLOAT_DATATYPES[header.datatype])
    values = np.frombuffer(data[: len(data) - len(data) % dtype.itemsize], dtype=dtype)
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def check_nifti_complete(path: Path) -> None:
    """Raise :class:`ImageError` if a NIfTI file (gzip-compressed or not) is truncated.

    SimpleITK reads a truncated file without complaint (the missing voxels come back as
    zeros). A plain file must be as long as its header says; for a gzip file the trailer's
    uncompressed size is compared with the header's, and only when they disagree is the
    whole stream decompressed to decide. The gzip magic decides, not the file name.
    """
    with open(path, "rb") as raw:
        start = raw.read(540)
        compressed = start[:2] == GZIP_MAGIC
        if compressed and len(start) >= 4:
            raw.seek(-4, 2)
            (trailer_size,) = struct.unpack("<I", raw.read(4))
    if not compressed:
        parsed = parse_nifti_header(start)
        actual = path.stat().st_size
        if parsed is not None and actual < parsed.payload_size:
            raise ImageError(path, f"truncated NIfTI file: {actual} bytes, the header needs "
                                   f"{parsed.payload_size}")
        return
    try:
        if len(start) < 4:
            raise EOFError("file shorter than a gzip header")
        with gzip.open(path, "rb") as stream:
            parsed = parse_nifti_header(stream.read(540))
        if parsed is None or parsed.payload_size % 2**32 == trailer_size:
            return
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 24):
                pass
    except (OSError, EOFError, zlib.error) as error:
        raise ImageError(path, f"truncated or corrupt gzip file ({error})") from None


def read_image(path: str | Path) -> LoadedImage:
    """Read a 3D scalar image (NIfTI or any format SimpleITK reads), as the official script.

    Raises :class:`ImageError` naming the file for a missing or unreadable file (including a
    truncated gzip, which SimpleITK alone would accept), vector pixels, and images that are
    not 3D.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(path, "file not found")
    if path.name.endswith(NIFTI_SUFFIXES):
        check_nifti_complete(path)
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
        # An owned copy: a view of ITK's buffer dies with the image, and callers keep only
        # the array (the overlays were drawn from freed memory).
        array = sitk.GetArrayFromImage(image)
    except RuntimeError as error:
        raise ImageError(path, f"cannot read voxel data ({_first_line(error)})") from None
    return LoadedImage(path, array, Geometry.from_image(image), image.GetPixelIDTypeAsString(),
                       image)


def write_image(array: np.ndarray, geometry: Geometry, path: str | Path,
                dtype: type | None = None) -> Path:
    """Write a (z, y, x) array with ``geometry`` atomically (gzip-compressed for ``.gz``).

    The array keeps its dtype unless ``dtype`` is given.
    """
    from wmheval.io.atomic import atomic_path

    values = np.asarray(array)
    image = sitk.GetImageFromArray(values if dtype is None else values.astype(dtype, copy=False))
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    with atomic_path(path) as temporary:
        sitk.WriteImage(image, str(temporary), useCompression=str(path).endswith(".gz"))
    return Path(path)


def read_grid(path: str | Path) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(size, spacing) in x, y, z order from an image's header alone (no voxel data).

    Raises :class:`ImageError` naming the file when the header cannot be read.
    """
    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise ImageError(path, f"cannot read image header ({_first_line(error)})") from None
    return (tuple(int(n) for n in reader.GetSize()),
            tuple(float(s) for s in reader.GetSpacing()))
