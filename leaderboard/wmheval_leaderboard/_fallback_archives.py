"""A strict stand-in for ``wmheval.io.archives`` (same contract) until that module is merged.

Rules: zip (stored/deflated, not encrypted) and tar (plain, gzip) only; every member a
regular file or a folder; names relative, no ``..``, no backslash, NUL or control
characters, no duplicates after NFC normalisation and case folding, at most
``max_path_bytes`` and ``max_depth``; at most ``max_members`` members, each at most
``max_member_bytes`` and all together at most ``max_total_bytes`` (counted on the bytes
actually read, which must equal the declared size). Any violation rejects the whole archive
before a byte of it is kept; files are created with ``O_EXCL | O_NOFOLLOW`` inside ``dest``.
"""

from __future__ import annotations

import os
import stat
import tarfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from wmheval.errors import DataProblem

CHUNK = 1 << 20
SKIPPED = ("__MACOSX/", ".DS_Store")


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 372
    max_member_bytes: int = 64 << 20
    max_total_bytes: int = 4 << 30
    max_compression_ratio: float = float("inf")
    max_path_bytes: int = 1024
    max_depth: int = 32


DEFAULT_LIMITS = ArchiveLimits()


class ArchiveRejected(DataProblem):
    """The archive breaks a rule; ``member`` and ``rule`` say which (one-line message)."""

    def __init__(self, archive: Path | str, member: str | None, rule: str) -> None:
        self.member, self.rule = member, rule
        where = f" member {member!r}" if member is not None else ""
        super().__init__(f"{Path(archive).name}:{where} rejected: {rule}".replace("\n", " "))


@dataclass(frozen=True)
class ExtractReport:
    root: Path
    members: int
    total_bytes: int
    kind: str


def archive_kind(path: Path) -> str:
    """``zip``, ``tar`` or ``tar.gz`` from the content's magic bytes (a ValueError else)."""
    with open(path, "rb") as handle:
        head = handle.read(264)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    raise ArchiveRejected(path, None, "not a zip, tar or tar.gz archive")


def _check_name(archive: Path, name: str, limits: ArchiveLimits, seen: set[str]) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ArchiveRejected(archive, name, "control character in the name")
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveRejected(archive, name, "absolute or Windows path")
    if len(name.encode("utf-8", "surrogateescape")) > limits.max_path_bytes:
        raise ArchiveRejected(archive, name[:60], f"name longer than {limits.max_path_bytes} "
                                                  "bytes")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if any(unicodedata.normalize("NFKC", p) == ".." for p in parts) or ".." in name.split("/"):
        raise ArchiveRejected(archive, name, "'..' in the path")
    if len(parts) > limits.max_depth:
        raise ArchiveRejected(archive, name[:60], f"nested deeper than {limits.max_depth}")
    key = unicodedata.normalize("NFC", "/".join(parts)).casefold()
    if key in seen:
        raise ArchiveRejected(archive, name, "duplicate name (after Unicode normalisation "
                                             "and case folding)")
    seen.add(key)
    return "/".join(parts)


def _plan_zip(archive: Path, handle: zipfile.ZipFile, limits: ArchiveLimits):
    infos = handle.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveRejected(archive, None, f"more than {limits.max_members} members")
    seen: set[str] = set()
    plan, total, size = [], 0, archive.stat().st_size
    spans = []
    for info in infos:
        name = _check_name(archive, info.filename, limits, seen)
        mode = info.external_attr >> 16
        if info.flag_bits & 0x1:
            raise ArchiveRejected(archive, info.filename, "encrypted member")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveRejected(archive, info.filename, "unsupported compression method "
                                  f"{info.compress_type}")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveRejected(archive, info.filename, "not a regular file or folder "
                                  "(link, device or FIFO)")
        if info.compress_size > size or info.header_offset > size:
            raise ArchiveRejected(archive, info.filename, "sizes inconsistent with the "
                                  "archive's length")
        spans.append((info.header_offset, info.header_offset + info.compress_size,
                      info.filename))
        if info.is_dir():
            plan.append((name, None, 0))
            continue
        if info.file_size > limits.max_member_bytes:
            raise ArchiveRejected(archive, info.filename, "member larger than "
                                  f"{limits.max_member_bytes} bytes")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveRejected(archive, info.filename, "archive holds more than "
                                  f"{limits.max_total_bytes} bytes")
        plan.append((name, info, info.file_size))
    spans.sort()
    for (_, end, _), (start, _, name) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ArchiveRejected(archive, name, "overlapping members (a zip bomb)")
    return plan


def _plan_tar(archive: Path, handle: tarfile.TarFile, limits: ArchiveLimits):
    seen: set[str] = set()
    plan, total, count = [], 0, 0
    for info in handle:
        count += 1
        if count > limits.max_members:
            raise ArchiveRejected(archive, None, f"more than {limits.max_members} members")
        name = _check_name(archive, info.name, limits, seen)
        if info.isdir():
            plan.append((name, None, 0))
            continue
        if not info.isreg() or info.issparse():
            raise ArchiveRejected(archive, info.name, "not a regular file or folder "
                                  "(link, device, FIFO or sparse)")
        if info.size > limits.max_member_bytes:
            raise ArchiveRejected(archive, info.name, "member larger than "
                                  f"{limits.max_member_bytes} bytes")
        total += info.size
        if total > limits.max_total_bytes:
            raise ArchiveRejected(archive, info.name, "archive holds more than "
                                  f"{limits.max_total_bytes} bytes")
        plan.append((name, info, info.size))
    return plan


def _write(dest: Path, name: str, stream, declared: int, archive: Path,
           limits: ArchiveLimits) -> int:
    target = dest.joinpath(*name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(target, flags, 0o600)
    written = 0
    with os.fdopen(descriptor, "wb") as out:
        while True:
            chunk = stream.read(min(CHUNK, declared - written + 1))
            if not chunk:
                break
            written += len(chunk)
            if written > declared or written > limits.max_member_bytes:
                raise ArchiveRejected(archive, name, "member longer than its declared size")
            out.write(chunk)
    if written != declared:
        raise ArchiveRejected(archive, name, "member shorter than its declared size")
    return written


def safe_extract(archive: Path, dest: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
                 ) -> ExtractReport:
    """Check every member, then stream the regular files into ``dest`` (a fresh, empty
    folder). Raises :class:`ArchiveRejected` naming the member and the rule."""
    archive, dest = Path(archive), Path(dest)
    kind = archive_kind(archive)
    total = members = 0
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as handle:
                plan = _plan_zip(archive, handle, limits)
                for name, info, size in plan:
                    members += 1
                    if info is None or name.startswith(SKIPPED) or \
                            name.endswith(SKIPPED[1]):
                        continue
                    with handle.open(info) as stream:
                        total += _write(dest, name, stream, size, archive, limits)
        else:
            mode = "r:gz" if kind == "tar.gz" else "r:"
            with tarfile.open(archive, mode) as handle:
                plan = _plan_tar(archive, handle, limits)
                for name, info, size in plan:
                    members += 1
                    if info is None or name.startswith(SKIPPED) or \
                            name.endswith(SKIPPED[1]):
                        continue
                    stream = handle.extractfile(info)
                    if stream is None:
                        raise ArchiveRejected(archive, info.name, "unreadable member")
                    total += _write(dest, name, stream, size, archive, limits)
    except ArchiveRejected:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as error:
        raise ArchiveRejected(archive, None, f"damaged archive ({error})") from None
    return ExtractReport(dest, members, total, kind)
