"""Output sets: a command's output folder is replaced as a whole, with a manifest, or not at all.

A run writes into a hidden staging folder beside ``out``; on success a
``wmheval_manifest.json`` (command, version, time, input and output digests, options) is
added and the staging folder takes the place of ``out`` in one rename (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames). So a reader never sees a folder
mixing two runs, stale files of an earlier run disappear, and a failed or killed run leaves
``out`` as it was. A lock file beside ``out`` (``flock``, released by the kernel when the
process dies) refuses a second run into the same folder; leftovers of killed runs
(staging and old folders) are removed by the next run that holds the lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _dt
import errno
import hashlib
import html
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from wmheval.errors import WmhevalError
from wmheval.io.atomic import write_atomic, write_text_atomic

MANIFEST_NAME = "wmheval_manifest.json"
_LOCK_SUFFIX = ".wmheval-lock"
_STAGING_TAG = ".wmheval-staging-"
_OLD_TAG = ".wmheval-old-"
_CHUNK = 1 << 20
_LOST_FOUND = "lost+found"
"""What a fresh file system holds at its root (a volume mounted as ``--out``): kept."""
# Files a command writes that may name paths (tables, manifests, reports): see relocate_paths.
_TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".json", ".md", ".html", ".htm", ".tex", ".txt"})


class OutputSetError(WmhevalError, OSError):
    """An output folder cannot be written: the message names the folder and the problem
    (exit 2; still an :class:`OSError` for callers that catch those)."""

    exit_code = 2

    def __init__(self, folder: str | Path, problem: str):
        self.folder = Path(folder)
        self.problem = problem
        super().__init__(f"{os.fsdecode(self.folder)}: {problem}")

    def __str__(self) -> str:  # OSError's own __str__ would print "(None, ...)"
        return f"{os.fsdecode(self.folder)}: {self.problem}"


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def file_digest(path: str | Path, *, exclude: tuple[Path, ...] = ()) -> str:
    """SHA-256 hex digest of a file; a folder is hashed over its sorted contents.

    A folder's digest covers every visible entry's relative path and, for regular files,
    content (hidden names starting with ``.`` and the paths in ``exclude`` are skipped, so a
    staging folder or an output folder inside an input does not change the input's digest).
    Symbolic links are hashed as their target text and never followed, so loops are harmless;
    other special files (FIFOs, devices) count by name only and are never opened.
    """
    path = Path(path)
    if not path.is_dir():
        return _hash_file(path)[0]
    excluded = {os.path.abspath(p) for p in exclude}
    digest = hashlib.sha256()
    stack = [path]
    entries: list[tuple[str, str]] = []
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.name.startswith(".") or os.path.abspath(entry.path) in excluded:
                    continue
                relative = os.fsencode(os.path.relpath(entry.path, path)).hex()
                if entry.is_symlink():
                    entries.append((relative, "link:" + os.fsencode(
                        os.readlink(entry.path)).hex()))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    entries.append((relative, "dir"))
                elif entry.is_file(follow_symlinks=False):
                    entries.append((relative, "file:" + _hash_file(Path(entry.path))[0]))
                else:
                    entries.append((relative, "special"))
    for relative, content in sorted(entries):
        digest.update(f"{relative}\0{content}\n".encode())
    return digest.hexdigest()


def _utc_now() -> str:
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def _manifest(staging: Path, command: str, inputs: Mapping[str, Path] | None,
              options: Mapping[str, object] | None, exclude: tuple[Path, ...],
              digests: Mapping[str, str] | None = None, public_paths: bool = False) -> dict:
    from wmheval import __version__

    files = []
    for root, folders, names in os.walk(staging):
        folders.sort()
        for name in sorted(names):
            full = Path(root) / name
            relative = full.relative_to(staging).as_posix()
            if relative == MANIFEST_NAME:
                continue
            sha, size = _hash_file(full)
            files.append({"path": relative, "sha256": sha, "bytes": size})
    files.sort(key=lambda f: f["path"])
    from wmheval.io.paths import display_path, public_path

    known = dict(digests or {})
    recorded_inputs = {
        name: {"path": public_path(p) if public_paths else display_path(os.path.abspath(p)),
               "sha256": known[name] if name in known else file_digest(p, exclude=exclude)}
        for name, p in (inputs or {}).items()
    }
    return {
        "command": command,
        "wmheval_version": __version__,
        "created_utc": _utc_now(),
        "inputs": recorded_inputs,
        "options": dict(options or {}),
        "files": files,
    }


def write_manifest(folder: str | Path, *, command: str,
                   inputs: Mapping[str, Path] | None = None,
                   options: Mapping[str, object] | None = None,
                   digests: Mapping[str, str] | None = None) -> Path:
    """Write ``wmheval_manifest.json`` into ``folder``, a part of an output set being staged
    (e.g. one team's score folder inside ``wmheval score --teams``'s set), so that the part
    reads as the output of ``command`` on its own. Arguments as for :func:`output_set`."""
    folder = Path(folder)
    manifest = _manifest(folder, command, inputs, options, (folder,), digests)
    return write_text_atomic(folder / MANIFEST_NAME, _manifest_text(manifest))


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second),
                       rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), os.fsdecode(second))


def _remove_tree(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)


def _clean_leftovers(out: Path) -> None:
    """Remove staging and old folders that killed runs into ``out`` left behind (beside it,
    and inside it for a mount point)."""
    prefixes = (f".{out.name}{_STAGING_TAG}", f".{out.name}{_OLD_TAG}")
    for folder in (out.parent, out):
        with contextlib.suppress(OSError), os.scandir(folder) as listing:
            for entry in listing:
                if entry.name.startswith(prefixes):
                    _remove_tree(Path(entry.path))


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    import fcntl

    lock_path = out.parent / f".{out.name}{_LOCK_SUFFIX}"
    while True:
        try:
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise OutputSetError(out, f"cannot create the lock file {lock_path.name} "
                                      f"({error.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise OutputSetError(out, "another wmheval run is writing this output folder "
                                      f"(lock {lock_path.name}); wait for it or choose "
                                      "another --out") from None
        try:  # the lock file may have been removed and recreated by a finishing run
            same = os.fstat(handle).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(handle)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(handle)


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputSetError(out, "exists and is not a folder; choose another --out")
    if out.is_dir():
        try:
            with os.scandir(out) as listing:
                names = [entry.name for entry in listing]
        except OSError as error:
            raise OutputSetError(out, f"cannot list the folder ({error.strerror})") from None
        prefixes = (f".{out.name}{_STAGING_TAG}", f".{out.name}{_OLD_TAG}")
        names = [n for n in names if not n.startswith(prefixes) and n != _LOST_FOUND]
        if names and MANIFEST_NAME not in names:
            raise OutputSetError(out, f"holds files but no {MANIFEST_NAME}, so it is not a "
                                      "wmheval output folder; refusing to replace it "
                                      "(choose an empty or new --out)")


def _usual_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def _manifest_text(manifest: Mapping) -> str:
    """A manifest as written to ``wmheval_manifest.json``."""
    return json.dumps(manifest, indent=1, default=str, ensure_ascii=False) + "\n"


def _spellings(path: Path) -> list[str]:
    """How a path is written in plain text, HTML and JSON files (one entry per spelling)."""
    from wmheval.io.paths import display_path

    text = display_path(path)
    return [text, html.escape(text, quote=True), json.dumps(text)[1:-1],
            json.dumps(text, ensure_ascii=False)[1:-1]]


def relocate_paths(root: str | Path, old: str | Path, new: str | Path) -> list[Path]:
    """Make the text files under ``root`` that name the folder ``old`` name ``new`` instead.

    A command builds its output set in a staging folder; what it writes there (score tables
    with prediction paths, nested manifests, a report's provenance) would otherwise name a
    folder that is gone once the set is in place. Tables, manifests and reports
    (``.csv .tsv .json .md .html .htm .tex .txt``) are rewritten, plain, HTML-escaped and
    JSON-escaped spellings alike; the manifests of nested output sets get fresh digests of
    the files rewritten. Binary files are left alone. Returns the files rewritten.

    A digest recorded for an *input* that is itself part of the set (the demo ranks the score
    tables it has just written) is the digest of that input as it was read, before this
    rewrite; the set's own manifest has the final digest of every file.
    """
    root = Path(root)
    pairs = sorted({(o.encode("utf-8", "surrogateescape"), n.encode("utf-8", "surrogateescape"))
                    for o, n in zip(_spellings(Path(old)), _spellings(Path(new)), strict=True)
                    if o != n}, key=lambda pair: -len(pair[0]))
    changed: set[Path] = set()
    manifests: list[Path] = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if name == MANIFEST_NAME:
                manifests.append(path)
            if path.suffix.lower() not in _TEXT_SUFFIXES or path.is_symlink():
                continue
            data = path.read_bytes()
            rewritten = data
            for before, after in pairs:
                rewritten = rewritten.replace(before, after)
            if rewritten != data:
                write_atomic(path, lambda temporary, data=rewritten: temporary.write_bytes(data))
                changed.add(path)
    # Deepest first, so a refreshed inner manifest is itself refreshed in the one around it.
    for manifest in sorted(manifests, key=lambda p: -len(p.parts)):
        content = json.loads(manifest.read_text(encoding="utf-8"))
        touched = False
        for entry in content.get("files", []):
            listed = manifest.parent / entry["path"]
            if listed in changed:
                entry["sha256"], entry["bytes"] = _hash_file(listed)
                touched = True
        if touched:
            write_text_atomic(manifest, _manifest_text(content))
            changed.add(manifest)
    return sorted(changed)


@contextlib.contextmanager
def output_set(out: Path, *, command: str, inputs: Mapping[str, Path] | None = None,
               options: Mapping[str, object] | None = None,
               digests: Mapping[str, str] | None = None,
               public_paths: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on normal exit write ``wmheval_manifest.json`` into it
    and replace ``out`` with it as one set (stale files of earlier runs disappear); on error
    leave ``out`` untouched and remove the staging folder. A lock refuses a concurrent run
    into ``out``.

    Text files in the set that name the staging folder are made to name ``out``
    (:func:`relocate_paths`), so no table or report points at a folder that is gone.

    ``digests`` may give precomputed SHA-256 digests of named inputs (e.g. over just the
    files a command read) instead of hashing whole input folders. ``public_paths``: record
    the inputs relative to the current folder or by name, never absolute (a set meant to
    be published, e.g. a report).

    Raises :class:`OutputSetError` (an ``OSError``) naming ``out`` when it is a file, lies
    below a file, cannot be written, holds files that are not a wmheval output set, is locked
    by another run, or when writing the set fails (e.g. a full disk: an ``OSError`` about a
    file in the staging folder is reported as a problem of ``out``).
    """
    out = Path(os.path.abspath(out))
    if out.is_symlink() and out.is_dir():
        out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputSetError(out, f"cannot create its parent folder ({error.strerror or error})"
                             ) from None
    if not out.parent.is_dir():
        raise OutputSetError(out, "its parent is not a folder")
    _check_target(out)
    with _locked(out):
        _check_target(out)  # again: another run may have finished meanwhile
        _clean_leftovers(out)
        # A mount point (a container volume) cannot be renamed or replaced (EBUSY): its set
        # is staged inside it and moved in entry by entry (see _commit_inside).
        mounted = out.is_dir() and os.path.ismount(out)
        home = out if mounted else out.parent
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{_STAGING_TAG}", dir=home))
            os.chmod(staging, _usual_mode())
        except OSError as error:
            raise OutputSetError(out, f"cannot write in {home} ({error.strerror})") from None
        exclude = (out, staging)
        try:
            yield staging
            relocate_paths(staging, staging, out)
            manifest = _manifest(staging, command, inputs, options, exclude, digests,
                                 public_paths)
            (staging / MANIFEST_NAME).write_text(_manifest_text(manifest), encoding="utf-8")
            if mounted:
                _commit_inside(staging, out)
            else:
                _commit(staging, out)
        except OutputSetError:
            raise
        except OSError as error:
            if _concerns(error, staging, out):
                why = error.strerror or str(error)
                raise OutputSetError(out, f"cannot write the output set ({why}); the folder "
                                          "is left as it was") from None
            raise
        finally:
            _remove_tree(staging)


def _concerns(error: OSError, staging: Path, out: Path) -> bool:
    """Whether an OSError is about the output (staging folder or ``out``), not an input."""
    names = [getattr(error, "filename", None), getattr(error, "filename2", None)]
    for name in names:
        if name is None:
            continue
        text = os.fsdecode(os.path.abspath(name))
        for root in (staging, out):
            root_text = os.fsdecode(root)
            if text == root_text or text.startswith(root_text + os.sep):
                return True
    # Errors raised without a file name while writing (e.g. ENOSPC on flush) name no file.
    return all(name is None for name in names) and error.errno in (
        errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _commit(staging: Path, out: Path) -> None:
    """Put ``staging`` in place of ``out`` (atomically where the OS can swap two paths; a
    folder that cannot be renamed, such as a mount point, gets the set moved inside)."""
    if not out.exists():
        os.rename(staging, out)
        return
    try:
        swapped = _exchange(staging, out)
    except OSError as error:
        if error.errno not in (errno.EBUSY, errno.EXDEV):
            raise
        _commit_inside(staging, out)
        return
    if swapped:
        _remove_tree(staging)  # now holds the previous set
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}{_OLD_TAG}", dir=out.parent))
    os.rename(out, old / "set")
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old / "set", out)
        raise
    finally:
        _remove_tree(old)


def _commit_inside(staging: Path, out: Path) -> None:
    """Replace the contents of ``out`` (which itself stays, e.g. a mount point) with those
    of ``staging``: the previous set's entries move into a hidden folder inside ``out``, the
    new entries move in with the manifest last, the previous set is removed. A failure
    part-way puts the previous set back. Each file appears whole (renames); only the folder
    as a whole is not swapped in one step."""
    prefixes = (f".{out.name}{_STAGING_TAG}", f".{out.name}{_OLD_TAG}")
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}{_OLD_TAG}", dir=out))
    moved_out: list[str] = []
    moved_in: list[str] = []
    done = False
    try:
        with os.scandir(out) as listing:
            previous = [e.name for e in listing
                        if not e.name.startswith(prefixes) and e.name != _LOST_FOUND]
        for name in previous:
            os.rename(out / name, old / name)
            moved_out.append(name)
        with os.scandir(staging) as listing:
            new = sorted((e.name for e in listing), key=lambda n: n == MANIFEST_NAME)
        for name in new:
            shutil.move(os.fspath(staging / name), os.fspath(out / name))
            moved_in.append(name)
        done = True
    except BaseException:
        for name in moved_in:
            _remove_tree(out / name)
        restored = True
        for name in moved_out:
            try:
                os.rename(old / name, out / name)
            except OSError:
                restored = False
        done = restored  # never remove a previous set that could not be put back
        raise
    finally:
        if done:
            _remove_tree(old)


def read_manifest(out: str | Path) -> dict:
    """The manifest of an output set (``OutputSetError`` if there is none)."""
    path = Path(out) / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise OutputSetError(Path(out), f"cannot read {MANIFEST_NAME} ({error})") from None


__all__ = ["MANIFEST_NAME", "OutputSetError", "file_digest", "output_set", "read_manifest"]
