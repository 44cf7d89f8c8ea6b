"""Literal NIfTI-1 files built byte by byte, so tests control every header field."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

CODES = {"u1": 2, "i2": 4, "i4": 8, "f4": 16, "f8": 64, "i1": 256, "u2": 512, "u4": 768,
         "i8": 1024, "u8": 1280}


def nifti1_header(shape_xyz, datatype: int, bitpix: int, *, endian: str = "<",
                  vox_offset: float = 352.0, pixdim=(1.0, 1.0, 1.0), scl_slope: float = 0.0,
                  scl_inter: float = 0.0, qform_code: int = 0, sform_code: int = 0,
                  quatern=(0.0, 0.0, 0.0), qoffset=(0.0, 0.0, 0.0), qfac: float = 1.0,
                  srow=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0)), sizeof_hdr: int = 348,
                  magic: bytes = b"n+1\0", dim0: int | None = None) -> bytes:
    """A 348-byte NIfTI-1 header plus the 4-byte extension flag."""
    header = bytearray(352)
    e = endian
    struct.pack_into(e + "i", header, 0, sizeof_hdr)
    dims = [dim0 if dim0 is not None else len(shape_xyz), *shape_xyz]
    dims += [1] * (8 - len(dims))
    struct.pack_into(e + "8h", header, 40, *dims)
    struct.pack_into(e + "2h", header, 70, datatype, bitpix)
    pix = [qfac, *pixdim] + [1.0] * (7 - len(pixdim))
    struct.pack_into(e + "8f", header, 76, *pix[:8])
    struct.pack_into(e + "3f", header, 108, vox_offset, scl_slope, scl_inter)
    struct.pack_into(e + "2h", header, 252, qform_code, sform_code)
    struct.pack_into(e + "6f", header, 256, *quatern, *qoffset)
    struct.pack_into(e + "12f", header, 280, *[float(v) for row in srow for v in row])
    header[344:348] = magic
    return bytes(header)


def nifti1_bytes(array_zyx: np.ndarray, *, endian: str = "<", extension: bytes = b"",
                 **fields) -> bytes:
    """A whole single-file NIfTI-1 image of a (z, y, x) array (x fastest on disk)."""
    array = np.asarray(array_zyx)
    code = CODES[array.dtype.str[1:]]
    shape_xyz = tuple(array.shape[::-1])
    fields.setdefault("vox_offset", 352.0 + len(extension))
    header = nifti1_header(shape_xyz, code, array.dtype.itemsize * 8, endian=endian, **fields)
    data = array.astype(array.dtype.newbyteorder(endian)).tobytes(order="C")
    return header + extension + data


def write_nifti(path: Path, array_zyx: np.ndarray, *, compress: bool | None = None,
                **fields) -> Path:
    """Write :func:`nifti1_bytes` (gzip-compressed when the name ends in .gz)."""
    data = nifti1_bytes(array_zyx, **fields)
    if compress if compress is not None else path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
