"""The image reader: equal to SimpleITK on valid files, strict on damaged ones, safe memory."""

from __future__ import annotations

import gc
import gzip
import importlib
import math
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nifti_factory import CODES, nifti1_bytes, nifti1_header, write_nifti

from wmheval.io import images
from wmheval.io.images import ImageError, read_image

SPECIAL = [0.0, 1.0, 2.0, -1.5, math.nan, math.inf, -math.inf]


def sitk_reference(path: Path):
    """What the official evaluation sees: SimpleITK's image, array and geometry."""
    image = sitk.ReadImage(str(path))
    return (sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(),
            image.GetDirection(), image.GetPixelIDTypeAsString(), image.GetDimension(),
            image.GetNumberOfComponentsPerPixel())


@st.composite
def nifti_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(sorted(CODES))))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if dtype.kind == "f":
        values = rng.choice(np.array([0, 1, 2, 0.5, -3, np.nan, np.inf, -np.inf, -0.0]),
                            size=shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(max(info.min, -5), min(info.max, 5), size=shape, endpoint=True,
                              dtype=dtype)
    extra_dims = draw(st.sampled_from([(), (), (1,), (1, 1)]))
    fields = {
        "endian": draw(st.sampled_from("<>")),
        "pixdim": tuple(draw(st.sampled_from([0.5, 0.96, 1.0, 3.0, -1.2])) for _ in range(3)),
        "scl_slope": draw(st.sampled_from(SPECIAL)),
        "scl_inter": draw(st.sampled_from(SPECIAL)),
        "qform_code": draw(st.integers(0, 2)),
        "sform_code": draw(st.integers(0, 2)),
        "quatern": tuple(draw(st.sampled_from([0.0, 0.3, -0.5, 0.7])) for _ in range(3)),
        "qoffset": tuple(draw(st.floats(-200, 200, width=32)) for _ in range(3)),
        "qfac": draw(st.sampled_from([1.0, -1.0])),
        "srow": draw(st.sampled_from([
            ((1, 0, 0, 5), (0, 1, 0, -7), (0, 0, 1, 2.5)),
            ((-0.96, 0, 0, 100), (0, 0.96, 0, -120), (0, 0, 3, -60)),
            ((0, 0, 2, 1), (0, -1, 0, 0), (1.5, 0, 0, 3)),
        ])),
        "extension": draw(st.sampled_from([b"", b"\0" * 16, b"\0" * 48])),
    }
    if extra_dims:
        fields["dim0"] = 3 + len(extra_dims)
    return values, fields, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(case=nifti_cases())
def test_the_reader_equals_simpleitk_on_generated_valid_files(tmp_path_factory, case):
    values, fields, compress = case
    folder = tmp_path_factory.mktemp("gen")
    path = write_nifti(folder / ("x.nii.gz" if compress else "x.nii"), values, **fields)
    try:
        expected = sitk_reference(path)
    except RuntimeError:
        with pytest.raises(ImageError, match="x.nii"):
            read_image(path)
        return
    array, spacing, origin, direction, pixel_type, dimension, components = expected
    if min(spacing) <= 0:  # the metrics need positive spacing: refused, with the reason
        with pytest.raises(ImageError, match="x.nii.*spacing must be positive"):
            read_image(path)
        return
    loaded = read_image(path)
    assert dimension == 3 and components == 1
    assert loaded.array.dtype == array.dtype and loaded.pixel_type == pixel_type
    np.testing.assert_array_equal(loaded.array, array)
    assert np.array_equal(np.signbit(loaded.array), np.signbit(array))
    assert loaded.geometry.spacing == spacing and loaded.geometry.origin == origin
    assert loaded.geometry.direction == direction
    raw = values.astype(float) if values.dtype.kind == "f" else np.zeros(1)
    assert loaded.n_nonfinite == int(np.sum(~np.isfinite(raw)))
    assert loaded.array.flags.owndata or loaded.array.base.flags.owndata
    assert loaded.array.flags.writeable


@pytest.mark.parametrize("inflater", ["zlib", "isal", "zlib-ng"])
def test_every_inflater_gives_the_same_voxels(tmp_path, monkeypatch, inflater):
    # Plain import: isal and zlib-ng are in the test extra, so a broken install fails.
    importlib.import_module({"zlib": "zlib", "isal": "isal", "zlib-ng": "zlib_ng"}[inflater])
    rng = np.random.default_rng(3)
    values = (rng.random((7, 30, 20)) > 0.8).astype(np.float32)
    path = write_nifti(tmp_path / "x.nii.gz", values, pixdim=(0.9, 0.9, 3.0))
    monkeypatch.setenv("WMHEVAL_INFLATER", inflater)
    assert images._inflater_module().__name__.replace("_", "-").split(".")[-1] in (
        inflater, "isal-zlib", "zlib-ng")
    np.testing.assert_array_equal(read_image(path).array, sitk_reference(path)[0])


def test_the_array_owns_its_memory_after_every_other_reference_is_dropped(tmp_path):
    rng = np.random.default_rng(0)
    for name, writer in (("a.nii.gz", "sitk"), ("b.nii", "sitk"), ("c.mha", "sitk")):
        values = rng.integers(0, 3, size=(6, 40, 30)).astype(np.uint8)
        sitk.WriteImage(sitk.GetImageFromArray(values), str(tmp_path / name),
                        useCompression=name.endswith(".gz"))
        array = read_image(tmp_path / name).array  # the LoadedImage is dropped at once
        gc.collect()
        clobber = [np.full(values.shape, 255, np.uint8) for _ in range(20)]  # reuse memory
        np.testing.assert_array_equal(array, values, err_msg=f"{name} ({writer})")
        assert array.flags.writeable
        del clobber


# --- damaged files: every defect of the issue has a generated file ---------------------------

def ok_values():
    values = np.zeros((4, 8, 8), np.uint8)
    values[1:3, 2:5, 2:5] = 1
    return values


def test_valid_gzip_around_short_voxel_data_is_rejected(tmp_path):
    data = nifti1_bytes(ok_values())
    path = tmp_path / "short.nii.gz"
    path.write_bytes(gzip.compress(data[:-40]))  # a perfectly valid gzip of too few bytes
    with pytest.raises(ImageError, match=r"short.nii.gz: truncated .*needs 608"):
        read_image(path)


def test_datatype_wider_than_bitpix_is_rejected(tmp_path):
    values = ok_values()
    header = nifti1_header(values.shape[::-1], datatype=16, bitpix=8)  # float32, 8 bits
    path = tmp_path / "wide.nii.gz"
    path.write_bytes(gzip.compress(header + values.tobytes()))
    with pytest.raises(ImageError, match="wide.nii.gz: bitpix is 8 but datatype 16"):
        read_image(path)


@pytest.mark.parametrize("sizeof_hdr", [0, 347, 349, 1000])
def test_sizeof_hdr_other_than_348_is_rejected(tmp_path, sizeof_hdr):
    path = write_nifti(tmp_path / "hdr.nii.gz", ok_values(), sizeof_hdr=sizeof_hdr)
    with pytest.raises(ImageError, match=f"hdr.nii.gz: .*sizeof_hdr is {sizeof_hdr}"):
        read_image(path)


def test_a_damaged_deflate_stream_with_a_matching_trailer_is_rejected(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2, size=(4, 32, 32)).astype(np.uint8)
    compressed = bytearray(gzip.compress(nifti1_bytes(values), mtime=0))
    assert struct.unpack("<I", compressed[-4:])[0] == 352 + values.size  # ISIZE matches
    for offset in range(40, len(compressed) - 8, 97):  # flip bits in the deflate body
        damaged = bytearray(compressed)
        damaged[offset] ^= 0x10
        path = tmp_path / f"flip{offset}.nii.gz"
        path.write_bytes(bytes(damaged))
        try:
            loaded = read_image(path)
        except ImageError as error:
            assert path.name in str(error)
        else:  # only possible if the damage left the inflated bytes intact
            np.testing.assert_array_equal(loaded.array, values)


@pytest.mark.parametrize("vox_offset, message", [
    (348.0, "vox_offset is 348, must be 352"), (0.0, "vox_offset is 0"),
    (math.nan, "vox_offset is nan"), (math.inf, "vox_offset is inf"),
    (-math.inf, "vox_offset is -inf"), (1e30, "must be 352 to"), (360.5, "not a whole"),
])
def test_bad_vox_offset_is_rejected_with_the_field_named(tmp_path, vox_offset, message):
    path = write_nifti(tmp_path / "off.nii.gz", ok_values(), vox_offset=vox_offset)
    with pytest.raises(ImageError, match=f"off.nii.gz: .*{message}"):
        read_image(path)


def test_nifti2_is_reported_as_unsupported(tmp_path):
    path = tmp_path / "two.nii.gz"
    path.write_bytes(gzip.compress(struct.pack("<i", 540) + b"n+2\0" + bytes(536)))
    with pytest.raises(ImageError, match="two.nii.gz: NIfTI-2 files are not supported"):
        read_image(path)


def test_a_gzip_bomb_is_refused_before_inflating_with_bounded_memory(tmp_path):
    header = nifti1_header((1024, 1024, 1024), datatype=2, bitpix=8)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    body = [compressor.compress(header)]
    body += [compressor.compress(chunk) for _ in range(64)]  # 64 MiB of zeros, ~64 KiB
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(b"".join(body) + compressor.flush())
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match=r"bomb.nii.gz: size \(1024, 1024, 1024\) differs"):
            read_image(path, expected_size=(256, 256, 48))
        with pytest.raises(ImageError, match="more than the"):
            read_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes"


@pytest.mark.parametrize("kind", ["fifo", "dangling", "loop", "devzero", "folder"])
def test_special_files_are_named_for_what_they_are(tmp_path, kind):
    path = tmp_path / "p.nii.gz"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "FIFO"
    elif kind == "dangling":
        os.symlink(tmp_path / "nowhere.nii.gz", path)
        expected = "broken symbolic link"
    elif kind == "loop":
        os.symlink(path, path)
        expected = "symbolic link loop"
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
        expected = "character device"
    else:
        path.mkdir()
        expected = "folder"
    with pytest.raises(ImageError, match=f"p.nii.gz: .*{expected}"):
        read_image(path)


def test_trailing_garbage_and_a_missing_trailer_are_rejected(tmp_path):
    compressed = gzip.compress(nifti1_bytes(ok_values()), mtime=0)
    (tmp_path / "tail.nii.gz").write_bytes(compressed + b"junk")
    with pytest.raises(ImageError, match="tail.nii.gz: .*4 bytes of other data"):
        read_image(tmp_path / "tail.nii.gz")
    (tmp_path / "cut.nii.gz").write_bytes(compressed[:-6])
    with pytest.raises(ImageError, match="cut.nii.gz: truncated or corrupt"):
        read_image(tmp_path / "cut.nii.gz")
    # Concatenated gzip members are one valid stream (zlib, and so ITK, read them).
    data = nifti1_bytes(ok_values())
    (tmp_path / "two.nii.gz").write_bytes(gzip.compress(data[:500]) + gzip.compress(data[500:]))
    np.testing.assert_array_equal(read_image(tmp_path / "two.nii.gz").array, ok_values())


def test_extra_bytes_after_the_data_are_a_warning_not_a_silent_pass(tmp_path):
    path = tmp_path / "extra.nii.gz"
    path.write_bytes(gzip.compress(nifti1_bytes(ok_values()) + bytes(10)))
    loaded = read_image(path)
    np.testing.assert_array_equal(loaded.array, sitk_reference(path)[0])
    assert loaded.warnings == ["10 bytes after the voxel data (ignored, as ITK does)"]


def test_gzip_data_in_a_plain_nii_name_is_rejected_as_itk_would(tmp_path):
    path = write_nifti(tmp_path / "z.nii", ok_values(), compress=True)
    with pytest.raises(RuntimeError):
        sitk.ReadImage(str(path))
    with pytest.raises(ImageError, match="z.nii: gzip-compressed data"):
        read_image(path)


def test_non_utf8_and_itk_messages_without_addresses(tmp_path):
    name = os.fsdecode(b"caf\xe9.nii.gz")
    path = write_nifti(tmp_path / name, ok_values())
    loaded = read_image(path)  # SimpleITK alone aborts the process on such a name
    np.testing.assert_array_equal(loaded.array, ok_values())
    assert images.itk_message(RuntimeError(
        "itk::ERROR: ImageFileReader(0x55d0c1a2b3c0): Could not create IO")) == (
        "itk::ERROR: ImageFileReader: Could not create IO")
    assert "0x" not in images.itk_message(RuntimeError("ERROR: at 0x7ffdeadbeef0 failed"))
