"""The hardened MetaImage reader: SimpleITK-written files read back equal (values and
geometry), and a seeded corpus of crafted headers refused with the file named."""

from __future__ import annotations

import math
import os
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st

from wmheval.io.images import ImageError, read_grid, read_image
from wmheval.io.metaimage import (
    ELEMENT_TYPES,
    MAX_HEADER_BYTES,
    parse_metaimage_header,
    read_metaimage,
)
from wmheval.metrics.geometry import Geometry

SITK_TYPES = {"u1": sitk.sitkUInt8, "i1": sitk.sitkInt8, "u2": sitk.sitkUInt16,
              "i2": sitk.sitkInt16, "u4": sitk.sitkUInt32, "i4": sitk.sitkInt32,
              "u8": sitk.sitkUInt64, "i8": sitk.sitkInt64, "f4": sitk.sitkFloat32,
              "f8": sitk.sitkFloat64}


def _rotation(angles: tuple[float, float, float]) -> tuple[float, ...]:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return tuple(float(v) for v in (rz @ ry @ rx).ravel())


def _write_sitk(path: Path, array: np.ndarray, geometry: Geometry, compress: bool) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    sitk.WriteImage(image, str(path), useCompression=compress)
    return path


@settings(max_examples=40, deadline=None)
@given(code=st.sampled_from(sorted(SITK_TYPES)), compress=st.booleans(),
       shape=st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 7)),
       spacing=st.tuples(*[st.floats(0.1, 5.0)] * 3),
       origin=st.tuples(*[st.floats(-300, 300)] * 3),
       angles=st.tuples(*[st.floats(-3.1, 3.1)] * 3),
       seed=st.integers(0, 2**31 - 1), suffix=st.sampled_from([".mha", ".mhd"]))
def test_round_trip_against_simpleitk(tmp_path_factory, code, compress, shape, spacing,
                                      origin, angles, seed, suffix):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(code)
    if dtype.kind == "f":
        array = rng.normal(size=shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    geometry = Geometry(spacing=spacing, origin=origin, direction=_rotation(angles))
    folder = tmp_path_factory.mktemp("mha")
    path = _write_sitk(folder / f"image{suffix}", array, geometry, compress)
    if suffix == ".mhd":  # SimpleITK writes .mhd with an external .raw: refused
        with pytest.raises(ImageError, match="only LOCAL"):
            read_metaimage(path)
        return
    ours = read_metaimage(path, expected_size=shape[::-1])
    theirs = sitk.ReadImage(str(path))
    assert ours.array.dtype == sitk.GetArrayViewFromImage(theirs).dtype
    np.testing.assert_array_equal(ours.array, sitk.GetArrayFromImage(theirs))
    # Equal as parsed from the same text (ITK's parser flushes subnormals to 0).
    np.testing.assert_allclose(ours.geometry.spacing, theirs.GetSpacing(), rtol=1e-15,
                               atol=1e-300)
    np.testing.assert_allclose(ours.geometry.origin, theirs.GetOrigin(), rtol=1e-15,
                               atol=1e-300)
    np.testing.assert_allclose(ours.geometry.direction, theirs.GetDirection(), rtol=0,
                               atol=1e-12)
    assert ours.pixel_type == theirs.GetPixelIDTypeAsString()
    assert ours.array.flags.owndata and ours.array.flags.writeable
    # Through the general entry points too.
    assert np.array_equal(read_image(path).array, ours.array)
    assert read_grid(path) == (shape[::-1], ours.geometry.spacing)


def _header(**fields) -> str:
    base = {"ObjectType": "Image", "NDims": "3", "BinaryData": "True",
            "BinaryDataByteOrderMSB": "False", "CompressedData": "False",
            "TransformMatrix": "1 0 0 0 1 0 0 0 1", "Offset": "0 0 0",
            "ElementSpacing": "1 1 1", "DimSize": "4 3 2", "ElementType": "MET_UCHAR"}
    for key, value in fields.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    lines = [f"{k} = {v}" for k, v in base.items()]
    return "\n".join(lines) + "\nElementDataFile = LOCAL\n"


def _write(path: Path, header: str | bytes, data: bytes) -> Path:
    raw = header.encode("ascii") if isinstance(header, str) else header
    path.write_bytes(raw + data)
    return path


VOXELS = bytes(range(24))


def test_handwritten_header_values_and_geometry(tmp_path):
    path = _write(tmp_path / "a.mha", _header(
        Offset="1.5 -2 3", ElementSpacing="0.5 0.75 3", BinaryDataByteOrderMSB="True",
        ElementType="MET_SHORT", TransformMatrix="0 1 0 -1 0 0 0 0 1"),
        np.arange(24, dtype=">i2").tobytes())
    image = read_metaimage(path)
    assert image.array.tolist() == np.arange(24).reshape(2, 3, 4).tolist()
    assert image.geometry.spacing == (0.5, 0.75, 3.0)
    assert image.geometry.origin == (1.5, -2.0, 3.0)
    # Column by column: the first column of the direction is (0, 1, 0).
    assert image.geometry.direction == (0, -1, 0, 1, 0, 0, 0, 0, 1)
    assert image.pixel_type == "16-bit signed integer"
    reference = sitk.ReadImage(str(path))
    assert image.geometry.direction == tuple(reference.GetDirection())


def test_four_dimensions_with_one_volume(tmp_path):
    path = _write(tmp_path / "a.mha", _header(
        NDims="4", DimSize="4 3 2 1", ElementSpacing="1 2 3 9", Offset="4 5 6 7",
        TransformMatrix="1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"), VOXELS)
    image = read_metaimage(path, expected_size=(4, 3, 2))
    assert image.array.shape == (2, 3, 4)
    assert image.geometry.spacing == (1.0, 2.0, 3.0)
    assert image.geometry.origin == (4.0, 5.0, 6.0)


def test_nan_voxels_count_as_background(tmp_path):
    values = np.arange(24, dtype="<f4")
    values[[3, 7]] = [np.nan, np.inf]
    path = _write(tmp_path / "a.mha", _header(ElementType="MET_FLOAT"), values.tobytes())
    image = read_metaimage(path)
    assert image.n_nonfinite == 2
    assert image.array.ravel()[3] == 0 and image.array.ravel()[7] == 0
    assert image.array.ravel()[5] == 5


def test_compressed_local_data_with_and_without_size(tmp_path):
    packed = zlib.compress(VOXELS)
    for size in (str(len(packed)), None):
        path = _write(tmp_path / "c.mha", _header(CompressedData="True",
                                                  CompressedDataSize=size), packed)
        assert read_metaimage(path).array.ravel().tolist() == list(range(24))


def _bomb(n_bytes: int) -> bytes:
    inflater = zlib.compressobj(9)
    block = bytes(1 << 20)
    out = b"".join(inflater.compress(block) for _ in range(n_bytes >> 20))
    return out + inflater.flush()


HOSTILE = [
    ("external data file", _header().replace("LOCAL", "/etc/passwd"), VOXELS, "only LOCAL"),
    ("data file list", _header().replace("LOCAL", "LIST"), VOXELS, "only LOCAL"),
    ("data file pattern", _header().replace("LOCAL", "slice%03d.raw 1 2 1"), VOXELS,
     "only LOCAL"),
    ("relative data file", _header().replace("LOCAL", "../../secret.raw"), VOXELS,
     "only LOCAL"),
    ("no data file line", _header().replace("ElementDataFile = LOCAL\n", ""), VOXELS,
     "no ElementDataFile"),
    ("two dims", _header(NDims="2", DimSize="4 6", ElementSpacing="1 1", Offset="0 0",
                         TransformMatrix="1 0 0 1"), VOXELS, "NDims = 2"),
    ("five dims", _header(NDims="5"), VOXELS, "NDims = 5"),
    ("4D with volumes", _header(NDims="4", DimSize="4 3 1 2", ElementSpacing="1 1 1 1",
                                Offset="0 0 0 0",
                                TransformMatrix="1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"), VOXELS,
     "4D image"),
    ("huge grid", _header(DimSize="100000 100000 100000"), VOXELS, "more than"),
    ("zero size", _header(DimSize="4 0 2"), VOXELS, "at least 1"),
    ("negative size", _header(DimSize="4 -3 2"), VOXELS, "at least 1"),
    ("fractional size", _header(DimSize="4 3.5 2"), VOXELS, "whole"),
    ("dim count", _header(DimSize="4 3"), VOXELS, "DimSize has 2 values"),
    ("NaN spacing", _header(ElementSpacing="1 nan 1"), VOXELS, "not finite"),
    ("negative spacing", _header(ElementSpacing="1 -1 1"), VOXELS, "spacing"),
    ("singular matrix", _header(TransformMatrix="1 0 0 1 0 0 0 0 1"), VOXELS, "singular"),
    ("text matrix", _header(TransformMatrix="a b c d e f g h i"), VOXELS, "not a list"),
    ("ascii voxels", _header(BinaryData="False"), VOXELS, "BinaryData = False"),
    ("odd flag", _header(BinaryData="maybe"), VOXELS, "expected True or False"),
    ("vector", _header(ElementNumberOfChannels="3"), VOXELS * 3, "vector image"),
    ("string type", _header(ElementType="MET_STRING"), VOXELS, "not accepted"),
    ("long type", _header(ElementType="MET_LONG"), VOXELS, "not accepted"),
    ("no type", _header(ElementType=None), VOXELS, "no ElementType"),
    ("no dims", _header(NDims=None), VOXELS, "no NDims"),
    ("other object", _header(ObjectType="Mesh"), VOXELS, "ObjectType"),
    ("header size", _header(HeaderSize="10"), VOXELS, "HeaderSize"),
    ("auto header size", _header(HeaderSize="-1"), VOXELS, "HeaderSize"),
    ("duplicate key", _header() .replace("NDims = 3", "NDims = 3\nNDims = 3"), VOXELS,
     "twice"),
    ("synonym clash", _header(Origin="1 1 1"), VOXELS, "twice"),
    ("byte order clash", _header(ElementByteOrderMSB="True"), VOXELS, "twice"),
    ("not key value", _header().replace("NDims = 3", "NDims 3"), VOXELS, "Key = Value"),
    ("control chars", _header(Comment="a\x1bb"), VOXELS, "control characters"),
    ("binary header", b"\x00\xff" + _header().encode(), VOXELS, "not ASCII"),
    ("truncated data", _header(), VOXELS[:20], "truncated"),
    ("truncated header", _header()[:-1], b"", "has no end"),
    ("empty", b"", b"", "not a MetaImage"),
    ("nifti renamed", b"\x5c\x01\x00\x00" + bytes(344), b"", "not a MetaImage"),
    ("corrupt zlib", _header(CompressedData="True"), b"\x78\x9c" + bytes(range(40)),
     "corrupt compressed"),
    ("truncated zlib", _header(CompressedData="True"), zlib.compress(VOXELS)[:-6],
     "truncated compressed"),
    ("short zlib", _header(CompressedData="True"), zlib.compress(VOXELS[:10]), "inflates to"),
    ("long zlib", _header(CompressedData="True"), zlib.compress(VOXELS * 2), "more than"),
    ("bomb", _header(CompressedData="True"), _bomb(64 << 20), "more than"),
    ("compressed size past end", _header(CompressedData="True",
                                         CompressedDataSize="100000"),
     zlib.compress(VOXELS), "CompressedDataSize"),
    ("negative compressed size", _header(CompressedData="True", CompressedDataSize="-5"),
     zlib.compress(VOXELS), "CompressedDataSize"),
    ("huge number", _header(HeaderSize="9" * 40), VOXELS, "whole number"),
    ("many lines", "\n".join(f"K{i} = 1" for i in range(500)) + "\n" + _header(), VOXELS,
     "lines"),
    ("oversized header", "K = " + "x" * MAX_HEADER_BYTES + "\n" + _header(), VOXELS,
     "no ElementDataFile"),
]


@pytest.mark.parametrize("name, header, data, message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_headers_are_refused_naming_the_file(tmp_path, name, header, data, message):
    path = _write(tmp_path / "hostile.mha", header, data)
    with pytest.raises(ImageError, match=message) as caught:
        read_metaimage(path, expected_size=None)
    assert caught.value.path == path
    assert str(caught.value).startswith(str(path))
    with pytest.raises(ImageError):  # the general reader routes .mha here, never to ITK
        read_image(path)


def test_external_data_file_is_never_opened(tmp_path, monkeypatch):
    secret = tmp_path / "secret.raw"
    secret.write_bytes(VOXELS)
    path = _write(tmp_path / "a.mhd", _header().replace("LOCAL", str(secret)), b"")
    opened: list[str] = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(ImageError, match="only LOCAL"):
        read_metaimage(path)
    assert str(secret) not in opened


def test_grid_is_checked_before_any_voxel_is_inflated(tmp_path):
    path = _write(tmp_path / "bomb.mha", _header(CompressedData="True",
                                                 DimSize="4000 4000 10"), _bomb(8 << 20))
    with pytest.raises(ImageError, match=r"size \(4000, 4000, 10\) differs from the "
                                         r"reference's \(4, 3, 2\) \(ref.nii.gz\)"):
        read_metaimage(path, expected_size=(4, 3, 2), expected_from="ref.nii.gz")


def test_not_a_regular_file(tmp_path):
    folder = tmp_path / "dir.mha"
    folder.mkdir()
    with pytest.raises(ImageError, match="folder"):
        read_metaimage(folder)
    os.mkfifo(tmp_path / "pipe.mha")
    with pytest.raises(ImageError, match="FIFO"):
        read_metaimage(tmp_path / "pipe.mha")


def test_seeded_mutations_never_crash(tmp_path):
    """Random byte and line mutations of a valid file: a clean read or an ImageError."""
    valid = _header(CompressedData="True").encode() + zlib.compress(VOXELS)
    rng = random.Random(20171)
    outcomes = {"read": 0, "refused": 0}
    for trial in range(400):
        raw = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(raw))
            raw[position] = rng.randrange(256)
        path = tmp_path / f"m{trial}.mha"
        path.write_bytes(bytes(raw))
        try:
            image = read_metaimage(path)
        except ImageError as error:
            assert error.path == path
            outcomes["refused"] += 1
        else:
            assert image.array.size <= 1 << 28
            outcomes["read"] += 1
    assert outcomes["refused"] > 100 and outcomes["read"] > 0


def test_every_allowed_element_type_parses():
    for name, (code, _) in ELEMENT_TYPES.items():
        header = parse_metaimage_header("x.mha", _header(ElementType=name).encode())
        assert header.dtype == np.dtype("<" + code)
