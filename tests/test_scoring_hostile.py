"""Scoring hostile submissions: every defect of issue 14 has a generated case here."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nifti_factory import nifti1_bytes
from test_scoring_folder import TEST_IDS, good_prediction, write_submission
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.io.layouts import index_submission, walk_tree
from wmheval.io.outputs import MANIFEST_NAME
from wmheval.pipelines.score import score_to_dir
from wmheval.scoring import score_folder

runner = CliRunner()


def cases_of(result) -> pd.DataFrame:
    return result.cases.set_index("id")


# --- tree walking -------------------------------------------------------------------------

@pytest.mark.parametrize("kind, expected", [
    ("fifo", "FIFO"), ("devzero", "symbolic link to a character device"),
    ("dangling", "broken symbolic link"), ("loop", "symbolic link loop"),
    ("folder", "not a regular file but a folder"),
])
def test_a_non_file_named_like_a_prediction_fails_its_case_with_the_reason(
        release_tree, tmp_path, kind, expected):
    submission = write_submission(tmp_path / "sub")
    target = submission / "1" / "result.nii.gz"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "devzero":
        os.symlink("/dev/zero", target)
    elif kind == "dangling":
        os.symlink(tmp_path / "gone.nii.gz", target)
    elif kind == "loop":
        os.symlink(target, target)
    else:
        target.mkdir()
    row = cases_of(score_folder(release_tree, submission, jobs=1)).loc["1"]
    assert row["status"] == "error", "was silently 'no prediction' before"
    assert str(target) in row["error"] and expected in row["error"]


def test_non_files_that_are_not_predictions_are_listed_by_name(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    os.mkfifo(submission / "notes.fifo")
    os.symlink(tmp_path / "nowhere", submission / "broken")
    os.symlink(submission, submission / "3" / "up")  # a loop back up the tree
    result = score_folder(release_tree, submission, jobs=1)
    problems = dict(zip(result.unmatched["path"], result.unmatched["problem"], strict=True))
    assert "FIFO" in problems[str(submission / "notes.fifo")]
    assert problems[str(submission / "broken")] == "broken symbolic link"
    assert "loop" in problems[str(submission / "3" / "up")]
    assert (result.cases["status"] == "ok").all()


def test_a_prediction_1100_folders_deep_is_found_without_recursion(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub", ids=["3", "150", "160"])
    deep = submission
    for _ in range(1100):
        deep = deep / "d"
        deep.mkdir()
    (deep / "1").mkdir()
    (deep / "1" / "result.nii.gz").write_bytes(
        (submission / "3" / "result.nii.gz").read_bytes())
    try:
        result = score_folder(release_tree, submission, jobs=1)
        assert cases_of(result).loc["1", "status"] == "ok"
    finally:  # shutil.rmtree (and so pytest's clean-up) recurses once per level
        (deep / "1" / "result.nii.gz").unlink()
        (deep / "1").rmdir()
        while deep != submission:
            deep.rmdir()
            deep = deep.parent


def test_a_path_longer_than_4096_bytes_is_reported_not_fatal(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    fd = os.open(submission, os.O_RDONLY)
    try:
        for _ in range(20):  # 20 x 250 bytes: deeper than PATH_MAX
            os.mkdir("x" * 249, dir_fd=fd)
            new = os.open("x" * 249, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        with open(os.open("extra.nii.gz", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as f:
            f.write(b"data")
    finally:
        os.close(fd)
    result = score_folder(release_tree, submission, jobs=1)
    assert (result.cases["status"] == "ok").all()
    assert result.unmatched["problem"].str.contains("longer than the system allows").any()


def test_non_utf8_names_are_scored_and_written_everywhere(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    stray = submission / os.fsdecode(b"r\xe9sum\xe9.dat")  # (a .txt is a document: no problem)
    stray.write_text("x")
    (submission / os.fsdecode(b"notes_\xe9.txt")).write_text("x")
    weird = submission / os.fsdecode(b"\xff\xfe.nii.gz")  # a prediction for no subject
    weird.write_bytes((submission / "1" / "result.nii.gz").read_bytes())
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-o", str(out),
                                 "-j", "1"])
    assert result.exit_code == 1, result.output  # stray files are problems, not crashes
    unmatched = pd.read_csv(out / "unmatched.csv", encoding="utf-8")
    assert any(p.endswith("r\\xe9sum\\xe9.dat") for p in unmatched["path"])
    assert any("\\xff\\xfe.nii.gz" in p for p in unmatched["path"])
    assert "r\\xe9sum\\xe9.dat" in result.output
    assert "notes_\\xe9.txt" in result.output  # the document's note, printable


def test_a_non_utf8_subject_folder_is_scored(tmp_path):
    from conftest import blob_labels
    from nifti_factory import write_nifti

    name = os.fsdecode(b"subj\xe9")  # SimpleITK itself aborts on such names
    write_nifti(tmp_path / "ref" / name / "wmh.nii.gz", blob_labels(seed=1))
    write_nifti(tmp_path / "sub" / name / "result.nii.gz",
                (blob_labels(seed=1) == 1).astype(np.uint8))
    result = score_to_dir(tmp_path / "ref", tmp_path / "sub", tmp_path / "out", jobs=2)
    assert list(result.cases["id"]) == ["subj\\xe9"]
    assert result.cases["status"].tolist() == ["ok"] and result.cases["dice"].iloc[0] == 1.0
    assert pd.read_csv(tmp_path / "out" / "cases.csv")["id"].tolist() == ["subj\\xe9"]


# --- reference side, messages ---------------------------------------------------------------

def test_a_reference_with_a_bad_vox_offset_is_blamed_on_the_reference(release_tree, tmp_path):
    reference = release_tree / "test" / "Utrecht" / "3" / "wmh.nii.gz"
    raw = bytearray(gzip.decompress(reference.read_bytes()))
    raw[108:112] = np.float32(348.0).tobytes()
    reference.write_bytes(gzip.compress(bytes(raw)))
    row = cases_of(score_folder(release_tree, write_submission(tmp_path / "sub"),
                                jobs=1)).loc["3"]
    assert row["status"] == "error"
    assert row["error"].startswith(f"reference {reference}: vox_offset is 348")


def test_a_fifo_reference_is_named_as_a_fifo(release_tree, tmp_path):
    reference = release_tree / "test" / "Utrecht" / "3" / "wmh.nii.gz"
    reference.unlink()
    os.mkfifo(reference)
    row = cases_of(score_folder(release_tree, write_submission(tmp_path / "sub"),
                                jobs=1)).loc["3"]
    assert row["error"] == f"reference {reference}: not a regular file but a FIFO (named pipe)"


def test_cases_csv_is_identical_across_runs_and_job_counts(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    (submission / "1" / "result.nii.gz").write_bytes(b"\x1f\x8b garbage that ITK rejects")
    (submission / "3" / "result.nii.gz").write_bytes(b"not an image")
    tables = []
    for run, jobs in enumerate((1, 2, 2)):
        out = tmp_path / f"out{run}"
        score_to_dir(release_tree, submission, out, jobs=jobs, cache=None)
        tables.append((out / "cases.csv").read_bytes())
    assert tables[0] == tables[1] == tables[2]
    assert b"0x" not in tables[0]


# --- corrupt data is never scored ok -----------------------------------------------------------

def test_corrupt_predictions_are_errors_not_ok(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    values = good_prediction("1")
    data = nifti1_bytes(values, pixdim=(0.96, 0.96, 3.0))
    (submission / "1" / "result.nii.gz").write_bytes(gzip.compress(data[:-10]))
    wide = bytearray(data)
    wide[70:74] = np.array([16, 8], "<i2").tobytes()  # float32 datatype, bitpix 8
    (submission / "3" / "result.nii.gz").write_bytes(gzip.compress(bytes(wide)))
    shifted = bytearray(data)
    shifted[108:112] = np.float32(348).tobytes()
    (submission / "150" / "result.nii.gz").write_bytes(gzip.compress(bytes(shifted)))
    result = cases_of(score_folder(release_tree, submission, jobs=1))
    assert result.loc[["1", "3", "150"], "status"].tolist() == ["error"] * 3
    assert "truncated" in result.loc["1", "error"]
    assert "bitpix is 8 but datatype 16" in result.loc["3", "error"]
    assert "vox_offset is 348" in result.loc["150", "error"]
    assert result.loc["160", "status"] == "ok"


# --- output sets -----------------------------------------------------------------------------

def test_out_inside_the_submission_is_not_indexed_on_a_rerun(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    out = submission / "scores"
    for _ in range(2):
        result = score_to_dir(release_tree, submission, out, jobs=1)
        assert result.ok, result.unmatched
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["command"] == "score"
    assert {f["path"] for f in manifest["files"]} >= {"cases.csv", "summary.csv"}


def test_a_rerun_replaces_stale_files_and_records_inputs(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    (submission / "stray.bin").write_text("x")
    out = tmp_path / "out"
    score_to_dir(release_tree, submission, out, jobs=1)
    assert pd.read_csv(out / "unmatched.csv")["path"].map(
        lambda p: Path(p).name).tolist() == ["stray.bin"]
    first = json.loads((out / MANIFEST_NAME).read_text())["inputs"]["submission"]["sha256"]
    (submission / "stray.bin").unlink()
    (submission / "1" / "result.nii.gz").write_bytes(
        (submission / "3" / "result.nii.gz").read_bytes())
    score_to_dir(release_tree, submission, out, jobs=1)
    assert not (out / "unmatched.csv").exists()
    second = json.loads((out / MANIFEST_NAME).read_text())["inputs"]["submission"]["sha256"]
    assert first != second


@pytest.mark.parametrize("where", ["file", "below_file", "foreign", "full_disk", "read_only"])
def test_an_unwritable_out_exits_2_with_a_message(release_tree, tmp_path, where, monkeypatch):
    submission = write_submission(tmp_path / "sub")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = {"file": blocker, "below_file": blocker / "out", "foreign": tmp_path / "mine",
           "full_disk": tmp_path / "out", "read_only": tmp_path / "ro" / "out"}[where]
    if where == "foreign":
        out.mkdir()
        (out / "thesis.tex").write_text("keep me")
    if where == "full_disk":
        from wmheval.io import tables

        def full(target, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

        monkeypatch.setattr(tables, "write_text_atomic", full)
    if where == "read_only":  # tests may run as root, where chmod does not stop writes
        from wmheval.io import outputs

        real_mkdtemp = outputs.tempfile.mkdtemp

        def read_only(*args, **kwargs):
            if str(kwargs.get("dir", "")).endswith("ro"):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), kwargs["dir"])
            return real_mkdtemp(*args, **kwargs)

        monkeypatch.setattr(outputs.tempfile, "mkdtemp", read_only)
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-o", str(out),
                                 "-j", "1", "-q"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and str(out) in result.output
    assert blocker.read_text() == "x"
    if where == "foreign":
        assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    if where == "full_disk":
        assert "No space left" in result.output and not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".wmheval-" in p.name]


# --- cache ---------------------------------------------------------------------------------

def test_the_cache_skips_unchanged_cases_and_gives_identical_tables(release_tree, tmp_path,
                                                                   monkeypatch):
    from wmheval.scoring import case as case_module

    submission = write_submission(tmp_path / "sub")
    cache = tmp_path / "cache"
    fresh = score_folder(release_tree, submission, jobs=1, cache=None).cases
    first = score_folder(release_tree, submission, jobs=1, cache=cache).cases
    pd.testing.assert_frame_equal(fresh, first)
    calls = []
    real = case_module.evaluate_files

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(case_module, "evaluate_files", counting)
    second = score_folder(release_tree, submission, jobs=1, cache=cache).cases
    pd.testing.assert_frame_equal(fresh, second)
    assert calls == []
    # Change one prediction: only that case is scored again, and its row changes.
    (submission / "1" / "result.nii.gz").write_bytes(
        (submission / "3" / "result.nii.gz").read_bytes())
    third = score_folder(release_tree, submission, jobs=1, cache=cache).cases
    assert [Path(c).parent.name for c in calls] == ["1"]
    assert third.set_index("id").loc["1", "dice"] != fresh.set_index("id").loc["1", "dice"]
    # Other options are another key.
    calls.clear()
    score_folder(release_tree, submission, jobs=1, cache=cache, rule="nonzero")
    assert len(calls) == len(TEST_IDS)


def test_cli_no_cache_scores_afresh(release_tree, tmp_path, monkeypatch):
    submission = write_submission(tmp_path / "sub")
    cache = tmp_path / "cache"
    args = ["score", str(release_tree), str(submission), "-j", "1", "-q", "--cache", str(cache)]
    assert runner.invoke(app, args).exit_code == 0
    assert len(list(cache.rglob("*.json"))) == len(TEST_IDS)
    other = tmp_path / "other"
    assert runner.invoke(app, [*args[:-1], str(other), "--no-cache"]).exit_code == 0
    assert not other.exists()


# --- process faults --------------------------------------------------------------------------

def test_workers_die_when_their_parent_is_killed(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    script = textwrap.dedent(f"""
        import os, time
        from wmheval.parallel import parallel_map

        def work(i):
            open(os.path.join({str(pids)!r}, str(os.getpid())), "w").close()
            time.sleep(120)

        if __name__ == "__main__":
            parallel_map(work, list(range(4)), jobs=2)
    """)
    (tmp_path / "run.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    parent = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [pid for pid in workers if _alive(pid)]
        assert alive == [], "orphaned workers"
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- Dask -------------------------------------------------------------------------------------

def test_dask_results_equal_the_local_pool(release_tree, tmp_path):
    import dask.distributed as distributed  # the test extra: a broken install fails
    submission = write_submission(tmp_path / "sub", ids=["1", "3", "150"])
    (submission / "3" / "result.nii.gz").write_bytes(b"broken")
    local = score_folder(release_tree, submission, jobs=2).cases
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        on_cluster = score_folder(release_tree, submission, jobs=2,
                                  scheduler=cluster.scheduler_address).cases
    pd.testing.assert_frame_equal(local, on_cluster)


def test_dask_local_cluster_from_the_cli(release_tree, tmp_path):
    import dask.distributed  # noqa: F401  (the test extra: a broken install fails)
    submission = write_submission(tmp_path / "sub")
    out_local, out_dask = tmp_path / "a", tmp_path / "b"
    common = ["score", str(release_tree), str(submission), "-q", "--no-cache"]
    assert runner.invoke(app, [*common, "-o", str(out_local), "-j", "1"]).exit_code == 0
    result = runner.invoke(app, [*common, "-o", str(out_dask), "-j", "1", "--scheduler",
                                 "local"])
    assert result.exit_code == 0, result.output
    assert (out_local / "cases.csv").read_bytes() == (out_dask / "cases.csv").read_bytes()


def test_an_unreachable_scheduler_exits_2(release_tree, tmp_path, monkeypatch):
    import dask.distributed  # noqa: F401  (the test extra: a broken install fails)

    from wmheval import distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", "1s")
    submission = write_submission(tmp_path / "sub", ids=["1"])
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-q",
                                 "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "Dask scheduler" in result.output


def test_walk_tree_is_sorted_and_skips_hidden_and_output_sets(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("1")
    (tmp_path / "a").write_text("1")
    (tmp_path / ".hidden").write_text("1")
    (tmp_path / "old_out").mkdir()
    (tmp_path / "old_out" / MANIFEST_NAME).write_text("{}")
    (tmp_path / "old_out" / "cases.csv").write_text("x")
    assert [e.path.relative_to(tmp_path).as_posix() for e in walk_tree(tmp_path)] == ["a",
                                                                                        "b/x"]
    assert index_submission(tmp_path).predictions == {}
