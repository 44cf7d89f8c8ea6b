"""A seeded fuzz campaign: hundreds of damaged NIfTI files scored one case at a time.

Every file must give a row (no exception escapes ``score_case``), every error must name the
file, and a file scored ``ok`` must be complete by an independent literal check (Python's
gzip module and the header arithmetic) and be read by SimpleITK, the official reader, to
exactly the voxels that were scored.
"""

from __future__ import annotations

import gzip
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from nifti_factory import nifti1_bytes

from wmheval.io.images import read_image
from wmheval.scoring.case import SCORED_STATUSES, CaseTask, score_case

N_FILES = 320
SEED = 20170917
BITS = {2: 8, 4: 16, 8: 32, 16: 32, 64: 64, 256: 8, 512: 16, 768: 32, 1024: 64, 1280: 64}


def base_images() -> tuple[bytes, bytes]:
    rng = np.random.default_rng(7)
    reference = np.zeros((4, 12, 12), np.float32)
    reference[1:3, 3:8, 3:8] = 1
    reference[0, :2, -2:] = 2
    prediction = (rng.random((4, 12, 12)) > 0.85).astype(np.uint8)
    prediction[1:3, 4:8, 4:8] = 1
    fields = {"pixdim": (0.96, 0.96, 3.0), "qform_code": 1, "sform_code": 1,
              "srow": ((-0.96, 0, 0, 10), (0, -0.96, 0, 20), (0, 0, 3, -5)),
              "qoffset": (10.0, 20.0, -5.0), "quatern": (0.0, 0.0, 1.0)}
    return nifti1_bytes(reference, **fields), nifti1_bytes(prediction, **fields)


def _set(raw: bytearray, offset: int, fmt: str, *values) -> None:
    struct.pack_into("<" + fmt, raw, offset, *values)


def mutate(raw: bytes, rng: random.Random) -> tuple[bytes, bool]:
    """One damaged variant of an uncompressed NIfTI file: (bytes, gzip-compress it?)."""
    data = bytearray(raw)
    compress = rng.random() < 0.75
    kind = rng.randrange(16)
    if kind == 0:  # random header bytes
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(352)] = rng.randrange(256)
    elif kind == 1:
        _set(data, 0, "i", rng.choice([0, 347, 349, 540, -348, 2**31 - 1]))
    elif kind == 2:
        _set(data, 40, "h", rng.choice([0, 2, 4, 5, 8, -1, 300]))
    elif kind == 3:
        _set(data, 40 + 2 * rng.randint(1, 3), "h", rng.choice([0, -1, 1, 13, 1000, 32767]))
    elif kind == 4:
        _set(data, 70, "h", rng.choice([0, 1, 3, 16, 32, 64, 128, 1536, 2304, 4096]))
    elif kind == 5:
        _set(data, 72, "h", rng.choice([0, 1, 7, 16, 24, 32, 64, -8]))
    elif kind == 6:
        _set(data, 108, "f", rng.choice([0.0, 100.0, 348.0, 351.0, 352.5, 360.0, 1e9,
                                         float("nan"), float("inf"), -352.0, 2.0**40]))
    elif kind == 7:
        _set(data, 112, "2f", rng.choice([0.0, 1.0, 2.0, float("nan"), -1.0, 1e30]),
             rng.choice([0.0, 1.0, -0.5, float("nan"), float("inf")]))
    elif kind == 8:
        data[344:348] = rng.choice([b"ni1\0", b"n+2\0", b"\0\0\0\0", b"n+1x"])
    elif kind == 9:  # short or long data
        cut = rng.randint(0, len(data) - 1)
        data = data[:cut] if rng.random() < 0.7 else data + bytes(rng.randint(1, 50))
    elif kind == 10:  # qform/sform damage
        _set(data, 252, "2h", rng.randint(-1, 5), rng.randint(-1, 5))
        _set(data, 256, "3f", *(rng.uniform(-2, 2) for _ in range(3)))
    elif kind == 11:  # pixdim damage
        _set(data, 76 + 4 * rng.randint(0, 3), "f",
             rng.choice([0.0, -1.0, float("nan"), 1e-30, 1e30]))
    elif kind == 12:  # random bytes or empty
        data = bytearray(rng.randbytes(rng.choice([0, 1, 3, 100, 400, 800])))
    elif kind == 13:  # byte-swapped header, or a big-endian file
        data[0:4] = struct.pack(">i", 348)
    elif kind == 14:  # datatype and bitpix consistent but a different type than the data
        code = rng.choice(sorted(BITS))
        _set(data, 70, "2h", code, BITS[code])
    else:
        compress = True
    if not compress:
        return bytes(data), False
    packed = bytearray(gzip.compress(bytes(data), mtime=0))
    damage = rng.randrange(6) if kind == 15 else rng.choice([None, None, None, 0])
    if damage == 0:  # flip a bit in the deflate body
        position = rng.randrange(10, max(11, len(packed) - 8))
        packed[position] ^= 1 << rng.randrange(8)
    elif damage == 1:  # truncate the stream
        packed = packed[: rng.randrange(len(packed))]
    elif damage == 2:  # wrong CRC
        packed[-8] ^= 0xFF
    elif damage == 3:  # wrong ISIZE
        packed[-4] ^= 0x01
    elif damage == 4:  # trailing junk
        packed += rng.randbytes(rng.randint(1, 20))
    elif damage == 5:  # a bare deflate stream without gzip framing
        packed = bytearray(zlib.compress(bytes(data)))
    return bytes(packed), True


def literal_complete(path: Path) -> bool:
    """Independent check: gzip (CRC) intact and the header's voxel data all present."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return False
    if len(raw) < 348 or struct.unpack("<i", raw[:4])[0] != 348:
        return False
    dims = struct.unpack("<8h", raw[40:56])
    datatype, bitpix = struct.unpack("<2h", raw[70:74])
    (vox_offset,) = struct.unpack("<f", raw[108:112])
    if BITS.get(datatype) != bitpix or not 352 <= vox_offset < len(raw):
        return False
    n_voxels = int(np.prod([d for d in dims[1:dims[0] + 1]]))
    return len(raw) >= int(vox_offset) + n_voxels * bitpix // 8


@pytest.fixture(scope="module")
def fuzz_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    reference_raw, prediction_raw = base_images()
    reference = folder / "reference" / "wmh.nii.gz"
    reference.parent.mkdir()
    reference.write_bytes(gzip.compress(reference_raw))
    rng = random.Random(SEED)
    files = []
    for index in range(N_FILES):
        on_reference = index % 8 == 0
        data, compressed = mutate(reference_raw if on_reference else prediction_raw, rng)
        name = f"{index:03d}{'_ref' if on_reference else ''}.nii{'.gz' if compressed else ''}"
        path = folder / name
        path.write_bytes(data)
        files.append((path, on_reference))
    return reference, files


def test_fuzzed_files_never_escape_and_are_never_scored_ok_when_corrupt(fuzz_files):
    reference, files = fuzz_files
    _, clean_prediction = base_images()
    statuses = {"ok": 0, "error": 0}
    for path, on_reference in files:
        task = CaseTask(id=path.name,
                        reference_path=path if on_reference else reference,
                        prediction_path=reference.with_name("clean.nii") if on_reference
                        else path)
        if on_reference and not task.prediction_path.exists():
            task.prediction_path.write_bytes(clean_prediction)
        row = score_case(task)  # any unexpected exception fails the test here
        assert row["status"] in (*SCORED_STATUSES, "error"), row
        if row["status"] == "error":
            statuses["error"] += 1
            assert str(path) in row["error"], row["error"]
            continue
        statuses["ok"] += 1
        assert literal_complete(path), f"{path.name} is corrupt but scored {row['status']}"
        # What was scored is exactly what the official reader sees.
        official = sitk.ReadImage(str(path))
        loaded = read_image(path)
        np.testing.assert_array_equal(loaded.array, sitk.GetArrayFromImage(official))
        assert loaded.geometry.spacing == official.GetSpacing()
        assert loaded.geometry.direction == official.GetDirection()
        assert loaded.geometry.origin == official.GetOrigin()
    # The campaign exercises both outcomes.
    assert statuses["error"] > N_FILES // 2 and statuses["ok"] > 10, statuses
