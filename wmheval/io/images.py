"""Reading label and prediction images as ITK (the official evaluation) reads them, safely.

NIfTI-1 files (``.nii``, ``.nii.gz``) are read by one strict header parse and one streaming
inflate pass that checks the gzip CRC and length and the inflated length against the
header (``vox_offset + nvox * sizeof(datatype)``). Whatever ITK would read differently
from what the header and data say is rejected with a message naming the file and the field:
``sizeof_hdr`` other than 348 (NIfTI-2 is reported as unsupported), ``bitpix`` that does
not match ``datatype``, ``vox_offset`` below 352 or not a sane whole number, short or
corrupt data. The declared grid is compared with the reference's *before* any voxel is
inflated, so a gzip bomb costs no memory. The voxels are then built with NumPy exactly as
ITK builds them (NaN and inf become 0, as ITK's NIfTI reader does), while the geometry
(spacing, origin, direction from qform/sform) comes from ITK's own header reader, so it is
what SimpleITK reports. Files ITK would transform (intensity scaling, 4D, vectors, other
formats) are read by SimpleITK after the same checks. MetaImage files (``.mha``, ``.mhd``)
are read by :mod:`wmheval.io.metaimage`, never by ITK (whose reader follows an external
data file anywhere). Returned arrays own their memory.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wmheval.errors import InputError
from wmheval.io.paths import display_path, not_a_file_problem
from wmheval.metrics.geometry import Geometry

NIFTI_SUFFIXES = (".nii.gz", ".nii")
METAIMAGE_SUFFIXES = (".mha", ".mhd")
"""Read by :mod:`wmheval.io.metaimage`'s own checked parser, never by ITK's."""
GZIP_MAGIC = b"\x1f\x8b"
NIFTI1_HEADER_SIZE = 348
NIFTI2_HEADER_SIZE = 540
MIN_VOX_OFFSET = 352
MAX_VOX_OFFSET = 1 << 24
"""Largest header + extensions accepted (16 MiB); a larger ``vox_offset`` is damage."""
MAX_VOXELS = 1 << 28
"""Largest grid read (268 million voxels; the challenge's largest is 5.4 million): a header
declaring more is refused before anything is inflated."""
_CHUNK = 1 << 20

# NIfTI-1 datatype code -> (NumPy type for scalar types or None, bits per voxel, name).
DATATYPES: dict[int, tuple[str | None, int, str]] = {
    2: ("u1", 8, "uint8"), 4: ("i2", 16, "int16"), 8: ("i4", 32, "int32"),
    16: ("f4", 32, "float32"), 64: ("f8", 64, "float64"), 256: ("i1", 8, "int8"),
    512: ("u2", 16, "uint16"), 768: ("u4", 32, "uint32"), 1024: ("i8", 64, "int64"),
    1280: ("u8", 64, "uint64"), 128: (None, 24, "RGB24"), 2304: (None, 32, "RGBA32"),
    32: (None, 64, "complex64"), 1792: (None, 128, "complex128"),
    1536: (None, 128, "float128"), 2048: (None, 256, "complex256"),
}


class ImageError(InputError):
    """An image cannot be used: unreadable, wrong dimension, vector pixels, ..."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{display_path(self.path)}: {problem}")


@dataclass
class LoadedImage:
    """A 3D scalar image as a (z, y, x) array (owning its memory) with geometry and type.

    ``n_nonfinite`` counts NaN/inf voxels stored in the file, which ITK (and so ``array``)
    reads as 0; ``warnings`` holds other oddities that do not change the voxels.
    """

    path: Path
    array: np.ndarray
    geometry: Geometry
    pixel_type: str
    n_nonfinite: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape[::-1])

    @property
    def image(self):
        """A SimpleITK image of the array and geometry (a copy, built on demand)."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.array)
        image.SetSpacing(self.geometry.spacing)
        image.SetOrigin(self.geometry.origin)
        image.SetDirection(self.geometry.direction)
        return image


_ADDRESS = re.compile(r"\s*\(0x[0-9a-fA-F]+\)|0x[0-9a-fA-F]{6,}")


def itk_message(error: Exception) -> str:
    """The useful line of an ITK exception, without object addresses (stable across runs)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if "ERROR" in line or "error" in line.lower()]
    text = useful[-1] if useful else lines[-1] if lines else type(error).__name__
    return _ADDRESS.sub("", text)[:300]


@dataclass(frozen=True)
class NiftiHeader:
    """The NIfTI-1 header fields that decide how the voxels are read."""

    endian: str
    shape: tuple[int, ...]
    datatype: int
    bitpix: int
    vox_offset: int
    scl_slope: float
    scl_inter: float

    @property
    def n_voxels(self) -> int:
        return math.prod(self.shape)

    @property
    def data_bytes(self) -> int:
        return self.n_voxels * self.bitpix // 8

    @property
    def payload_size(self) -> int:
        """Bytes the (inflated) file must hold: header, extensions and voxel data."""
        return self.vox_offset + self.data_bytes

    @property
    def numpy_type(self) -> str | None:
        return DATATYPES[self.datatype][0]

    @property
    def plain_3d_scalar(self) -> bool:
        """Whether ITK reads the voxels unchanged into a 3D scalar image of this dtype.

        ITK applies ``scl_slope``/``scl_inter`` unless the slope is 0, 1 or not finite and
        the intercept 0 or not finite (checked against SimpleITK in the tests).
        """
        identity_slope = self.scl_slope in (0.0, 1.0) or not math.isfinite(self.scl_slope)
        identity_inter = self.scl_inter == 0.0 or not math.isfinite(self.scl_inter)
        return (len(self.shape) == 3 and self.numpy_type is not None and identity_slope
                and identity_inter)


def parse_nifti_header(path: Path, raw: bytes) -> NiftiHeader:
    """Parse and check a NIfTI-1 header; :class:`ImageError` names the file and field."""
    if len(raw) < 4:
        raise ImageError(path, f"file too short for a NIfTI header ({len(raw)} bytes)")
    sizes = {e: struct.unpack(e + "i", raw[:4])[0] for e in ("<", ">")}
    if NIFTI2_HEADER_SIZE in sizes.values():
        raise ImageError(path, "NIfTI-2 files are not supported (the official evaluation "
                               "cannot read them); save the image as NIfTI-1")
    endian = next((e for e, size in sizes.items() if size == NIFTI1_HEADER_SIZE), None)
    if endian is None:
        raise ImageError(path, f"cannot read image: not a NIfTI-1 file (sizeof_hdr is "
                               f"{sizes['<']}, must be 348)")
    if len(raw) < NIFTI1_HEADER_SIZE:
        raise ImageError(path, f"truncated NIfTI header ({len(raw)} of 348 bytes)")
    magic = raw[344:348]
    if magic != b"n+1\0":
        kind = ("a header of a .hdr/.img pair" if magic == b"ni1\0"
                else f"magic {magic!r}, expected b'n+1\\x00'")
        raise ImageError(path, f"not a single-file NIfTI-1 image ({kind})")
    dims = struct.unpack(endian + "8h", raw[40:56])
    datatype, bitpix = struct.unpack(endian + "2h", raw[70:74])
    vox_offset, scl_slope, scl_inter = struct.unpack(endian + "3f", raw[108:120])
    if not 1 <= dims[0] <= 7:
        raise ImageError(path, f"dim[0] is {dims[0]}, must be 1 to 7")
    shape = tuple(int(d) for d in dims[1:dims[0] + 1])
    if any(d <= 0 for d in shape):
        raise ImageError(path, f"dim {list(shape)} has sizes below 1")
    if datatype not in DATATYPES:
        raise ImageError(path, f"unsupported datatype code {datatype}")
    expected_bits = DATATYPES[datatype][1]
    if bitpix != expected_bits:
        raise ImageError(path, f"bitpix is {bitpix} but datatype {datatype} "
                               f"({DATATYPES[datatype][2]}) has {expected_bits} bits per voxel")
    if not math.isfinite(vox_offset) or vox_offset != int(vox_offset):
        raise ImageError(path, f"vox_offset is {vox_offset}, not a whole number of bytes")
    if not MIN_VOX_OFFSET <= vox_offset <= MAX_VOX_OFFSET:
        raise ImageError(path, f"vox_offset is {vox_offset:.0f}, must be 352 to "
                               f"{MAX_VOX_OFFSET} (ITK would read the voxels from elsewhere)")
    return NiftiHeader(endian, shape, int(datatype), int(bitpix), int(vox_offset),
                       float(scl_slope), float(scl_inter))


def _inflater_module():
    """The fastest available zlib-compatible inflater (identical output, CRC checked)."""
    choice = os.environ.get("WMHEVAL_INFLATER", "")
    if choice != "zlib":
        with contextlib.suppress(ImportError):
            if choice in ("", "zlib-ng"):
                from zlib_ng import zlib_ng

                return zlib_ng
        with contextlib.suppress(ImportError):
            if choice in ("", "zlib-ng", "isal"):
                from isal import isal_zlib

                return isal_zlib
    import zlib

    return zlib


class _CorruptGzip(Exception):
    pass


class _GzipReader:
    """One streaming pass over a gzip file (concatenated members allowed), bounded output."""

    def __init__(self, handle, module):
        self.handle = handle
        self.module = module
        self.decompressor = module.decompressobj(31)
        self.ended = False  # all members complete and no more input
        self.truncated = False

    def read(self, size: int) -> bytes:
        """Up to ``size`` inflated bytes (fewer only at the end of the stream)."""
        parts: list[bytes] = []
        got = 0
        while got < size and not self.ended:
            decompressor = self.decompressor
            if decompressor.eof:
                rest = decompressor.unused_data
                if len(rest) < 2:
                    rest += self.handle.read(_CHUNK)
                if not rest:
                    self.ended = True
                    break
                if rest[:2] != GZIP_MAGIC:
                    trailing = len(rest) + len(self.handle.read())
                    raise _CorruptGzip(f"{trailing} bytes of other data after the gzip stream")
                self.decompressor = decompressor = self.module.decompressobj(31)
                data = rest
            else:
                data = decompressor.unconsumed_tail or self.handle.read(_CHUNK)
                if not data:
                    self.ended = self.truncated = True
                    break
            try:
                out = decompressor.decompress(data, size - got)
            except self.module.error as error:
                raise _CorruptGzip(f"corrupt gzip data ({error})") from None
            if out:
                parts.append(out)
                got += len(out)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def drain(self) -> int:
        """Inflate (and discard) the rest, checking every CRC; returns the bytes left over."""
        extra = 0
        while not self.ended:
            extra += len(self.read(_CHUNK))
        return extra


@contextlib.contextmanager
def _itk_path(path: Path, handle) -> Iterator[str]:
    """A name ITK can open for ``path``: the path itself when it is plain UTF-8 and short,
    else a temporary symbolic link (with the same suffix) to the already open file."""
    text = os.fsdecode(path)
    try:
        text.encode("utf-8")
        plain = len(os.fsencode(path)) < 4000
    except UnicodeEncodeError:
        plain = False
    if plain:
        yield text
        return
    suffix = next((s for s in NIFTI_SUFFIXES if path.name.endswith(s)), "".join(path.suffixes))
    with tempfile.TemporaryDirectory(prefix="wmheval-itk-") as folder:
        link = os.path.join(folder, "image" + suffix)
        os.symlink(f"/proc/self/fd/{handle.fileno()}", link)
        yield link


def _itk_information(path: Path, handle):
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    with _itk_path(path, handle) as name:
        reader.SetFileName(name)
        try:
            reader.ReadImageInformation()
        except RuntimeError as error:
            raise ImageError(path, f"cannot read image ({itk_message(error)})") from None
    return reader


def _geometry(path: Path, source) -> Geometry:
    try:
        return Geometry.from_image(source)
    except ValueError as error:
        raise ImageError(path, f"unusable geometry ({error})") from None


def _count_and_zero_nonfinite(array: np.ndarray) -> int:
    if array.dtype.kind != "f":
        return 0
    finite = np.isfinite(array)
    n_bad = int(array.size - np.count_nonzero(finite))
    if n_bad:
        array[~finite] = 0  # as ITK's NIfTI reader does
    return n_bad


def _check_grid(path: Path, header: NiftiHeader, expected_size, expected_from) -> None:
    if expected_size is None:
        if header.n_voxels > MAX_VOXELS:
            raise ImageError(path, f"the header declares {header.n_voxels} voxels (dim "
                                   f"{list(header.shape)}), more than the {MAX_VOXELS} read")
        return
    expected = tuple(int(n) for n in expected_size)
    size = (tuple(header.shape) + (1, 1))[:3]
    where = f" ({display_path(expected_from)})" if expected_from else ""
    if size != expected:
        raise ImageError(path, f"size {size} differs from the reference's {expected}{where}")
    per_voxel = header.n_voxels // math.prod(expected)
    if per_voxel > 1:  # refused from the header: no voxel of it is inflated
        raise ImageError(path, _extra_dimensions(header.shape, per_voxel, where))


def _extra_dimensions(shape: tuple[int, ...], per_voxel: int, where: str) -> str:
    """What a header's dimensions beyond x, y, z hold, in words (NIfTI: dim 4 is time, dim
    5 vector components)."""
    extra = (tuple(shape) + (1,) * 7)[3:7]
    if extra[0] == 1 and extra[1] > 1 and math.prod(extra[2:]) == 1:
        kind = f"vector image with {extra[1]} components per voxel"
    elif extra[0] > 1 and math.prod(extra[1:]) == 1:
        kind = f"4D image of size {tuple(shape[:4])} ({extra[0]} volumes)"
    else:
        kind = f"image of dim {list(shape)}"
    return (f"{kind}, {per_voxel} values per voxel of the reference's grid{where}; "
            "expected one scalar label per voxel (refused from the header, before reading "
            "the voxels)")


def _read_nifti_bytes(path: Path, handle, expected_size, expected_from
                      ) -> tuple[NiftiHeader, bytes | np.ndarray, int, list[str]]:
    """Header, voxel bytes (or an owned array for plain files), data start, warnings."""
    start = handle.read(2)
    handle.seek(0)
    compressed = start == GZIP_MAGIC
    warnings: list[str] = []
    if compressed and not path.name.endswith(".gz"):
        raise ImageError(path, "gzip-compressed data in a file not named .gz (the official "
                               "evaluation cannot read it); name it .nii.gz")
    if not compressed:
        header = parse_nifti_header(path, handle.read(NIFTI1_HEADER_SIZE))
        _check_grid(path, header, expected_size, expected_from)
        actual = os.fstat(handle.fileno()).st_size
        if actual < header.payload_size:
            raise ImageError(path, f"truncated NIfTI file: {actual} bytes, the header needs "
                                   f"{header.payload_size}")
        if actual > header.payload_size:
            warnings.append(f"{actual - header.payload_size} bytes after the voxel data "
                            "(ignored, as ITK does)")
        handle.seek(header.vox_offset)
        data = np.empty(header.data_bytes, dtype=np.uint8)
        if handle.readinto(memoryview(data)) != header.data_bytes:
            raise ImageError(path, "file shrank while it was read")
        return header, data, 0, warnings
    stream = _GzipReader(handle, _inflater_module())
    try:
        head = stream.read(NIFTI1_HEADER_SIZE)
        if len(head) < 4 and stream.truncated:
            raise _CorruptGzip("truncated gzip file")
        header = parse_nifti_header(path, head)
        _check_grid(path, header, expected_size, expected_from)
        rest = stream.read(header.payload_size - len(head))
        have = len(head) + len(rest)
        if have < header.payload_size:
            why = "truncated gzip stream" if stream.truncated else "the data ends"
            raise ImageError(path, f"truncated or corrupt gzip file ({why} after {have} "
                                   f"bytes; the header needs {header.payload_size})")
        extra = stream.drain()
        if stream.truncated:
            raise ImageError(path, "truncated or corrupt gzip file (the stream ends without "
                                   "its trailer, so its CRC cannot be checked)")
    except _CorruptGzip as error:
        raise ImageError(path, f"truncated or corrupt gzip file ({error})") from None
    if extra:
        warnings.append(f"{extra} bytes after the voxel data (ignored, as ITK does)")
    return header, rest, header.vox_offset - len(head), warnings


def _to_array(header: NiftiHeader, data, offset: int) -> np.ndarray:
    dtype = np.dtype(header.endian + header.numpy_type)
    values = np.frombuffer(data, dtype=dtype, count=header.n_voxels, offset=offset)
    # An owned, writable, native-order copy: no view of a buffer someone else frees.
    array = values.astype(dtype.newbyteorder("="), copy=True)
    return array.reshape(header.shape[::-1])


def _count_nonfinite_raw(header: NiftiHeader, data, offset: int) -> int:
    if header.numpy_type not in ("f4", "f8"):
        return 0
    values = np.frombuffer(data, dtype=np.dtype(header.endian + header.numpy_type),
                           count=header.n_voxels, offset=offset)
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def _read_with_sitk(path: Path, handle) -> tuple[np.ndarray, Geometry, str, object]:
    import SimpleITK as sitk

    with _itk_path(path, handle) as name:
        try:
            image = sitk.ReadImage(name)
        except RuntimeError as error:
            raise ImageError(path, f"cannot read image ({itk_message(error)})") from None
    components = image.GetNumberOfComponentsPerPixel()
    if components != 1:
        raise ImageError(path, f"vector image with {components} components per voxel; "
                               "expected one scalar label per voxel")
    if image.GetDimension() != 3:
        raise ImageError(path, f"{image.GetDimension()}D image of size {image.GetSize()}; "
                               "expected a 3D image")
    try:
        array = sitk.GetArrayFromImage(image)  # a copy: owns its memory
    except RuntimeError as error:
        raise ImageError(path, f"cannot read voxel data ({itk_message(error)})") from None
    return array, _geometry(path, image), image.GetPixelIDTypeAsString(), image


def open_image_file(path: Path):
    """``path`` opened for reading in binary, or an :class:`ImageError` naming it (not a
    regular file, or unreadable)."""
    problem = not_a_file_problem(path)
    if problem is not None:
        raise ImageError(path, problem)
    try:
        return open(path, "rb")
    except OSError as error:
        raise ImageError(path, f"cannot open the file ({error.strerror})") from None


def read_image(path: str | Path, *, expected_size: tuple[int, int, int] | None = None,
               expected_from: str | Path | None = None) -> LoadedImage:
    """Read a 3D scalar image (NIfTI-1, or any format SimpleITK reads) as ITK reads it.

    ``expected_size`` (x, y, z), e.g. the reference's, is checked against a NIfTI header
    before any voxel is inflated (``expected_from`` names the file it comes from). Raises
    :class:`ImageError` naming the file for a missing, special, unreadable, truncated or
    corrupt file, headers ITK would read differently, vector pixels, images that are not 3D
    and a size mismatch.
    """
    path = Path(path)
    if path.name.lower().endswith(METAIMAGE_SUFFIXES):
        from wmheval.io.metaimage import read_metaimage

        return read_metaimage(path, expected_size=expected_size, expected_from=expected_from)
    with open_image_file(path) as handle:
        if not path.name.endswith(NIFTI_SUFFIXES):
            array, geometry, pixel_type, _ = _read_with_sitk(path, handle)
            if expected_size is not None:
                _check_size(path, array, expected_size, expected_from)
            return LoadedImage(path, array, geometry, pixel_type)
        try:
            header, data, offset, warnings = _read_nifti_bytes(path, handle, expected_size,
                                                               expected_from)
        except OSError as error:
            raise ImageError(path, f"cannot read the file ({error.strerror or error})"
                             ) from None
        if header.plain_3d_scalar:
            reader = _itk_information(path, handle)
            array = _to_array(header, data, offset)
            # ImageFileReader makes negative spacings positive (flipping the direction)
            # only in a full read: such rare files take the SimpleITK path.
            same = (reader.GetDimension() == 3 and reader.GetNumberOfComponents() == 1
                    and min(reader.GetSpacing()) > 0
                    and tuple(reader.GetSize()) == header.shape
                    and _itk_dtype(reader.GetPixelID()) == array.dtype)
            if same:
                n_nonfinite = _count_and_zero_nonfinite(array)
                import SimpleITK as sitk

                pixel_type = sitk.GetPixelIDValueAsString(reader.GetPixelID())
                return LoadedImage(path, array, _geometry(path, reader), pixel_type,
                                   n_nonfinite, warnings)
        n_nonfinite = _count_nonfinite_raw(header, data, offset)
        del data
        array, geometry, pixel_type, _ = _read_with_sitk(path, handle)
    return LoadedImage(path, array, geometry, pixel_type, n_nonfinite, warnings)


def _check_size(path: Path, array: np.ndarray, expected_size, expected_from) -> None:
    size = tuple(int(n) for n in array.shape[::-1])
    expected = tuple(int(n) for n in expected_size)
    if size != expected:
        where = f" ({display_path(expected_from)})" if expected_from else ""
        raise ImageError(path, f"size {size} differs from the reference's {expected}{where}")


def _itk_dtype(pixel_id: int) -> np.dtype | None:
    import SimpleITK as sitk

    table = {sitk.sitkUInt8: "u1", sitk.sitkInt8: "i1", sitk.sitkUInt16: "u2",
             sitk.sitkInt16: "i2", sitk.sitkUInt32: "u4", sitk.sitkInt32: "i4",
             sitk.sitkUInt64: "u8", sitk.sitkInt64: "i8", sitk.sitkFloat32: "f4",
             sitk.sitkFloat64: "f8"}
    code = table.get(pixel_id)
    return np.dtype(code) if code else None


def check_nifti_complete(path: str | Path) -> None:
    """Raise :class:`ImageError` if a NIfTI file is truncated, corrupt or would be misread.

    One streaming pass (the voxels are inflated and checked, then dropped).
    """
    path = Path(path)
    with open_image_file(path) as handle:
        try:
            _read_nifti_bytes(path, handle, None, None)
        except OSError as error:
            raise ImageError(path, f"cannot read the file ({error.strerror or error})"
                             ) from None


def write_image(array: np.ndarray, geometry: Geometry, path: str | Path,
                dtype: type | None = None) -> Path:
    """Write a (z, y, x) array with ``geometry`` atomically (gzip-compressed for ``.gz``).

    The array keeps its dtype unless ``dtype`` is given.
    """
    import SimpleITK as sitk

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

    Raises :class:`ImageError` naming the file when it is not a regular file or its header
    cannot be read (a FIFO or device is never opened for reading by ITK).
    """
    path = Path(path)
    if path.name.lower().endswith(METAIMAGE_SUFFIXES):
        from wmheval.io.metaimage import read_metaimage_header

        header = read_metaimage_header(path)
        return header.size_xyz[:3], header.geometry.spacing
    with open_image_file(path) as handle:
        reader = _itk_information(path, handle)
    return (tuple(int(n) for n in reader.GetSize()),
            tuple(float(s) for s in reader.GetSpacing()))
