"""Reading MetaImage files (``.mha``, ``.mhd``) safely, without ITK touching the file.

grand-challenge.org's algorithm phases deliver their outputs as ``.mha`` images written by a
participant's container, so these files are as hostile as an uploaded NIfTI. ITK's own
MetaImage reader follows whatever the header says: ``ElementDataFile = /etc/shadow`` (or
a list or pattern of files) reads any path the scorer can read, a ``DimSize`` of 10^12
allocates before anything is checked, and compressed data is inflated without a bound.
This module parses the header itself and promises what :mod:`wmheval.io.images` promises
for NIfTI: every problem is an :class:`~wmheval.io.images.ImageError` naming the file and
the field; nothing outside the file is read; memory is bounded by the declared grid (checked
against the reference's before any voxel is read or inflated); the returned array owns its
memory.

What is accepted (everything else is refused, with the reason):

* a header of at most :data:`MAX_HEADER_BYTES` of ASCII ``Key = Value`` lines, each key at
  most once, ending with ``ElementDataFile = LOCAL`` (the voxels follow in the same file;
  an external data file is refused);
* ``ObjectType = Image`` (when given), ``BinaryData = True``, ``NDims`` 3, or 4 with a 4th
  ``DimSize`` of 1; one channel (``ElementNumberOfChannels`` 1 when given);
* ``ElementType`` one of :data:`ELEMENT_TYPES` (``MET_LONG``/``MET_ULONG``, whose width
  depends on the writer, and strings or vectors are refused);
* ``DimSize`` positive whole numbers, at most :data:`~wmheval.io.images.MAX_VOXELS`
  voxels, and equal to the reference grid when one is given;
* ``CompressedData = True`` with a zlib or gzip stream (``CompressedDataSize``, when
  given, at most the bytes left in the file); inflation stops at ``DimSize`` x element
  size + 1 bytes, so a bomb costs no memory, and the stream must end exactly there;
* ``HeaderSize`` absent or 0 (it only makes sense for external data files);
* ``BinaryDataByteOrderMSB`` / ``ElementByteOrderMSB`` (equal when both are given).

The geometry is ITK's: ``Offset`` (or ``Origin``/``Position``) is the origin,
``ElementSpacing`` the spacing, and ``TransformMatrix`` (or ``Rotation``/``Orientation``),
stored column by column, the direction; a 4D file keeps its first three axes. NaN and inf
voxels count as background (0), as for NIfTI, and are counted.
"""

from __future__ import annotations

import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wmheval.io.images import (
    MAX_VOXELS,
    METAIMAGE_SUFFIXES,
    ImageError,
    LoadedImage,
    open_image_file,
)
from wmheval.io.paths import display_path

__all__ = ["ELEMENT_TYPES", "METAIMAGE_SUFFIXES", "MetaHeader", "parse_metaimage_header",
           "read_metaimage", "read_metaimage_header"]
from wmheval.metrics.geometry import Geometry

MAX_HEADER_BYTES = 1 << 16
"""Largest header read (64 KiB; ITK writes about 400 bytes)."""
MAX_HEADER_LINES = 200
_CHUNK = 1 << 20

ELEMENT_TYPES: dict[str, tuple[str, str]] = {
    "MET_UCHAR": ("u1", "8-bit unsigned integer"),
    "MET_CHAR": ("i1", "8-bit signed integer"),
    "MET_USHORT": ("u2", "16-bit unsigned integer"),
    "MET_SHORT": ("i2", "16-bit signed integer"),
    "MET_UINT": ("u4", "32-bit unsigned integer"),
    "MET_INT": ("i4", "32-bit signed integer"),
    "MET_ULONG_LONG": ("u8", "64-bit unsigned integer"),
    "MET_LONG_LONG": ("i8", "64-bit signed integer"),
    "MET_FLOAT": ("f4", "32-bit float"),
    "MET_DOUBLE": ("f8", "64-bit float"),
}
"""The allowed ``ElementType`` values: NumPy type and SimpleITK's name of the pixel type."""

_SYNONYMS = {
    "Origin": "Offset", "Position": "Offset",
    "Rotation": "TransformMatrix", "Orientation": "TransformMatrix",
    "ElementByteOrderMSB": "BinaryDataByteOrderMSB",
}
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


@dataclass(frozen=True)
class MetaHeader:
    """The checked header of a MetaImage file: what decides how its voxels are read."""

    size_xyz: tuple[int, ...]
    """``DimSize`` as written (x, y, z[, t])."""
    element_type: str
    big_endian: bool
    compressed: bool
    compressed_size: int | None
    data_offset: int
    """Where the voxel data starts in the file (just after the ``ElementDataFile`` line)."""
    geometry: Geometry

    @property
    def n_voxels(self) -> int:
        return math.prod(self.size_xyz)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype((">" if self.big_endian else "<") + ELEMENT_TYPES[self.element_type][0])

    @property
    def data_bytes(self) -> int:
        return self.n_voxels * self.dtype.itemsize

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        x, y, z = self.size_xyz[:3]
        return (z, y, x)


def _header_lines(path: Path, raw: bytes) -> tuple[list[tuple[str, str]], int]:
    """(key, value) pairs up to and including ``ElementDataFile``, and the data offset."""
    end = raw.find(b"ElementDataFile")
    if end < 0:
        if len(raw) >= MAX_HEADER_BYTES:
            raise ImageError(path, f"no ElementDataFile line in the first {MAX_HEADER_BYTES} "
                                   "bytes: not a MetaImage header, or one too large")
        raise ImageError(path, "not a MetaImage file (no ElementDataFile line)")
    newline = raw.find(b"\n", end)
    if newline < 0:
        raise ImageError(path, "truncated MetaImage header (the ElementDataFile line has "
                               "no end)")
    try:
        text = raw[:newline].decode("ascii")
    except UnicodeDecodeError:
        raise ImageError(path, "the MetaImage header is not ASCII text") from None
    lines = text.split("\n")
    if len(lines) > MAX_HEADER_LINES:
        raise ImageError(path, f"the MetaImage header has {len(lines)} lines, more than "
                               f"the {MAX_HEADER_LINES} read")
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if "=" not in line:
            raise ImageError(path, f"MetaImage header line {number} is not 'Key = Value'")
        key, value = (part.strip() for part in line.split("=", 1))
        if not _KEY.fullmatch(key):
            raise ImageError(path, f"MetaImage header line {number}: {key[:40]!r} is not "
                                   "a key name")
        if any(not (32 <= ord(c) < 127 or c == "\t") for c in value):
            raise ImageError(path, f"MetaImage header line {number} ({key}) holds control "
                                   "characters")
        pairs.append((key, value))
    return pairs, newline + 1


def _numbers(path: Path, key: str, value: str, count: int) -> tuple[float, ...]:
    parts = value.split()
    if len(parts) != count:
        raise ImageError(path, f"{key} has {len(parts)} values, NDims needs {count}")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        raise ImageError(path, f"{key} = {value[:60]!r} is not a list of numbers") from None
    if not all(math.isfinite(n) for n in numbers):
        raise ImageError(path, f"{key} holds values that are not finite numbers")
    return numbers


def _flag(path: Path, key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImageError(path, f"{key} = {value[:40]!r}; expected True or False")


def _whole(path: Path, key: str, value: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", value):
        raise ImageError(path, f"{key} = {value[:40]!r} is not a whole number")
    return int(value)


def parse_metaimage_header(path: str | Path, raw: bytes) -> MetaHeader:
    """Parse and check the header at the start of ``raw`` (the file's first bytes).

    Raises :class:`~wmheval.io.images.ImageError` naming the file and the field for
    anything outside what the module docstring lists.
    """
    path = Path(path)
    pairs, data_offset = _header_lines(path, raw[:MAX_HEADER_BYTES])
    fields: dict[str, str] = {}
    for key, value in pairs:
        name = _SYNONYMS.get(key, key)
        if name in fields:
            raise ImageError(path, f"{key} appears twice in the MetaImage header (or with "
                                   f"a synonym of {name})")
        fields[name] = value
    if pairs[-1][0] != "ElementDataFile":  # pragma: no cover - _header_lines cuts there
        raise ImageError(path, "ElementDataFile must be the last header line")
    data_file = fields["ElementDataFile"]
    if data_file != "LOCAL":
        raise ImageError(path, f"ElementDataFile = {display_path(data_file[:80])!r}: only "
                               "LOCAL (the voxels in the same file) is accepted; save the "
                               "image as a single .mha file")
    if fields.get("ObjectType", "Image") != "Image":
        raise ImageError(path, f"ObjectType = {fields['ObjectType'][:40]!r}; expected Image")
    if "NDims" not in fields:
        raise ImageError(path, "the MetaImage header has no NDims")
    ndims = _whole(path, "NDims", fields["NDims"])
    if ndims not in (3, 4):
        raise ImageError(path, f"NDims = {ndims}; expected a 3D image")
    if "DimSize" not in fields:
        raise ImageError(path, "the MetaImage header has no DimSize")
    sizes = _numbers(path, "DimSize", fields["DimSize"], ndims)
    if any(s != int(s) or s < 1 for s in sizes):
        raise ImageError(path, f"DimSize = {fields['DimSize'][:60]!r}: sizes must be whole "
                               "numbers of at least 1")
    size_xyz = tuple(int(s) for s in sizes)
    if ndims == 4 and size_xyz[3] != 1:
        raise ImageError(path, f"4D image of size {list(size_xyz)}; expected a 3D image")
    if math.prod(size_xyz) > MAX_VOXELS:
        raise ImageError(path, f"the header declares {math.prod(size_xyz)} voxels (DimSize "
                               f"{list(size_xyz)}), more than the {MAX_VOXELS} read")
    if not _flag(path, "BinaryData", fields.get("BinaryData", "True")):
        raise ImageError(path, "BinaryData = False (voxels as text) is not supported")
    channels = _whole(path, "ElementNumberOfChannels",
                      fields.get("ElementNumberOfChannels", "1"))
    if channels != 1:
        raise ImageError(path, f"vector image with {channels} components per voxel; "
                               "expected one scalar label per voxel")
    element_type = fields.get("ElementType")
    if element_type is None:
        raise ImageError(path, "the MetaImage header has no ElementType")
    if element_type not in ELEMENT_TYPES:
        raise ImageError(path, f"ElementType {element_type[:40]!r} is not accepted; use one "
                               f"of {', '.join(ELEMENT_TYPES)}")
    header_size = _whole(path, "HeaderSize", fields.get("HeaderSize", "0"))
    if header_size != 0:
        raise ImageError(path, f"HeaderSize = {header_size} is not accepted with LOCAL data "
                               "(it would move where the voxels are read)")
    big_endian = _flag(path, "BinaryDataByteOrderMSB",
                       fields.get("BinaryDataByteOrderMSB", "False"))
    compressed = _flag(path, "CompressedData", fields.get("CompressedData", "False"))
    compressed_size = None
    if "CompressedDataSize" in fields:
        compressed_size = _whole(path, "CompressedDataSize", fields["CompressedDataSize"])
        if compressed_size < 1:
            raise ImageError(path, f"CompressedDataSize = {compressed_size}; must be positive")
    return MetaHeader(size_xyz, element_type, big_endian, compressed, compressed_size,
                      data_offset, _header_geometry(path, fields, ndims))


def _header_geometry(path: Path, fields: dict[str, str], ndims: int) -> Geometry:
    spacing = _numbers(path, "ElementSpacing", fields["ElementSpacing"], ndims) \
        if "ElementSpacing" in fields else (1.0,) * ndims
    if "ElementSpacing" not in fields and "ElementSize" in fields:
        spacing = _numbers(path, "ElementSize", fields["ElementSize"], ndims)
    origin = _numbers(path, "Offset", fields["Offset"], ndims) if "Offset" in fields \
        else (0.0,) * ndims
    if "TransformMatrix" in fields:
        matrix = _numbers(path, "TransformMatrix", fields["TransformMatrix"], ndims * ndims)
        # Stored column by column: direction[row][column] = matrix[column * ndims + row].
        direction = tuple(matrix[column * ndims + row] for row in range(3)
                          for column in range(3))
    else:
        direction = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    try:
        geometry = Geometry(spacing=tuple(spacing[:3]), origin=tuple(origin[:3]),
                            direction=direction)
    except ValueError as error:
        raise ImageError(path, f"unusable geometry ({error})") from None
    if abs(np.linalg.det(geometry.direction_matrix)) < 1e-6:
        raise ImageError(path, "TransformMatrix is singular (no direction)")
    return geometry


def _check_grid(path: Path, header: MetaHeader, expected_size, expected_from) -> None:
    if expected_size is None:
        return
    expected = tuple(int(n) for n in expected_size)
    size = header.size_xyz[:3]
    if size != expected:
        where = f" ({display_path(expected_from)})" if expected_from else ""
        raise ImageError(path, f"size {size} differs from the reference's {expected}{where}")


def _read_raw(path: Path, handle, header: MetaHeader, file_size: int) -> tuple[bytes, list]:
    warnings: list[str] = []
    left = file_size - header.data_offset
    need = header.data_bytes
    if not header.compressed:
        if left < need:
            raise ImageError(path, f"truncated MetaImage file: {left} bytes of voxel data, "
                                   f"DimSize and ElementType need {need}")
        if left > need:
            warnings.append(f"{left - need} bytes after the voxel data (ignored)")
        data = handle.read(need)
        if len(data) != need:
            raise ImageError(path, "file shrank while it was read")
        return data, warnings
    size = header.compressed_size if header.compressed_size is not None else left
    if size > left:
        raise ImageError(path, f"CompressedDataSize = {size} but only {left} bytes follow "
                               "the header (truncated file)")
    if size < left:
        warnings.append(f"{left - size} bytes after the compressed data (ignored)")
    inflater = zlib.decompressobj(47)  # zlib or gzip framing, as ITK's MetaIO accepts
    out = bytearray()
    remaining = size
    try:
        while not inflater.eof:
            if inflater.unconsumed_tail:
                chunk = inflater.unconsumed_tail
            elif remaining:
                chunk = handle.read(min(_CHUNK, remaining))
                if not chunk:
                    raise ImageError(path, "file shrank while it was read")
                remaining -= len(chunk)
            else:
                break
            # Never more than one byte beyond the declared data: a bomb costs no memory.
            out += inflater.decompress(chunk, need + 1 - len(out))
            if len(out) > need:
                raise ImageError(path, f"the compressed data inflates to more than the "
                                       f"{need} bytes DimSize and ElementType declare")
    except zlib.error as error:
        raise ImageError(path, f"corrupt compressed data ({error})") from None
    got = len(out)
    if not inflater.eof:
        raise ImageError(path, f"truncated compressed data (the stream ends after {got} of "
                               f"{need} bytes, without its end marker)")
    if got < need:
        raise ImageError(path, f"the compressed data inflates to {got} bytes; DimSize and "
                               f"ElementType need {need}")
    return out, warnings


def read_metaimage_header(path: str | Path) -> MetaHeader:
    """The checked header of a MetaImage file (reads at most :data:`MAX_HEADER_BYTES`)."""
    path = Path(path)
    with open_image_file(path) as handle:
        try:
            raw = handle.read(MAX_HEADER_BYTES)
        except OSError as error:
            raise ImageError(path, f"cannot read the file ({error.strerror or error})"
                             ) from None
    return parse_metaimage_header(path, raw)


def read_metaimage(path: str | Path, *, expected_size: tuple[int, int, int] | None = None,
                   expected_from: str | Path | None = None) -> LoadedImage:
    """Read a 3D scalar MetaImage (``.mha``, or ``.mhd`` with LOCAL data) safely.

    ``expected_size`` (x, y, z), e.g. the reference's, is checked against the header
    before any voxel is read (``expected_from`` names the file it comes from). Raises
    :class:`~wmheval.io.images.ImageError` naming the file for everything the module
    docstring refuses, and for truncated, corrupt or over-long data.
    """
    path = Path(path)
    with open_image_file(path) as handle:
        try:
            raw = handle.read(MAX_HEADER_BYTES)
            header = parse_metaimage_header(path, raw)
            _check_grid(path, header, expected_size, expected_from)
            file_size = os.fstat(handle.fileno()).st_size
            handle.seek(header.data_offset)
            data, warnings = _read_raw(path, handle, header, file_size)
        except OSError as error:
            raise ImageError(path, f"cannot read the file ({error.strerror or error})"
                             ) from None
    values = np.frombuffer(data, dtype=header.dtype, count=header.n_voxels)
    # An owned, writable, native-order copy: no view of a buffer someone else frees.
    array = values.reshape(header.shape_zyx).astype(header.dtype.newbyteorder("="),
                                                     copy=True)
    del data, values
    n_nonfinite = 0
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        n_nonfinite = int(array.size - np.count_nonzero(finite))
        if n_nonfinite:
            array[~finite] = 0
    return LoadedImage(path, array, header.geometry, ELEMENT_TYPES[header.element_type][1],
                       n_nonfinite, warnings)
