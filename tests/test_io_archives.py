"""The safe archive reader: a seeded corpus of hostile archives, each rejected whole with
one line naming the member and the rule, nothing left behind, memory bounded; benign
archives extracted byte for byte (hypothesis)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
import tracemalloc
import unicodedata
import zipfile
from pathlib import Path

import pytest
from archive_corpus import (
    Entry,
    MiB,
    hostile_corpus,
    nested_zip,
    raw_zip,
    tar_bytes,
    tinfo,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wmheval.errors import DataProblem
from wmheval.io.archives import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    ArchiveRejected,
    archive_kind,
    safe_extract,
)

CORPUS = hostile_corpus()
_BUILT: dict[str, bytes] = {}


def built(case) -> bytes:
    if case.id not in _BUILT:
        _BUILT[case.id] = case.build()
    return _BUILT[case.id]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path below ``folder`` (not following links) with its type and size."""
    found = {}
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(parent, name)
            info = os.lstat(path)
            found[os.path.relpath(path, folder)] = (stat.S_IFMT(info.st_mode), info.st_size)
    return found


def test_the_corpus_is_large_and_ids_are_unique():
    assert len(CORPUS) >= 120
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_hostile_archive_is_rejected_whole(case, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    archive = work / f"submission{case.suffix}"
    archive.write_bytes(built(case))
    (work / "outside").mkdir()  # where links in the corpus point
    before = snapshot(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveRejected) as caught:
            safe_extract(archive, work / "staging", limits=case.limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    message = str(error)
    assert error.rule == case.rule, message
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"submission{case.suffix}: archive rejected: ")
    assert message.endswith(f"[{case.rule}]")
    if case.member is not None:
        assert error.member is not None and f"member '{case.member}" in message, message
    assert isinstance(error, DataProblem) and error.exit_code == 1
    assert snapshot(tmp_path) == before  # nothing left in staging, nothing outside
    assert not (work / "staging").exists()
    assert peak < 16 * MiB, f"{peak / MiB:.1f} MiB allocated"


def test_rejection_inside_an_existing_staging_folder_empties_it_and_keeps_it(tmp_path):
    """A regular member is written before the bad one: it is removed again."""
    case = next(c for c in CORPUS if c.id == "zip-trailing-deflate")
    archive = tmp_path / "s.zip"
    archive.write_bytes(built(case))
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(ArchiveRejected):
        safe_extract(archive, staging)
    assert staging.is_dir() and list(staging.iterdir()) == []


def test_the_staging_folder_must_be_new_or_empty(tmp_path):
    archive = tmp_path / "s.zip"
    archive.write_bytes(raw_zip([Entry(b"1.nii", b"x")]))
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="staging folder must be new or empty"):
        safe_extract(archive, used)
    assert (used / "keep.txt").read_text() == "mine"


def test_memory_stays_bounded_under_an_address_space_limit(tmp_path):
    """The bombs, in a child process limited to 300 MB of address space."""
    bombs = [c for c in CORPUS if c.id in (
        "tgz-member-bomb", "zip-declared-total-default-caps", "zip-many-members",
        "tar-many-members", "tgz-many-members", "tgz-huge-pax-header", "zip-quoted-overlap",
        "zip-forged-csize", "zip-under-declared")]
    paths = []
    for case in bombs:
        path = tmp_path / f"{case.id}{case.suffix}"
        path.write_bytes(built(case))
        paths.append(str(path))
    nested = tmp_path / "nested.zip"
    nested.write_bytes(nested_zip())
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (300 * 2**20, 300 * 2**20))
        from pathlib import Path
        from wmheval.io.archives import ArchiveRejected, safe_extract
        for i, path in enumerate({paths!r}):
            try:
                safe_extract(Path(path), Path({str(tmp_path)!r}) / f"stage{{i}}")
            except ArchiveRejected as error:
                print(error.rule)
        report = safe_extract(Path({str(nested)!r}), Path({str(tmp_path)!r}) / "nested")
        status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
        print(len(report.members), status)  # peak RSS of this process image, KiB
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:len(bombs)] == [c.rule for c in bombs]
    assert lines[len(bombs)] == "10"  # the nested zips are files, never opened
    assert int(lines[-1]) < 200 * 1000  # peak RSS under 200 MB


def test_a_nested_archive_is_a_file(tmp_path):
    inner = nested_zip(depth=2)
    archive = tmp_path / "outer.zip"
    archive.write_bytes(raw_zip([Entry(b"inner.zip", inner)]))
    report = safe_extract(archive, tmp_path / "out")
    assert report.members == ("inner.zip",)
    assert (tmp_path / "out" / "inner.zip").read_bytes() == inner
    assert report.total_bytes == len(inner) and report.kind == "zip"


def test_a_nii_gz_bomb_inside_a_valid_archive_is_extracted_as_it_is(tmp_path):
    """Not an archive problem: the small gzip file is written unopened (score fails the
    case later)."""
    import gzip

    bomb = gzip.compress(bytes(50 * MiB), compresslevel=9)
    archive = tmp_path / "s.tar.gz"
    archive.write_bytes(tar_bytes([tinfo("1/result.nii.gz", bomb)], gz=True))
    report = safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "1" / "result.nii.gz").read_bytes() == bomb
    assert report.total_bytes == len(bomb) < MiB


def test_archive_kind_reads_magic_bytes_not_suffixes(tmp_path):
    zipped = tmp_path / "really_a_zip.tar.gz"
    zipped.write_bytes(raw_zip([Entry(b"1.nii", b"x")]))
    tarred = tmp_path / "really_a_tar.zip"
    tarred.write_bytes(tar_bytes([tinfo("1.nii", b"x")]))
    gz_tar = tmp_path / "noext"
    gz_tar.write_bytes(tar_bytes([tinfo("1.nii", b"x")], gz=True))
    image = tmp_path / "1.nii.gz"
    import gzip

    image.write_bytes(gzip.compress(b"\x5c\x01\x00\x00" + bytes(600)))  # a NIfTI-1 header
    html = tmp_path / "page.zip"
    html.write_bytes(b"<html>404</html>")
    assert [archive_kind(p) for p in (zipped, tarred, gz_tar, image, html, tmp_path,
                                      tmp_path / "missing.zip")] == \
        ["zip", "tar", "tar.gz", None, None, "folder", None]
    report = safe_extract(tarred, tmp_path / "out")
    assert report.kind == "tar" and report.members == ("1.nii",)


def test_junk_is_checked_then_skipped(tmp_path):
    archive = tmp_path / "mac.zip"
    archive.write_bytes(raw_zip([Entry(b"sub/1.nii", b"one"), Entry(b"__MACOSX/sub/._1.nii",
                                                                    b"rsrc"),
                                 Entry(b"sub/.DS_Store", b"ds")]))
    report = safe_extract(archive, tmp_path / "out", strip_top_folder=True)
    assert report.members == ("1.nii",) and report.root == tmp_path / "out" / "sub"
    assert report.skipped == ("__MACOSX/sub/._1.nii", "sub/.DS_Store")
    assert sorted(os.listdir(tmp_path / "out")) == ["sub"]
    assert os.listdir(tmp_path / "out" / "sub") == ["1.nii"]


@pytest.mark.parametrize("names, stripped", [
    ((b"sub/1.nii", b"sub/2/result.nii.gz"), True),
    ((b"1/result.nii.gz", b"2/result.nii.gz"), False),
    ((b"sub/1.nii", b"2.nii"), False),
    ((b"1.nii",), False),
])
def test_one_top_folder_is_stripped_on_request(tmp_path, names, stripped):
    archive = tmp_path / "s.zip"
    archive.write_bytes(raw_zip([Entry(n, n) for n in names]))
    plain = safe_extract(archive, tmp_path / "plain")
    assert plain.root == tmp_path / "plain"
    assert plain.members == tuple(n.decode() for n in names)
    report = safe_extract(archive, tmp_path / "strip", strip_top_folder=True)
    assert (report.root == tmp_path / "strip" / "sub") is stripped
    for member in report.members:
        full = (b"sub/" if stripped else b"") + member.encode()
        assert (report.root / member).read_bytes() == full


def test_hostile_folders_are_rejected(tmp_path):
    submission = tmp_path / "sub"
    (submission / "1").mkdir(parents=True)
    (submission / "1" / "result.nii.gz").write_bytes(b"x")
    (tmp_path / "secret").write_text("secret")
    os.symlink(tmp_path / "secret", submission / "2.nii.gz")
    with pytest.raises(ArchiveRejected) as caught:
        safe_extract(submission, tmp_path / "stage")
    assert caught.value.rule == "link" and "member '2.nii.gz'" in str(caught.value)
    os.unlink(submission / "2.nii.gz")
    os.mkfifo(submission / "3.nii.gz")
    with pytest.raises(ArchiveRejected) as caught:
        safe_extract(submission, tmp_path / "stage")
    assert caught.value.rule == "special" and not (tmp_path / "stage").exists()
    os.unlink(submission / "3.nii.gz")
    (submission / ".git").mkdir()
    (submission / ".git" / "HEAD").write_text("ref")
    report = safe_extract(submission, tmp_path / "stage")
    assert report.kind == "folder" and report.members == ("1/result.nii.gz",)
    assert report.skipped == (".git",)


def test_limits_are_the_documented_defaults():
    documented = ArchiveLimits(
        max_members=2_000, max_member_bytes=128 * MiB, max_total_bytes=2 * 1024 * MiB,
        max_compression_ratio=1_100, max_path_bytes=1_024, max_depth=16,
        max_archive_bytes=512 * MiB)
    assert documented == DEFAULT_LIMITS


@pytest.mark.parametrize("gz", [False, True])
def test_a_tar_of_dot_is_read_without_its_dot_prefix(tmp_path, gz):
    """``tar -C sub -czf s.tgz .`` writes ``./`` and ``./1/result.nii.gz``."""
    source = tmp_path / "sub"
    (source / "1").mkdir(parents=True)
    (source / "1" / "result.nii.gz").write_bytes(b"one")
    (source / "2.nii").write_bytes(b"two")
    archive = tmp_path / ("s.tgz" if gz else "s.tar")
    with tarfile.open(archive, "w:gz" if gz else "w") as out:
        out.add(source, arcname=".")
    report = safe_extract(archive, tmp_path / "out")
    assert sorted(report.members) == ["1/result.nii.gz", "2.nii"]
    assert (tmp_path / "out" / "1" / "result.nii.gz").read_bytes() == b"one"
    assert (tmp_path / "out" / "2.nii").read_bytes() == b"two"


def test_an_archive_over_its_size_cap_is_rejected_before_reading(tmp_path):
    archive = tmp_path / "s.zip"
    archive.write_bytes(raw_zip([Entry(b"1.nii", b"x" * 5000, method=0)]))
    with pytest.raises(ArchiveRejected) as caught:
        safe_extract(archive, tmp_path / "out", limits=ArchiveLimits(max_archive_bytes=4096))
    assert caught.value.rule == "too-large" and not (tmp_path / "out").exists()


def test_an_all_zero_raw_nii_passes_the_default_ratio_cap(tmp_path):
    """Why the default ratio cap sits above deflate's ceiling: an empty raw mask."""
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        out.writestr("1.nii", bytes(48 * 256 * 232 * 8))  # float64 grid of Singapore
    info = zipfile.ZipFile(archive).infolist()[0]
    assert info.file_size / info.compress_size > 1_000
    report = safe_extract(archive, tmp_path / "out")
    assert report.total_bytes == 48 * 256 * 232 * 8


# --- benign archives come back byte for byte ---------------------------------------------

_ALPHABET = "abcXYZ019-_ é日"
_component = st.text(_ALPHABET, min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..") and not s.startswith(".") and s.strip() == s)


@st.composite
def benign_trees(draw) -> dict[str, bytes]:
    paths = draw(st.lists(st.lists(_component, min_size=1, max_size=4), min_size=1,
                          max_size=12))
    tree: dict[str, bytes] = {}
    keys: set[str] = set()
    folders: set[str] = set()
    for parts in paths:
        name = "/".join(parts)
        key = unicodedata.normalize("NFC", name).casefold()
        parents = {"/".join(key.split("/")[:i]) for i in range(1, len(parts))}
        if key in keys or key in folders or parents & keys:
            continue
        keys.add(key)
        folders |= parents
        tree[name] = draw(st.binary(max_size=3000) | st.sampled_from(
            [b"", bytes(70_000), os.urandom(1) * 5000]))
    return tree


def _archive_of(tree: dict[str, bytes], kind: str, variant: int) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        method = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)[variant % 2]
        with zipfile.ZipFile(buffer, "w", method) as out:
            if variant >= 2:  # with explicit folder entries
                for name in tree:
                    for i in range(1, name.count("/") + 1):
                        folder = "/".join(name.split("/")[:i]) + "/"
                        if folder not in out.namelist():
                            out.writestr(folder, b"")
            for name, data in tree.items():
                out.writestr(name, data)
        return buffer.getvalue()
    fmt = (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT)[variant % 3]
    members = [tinfo(name, data) for name, data in tree.items()]
    return tar_bytes(members, gz=kind == "tar.gz", fmt=fmt)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=benign_trees(), kind=st.sampled_from(["zip", "tar", "tar.gz"]),
       variant=st.integers(0, 5))
def test_benign_archives_extract_byte_for_byte(tmp_path_factory, tree, kind, variant):
    folder = tmp_path_factory.mktemp("benign")
    archive = folder / f"s.{kind}"
    archive.write_bytes(_archive_of(tree, kind, variant))
    report = safe_extract(archive, folder / "out")
    assert report.kind == kind
    assert sorted(report.members) == sorted(tree)
    assert report.total_bytes == sum(len(d) for d in tree.values())
    found = {}
    for parent, _, files in os.walk(folder / "out"):
        for name in files:
            path = os.path.join(parent, name)
            found[os.path.relpath(path, folder / "out")] = Path(path).read_bytes()
    assert found == tree


def test_an_under_declared_member_stops_at_its_declared_size(tmp_path):
    """200 MiB of zeros declared as 1,000 bytes: inflating stops after 1,000 bytes (the
    reason says 'more than'), it does not write the 200 MiB first."""
    data = bytes(200 * MiB)
    archive = tmp_path / "s.zip"
    archive.write_bytes(raw_zip([Entry(b"1.nii", data, usize=1000)]))
    with pytest.raises(ArchiveRejected) as caught:
        safe_extract(archive, tmp_path / "out")
    assert caught.value.reason == "inflates to more than the 1000 bytes declared"
    assert caught.value.rule == "size-mismatch" and not (tmp_path / "out").exists()
