"""Output sets: replaced as a whole with a manifest, or left untouched; locked; cleaned."""

from __future__ import annotations

import errno
import hashlib
import html
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wmheval.io import outputs
from wmheval.io.outputs import MANIFEST_NAME, OutputSetError, file_digest, output_set


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_a_set_is_written_with_a_manifest_of_its_files_and_inputs(tmp_path):
    source = tmp_path / "input.txt"
    source.write_bytes(b"abc")
    out = tmp_path / "deep" / "out"
    with output_set(out, command="score", inputs={"reference": source},
                    options={"jobs": 2, "path": Path("/x")}) as staging:
        assert staging.parent == out.parent and staging != out and not any(staging.iterdir())
        (staging / "a.csv").write_text("1\n")
        (staging / "sub").mkdir()
        (staging / "sub" / "b.txt").write_bytes(b"xyz")
    assert listing(out) == sorted(["a.csv", "sub", "sub/b.txt", MANIFEST_NAME])
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert set(manifest) == {"command", "wmheval_version", "created_utc", "inputs", "options",
                             "files"}
    assert manifest["command"] == "score" and manifest["created_utc"].endswith("Z")
    assert manifest["options"] == {"jobs": 2, "path": "/x"}
    assert manifest["inputs"] == {"reference": {"path": str(source),
                                                "sha256": hashlib.sha256(b"abc").hexdigest()}}
    assert manifest["files"] == [
        {"path": "a.csv", "sha256": hashlib.sha256(b"1\n").hexdigest(), "bytes": 2},
        {"path": "sub/b.txt", "sha256": hashlib.sha256(b"xyz").hexdigest(), "bytes": 3}]
    # Nothing but the set is left beside it (no lock, no staging folder).
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_a_rerun_replaces_the_whole_set_so_stale_files_disappear(tmp_path):
    out = tmp_path / "out"
    with output_set(out, command="x") as staging:
        (staging / "old_only.csv").write_text("old")
        (staging / "both.csv").write_text("old")
    with output_set(out, command="x") as staging:
        (staging / "both.csv").write_text("new")
    assert listing(out) == ["both.csv", MANIFEST_NAME]
    assert (out / "both.csv").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_error_leaves_out_untouched_and_removes_the_staging_folder(tmp_path):
    out = tmp_path / "out"
    with output_set(out, command="x") as staging:
        (staging / "a.csv").write_text("first")
    before = (out / MANIFEST_NAME).read_bytes()
    with pytest.raises(RuntimeError), output_set(out, command="x") as staging:
        (staging / "a.csv").write_text("second")
        raise RuntimeError("killed halfway")
    assert (out / "a.csv").read_text() == "first"
    assert (out / MANIFEST_NAME).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_with_files_but_no_manifest_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputSetError, match="no wmheval_manifest.json"), \
            output_set(out, command="x"):
        pytest.fail("the body must not run")
    assert (out / "thesis.tex").read_text() == "precious"
    # An empty folder is fine.
    empty = tmp_path / "empty"
    empty.mkdir()
    with output_set(empty, command="x") as staging:
        (staging / "a").write_text("1")
    assert (empty / "a").read_text() == "1"


def test_out_that_is_a_file_or_below_a_file_is_an_output_set_error(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, a_file / "below"):
        with pytest.raises(OutputSetError) as caught, output_set(out, command="x"):
            pytest.fail("the body must not run")
        assert str(out) in str(caught.value)
        assert isinstance(caught.value, OSError)
    assert a_file.read_text() == "x"


def test_a_read_only_parent_is_an_output_set_error(tmp_path, monkeypatch):
    # Tests may run as root (permissions ignored): simulate EACCES where the lock is made.
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).endswith(".wmheval-lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "open", refuse)
    with pytest.raises(OutputSetError, match="Permission denied"), \
            output_set(tmp_path / "out", command="x"):
        pass
    assert not (tmp_path / "out").exists()


def test_a_full_disk_is_an_output_set_error_and_out_stays_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with output_set(out, command="x") as staging:
        (staging / "a.csv").write_text("first")
    with pytest.raises(OutputSetError, match="No space left") as caught, \
            output_set(out, command="x") as staging:
        (staging / "a.csv").write_text("second")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staging / "b.csv"))
    assert str(out) in str(caught.value)
    assert (out / "a.csv").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    # Running out of space while the manifest itself is written.
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputSetError, match="No space left"), output_set(out, command="x"):
        pass
    monkeypatch.undo()
    assert (out / "a.csv").read_text() == "first"


def test_an_oserror_about_an_input_is_not_blamed_on_the_output(tmp_path):
    with pytest.raises(FileNotFoundError) as caught, \
            output_set(tmp_path / "out", command="x"):
        (tmp_path / "missing_input").read_text()
    assert not isinstance(caught.value, OutputSetError)


def test_a_second_run_into_the_same_out_is_refused_while_the_first_holds_the_lock(tmp_path):
    out = tmp_path / "out"
    with output_set(out, command="x") as staging:
        (staging / "first").write_text("1")
        with pytest.raises(OutputSetError, match="another wmheval run"), \
                output_set(out, command="x"):
            pytest.fail("the body must not run")
    assert listing(out) == ["first", MANIFEST_NAME]


def test_the_lock_holds_across_processes_and_dies_with_its_holder(tmp_path):
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import sys, time
        from wmheval.io.outputs import output_set
        with output_set({str(out)!r}, command="x") as staging:
            (staging / "x").write_text("1")
            print("ready", flush=True)
            time.sleep(60)
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(OutputSetError, match="another wmheval run"), \
                output_set(out, command="x"):
            pass
    finally:
        holder.kill()
        holder.wait()
    # The killed run left its staging folder and lock file; the next run cleans them.
    assert any(".wmheval-staging-" in p.name for p in tmp_path.iterdir())
    with output_set(out, command="x") as staging:
        (staging / "y").write_text("2")
    assert listing(out) == [MANIFEST_NAME, "y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_folder_digest_covers_names_and_contents_and_skips_hidden_and_excluded(tmp_path):
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.nii").write_bytes(b"1")
    (root / "y").write_bytes(b"2")
    first = file_digest(root)
    assert file_digest(root) == first and len(first) == 64
    (root / ".hidden").write_bytes(b"ignored")
    (root / "out").mkdir()
    (root / "out" / "cases.csv").write_text("ignored too")
    assert file_digest(root, exclude=(root / "out",)) == first
    (root / "a" / "x.nii").write_bytes(b"3")
    assert file_digest(root) != first
    (root / "a" / "x.nii").write_bytes(b"1")
    (root / "a" / "x.nii").rename(root / "a" / "z.nii")
    assert file_digest(root, exclude=(root / "out",)) != first
    # Symbolic links are not followed (a loop is harmless), FIFOs are never opened.
    os.symlink(root, root / "loop")
    os.mkfifo(root / "fifo")
    assert len(file_digest(root)) == 64
    assert file_digest(root / "y") == hashlib.sha256(b"2").hexdigest()


def test_files_naming_the_staging_folder_name_the_output_once_in_place(tmp_path):
    """Regression: the demo's cases.csv, run config and report named a staging folder that
    was gone once the set was in place (``/tmp/.out.wmheval-staging-x/...``)."""
    out = tmp_path / "a b&c" / "out"
    with output_set(out, command="demo") as staging:
        (staging / "submission").mkdir()
        (staging / "cases.csv").write_text(
            f"id,prediction_path\n1,{staging / 'submission' / '1.nii.gz'}\n")
        (staging / "page.html").write_text(
            f"<code>{html.escape(str(staging), quote=True)}/x</code>")
        (staging / "config.json").write_text(json.dumps({"data": str(staging / "c")}))
        (staging / "image.png").write_bytes(str(staging).encode())  # binary: left alone
        inner_out = staging / "scores" / "team"
        with output_set(inner_out, command="score",
                        inputs={"submission": staging / "submission"}) as inner:
            (inner / "cases.csv").write_text(f"1,{staging / 'submission' / '1.nii.gz'}\n")
            (inner / "self.txt").write_text(f"{inner / 'cases.csv'}\n")
    assert (out / "cases.csv").read_text().splitlines()[1] == (
        f"1,{out / 'submission' / '1.nii.gz'}")
    assert (out / "page.html").read_text() == (
        f"<code>{html.escape(str(out), quote=True)}/x</code>")
    assert json.loads((out / "config.json").read_text()) == {"data": str(out / "c")}
    assert (out / "image.png").read_bytes() != str(out).encode()
    team = out / "scores" / "team"
    assert (team / "cases.csv").read_text() == f"1,{out / 'submission' / '1.nii.gz'}\n"
    assert (team / "self.txt").read_text() == f"{team / 'cases.csv'}\n"
    inner_manifest = json.loads((team / MANIFEST_NAME).read_text())
    assert inner_manifest["inputs"]["submission"]["path"] == str(out / "submission")
    for manifest_path in (team / MANIFEST_NAME, out / MANIFEST_NAME):
        listed = json.loads(manifest_path.read_text())["files"]
        for entry in listed:
            data = (manifest_path.parent / entry["path"]).read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["path"]
            assert entry["bytes"] == len(data)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix != ".png":
            assert "wmheval-staging" not in path.read_text(), path


def test_relocation_leaves_files_that_do_not_name_the_folder_untouched(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.csv").write_text("x\n")
    (root / "b.md").write_text(f"{tmp_path / 'rootless'}\n")  # a longer name, same prefix?
    before = os.stat(root / "a.csv").st_ino
    assert outputs.relocate_paths(root, tmp_path / "elsewhere", tmp_path / "new") == []
    assert os.stat(root / "a.csv").st_ino == before
    assert (root / "b.md").read_text() == f"{tmp_path / 'rootless'}\n"


# --- --out on a mount point (issue 33 item 7) ---------------------------------------------

def _as_mount_point(monkeypatch, out: Path) -> None:
    """Make ``out`` behave as a mount point: ismount says so, and renaming it (or swapping
    it) fails with EBUSY as the kernel does."""
    real_ismount, real_rename = os.path.ismount, os.rename

    def rename(source, target, *args, **kwargs):
        if os.path.abspath(source) == str(out) or os.path.abspath(target) == str(out):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(out))
        return real_rename(source, target, *args, **kwargs)

    monkeypatch.setattr(outputs.os.path, "ismount",
                        lambda p: os.path.abspath(p) == str(out) or real_ismount(p))
    monkeypatch.setattr(outputs.os, "rename", rename)

    def exchange(first, second):
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(second))

    monkeypatch.setattr(outputs, "_exchange", exchange)


def test_a_mount_point_out_is_written_inside_and_replaced_set_by_set(tmp_path, monkeypatch):
    out = tmp_path / "volume"
    out.mkdir()
    (out / "lost+found").mkdir()  # what a fresh file system holds
    _as_mount_point(monkeypatch, out)
    with output_set(out, command="x") as staging:
        assert staging.parent == out  # staged on the same file system
        (staging / "old_only.csv").write_text("old")
        (staging / "both.csv").write_text("old")
    assert listing(out) == sorted(["both.csv", "old_only.csv", "lost+found", MANIFEST_NAME])
    with output_set(out, command="x") as staging:
        (staging / "both.csv").write_text("new")
        (staging / "sub").mkdir()
        (staging / "sub" / "c.txt").write_text("c")
    assert listing(out) == sorted(["both.csv", "sub", "sub/c.txt", "lost+found",
                                   MANIFEST_NAME])
    assert (out / "both.csv").read_text() == "new"
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert [f["path"] for f in manifest["files"]] == ["both.csv", "sub/c.txt"]
    # A failed run leaves the set as it was.
    with pytest.raises(RuntimeError), output_set(out, command="x") as staging:
        (staging / "both.csv").write_text("third")
        raise RuntimeError("killed halfway")
    assert (out / "both.csv").read_text() == "new"
    assert listing(out) == sorted(["both.csv", "sub", "sub/c.txt", "lost+found",
                                   MANIFEST_NAME])


def test_a_swap_refused_with_ebusy_falls_back_to_writing_inside(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with output_set(out, command="x") as staging:
        (staging / "a.csv").write_text("first")
    monkeypatch.setattr(outputs, "_exchange", lambda first, second: (_ for _ in ()).throw(
        OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(second))))
    with output_set(out, command="x") as staging:
        (staging / "b.csv").write_text("second")
    assert listing(out) == sorted(["b.csv", MANIFEST_NAME])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
