"""Files of a board beside the ledger: content-addressed archives and run folders, both
written so that a process killed at any moment leaves the old state or the new one.

* ``blobs/sha256/ab/<hash>``: each submitted archive, streamed into ``blobs/tmp/`` while
  hashing, fsynced, then renamed into place (the name is its content's SHA-256, so a file
  there is complete by construction; an orphan in ``blobs/tmp`` is removed by ``recover``).
  A submitted *folder* is first packed into a deterministic tar (sorted names, no times or
  owners), so the same files give the same hash.
* ``runs/<submission>/<evaluation>/``: the wmheval score output set of one evaluation,
  written into ``runs/.tmp-*`` and renamed into place; ``run.sha256`` in the ledger hashes
  every file in it, so ``verify`` finds any edit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tarfile
import tempfile
from pathlib import Path

CHUNK = 1 << 20
FAULT_VARIABLE = "WMHEVAL_BOARD_FAULT"


def fault_point(step: str) -> None:
    """Tests' fault hook: when ``$WMHEVAL_BOARD_FAULT`` names ``step``, SIGKILL this process
    (and, from a scoring child, its parent first) right here, as a power cut would."""
    if os.environ.get(FAULT_VARIABLE) == step:
        if os.environ.get("WMHEVAL_BOARD_CHILD") == "1":
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def blob_path(root: Path, sha256: str) -> Path:
    return root / "blobs" / "sha256" / sha256[:2] / sha256


def _pack_folder(folder: Path, target: Path) -> None:
    """A deterministic tar of ``folder``'s regular files and folders (links are left out:
    the archive reader would reject them anyway)."""
    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames.sort()
            base = Path(dirpath)
            for name in sorted(filenames):
                path = base / name
                if path.is_symlink() or not path.is_file():
                    continue
                tar.add(path, arcname=str(path.relative_to(folder)), recursive=False,
                        filter=clean)


def store_blob(root: Path, source: Path, max_bytes: int) -> tuple[str, int, str]:
    """Copy ``source`` (an archive file, or a folder packed as tar) into the blob store;
    returns (sha256, size, kind). Larger than ``max_bytes``: a ValueError naming it."""
    tmp = root / "blobs" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=tmp, prefix="upload-")
    temporary = Path(name)
    try:
        os.close(handle)
        if source.is_dir():
            _pack_folder(source, temporary)
            kind = "folder"
        else:
            kind = "file"
        digest, size = hashlib.sha256(), 0
        reader = open(temporary if kind == "folder" else source, "rb")  # noqa: SIM115
        with reader, open(temporary, "r+b" if kind == "folder" else "wb") as writer:
            while chunk := reader.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"{source}: larger than the phase's archive cap "
                                     f"({max_bytes // (1 << 20)} MiB)")
                digest.update(chunk)
                if kind == "file":
                    writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        sha = digest.hexdigest()
        final = blob_path(root, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_file() and file_sha256(final) == sha:
            temporary.unlink()
        else:
            os.chmod(temporary, 0o444)
            os.replace(temporary, final)
            fsync_dir(final.parent)
        return sha, size, kind
    finally:
        if temporary.exists():
            temporary.unlink()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> str:
    """One SHA-256 over every regular file below ``folder`` (relative name + content)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(folder).as_posix()
        content = file_sha256(path) if path.is_file() and not path.is_symlink() else "link"
        digest.update(f"{relative}\0{content}\n".encode())
    return digest.hexdigest()


def publish_run(staging: Path, final: Path) -> None:
    """Move a complete run folder into place (replacing a stale one of a killed run)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    fsync_dir(final.parent)


def clean_temporaries(root: Path) -> list[Path]:
    """Remove orphans a killed process left: uploads in ``blobs/tmp`` and run staging
    folders ``runs/.tmp-*``; returns what was removed."""
    removed = []
    for path in sorted((root / "blobs" / "tmp").glob("*")):
        path.unlink(missing_ok=True)
        removed.append(path)
    for path in sorted((root / "runs").glob(".tmp-*")):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
