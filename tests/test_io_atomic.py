"""Atomic writes: all or nothing, usual permissions, no temporary files left behind."""

from __future__ import annotations

import os
import stat

import pytest

from wmheval.io.atomic import atomic_path, write_text_atomic


def test_written_file_has_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a" / "table.csv", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == "x\n"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "table.csv", "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_the_temporary_name_keeps_the_suffixes(tmp_path):
    with atomic_path(tmp_path / "image.nii.gz") as temporary:
        assert temporary.name.endswith(".nii.gz") and temporary.parent == tmp_path
        temporary.write_bytes(b"data")
    assert (tmp_path / "image.nii.gz").read_bytes() == b"data"
