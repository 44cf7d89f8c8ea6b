"""`wmheval score REF SUBMISSION` with the submission as an archive (issue 27 item 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from archive_corpus import Entry, raw_zip
from test_scoring_folder import bad_submission, write_submission
from typer.testing import CliRunner

from wmheval.cli.main import app

runner = CliRunner()
METRIC_COLUMNS = ["dice", "h95", "avd", "recall", "f1"]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The system temporary folder for this test, to see what scoring leaves there."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def pack(folder: Path, archive: Path, top: str | None = "my_team") -> Path:
    """``folder``'s files in ``archive`` (zip, tar or tar.gz by its suffix), under ``top``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    prefix = f"{top}/" if top else ""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in files:
                out.write(path, prefix + path.relative_to(folder).as_posix())
    else:
        with tarfile.open(archive, "w:gz" if archive.name.endswith("gz") else "w") as out:
            for path in files:
                out.add(path, prefix + path.relative_to(folder).as_posix())
    return archive


@pytest.mark.parametrize("name, top", [("sub.zip", "my_team"), ("sub.tar", None),
                                       ("sub.tar.gz", "my_team"), ("sub.tgz", None)])
def test_an_archive_scores_as_its_folder(release_tree, tmp_path, private_tmp, name, top):
    submission = write_submission(tmp_path / "sub")
    archive = pack(submission, tmp_path / name, top)
    runs = {}
    for label, source in (("folder", submission), ("archive", archive)):
        result = runner.invoke(app, ["score", str(release_tree), str(source), "--out",
                                     str(tmp_path / label), "-j", "1", "-q", "--no-cache"])
        assert result.exit_code == 0, result.output
        runs[label] = pd.read_csv(tmp_path / label / "cases.csv", dtype={"id": str})
    folder, packed = runs["folder"], runs["archive"]
    assert list(packed["id"]) == list(folder["id"]) == ["1", "3", "150", "160"]
    assert (packed["status"] == "ok").all()
    np.testing.assert_array_equal(packed[METRIC_COLUMNS].to_numpy(),
                                  folder[METRIC_COLUMNS].to_numpy())
    assert 0.5 < packed["dice"].min() < 1  # one voxel flipped per case: real values
    inner = f"{top}/" if top else ""
    assert list(packed["prediction_path"]) == [
        f"{archive}:{inner}{case}/result.nii.gz" for case in ["1", "3", "150", "160"]]
    manifest = json.loads((tmp_path / "archive" / "wmheval_manifest.json").read_text())
    assert manifest["inputs"]["submission"]["path"] == str(archive)
    folder_manifest = json.loads((tmp_path / "folder" / "wmheval_manifest.json").read_text())
    if top is None:  # the same files under the same names: the same digest
        assert manifest["inputs"]["submission"]["sha256"] == \
            folder_manifest["inputs"]["submission"]["sha256"]
    assert os.listdir(private_tmp) == []  # the staging folder is gone


def test_problems_inside_an_archive_name_its_members(release_tree, tmp_path, private_tmp):
    archive = pack(bad_submission(tmp_path), tmp_path / "bad.zip", top=None)
    result = runner.invoke(app, ["score", str(release_tree), str(archive), "-j", "1",
                                 "--no-cache"])
    assert result.exit_code == 1
    assert f"{archive}:150/result.nii.gz" in result.output  # truncated gzip, as a case
    assert f"{archive}:README.txt" in result.output
    assert "wmheval-submission-" not in result.output
    assert os.listdir(private_tmp) == []


def test_a_hostile_archive_exits_2_with_one_line(release_tree, tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(raw_zip([Entry(b"1/result.nii.gz", b"x"),
                                 Entry(b"../../escaped.nii.gz", b"y")]))
    env = {**os.environ, "TMPDIR": str(tmp_path / "systmp")}
    (tmp_path / "systmp").mkdir()
    before = sorted(os.listdir(tmp_path))
    done = subprocess.run([sys.executable, "-m", "wmheval.cli.main", "score",
                           str(release_tree), str(archive), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stdout.strip() == ""  # rich ends its transient progress with a newline
    assert done.stderr == ("error: evil.zip: archive rejected: member "
                           "'../../escaped.nii.gz': '..' path component [path]\n")
    assert sorted(os.listdir(tmp_path)) == before  # no --out, nothing escaped
    assert os.listdir(tmp_path / "systmp") == []


@pytest.mark.parametrize("name, advice", [
    ("1.nii.gz", "mkdir sub && mv {path} sub/1.nii.gz"),
    ("prediction.nii", "mkdir sub && mv {path} sub/<id>.nii"),
])
def test_a_single_image_gets_the_next_step(release_tree, tmp_path, name, advice):
    import gzip

    path = tmp_path / name
    data = b"\x5c\x01\x00\x00" + bytes(400)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    result = runner.invoke(app, ["score", str(release_tree), str(path)])
    assert result.exit_code == 2
    assert "a single image, not a submission" in result.output
    assert advice.format(path=path) in result.output
    assert "Traceback" not in result.output


def test_an_html_page_saved_as_zip_is_refused_by_its_bytes(release_tree, tmp_path):
    page = tmp_path / "download.zip"
    page.write_text("<html><body>Sign in to continue</body></html>")
    result = runner.invoke(app, ["score", str(release_tree), str(page)])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: download.zip: archive rejected: not a zip, tar "
                                     "or tar.gz archive (by its first bytes) [not-archive]")


def test_another_file_is_not_a_submission(release_tree, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = runner.invoke(app, ["score", str(release_tree), str(notes)])
    assert result.exit_code == 2
    assert "not a submission folder, nor a .zip, .tar or .tar.gz archive" in result.output


def test_the_temporary_folder_goes_also_on_an_interrupt(tmp_path, private_tmp):
    from wmheval.io.archives import extracted_submission

    archive = tmp_path / "sub.zip"
    archive.write_bytes(raw_zip([Entry(b"1/result.nii.gz", b"x" * 100)]))
    with pytest.raises(KeyboardInterrupt), extracted_submission(archive) as (folder, kind):
        assert kind == "zip" and (folder / "1" / "result.nii.gz").read_bytes() == b"x" * 100
        assert str(folder).startswith(str(private_tmp))
        raise KeyboardInterrupt
    assert os.listdir(private_tmp) == []
    with extracted_submission(tmp_path) as (folder, kind):  # a folder passes through
        assert (folder, kind) == (tmp_path, None)
