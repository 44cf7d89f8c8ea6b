"""Safe extraction of submitted archives (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``) and folders.

A submission archive comes from someone else and is read as hostile. :func:`safe_extract`
writes its regular files and folders into a fresh staging folder and nothing else, or
rejects the **whole** archive with :class:`ArchiveRejected` (one line naming the member and
the rule) and removes everything it wrote. It never calls ``extractall`` or
``tarfile.extract``: zip central directories are checked in full before one byte is
inflated, and tar streams are parsed here, header by header, so that no library default
(links followed, sizes trusted, whole members read into memory) can reach the host.

What is refused (the rule names are the ``rule`` attribute of the error):

=====================  ====================================================================
``not-archive``        the file is not a zip, tar or gzip-compressed tar (by magic bytes)
``corrupt``            broken structure: bad checksum, truncated data, a gap between zip
                       members, data after the end of the archive (polyglots)
``empty``              no file at all
``link``               symbolic or hard links (zip ``S_IFLNK`` mode bits, tar types 1, 2, K)
``special``            devices, FIFOs, sockets, sparse files, volume labels, unknown types
``path``               absolute paths, drive letters (``C:``), UNC paths, backslashes, ``..``
                       and ``.`` components, empty components, and Unicode look-alikes of
                       any of these (the checks also run on the NFKC form of the name);
                       a leading ``./`` (``tar -C sub -cf s.tar .``) is removed first
``name``               NUL, control or format characters, names that are not UTF-8
``name-too-long``      more than ``max_path_bytes`` bytes, or a component over 255 bytes
``too-deep``           more than ``max_depth`` components
``duplicate``          two members with one name after NFC normalisation and case folding
                       (``Result.nii.gz`` next to ``result.nii.gz``), or a file that is also
                       a folder (``a`` and ``a/b``)
``encrypted``          an encrypted zip member
``compression``        a zip method other than stored (0) and deflated (8)
``size-mismatch``      sizes or checksums that disagree: zip local versus central header,
                       a data descriptor, the declared size versus the bytes inflated, a
                       CRC-32, overlapping zip members
``too-many-members``   more than ``max_members`` entries
``member-too-large``   one member over ``max_member_bytes`` (uncompressed)
``too-large``          all members over ``max_total_bytes``, or the archive file over
                       ``max_archive_bytes``
``compression-ratio``  a member (over 1 MiB) or the whole archive inflating more than
                       ``max_compression_ratio`` times its compressed size
=====================  ====================================================================

Archives inside the archive are ordinary files, never opened; a ``.nii.gz`` bomb inside a
valid archive is extracted as the small file it is and fails later as a case (the image
reader checks the declared grid before inflating). ``__MACOSX/`` folders, ``._*`` and
``.DS_Store`` files are checked like every member, then skipped (listed in
:attr:`ExtractReport.skipped`).

Memory stays bounded: members are streamed in reads of at most 1 MiB, counted against
their declared size and the caps; a zip central directory larger than the member cap
allows is refused before it is parsed; a tar extended header is at most 1 MiB.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wmheval.errors import DataProblem, InputError

CHUNK = 1 << 20
"""Largest single read or inflate step (1 MiB)."""

MAX_COMPONENT_BYTES = 255
"""Longest name of one path component (the limit of common file systems)."""

RATIO_FLOOR = 1 << 20
"""Members (and archives) inflating to at most this many bytes are exempt from the ratio cap."""

_MiB = 1 << 20
_GiB = 1 << 30


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps applied to one archive; the defaults fit WMH challenge submissions.

    A submission of 110 subjects holds 110 to 220 members of 0.1-3 MB (``.nii.gz``) or up
    to about 51 MB (a float64 raw ``.nii`` of the largest 2017 grid). The defaults leave
    room for that and for a few README or log files, and stop anything much larger:

    - ``max_members`` (2,000): entries, files and folders together.
    - ``max_member_bytes`` (128 MiB): one member, uncompressed.
    - ``max_total_bytes`` (2 GiB): all members, uncompressed: the most a submission can
      write to the organiser's disk (4 GiB takes too long to write and score on 2 cores).
    - ``max_compression_ratio`` (1,100): uncompressed over compressed size, for a member
      over 1 MiB and for the whole archive. The default sits above deflate's ceiling
      (about 1,032:1), so it never refuses honest data: a raw ``.nii`` mask that is all
      zeros legitimately deflates about 1,000-fold. The byte caps are what stop bombs;
      lower this per phase (e.g. to 50) when only ``.nii.gz`` members are expected.
    - ``max_path_bytes`` (1,024): one member name, UTF-8 bytes (and 255 per component).
    - ``max_depth`` (16): components of one member name.
    - ``max_archive_bytes`` (512 MiB): the archive file itself.
    """

    max_members: int = 2_000
    max_member_bytes: int = 128 * _MiB
    max_total_bytes: int = 2 * _GiB
    max_compression_ratio: float = 1_100.0
    max_path_bytes: int = 1_024
    max_depth: int = 16
    max_archive_bytes: int = 512 * _MiB


DEFAULT_LIMITS = ArchiveLimits()


def _shown(name: str | bytes, limit: int = 120) -> str:
    """A member name on one printable line: control and format characters, backslashes and
    undecodable bytes escaped, long names cut (with their length)."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    out = []
    for char in name:
        if char == "\\":
            out.append("\\\\")
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif unicodedata.category(char) in _BAD_CATEGORIES:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    text = "".join(out)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(name.encode('utf-8', 'surrogateescape'))} bytes)"
    return text


class ArchiveRejected(DataProblem):
    """A submitted archive refused as a whole (exit 1 for the board; ``score`` exits 2).

    ``member`` is the offending entry's name as stored (None for the archive as a whole),
    ``rule`` a short stable name of the rule broken (see the module docstring), ``reason``
    the words; ``str()`` is one line naming the archive, the member and the rule.
    """

    def __init__(self, rule: str, reason: str, member: str | None = None,
                 archive: str | None = None) -> None:
        self.rule = rule
        self.reason = reason
        self.member = member
        self.archive = archive
        super().__init__(rule, reason, member, archive)

    def __str__(self) -> str:
        where = f"{_shown(self.archive)}: " if self.archive else ""
        what = f"member '{_shown(self.member)}': " if self.member is not None else ""
        return f"{where}archive rejected: {what}{self.reason} [{self.rule}]"


@dataclass(frozen=True)
class ExtractReport:
    """What :func:`safe_extract` wrote.

    ``root`` is the folder to read the submission from (``dest``, or its single top folder
    with ``strip_top_folder``); ``members`` the files written, relative to ``root`` with
    ``/``, in archive order; ``total_bytes`` their size; ``kind`` what was read (``zip``,
    ``tar``, ``tar.gz`` or ``folder``); ``skipped`` the ``__MACOSX``/``._*``/``.DS_Store``
    entries left out (relative to ``dest``).
    """

    root: Path
    members: tuple[str, ...]
    total_bytes: int
    kind: str
    skipped: tuple[str, ...] = ()


# --- telling archives apart -------------------------------------------------------------

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def _is_tar_header(block: bytes) -> bool:
    """Whether a 512-byte block is a tar header (valid checksum) or an end-of-archive block."""
    if len(block) < 512:
        return False
    if block[:512] == bytes(512):
        return True
    try:
        stored = int(block[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    signed = (sum(struct.unpack("148b", block[:148])) + 8 * 32
              + sum(struct.unpack("356b", block[156:512])))
    return stored in (unsigned, signed)


def archive_kind(path: Path) -> str | None:
    """``'zip'``, ``'tar'``, ``'tar.gz'`` or ``'folder'`` by what ``path`` holds (magic bytes
    and, for gzip, whether it inflates to a tar header), else None (e.g. a ``.nii.gz``, an
    HTML page saved as ``.zip``, a missing path)."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
            if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
                return "zip"
            if head[:2] == b"\x1f\x8b":
                handle.seek(0)
                try:
                    with gzip.GzipFile(fileobj=handle) as inner:
                        block = inner.read(512)
                except (OSError, EOFError, zlib.error):
                    return None
                return "tar.gz" if _is_tar_header(block) and (
                    block != bytes(512) or _has_suffix(path, (".tar.gz", ".tgz"))) else None
            if _is_tar_header(head) and (head != bytes(512) or _has_suffix(path, (".tar",))):
                return "tar"
    except OSError:
        return None
    return None


def _has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes)


# --- names ------------------------------------------------------------------------------

_BAD_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
_JUNK_FOLDERS = ("__MACOSX",)
_JUNK_FILES = (".DS_Store",)


def _path_problem(name: str) -> str | None:
    """Why a (slash-separated, trailing slash removed) name could leave its folder."""
    if not name:
        return "empty name"
    if "\\" in name:
        return "backslash in the name (a Windows path separator)"
    if name.startswith("/"):
        return "absolute path"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "drive letter (absolute Windows path)"
    if ":" in name:
        return "colon in the name (a drive or an alternate data stream)"
    for part in name.split("/"):
        if part == "":
            return "empty path component (//)"
        if part in (".", ".."):
            return f"'{part}' path component"
    return None


def check_name(name: str, limits: ArchiveLimits) -> tuple[str, str, bool]:
    """Validate one member name; return (the name without its trailing slash, its duplicate
    key (NFC, case-folded), whether it names a folder) or raise ArchiveRejected."""
    for char in name:
        category = unicodedata.category(char)
        if category == "Cs":  # a byte that is not UTF-8, from os.fsdecode
            _reject("name", "name is not UTF-8", name)
        if category in _BAD_CATEGORIES:
            _reject("name", "NUL, control or format character in the name", name)
    raw = name.encode("utf-8")
    if len(raw) > limits.max_path_bytes:
        _reject("name-too-long", f"name of {len(raw)} bytes (at most "
                f"{limits.max_path_bytes})", name)
    is_folder = name.endswith("/")
    bare = name[:-1] if is_folder else name
    problem = _path_problem(bare)
    if problem:
        _reject("path", problem, name)
    for form in ("NFKC", "NFKD"):
        if _path_problem(unicodedata.normalize(form, bare)):
            _reject("path", f"a Unicode look-alike of a path separator, '..' or a drive "
                    f"({form}: '{_shown(unicodedata.normalize(form, bare))}')", name)
    parts = bare.split("/")
    if len(parts) > limits.max_depth:
        _reject("too-deep", f"{len(parts)} levels deep (at most {limits.max_depth})", name)
    longest = max(len(p.encode("utf-8")) for p in parts)
    if longest > MAX_COMPONENT_BYTES:
        _reject("name-too-long", f"a path component of {longest} bytes (at most "
                f"{MAX_COMPONENT_BYTES})", name)
    return bare, unicodedata.normalize("NFC", bare).casefold(), is_folder


def _decode_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _reject("name", "name is not UTF-8", raw.decode("utf-8", "surrogateescape"))
    raise AssertionError  # unreachable


def _is_junk(bare: str) -> bool:
    parts = bare.split("/")
    return parts[0] in _JUNK_FOLDERS or parts[-1] in _JUNK_FILES or parts[-1].startswith("._")


def _reject(rule: str, reason: str, member: str | None = None):
    raise ArchiveRejected(rule, reason, member)


class _Names:
    """Duplicate and file-versus-folder checks over the members seen so far."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.files: dict[str, str] = {}
        self.folders: dict[str, str] = {}  # explicit entries
        self.implied: dict[str, str] = {}  # parents of any entry
        self.count = 0

    def add(self, name: str) -> tuple[str, bool]:
        """Check one more member name; return it without a leading ``./`` and trailing
        ``/`` ("" for the root folder itself), and whether it names a folder."""
        self.count += 1
        if self.count > self.limits.max_members:
            _reject("too-many-members", f"more than {self.limits.max_members} members",
                    name)
        while name.startswith("./"):  # `tar -C sub -cf s.tar .` writes ./1/result.nii.gz
            name = name[2:]
        if name in ("", "."):  # the archive's root folder itself
            return "", True
        bare, key, is_folder = check_name(name, self.limits)
        if key in self.files or (is_folder and key in self.folders):
            other = self.files.get(key) or self.folders.get(key)
            _reject("duplicate", f"same name as '{_shown(other)}' (after Unicode "
                    "normalisation and case folding)", name)
        if not is_folder and (key in self.folders or key in self.implied):
            other = self.folders.get(key) or self.implied[key]
            _reject("duplicate", f"a file where '{_shown(other)}' needs a folder", name)
        parts = key.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in self.files:
                _reject("duplicate", f"'{_shown(self.files[parent])}' is a file, and this "
                        "member needs it to be a folder", name)
            self.implied.setdefault(parent, name)
        (self.folders if is_folder else self.files)[key] = name
        return bare, is_folder


# --- writing ----------------------------------------------------------------------------

class _Writer:
    """Writes members below a staging folder, opening every level with ``O_NOFOLLOW``
    relative to its parent's descriptor (nothing can redirect a write outside)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[str] = []
        self.skipped: list[str] = []
        self.total = 0

    def _parent_fd(self, parts: list[str]) -> int:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for part in parts:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def folder(self, bare: str) -> None:
        if not bare:
            return
        os.close(self._parent_fd(bare.split("/")))

    def file(self, bare: str, chunks: Iterator[bytes]) -> int:
        parts = bare.split("/")
        parent = self._parent_fd(parts[:-1])
        try:
            fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o600, dir_fd=parent)
        finally:
            os.close(parent)
        size = 0
        with os.fdopen(fd, "wb", buffering=0) as handle:
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
        self.written.append(bare)
        return size


class _Budget:
    """Counts uncompressed bytes against the member and total caps and the ratio."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.total = 0

    def member(self, name: str, size: int, compressed: int | None = None) -> None:
        limits = self.limits
        if size > limits.max_member_bytes:
            _reject("member-too-large", f"{size} bytes uncompressed (at most "
                    f"{limits.max_member_bytes})", name)
        if compressed is not None and size > RATIO_FLOOR and \
                size > limits.max_compression_ratio * max(compressed, 1):
            _reject("compression-ratio", f"inflates {size / max(compressed, 1):.0f}-fold "
                    f"(at most {limits.max_compression_ratio:g})", name)
        self.total += size
        if self.total > limits.max_total_bytes:
            _reject("too-large", f"members add up to more than {limits.max_total_bytes} "
                    "bytes uncompressed", name)

    def whole(self, archive_bytes: int) -> None:
        if self.total > RATIO_FLOOR and \
                self.total > self.limits.max_compression_ratio * max(archive_bytes, 1):
            _reject("compression-ratio", f"the archive inflates "
                    f"{self.total / max(archive_bytes, 1):.0f}-fold (at most "
                    f"{self.limits.max_compression_ratio:g})")


# --- zip --------------------------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCAL = struct.Struct("<4s5H3L2H")
_ENCRYPTED_FLAGS = 0x0001 | 0x0040 | 0x2000
_COMPARED_FLAGS = _ENCRYPTED_FLAGS | 0x0008 | 0x0800
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_CENTRAL_ENTRY_ALLOWANCE = 46 + 512
"""Bytes of central directory allowed per member on top of its name (fixed part, extras);
a larger directory (but at least 4 MiB are always allowed) is refused before parsing, so
that parsing it stays within a few MB of memory."""


def _zip_directory(handle, size: int, limits: ArchiveLimits) -> tuple[int, int, int]:
    """Find the end-of-central-directory record; return (entries, cd offset, cd size),
    checked for one disk, the member cap, a bounded size, and nothing after it."""
    tail_start = max(0, size - (_EOCD.size + 0xFFFF))
    handle.seek(tail_start)
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0 and at + _EOCD.size + struct.unpack_from("<H", tail, at + 20)[0] \
            != len(tail):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0 or len(tail) - at < _EOCD.size:
        _reject("corrupt", "no end-of-central-directory record (truncated, or data after "
                "the end of the zip)")
    (_, disk, cd_disk, disk_entries, entries, cd_size, cd_offset,
     _) = _EOCD.unpack_from(tail, at)
    eocd_at = tail_start + at
    end_of_cd = eocd_at
    if 0xFFFF in (disk_entries, entries) or 0xFFFFFFFF in (cd_size, cd_offset):
        locator_at = at - _EOCD64_LOCATOR.size
        if locator_at < 0 or tail[locator_at:locator_at + 4] != b"PK\x06\x07":
            _reject("corrupt", "ZIP64 end record missing")
        _, _, record_at, disks = _EOCD64_LOCATOR.unpack_from(tail, locator_at)
        if disks > 1 or record_at + _EOCD64.size > size:
            _reject("corrupt", "multi-disk or broken ZIP64 end record")
        handle.seek(record_at)
        record = handle.read(_EOCD64.size)
        (sig, _, _, _, disk, cd_disk, disk_entries, entries, cd_size,
         cd_offset) = _EOCD64.unpack(record)
        if sig != b"PK\x06\x06":
            _reject("corrupt", "ZIP64 end record missing")
        end_of_cd = record_at
    if disk or cd_disk or disk_entries != entries:
        _reject("corrupt", "multi-disk zip archives are not accepted")
    if entries > limits.max_members:
        _reject("too-many-members", f"{entries} members (at most {limits.max_members})")
    if entries == 0:
        _reject("empty", "the archive holds no file")
    if cd_offset + cd_size != end_of_cd:
        _reject("corrupt", "the central directory does not end where the end record "
                "starts (data prepended, appended or forged offsets)")
    if cd_size > max(entries * (_CENTRAL_ENTRY_ALLOWANCE + limits.max_path_bytes), 4 * _MiB):
        _reject("corrupt", f"central directory of {cd_size} bytes for {entries} members")
    return entries, cd_offset, cd_size


def _raw_zip_name(info: zipfile.ZipInfo) -> bytes:
    name = info.orig_filename
    return name.encode("utf-8" if info.flag_bits & 0x800 else "cp437")


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    """Sizes of a local header, replaced from its ZIP64 extra field where they are 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == 1:
            values = extra[at + 4:at + 4 + length]
            wanted = [usize == 0xFFFFFFFF, csize == 0xFFFFFFFF]
            if len(values) < 8 * sum(wanted):
                return -1, -1  # a broken field: disagrees with any central size
            found = list(struct.unpack_from(f"<{sum(wanted)}Q", values))
            if wanted[0]:
                usize = found.pop(0)
            if wanted[1]:
                csize = found.pop(0)
            return usize, csize
        at += 4 + length
    return usize, csize


@dataclass
class _ZipMember:
    info: zipfile.ZipInfo
    name: str
    bare: str
    is_folder: bool
    data_start: int
    data_end: int  # end of data, including any data descriptor


def _zip_unicode_path(extra: bytes) -> bytes | None:
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == 0x7075 and length >= 5:
            return extra[at + 9:at + 4 + length]
        at += 4 + length
    return None


def _check_zip_member(handle, info: zipfile.ZipInfo, names: _Names, budget: _Budget,
                      archive_size: int) -> _ZipMember:
    raw = _raw_zip_name(info)
    name = _decode_name(raw)
    unicode_path = _zip_unicode_path(info.extra)
    if unicode_path is not None and unicode_path != raw:
        _reject("name", "a second (Info-ZIP Unicode) name that differs from the name", name)
    bare, is_folder = names.add(name)
    if info.flag_bits & _ENCRYPTED_FLAGS:
        _reject("encrypted", "encrypted member", name)
    if info.compress_type not in _ZIP_METHODS:
        _reject("compression", f"compression method {info.compress_type} (only stored and "
                "deflated are accepted)", name)
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        _reject("link", "symbolic link", name)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        _reject("special", "not a regular file or folder (a device, FIFO or socket)", name)
    if (kind == stat.S_IFDIR or info.external_attr & 0x10) and not is_folder:
        _reject("special", "folder attributes on a file name (no trailing '/')", name)
    if is_folder and kind == stat.S_IFREG:
        _reject("special", "a file's attributes on a folder name", name)
    if is_folder and info.file_size:
        _reject("size-mismatch", "a folder entry holding data", name)
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        _reject("size-mismatch", "stored member whose compressed and uncompressed sizes "
                "differ", name)
    budget.member(name, info.file_size, info.compress_size)
    # The local header must repeat what the central directory says.
    offset = info.header_offset
    if offset + _LOCAL.size > archive_size:
        _reject("corrupt", "local header beyond the end of the archive", name)
    handle.seek(offset)
    header = handle.read(_LOCAL.size)
    (sig, _, flags, method, _, _, crc, csize, usize, name_len,
     extra_len) = _LOCAL.unpack(header)
    if sig != b"PK\x03\x04":
        _reject("corrupt", "no local header where the central directory points", name)
    local_name = handle.read(name_len)
    local_extra = handle.read(extra_len)
    if local_name != raw:
        _reject("size-mismatch", f"the local header names it "
                f"'{_shown(local_name)}'", name)
    if (flags ^ info.flag_bits) & _COMPARED_FLAGS or method != info.compress_type:
        _reject("size-mismatch", "local and central headers disagree on flags or method",
                name)
    usize, csize = _zip64_sizes(local_extra, usize, csize)
    has_descriptor = bool(flags & 0x0008)
    if (not has_descriptor or csize or usize or crc) and \
            (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
        _reject("size-mismatch", f"local header says {usize} bytes ({csize} compressed), "
                    f"the central directory {info.file_size} ({info.compress_size})", name)
    data_start = offset + _LOCAL.size + name_len + extra_len
    data_end = data_start + info.compress_size
    if data_end > archive_size:
        _reject("size-mismatch", f"{info.compress_size} compressed bytes declared, more than "
                "the archive holds", name)
    if has_descriptor:
        handle.seek(data_end)
        descriptor = handle.read(24)
        at = 4 if descriptor[:4] == b"PK\x07\x08" else 0
        expected = (info.CRC, info.compress_size, info.file_size)
        for layout in ("<LLL", "<LQQ"):  # ZIP64 descriptors have 8-byte sizes
            length = struct.calcsize(layout)
            if len(descriptor) >= at + length and \
                    struct.unpack_from(layout, descriptor, at) == expected:
                data_end += at + length
                break
        else:
            _reject("size-mismatch", "data descriptor and central directory disagree", name)
    return _ZipMember(info, name, bare, is_folder, data_start, data_end)


def _inflate(handle, member: _ZipMember) -> Iterator[bytes]:
    """The member's bytes in chunks of at most 1 MiB, checked against its declared size
    and CRC-32 and for a deflate stream that ends exactly at its compressed size."""
    info = member.info
    handle.seek(member.data_start)
    left = info.compress_size
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    produced = 0
    crc = 0

    def account(chunk: bytes) -> bytes:
        nonlocal produced, crc
        produced += len(chunk)
        if produced > info.file_size:
            _reject("size-mismatch", f"inflates to more than the {info.file_size} bytes "
                    "declared", member.name)
        crc = zlib.crc32(chunk, crc)
        return chunk

    while left:
        data = handle.read(min(CHUNK, left))
        if not data:
            _reject("corrupt", "compressed data cut off", member.name)
        left -= len(data)
        if inflater is None:
            yield account(data)
            continue
        if inflater.eof:
            _reject("size-mismatch", "compressed data continues after the end of the "
                    "deflate stream", member.name)
        try:
            out = inflater.decompress(data, CHUNK)
            yield account(out)
            while inflater.unconsumed_tail:
                out = inflater.decompress(inflater.unconsumed_tail, CHUNK)
                yield account(out)
        except zlib.error as error:
            _reject("corrupt", f"deflate data is broken ({error})", member.name)
    if inflater is not None:
        if not inflater.eof:
            _reject("corrupt", "deflate stream ends early (truncated)", member.name)
        if inflater.unused_data:
            _reject("size-mismatch", "compressed data continues after the end of the "
                    "deflate stream", member.name)
    if produced != info.file_size:
        _reject("size-mismatch", f"inflates to {produced} bytes, {info.file_size} declared",
                member.name)
    if crc != info.CRC:
        _reject("size-mismatch", "CRC-32 does not match (corrupt data)", member.name)


def _extract_zip(archive: Path, writer: _Writer, limits: ArchiveLimits) -> None:
    size = archive.stat().st_size
    names, budget = _Names(limits), _Budget(limits)
    with open(archive, "rb") as handle:
        entries, cd_offset, _ = _zip_directory(handle, size, limits)
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as parsed:
                infos = parsed.infolist()
        except UnicodeDecodeError:
            _reject("name", "a member name flagged UTF-8 is not UTF-8")
        except (zipfile.BadZipFile, ValueError, struct.error, EOFError,
                NotImplementedError, OverflowError) as error:
            _reject("corrupt", f"broken zip structure ({error})")
        if len(infos) != entries:
            _reject("corrupt", f"the central directory lists {len(infos)} members, its end "
                    f"record {entries}")
        members = [_check_zip_member(handle, info, names, budget, size) for info in infos]
        budget.whole(size)
        # Members must tile the archive from its first byte to the central directory:
        # no overlap (quoted-overlap bombs), no hidden bytes (polyglots).
        position = 0
        for member in sorted(members, key=lambda m: m.info.header_offset):
            if member.info.header_offset < position:
                _reject("size-mismatch", "overlaps the member before it", member.name)
            if member.info.header_offset > position:
                _reject("corrupt", f"{member.info.header_offset - position} unexplained bytes "
                        "before this member", member.name)
            position = member.data_end
        if position != cd_offset:
            _reject("corrupt", "unexplained bytes before the central directory")
        if not any(not m.is_folder for m in members):
            _reject("empty", "the archive holds no file")
        for member in members:
            if _is_junk(member.bare) or member.is_folder:
                for _ in _inflate(handle, member):  # checked all the same (0 bytes: folders)
                    pass
            if _is_junk(member.bare):
                writer.skipped.append(member.bare + ("/" if member.is_folder else ""))
            elif member.is_folder:
                writer.folder(member.bare)
            else:
                writer.total += writer.file(member.bare, _inflate(handle, member))


# --- tar --------------------------------------------------------------------------------

_TAR_REGULAR = (b"0", b"\0", b"7")
_TAR_FOLDER = b"5"
_TAR_LINKS = {b"1": "hard link", b"2": "symbolic link", b"K": "GNU long link name"}
_TAR_SPECIAL = {b"3": "character device", b"4": "block device", b"6": "FIFO (named pipe)",
                b"S": "sparse file", b"D": "GNU dump folder", b"V": "volume label",
                b"M": "multi-volume continuation", b"N": "GNU long file names (old)"}
MAX_EXTENDED_HEADER = CHUNK
"""Largest tar extended header (PAX record set) read into memory."""


class _Stream:
    """Sequential reads of the tar stream, counting every byte against the caps: at most
    ``max_total_bytes`` plus the headers, and the compression ratio for ``.tar.gz``."""

    def __init__(self, source, raw, limits: ArchiveLimits, compressed: bool) -> None:
        self.source, self.raw = source, raw
        self.limits, self.compressed = limits, compressed
        self.count = 0

    def read(self, size: int) -> bytes:
        parts, left = [], size
        while left:
            try:
                data = self.source.read(min(left, CHUNK))
            except (OSError, EOFError, zlib.error) as error:
                _reject("corrupt", f"the gzip stream is broken or truncated ({error})")
            if not data:
                break
            parts.append(data)
            left -= len(data)
        data = b"".join(parts)
        self.count += len(data)
        if self.compressed and self.count > RATIO_FLOOR and \
                self.count > self.limits.max_compression_ratio * max(self.raw.tell(), 1):
            _reject("compression-ratio", f"the archive inflates more than "
                    f"{self.limits.max_compression_ratio:g}-fold")
        return data

    def exact(self, size: int, member: str | None, what: str) -> bytes:
        data = self.read(size)
        if len(data) != size:
            _reject("corrupt", f"archive cut off in {what} (truncated)", member)
        return data


def _tar_number(field: bytes, member: str | None) -> int:
    if field[:1] and field[0] & 0x80:
        if field[0] != 0x80:
            _reject("corrupt", "negative number in a tar header", member)
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        _reject("corrupt", "malformed number in a tar header", member)
    raise AssertionError  # unreachable


def _pax_records(data: bytes, member: str | None) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    at = 0
    while at < len(data):
        space = data.find(b" ", at)
        try:
            length = int(data[at:space])
        except ValueError:
            _reject("corrupt", "malformed PAX extended header", member)
        record = data[at:at + length]
        if space < 0 or length <= space - at or not record.endswith(b"\n") or \
                b"=" not in record[space - at:]:
            _reject("corrupt", "malformed PAX extended header", member)
        key, _, value = record[space - at + 1:-1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value
        at += length
    return records


def _tar_members(stream: _Stream, limits: ArchiveLimits) -> Iterator[tuple[str, int]]:
    """(name, size) of each member, after its headers (a folder's name ends with ``/``);
    the caller reads its data (rounded up to 512 bytes) before asking for the next."""
    long_name: bytes | None = None
    pax: dict[str, bytes] | None = None
    headers = 0
    while True:
        block = stream.read(512)
        if not block and headers == 0:
            _reject("empty", "the archive holds no file")
        if len(block) < 512:
            _reject("corrupt", "archive cut off (no end-of-archive block; truncated)")
        if block == bytes(512):
            if long_name is not None or pax is not None:
                _reject("corrupt", "an extended header without its member")
            return
        headers += 1
        if headers > 3 * limits.max_members + 3:
            _reject("too-many-members", f"more than {limits.max_members} members")
        name_field = block[:100].split(b"\0", 1)[0]
        shown = name_field.decode("utf-8", "backslashreplace")
        if not _is_tar_header(block):
            _reject("corrupt", "tar header checksum is wrong (corrupt, or not a tar)", shown)
        kind = block[156:157]
        size = _tar_number(block[124:136], shown)
        if kind in (b"x", b"g", b"L"):
            cap = limits.max_path_bytes + 1 if kind == b"L" else MAX_EXTENDED_HEADER
            if size > cap:
                _reject("name-too-long" if kind == b"L" else "corrupt",
                        f"extended header of {size} bytes (at most {cap})", shown)
            data = stream.exact(size, shown, "an extended header")
            stream.exact(-size % 512, shown, "an extended header")
            if kind == b"L":
                if long_name is not None:
                    _reject("corrupt", "two GNU long names for one member", shown)
                long_name = data.split(b"\0", 1)[0]
            elif kind == b"x":
                if pax is not None:
                    _reject("corrupt", "two PAX headers for one member", shown)
                pax = _pax_records(data, shown)
            else:
                overrides = {"path", "size", "linkpath"} & set(_pax_records(data, shown))
                if overrides or any(k.startswith("GNU.sparse") for k in
                                    _pax_records(data, shown)):
                    _reject("corrupt", "a global PAX header that changes paths or sizes",
                            shown)
            continue
        if block[257:263] == b"ustar\0" and block[345:500].strip(b"\0"):
            name_field = block[345:500].split(b"\0", 1)[0] + b"/" + name_field
        records = pax or {}
        raw_name = records.get("path", long_name if long_name is not None else name_field)
        name = _decode_name(raw_name)
        if any(key.startswith("GNU.sparse") for key in records):
            _reject("special", "sparse file", name)
        if "size" in records:
            try:
                size = int(records["size"])
            except ValueError:
                _reject("corrupt", "malformed size in a PAX header", name)
        if kind in _TAR_LINKS:
            _reject("link", _TAR_LINKS[kind], name)
        if kind in _TAR_SPECIAL:
            _reject("special", _TAR_SPECIAL[kind], name)
        if kind not in _TAR_REGULAR and kind != _TAR_FOLDER:
            _reject("special", f"unknown tar member type {kind!r}", name)
        if kind in (b"\0", b"0") and name.endswith("/"):
            kind = _TAR_FOLDER  # old tar writers mark folders by a trailing slash only
        if kind == _TAR_FOLDER and not name.endswith("/"):
            name += "/"
        long_name = pax = None
        yield name, size


def _extract_tar(archive: Path, writer: _Writer, limits: ArchiveLimits,
                 compressed: bool) -> None:
    names, budget = _Names(limits), _Budget(limits)
    size = archive.stat().st_size
    with open(archive, "rb") as raw:
        source = gzip.GzipFile(fileobj=raw) if compressed else raw
        stream = _Stream(source, raw, limits, compressed)
        any_file = False
        for name, member_size in _tar_members(stream, limits):
            bare, is_folder = names.add(name)
            if is_folder:
                if member_size:
                    _reject("size-mismatch", "a folder entry holding data", name)
                if _is_junk(bare):
                    writer.skipped.append(bare + "/")
                else:
                    writer.folder(bare)
                continue
            budget.member(name, member_size)
            any_file = True

            def chunks(left: int = member_size, member: str = name) -> Iterator[bytes]:
                while left:
                    data = stream.exact(min(left, CHUNK), member, "member data")
                    left -= len(data)
                    yield data

            if _is_junk(bare):
                writer.skipped.append(bare)
                for _ in chunks():
                    pass
            else:
                writer.total += writer.file(bare, chunks())
            stream.exact(-member_size % 512, name, "member padding")
        if not any_file:
            _reject("empty", "the archive holds no file")
        # After the end-of-archive block only zero padding may follow (no hidden second
        # archive: polyglots), and not much of it.
        trailing = 0
        while True:
            data = stream.read(CHUNK)
            if not data:
                break
            if data.count(0) != len(data):
                _reject("corrupt", "data after the end of the tar archive")
            trailing += len(data)
            if trailing > 16 * CHUNK:
                _reject("corrupt", "more than 16 MiB of padding after the end of the archive")
        budget.whole(size)


# --- folders ----------------------------------------------------------------------------

def _copy_folder(source: Path, writer: _Writer, limits: ArchiveLimits) -> None:
    """Copy a submission folder's regular files and folders (not following links)."""
    names, budget = _Names(limits), _Budget(limits)
    stack = [""]
    any_file = False
    while stack:
        relative = stack.pop()
        with os.scandir(source / relative if relative else source) as listing:
            children = sorted(listing, key=lambda e: e.name)
        for child in children:
            name = f"{relative}{child.name}"
            if child.name.startswith("."):  # hidden: never read as a submission anyway
                writer.skipped.append(name)
                continue
            info = child.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                _reject("link", "symbolic link", name)
            if stat.S_ISDIR(info.st_mode):
                bare, _ = names.add(name + "/")
                if _is_junk(bare):
                    writer.skipped.append(bare + "/")
                else:
                    writer.folder(bare)
                    stack.append(name + "/")
                continue
            if not stat.S_ISREG(info.st_mode):
                _reject("special", "not a regular file or folder", name)
            bare, _ = names.add(name)
            budget.member(name, info.st_size)
            if _is_junk(bare):
                writer.skipped.append(bare)
                continue
            any_file = True
            writer.total += writer.file(bare, _read_file(child.path, info.st_size, name))
    if not any_file:
        _reject("empty", "the folder holds no file")


def _read_file(path: str, size: int, name: str) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            _reject("special", "not a regular file", name)
        left = size
        while left:
            data = handle.read(min(left, CHUNK))
            if not data:
                _reject("size-mismatch", "the file shrank while it was copied", name)
            left -= len(data)
            yield data
        if handle.read(1):
            _reject("size-mismatch", "the file grew while it was copied", name)


# --- the entry point --------------------------------------------------------------------

_EXTRACTORS: dict[str, Callable[[Path, _Writer, ArchiveLimits], None]] = {
    "zip": _extract_zip,
    "tar": lambda a, w, lim: _extract_tar(a, w, lim, compressed=False),
    "tar.gz": lambda a, w, lim: _extract_tar(a, w, lim, compressed=True),
    "folder": _copy_folder,
}


def _prepare(dest: Path) -> bool:
    """Create ``dest`` (True), or accept it as an existing empty folder (False)."""
    try:
        os.mkdir(dest, 0o700)
        return True
    except FileExistsError:
        if dest.is_symlink() or not dest.is_dir() or any(os.scandir(dest)):
            raise InputError(f"{dest}: the staging folder must be new or empty") from None
        return False
    except OSError as error:
        raise InputError(f"{dest}: cannot create the staging folder "
                         f"({error.strerror})") from None


def _clear(dest: Path, created: bool) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in os.scandir(dest):
        if child.is_dir(follow_symlinks=False):
            shutil.rmtree(child.path, ignore_errors=True)
        else:
            os.unlink(child.path)


def safe_extract(archive: Path, dest: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS,
                 strip_top_folder: bool = False) -> ExtractReport:
    """Extract a submission (zip, tar, tar.gz, or a folder to copy) into ``dest``.

    ``dest`` must not exist (it is created, mode 0700) or be an empty folder. Only regular
    files and folders are written, each below ``dest`` through ``O_NOFOLLOW`` opens; any
    broken rule (module docstring) raises :class:`ArchiveRejected` after everything
    written is removed (``dest`` too, if this call created it). The kind is read from the
    magic bytes, not the suffix.

    With ``strip_top_folder``, when every member lies below one top folder (``sub/1.nii.gz``,
    ``sub/2.nii.gz``), :attr:`ExtractReport.root` is that folder and member names are
    relative to it; without it (the default), ``root`` is ``dest``. wmheval's submission
    layouts find predictions at any depth, so ``score`` does not strip.

    Raises InputError when ``archive`` does not exist or ``dest`` cannot be used.
    """
    archive, dest = Path(archive), Path(os.path.abspath(dest))
    if not archive.exists():
        raise InputError(f"{archive}: not found")
    label = archive.name
    kind = archive_kind(archive)
    try:
        if kind is None:
            raise ArchiveRejected("not-archive", "not a zip, tar or tar.gz archive (by its "
                                  "first bytes)")
        if kind != "folder" and archive.stat().st_size > limits.max_archive_bytes:
            raise ArchiveRejected("too-large", f"archive of {archive.stat().st_size} bytes "
                                  f"(at most {limits.max_archive_bytes})")
    except ArchiveRejected as error:
        error.archive = label
        raise
    created = _prepare(dest)
    writer = _Writer(dest)
    try:
        _EXTRACTORS[kind](archive, writer, limits)
    except ArchiveRejected as error:
        error.archive = label
        _clear(dest, created)
        raise
    except RecursionError:  # not expected: every parser here is iterative
        _clear(dest, created)
        raise ArchiveRejected("corrupt", "nesting too deep", archive=label) from None
    except BaseException:
        _clear(dest, created)
        raise
    members = tuple(writer.written)
    root = dest
    if strip_top_folder and members:
        tops = {m.split("/", 1)[0] for m in members}
        if len(tops) == 1 and all("/" in m for m in members):
            top = tops.pop()
            root = dest / top
            members = tuple(m.split("/", 1)[1] for m in members)
    return ExtractReport(root=root, members=members, total_bytes=writer.total, kind=kind,
                         skipped=tuple(writer.skipped))
