"""A seeded corpus of hostile archives, built byte by byte (for the tests and the benchmark).

Zip archives come from a small independent writer (:func:`raw_zip`) so that every header
field can be forged: local versus central sizes, flags, methods, offsets, names with NUL
bytes. Tar archives come from :mod:`tarfile` (its PAX, GNU and ustar writers), patched
where tarfile refuses to write something (sparse types, bad sizes). Every case names the
rule it must break and the member the message must name.
"""

from __future__ import annotations

import gzip
import io
import random
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from wmheval.io.archives import ArchiveLimits

SEED = 20171208
MiB = 1 << 20


# --- a raw zip writer ---------------------------------------------------------------------

@dataclass
class Entry:
    """One zip member; the ``local_*``/``central_*`` fields forge one header only."""

    name: bytes
    payload: bytes = b""
    method: int = 8  # 0 stored, 8 deflated; anything else: payload written as is
    flags: int = 0
    mode: int = 0  # unix mode in the external attributes' high 16 bits
    dos_attr: int = 0
    crc: int | None = None
    usize: int | None = None
    csize: int | None = None
    local: dict = field(default_factory=dict)  # overrides in the local header
    central: dict = field(default_factory=dict)  # overrides in the central entry
    local_extra: bytes = b""
    central_extra: bytes = b""
    descriptor: bytes = b""  # bytes written right after the data
    raw_data: bytes | None = None  # the compressed bytes, when given


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def raw_zip(entries: list[Entry], *, prefix: bytes = b"", eocd_entries: int | None = None,
            cd_offset_shift: int = 0, trailing: bytes = b"") -> bytes:
    """A zip archive of ``entries``, with every field as given (forged where asked)."""
    out = bytearray(prefix)
    central = bytearray()
    for entry in entries:
        if entry.raw_data is not None:
            data = entry.raw_data
        elif entry.method == 8:
            data = deflate(entry.payload)
        else:
            data = entry.payload
        fields = {"flags": entry.flags, "method": entry.method,
                  "crc": zlib.crc32(entry.payload) if entry.crc is None else entry.crc,
                  "csize": len(data) if entry.csize is None else entry.csize,
                  "usize": len(entry.payload) if entry.usize is None else entry.usize,
                  "offset": len(out) - len(prefix)}
        local = {**fields, **entry.local}
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, local["flags"], local["method"],
                           0, 0x21, local["crc"], local["csize"], local["usize"],
                           len(local.get("name", entry.name)), len(entry.local_extra))
        out += local.get("name", entry.name) + entry.local_extra + data + entry.descriptor
        cen = {**fields, **entry.central}
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x031E, 20, cen["flags"],
                               cen["method"], 0, 0x21, cen["crc"], cen["csize"], cen["usize"],
                               len(entry.name), len(entry.central_extra), 0, 0, 0,
                               (entry.mode << 16) | entry.dos_attr, cen["offset"])
        central += entry.name + entry.central_extra
    cd_offset = len(out) - len(prefix) + cd_offset_shift
    count = len(entries) if eocd_entries is None else eocd_entries
    out += central
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central),
                       cd_offset, 0)
    return bytes(out) + trailing


def good_entries() -> list[Entry]:
    """A valid two-subject submission (the baseline every zip case forges one thing in)."""
    rng = random.Random(SEED)
    return [Entry(b"1/result.nii.gz", rng.randbytes(3000)),
            Entry(b"2/result.nii.gz", rng.randbytes(2000))]


def forged(**changes) -> bytes:
    """The valid archive with the second entry changed."""
    entries = good_entries()
    for key, value in changes.items():
        setattr(entries[1], key, value)
    return raw_zip(entries)


def zip_named(*names: bytes, payload: bytes = b"x" * 64) -> bytes:
    return raw_zip([Entry(b"1/result.nii.gz", payload)] + [Entry(n, payload) for n in names])


def zip_of_many(count: int) -> bytes:
    return raw_zip([Entry(f"f{i}.txt".encode(), b"", method=0) for i in range(count)])


def nested_zip(depth: int = 5) -> bytes:
    """A 42.zip-like recursive archive: each level a zip of ten copies of the next."""
    inner = raw_zip([Entry(b"zeros.nii", bytes(4 * MiB))])
    for level in range(depth):
        inner = raw_zip([Entry(f"l{level}_{i}.zip".encode(), inner) for i in range(10)])
    return inner


def quoted_overlap() -> bytes:
    """Fifield's quoted overlap: the first member's stored data quotes the second
    member's local header, so both central entries inflate the same bytes."""
    kernel = deflate(bytes(MiB))
    second = Entry(b"b.nii", bytes(MiB), raw_data=kernel)
    inner = raw_zip([second])
    local_len = inner.index(b"PK\x01\x02")
    quoted = inner[:local_len]
    first = Entry(b"a.nii", quoted, method=0)
    archive = raw_zip([first, Entry(b"b.nii", bytes(MiB), raw_data=kernel)])
    # Point the second central entry at the quoted header inside the first member.
    entries_at = archive.index(b"PK\x01\x02")
    second_at = archive.index(b"PK\x01\x02", entries_at + 4)
    offset = 30 + len(b"a.nii")
    return archive[:second_at + 42] + struct.pack("<L", offset) + archive[second_at + 46:]


def zip64_inconsistent() -> bytes:
    """A local header whose ZIP64 extra field gives other sizes than the central one."""
    payload = b"y" * 500
    data = deflate(payload)
    extra = struct.pack("<HHQQ", 1, 16, len(payload) + 7, len(data))
    return raw_zip([Entry(b"1.nii", payload, raw_data=data, local_extra=extra,
                          local={"usize": 0xFFFFFFFF, "csize": 0xFFFFFFFF})])


def zipfile_bytes(*members: tuple[str, bytes, int]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, method in members:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


# --- tar --------------------------------------------------------------------------------

def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], *, gz: bool = False,
              fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def tinfo(name: str, data: bytes | None = b"", kind: bytes = tarfile.REGTYPE,
          **attrs) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE and data is not None else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data if kind == tarfile.REGTYPE else None


def tar_good(*extra, gz: bool = False, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    rng = random.Random(SEED)
    return tar_bytes([tinfo("1/result.nii.gz", rng.randbytes(3000)), *extra], gz=gz, fmt=fmt)


def retype_tar(raw: bytes, name: bytes, kind: bytes) -> bytes:
    """Change the type flag of the header named ``name`` (checksum recomputed)."""
    block = bytearray(raw)
    for at in range(0, len(raw), 512):
        if raw[at:at + len(name) + 1] == name + b"\0":
            block[at + 156:at + 157] = kind
            block[at + 148:at + 156] = b" " * 8
            block[at + 148:at + 156] = b"%06o\0 " % sum(block[at:at + 512])
            return bytes(block)
    raise AssertionError(f"no header named {name!r}")


def resize_tar(raw: bytes, name: bytes, size: int) -> bytes:
    """Forge the size field of the header named ``name``."""
    block = bytearray(raw)
    for at in range(0, len(raw), 512):
        if raw[at:at + len(name) + 1] == name + b"\0":
            block[at + 124:at + 136] = b"%011o\0" % size
            block[at + 148:at + 156] = b" " * 8
            block[at + 148:at + 156] = b"%06o\0 " % sum(block[at:at + 512])
            return bytes(block)
    raise AssertionError(f"no header named {name!r}")


def tar_of_many(count: int) -> bytes:
    blocks = [tarfile.TarInfo(f"f{i}").tobuf(tarfile.USTAR_FORMAT) for i in range(count)]
    return b"".join(blocks) + bytes(1024)


def gz_zero_member(size: int) -> bytes:
    """A tar.gz of one member of ``size`` zero bytes, compressed as a stream."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as out:
        info = tarfile.TarInfo("1.nii")
        info.size = size
        out.write(info.tobuf(tarfile.USTAR_FORMAT))
        zeros = bytes(MiB)
        left = size
        while left:
            out.write(zeros[:min(left, MiB)])
            left -= min(left, MiB)
        out.write(bytes(-size % 512 + 1024))
    return buffer.getvalue()


# --- the corpus ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One hostile archive: file name, bytes builder, the rule it breaks, the member the
    message names (None: the archive as a whole), and the limits it is read under."""

    id: str
    suffix: str
    build: Callable[[], bytes]
    rule: str
    member: str | None
    limits: ArchiveLimits = ArchiveLimits()


SMALL = ArchiveLimits(max_member_bytes=8 * MiB, max_total_bytes=12 * MiB,
                      max_compression_ratio=50)
LINK = stat.S_IFLNK | 0o777


def _zip_cases() -> list[Case]:
    zeros = bytes(6 * MiB)
    cases = [
        # slip, in every form
        Case("zip-dotdot", ".zip", lambda: zip_named(b"../../x"), "path", "../../x"),
        Case("zip-inner-dotdot", ".zip", lambda: zip_named(b"a/../../x"), "path",
             "a/../../x"),
        Case("zip-absolute", ".zip", lambda: zip_named(b"/tmp/abs"), "path", "/tmp/abs"),
        Case("zip-drive", ".zip", lambda: zip_named(b"C:\\x"), "path", "C:\\\\x"),
        Case("zip-drive-slash", ".zip", lambda: zip_named(b"C:/x"), "path", "C:/x"),
        Case("zip-unc", ".zip", lambda: zip_named(b"\\\\srv\\share\\x"), "path",
             "\\\\\\\\srv"),
        Case("zip-backslash-dotdot", ".zip", lambda: zip_named(b"..\\x"), "path", "..\\\\x"),
        Case("zip-fullwidth-dotdot", ".zip",
             lambda: zip_named("\uff0e\uff0e/x".encode(), ), "path", "\uff0e\uff0e/x"),
        Case("zip-leader-dotdot", ".zip", lambda: zip_named("\u2025/x".encode()), "path",
             "\u2025/x"),
        Case("zip-fullwidth-solidus", ".zip", lambda: zip_named("..\uff0fx".encode()), "path",
             "..\uff0fx"),
        Case("zip-dot", ".zip", lambda: zip_named(b"a/./x"), "path", "a/./x"),
        Case("zip-dot-dotdot", ".zip", lambda: zip_named(b"./../x"), "path", "../x"),
        Case("zip-empty-component", ".zip", lambda: zip_named(b"a//x"), "path", "a//x"),
        Case("zip-nul", ".zip", lambda: zip_named(b"2/result.nii.gz\0../../x"), "name",
             "2/result.nii.gz\\x00../../x"),
        Case("zip-newline", ".zip", lambda: zip_named(b"a\nb.nii"), "name", "a\\x0ab.nii"),
        Case("zip-rtl-override", ".zip", lambda: zip_named("a\u202egz.nii".encode()), "name",
             "a\\u202egz.nii"),
        Case("zip-long-name", ".zip", lambda: zip_named(b"a" * 200 + b"/" + b"b" * 4000),
             "name-too-long", "aaaa"),
        Case("zip-long-component", ".zip", lambda: zip_named(b"a" * 300), "name-too-long",
             "aaaa"),
        Case("zip-deep", ".zip", lambda: zip_named(b"a/" * 10_000 + b"x"), "name-too-long",
             "a/a/a/"),
        Case("zip-too-deep", ".zip", lambda: zip_named(b"a/" * 20 + b"x"), "too-deep",
             "a/a/a/"),
        # links and special files
        Case("zip-symlink", ".zip",
             lambda: raw_zip([Entry(b"l", b"/etc", mode=LINK)]), "link", "l"),
        Case("zip-write-through-link", ".zip",
             lambda: raw_zip([Entry(b"l", b"../outside", mode=LINK),
                              Entry(b"l/x.nii", b"payload")]), "link", "l"),
        Case("zip-link-after-file", ".zip",
             lambda: raw_zip([Entry(b"1/result.nii.gz", b"x"),
                              Entry(b"2", b"/etc/passwd", mode=LINK)]), "link", "2"),
        Case("zip-chardev", ".zip",
             lambda: raw_zip([Entry(b"dev", b"", mode=stat.S_IFCHR | 0o666)]), "special",
             "dev"),
        Case("zip-fifo", ".zip",
             lambda: raw_zip([Entry(b"fifo", b"", mode=stat.S_IFIFO | 0o666)]), "special",
             "fifo"),
        Case("zip-folder-bit-on-file", ".zip",
             lambda: raw_zip([Entry(b"1.nii", b"x", dos_attr=0x10)]), "special", "1.nii"),
        # duplicates and overlaps
        Case("zip-duplicate", ".zip",
             lambda: raw_zip([Entry(b"1.nii", b"a"), Entry(b"1.nii", b"b")]), "duplicate",
             "1.nii"),
        Case("zip-case-fold", ".zip",
             lambda: zip_named(b"1/Result.nii.gz"), "duplicate", "1/Result.nii.gz"),
        Case("zip-nfc-nfd", ".zip",
             lambda: raw_zip([Entry("r\u00e9sult.nii".encode(), b"a", flags=0x800),
                              Entry("re\u0301sult.nii".encode(), b"b", flags=0x800)]),
             "duplicate", "re\u0301sult.nii"),
        Case("zip-sharp-s-fold", ".zip",
             lambda: raw_zip([Entry("stra\u00dfe.nii".encode(), b"a", flags=0x800),
                              Entry(b"STRASSE.nii", b"b")]), "duplicate", "STRASSE.nii"),
        Case("zip-file-then-folder", ".zip",
             lambda: raw_zip([Entry(b"a", b"x"), Entry(b"a/b.nii", b"y")]), "duplicate",
             "a/b.nii"),
        Case("zip-folder-then-file", ".zip",
             lambda: raw_zip([Entry(b"a/b.nii", b"y"), Entry(b"a", b"x")]), "duplicate", "a"),
        Case("zip-quoted-overlap", ".zip", quoted_overlap, "size-mismatch", "b.nii"),
        # forged sizes and flags
        Case("zip-local-vs-central-size", ".zip",
             lambda: forged(local={"usize": 1999}), "size-mismatch", "2/result.nii.gz"),
        Case("zip-local-vs-central-name", ".zip",
             lambda: forged(local={"name": b"2/evil.nii.gz"}), "size-mismatch",
             "2/result.nii.gz"),
        Case("zip-under-declared", ".zip",
             lambda: forged(usize=100), "size-mismatch", "2/result.nii.gz"),
        Case("zip-over-declared", ".zip",
             lambda: forged(usize=2100), "size-mismatch", "2/result.nii.gz"),
        Case("zip-forged-csize", ".zip",
             lambda: forged(csize=0xFFFFFFFE), "size-mismatch", "2/result.nii.gz"),
        Case("zip-bad-crc", ".zip", lambda: forged(crc=12345), "size-mismatch",
             "2/result.nii.gz"),
        Case("zip-stored-sizes-differ", ".zip",
             lambda: forged(method=0, usize=1000), "size-mismatch", "2/result.nii.gz"),
        Case("zip-trailing-deflate", ".zip",
             lambda: forged(raw_data=deflate(b"z" * 2000) + b"\0" * 40,
                            payload=b"z" * 2000), "size-mismatch", "2/result.nii.gz"),
        Case("zip-bad-descriptor", ".zip",
             lambda: forged(flags=0x8, local={"crc": 0, "csize": 0, "usize": 0},
                            descriptor=struct.pack("<4s3L", b"PK\x07\x08", 1, 2, 3)),
             "size-mismatch", "2/result.nii.gz"),
        Case("zip-zip64-inconsistent", ".zip", zip64_inconsistent, "size-mismatch", "1.nii"),
        Case("zip-encrypted", ".zip", lambda: forged(flags=0x1), "encrypted",
             "2/result.nii.gz"),
        Case("zip-strong-encryption", ".zip", lambda: forged(flags=0x41), "encrypted",
             "2/result.nii.gz"),
        Case("zip-deflate64", ".zip", lambda: forged(method=9), "compression",
             "2/result.nii.gz"),
        Case("zip-lzma", ".zip",
             lambda: zipfile_bytes(("1.nii", b"a" * 100, zipfile.ZIP_LZMA)), "compression",
             "1.nii"),
        Case("zip-bzip2", ".zip",
             lambda: zipfile_bytes(("1.nii", b"a" * 100, zipfile.ZIP_BZIP2)), "compression",
             "1.nii"),
        # encodings
        Case("zip-cp437-not-utf8", ".zip", lambda: zip_named(b"r\x82sult\xff.nii"), "name",
             "r\\x82sult\\xff.nii"),
        Case("zip-flagged-utf8-invalid", ".zip",
             lambda: raw_zip([Entry(b"\xff\xfe.nii", b"x", flags=0x800)]), "name", None),
        Case("zip-unicode-path-extra", ".zip",
             lambda: raw_zip([Entry(b"1.nii", b"x", central_extra=struct.pack(
                 "<HHBL", 0x7075, 5 + 9, 1, 0) + b"../../x.n")]), "name", "1.nii"),
        # bombs
        Case("zip-ratio", ".zip", lambda: raw_zip([Entry(b"1.nii", zeros)]),
             "compression-ratio", "1.nii", SMALL),
        Case("zip-member-cap", ".zip", lambda: raw_zip([Entry(b"1.nii", bytes(9 * MiB))]),
             "member-too-large", "1.nii", SMALL),
        Case("zip-total-cap", ".zip",
             lambda: raw_zip([Entry(f"{i}.nii".encode(), random.Random(i).randbytes(5 * MiB),
                                    method=0) for i in range(3)]), "too-large", "2.nii",
             SMALL),
        Case("zip-declared-total-default-caps", ".zip",
             lambda: raw_zip([Entry(f"{i}.nii".encode(), b"", raw_data=random.Random(i)
                                    .randbytes(120_000), usize=120 * MiB, method=8)
                              for i in range(20)]), "too-large", "17.nii"),
        Case("zip-many-members", ".zip", lambda: zip_of_many(65_000), "too-many-members",
             None),
        Case("zip-many-members-forged-count", ".zip",
             lambda: raw_zip([Entry(f"f{i}".encode(), b"", method=0) for i in range(5000)],
                             eocd_entries=3), "corrupt", None),
        # broken files
        Case("zip-truncated", ".zip", lambda: forged()[:-30], "corrupt", None),
        Case("zip-truncated-middle", ".zip", lambda: forged()[:2000], "corrupt", None),
        Case("zip-empty", ".zip", lambda: zipfile_bytes(), "empty", None),
        Case("zip-folders-only", ".zip",
             lambda: raw_zip([Entry(b"a/", b"", method=0, mode=stat.S_IFDIR | 0o755)]),
             "empty", None),
        Case("zip-prepended", ".zip", lambda: raw_zip(good_entries(), prefix=b"MZ" * 100),
             "not-archive", None),
        Case("zip-appended", ".zip", lambda: forged() + b"tail" * 100, "corrupt", None),
        Case("zip-hidden-gap", ".zip", _gap_zip, "corrupt", "2/result.nii.gz"),
        Case("html-as-zip", ".zip",
             lambda: b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n",
             "not-archive", None),
        Case("zip-tar-polyglot", ".zip", lambda: tar_good() + forged(), "corrupt", None),
        Case("text-file", ".tar.gz", lambda: b"just some text\n" * 100, "not-archive", None),
    ]
    return cases


def _gap_zip() -> bytes:
    """Bytes hidden between two members (a second archive could hide there)."""
    entries = good_entries()
    archive = raw_zip(entries)
    first_end = 30 + len(entries[0].name) + len(deflate(entries[0].payload))
    gap = b"HIDDEN" * 10
    patched = archive[:first_end] + gap + archive[first_end:]
    # shift the second member's offset and the central directory's offset
    cd_at = patched.index(b"PK\x01\x02")
    second_at = patched.index(b"PK\x01\x02", cd_at + 4)
    offset = struct.unpack_from("<L", patched, second_at + 42)[0] + len(gap)
    patched = patched[:second_at + 42] + struct.pack("<L", offset) + patched[second_at + 46:]
    eocd = patched.rindex(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<L", patched, eocd + 16)[0] + len(gap)
    return patched[:eocd + 16] + struct.pack("<L", cd_offset) + patched[eocd + 20:]


def _tar_cases() -> list[Case]:
    cases = []
    for gz in (False, True):
        suffix = ".tar.gz" if gz else ".tar"
        tag = "tgz" if gz else "tar"

        def good(*extra, gz=gz, fmt=tarfile.PAX_FORMAT):
            return tar_good(*extra, gz=gz, fmt=fmt)

        cases += [
            Case(f"{tag}-dotdot", suffix, lambda g=good: g(tinfo("../../x", b"x")), "path",
                 "../../x"),
            Case(f"{tag}-absolute", suffix, lambda g=good: g(tinfo("/tmp/abs", b"x")), "path",
                 "/tmp/abs"),
            Case(f"{tag}-drive", suffix, lambda g=good: g(tinfo("C:\\x", b"x")), "path",
                 "C:\\\\x"),
            Case(f"{tag}-symlink", suffix,
                 lambda g=good: g(tinfo("l", None, tarfile.SYMTYPE, linkname="/etc")), "link",
                 "l"),
            Case(f"{tag}-symlink-then-file", suffix,
                 lambda g=good: g(tinfo("l", None, tarfile.SYMTYPE, linkname="../outside"),
                                  tinfo("l/x.nii", b"payload")), "link", "l"),
            Case(f"{tag}-hardlink-to-symlink", suffix,
                 lambda g=good: g(tinfo("a/b/c/s", None, tarfile.SYMTYPE, linkname="../../.."),
                                  tinfo("h", None, tarfile.LNKTYPE, linkname="a/b/c/s")),
                 "link", "a/b/c/s"),
            Case(f"{tag}-hardlink", suffix,
                 lambda g=good: g(tinfo("h", None, tarfile.LNKTYPE,
                                        linkname="1/result.nii.gz")), "link", "h"),
            Case(f"{tag}-chardev", suffix,
                 lambda g=good: g(tinfo("zero", None, tarfile.CHRTYPE, devmajor=1, devminor=5)),
                 "special", "zero"),
            Case(f"{tag}-blockdev", suffix,
                 lambda g=good: g(tinfo("sda", None, tarfile.BLKTYPE, devmajor=8)), "special",
                 "sda"),
            Case(f"{tag}-fifo", suffix,
                 lambda g=good: g(tinfo("pipe", None, tarfile.FIFOTYPE)), "special", "pipe"),
            Case(f"{tag}-gnu-sparse", suffix, lambda gz=gz: _maybe_gz(retype_tar(
                tar_good(tinfo("sparse.nii", b"s" * 1000)), b"sparse.nii", b"S"), gz),
                "special", "sparse.nii"),
            Case(f"{tag}-pax-sparse", suffix,
                 lambda g=good: g(tinfo("p.nii", b"s" * 100, pax_headers={
                     "GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                     "GNU.sparse.name": "p.nii", "GNU.sparse.realsize": "100"})), "special",
                 "p.nii"),
            Case(f"{tag}-pax-path-override", suffix,
                 lambda g=good: g(tinfo("harmless.nii", b"x",
                                        pax_headers={"path": "../../evil.nii"})), "path",
                 "../../evil.nii"),
            Case(f"{tag}-pax-global-path", suffix,
                 lambda gz=gz: _maybe_gz(_global_pax({"path": "../x"}), gz), "corrupt", None),
            Case(f"{tag}-gnu-longname-slip", suffix,
                 lambda g=good: g(tinfo("a/" * 60 + "../" * 70 + "x", b"x"),
                                  fmt=tarfile.GNU_FORMAT), "path", "a/a/"),
            Case(f"{tag}-gnu-longname-dotdot", suffix,
                 lambda g=good: g(tinfo("../" + "b" * 150 + "/x", b"x"),
                                  fmt=tarfile.GNU_FORMAT), "path", "../bbb"),
            Case(f"{tag}-gnu-longname-huge", suffix,
                 lambda g=good: g(tinfo("c" * 200 + "/" + "d" * 5000, b"x"),
                                  fmt=tarfile.GNU_FORMAT), "name-too-long", "././@LongLink"),
            Case(f"{tag}-ustar-prefix-dotdot", suffix,
                 lambda g=good: g(tinfo("../" * 40 + "e" * 50, b"x"), fmt=tarfile.USTAR_FORMAT),
                 "path", "../../"),
            Case(f"{tag}-nul-in-pax-path", suffix,
                 lambda g=good: g(tinfo("n.nii", b"x", pax_headers={"path": "n\x00../x.nii"})),
                 "name", "n\\x00../x.nii"),
            Case(f"{tag}-control-char", suffix, lambda g=good: g(tinfo("a\x1b[2Jb", b"x")),
                 "name", "a\\x1b[2Jb"),
            Case(f"{tag}-not-utf8", suffix,
                 lambda g=good: g(tinfo("r\udce9sult.nii", b"x"), fmt=tarfile.USTAR_FORMAT),
                 "name", "r\\xe9sult.nii"),
            Case(f"{tag}-duplicate", suffix,
                 lambda g=good: g(tinfo("1/result.nii.gz", b"again")), "duplicate",
                 "1/result.nii.gz"),
            Case(f"{tag}-case-fold", suffix,
                 lambda g=good: g(tinfo("1/RESULT.nii.gz", b"again")), "duplicate",
                 "1/RESULT.nii.gz"),
            Case(f"{tag}-nfd", suffix,
                 lambda g=good: g(tinfo("caf\u00e9.nii", b"a"), tinfo("cafe\u0301.nii", b"b")),
                 "duplicate", "cafe\u0301.nii"),
            Case(f"{tag}-file-as-folder", suffix,
                 lambda g=good: g(tinfo("1/result.nii.gz/x", b"a")), "duplicate",
                 "1/result.nii.gz/x"),
            Case(f"{tag}-folder-with-data", suffix,
                 lambda gz=gz: _maybe_gz(retype_tar(tar_good(tinfo("dir", b"x" * 600)),
                                                    b"dir", b"5"), gz),
                 "size-mismatch", "dir/"),
            Case(f"{tag}-size-beyond-end", suffix,
                 lambda gz=gz: _maybe_gz(resize_tar(tar_good(tinfo("big.nii", b"b" * 1000)),
                                                    b"big.nii", 50_000), gz),
                 "corrupt", "big.nii"),
            Case(f"{tag}-size-under-declared", suffix,
                 lambda gz=gz: _maybe_gz(resize_tar(tar_good(tinfo("u.nii", b"u" * 3000),
                                                             tinfo("v.nii", b"v" * 10)),
                                                    b"u.nii", 100), gz),
                 "corrupt", None),
            Case(f"{tag}-member-cap", suffix,
                 lambda gz=gz: _maybe_gz(resize_tar(tar_good(tinfo("big.nii", b"b" * 10)),
                                                    b"big.nii", 200 * MiB), gz),
                 "member-too-large", "big.nii"),
            Case(f"{tag}-many-members", suffix,
                 lambda gz=gz: _maybe_gz(tar_of_many(100_000), gz), "too-many-members",
                 "f2000"),
            Case(f"{tag}-truncated-data", suffix, lambda gz=gz: _maybe_gz(tar_good(
                tinfo("t.nii", random.Random(1).randbytes(5000)))[:-2000], gz), "corrupt",
                None),
            Case(f"{tag}-no-end-block", suffix,
                 lambda gz=gz: _maybe_gz(_without_end(tar_good()), gz), "corrupt", None),
            Case(f"{tag}-empty", suffix, lambda gz=gz: _maybe_gz(tar_bytes([]), gz), "empty",
                 None),
            Case(f"{tag}-folders-only", suffix,
                 lambda gz=gz: _maybe_gz(tar_bytes([tinfo("a", None, tarfile.DIRTYPE)]), gz),
                 "empty", None),
            Case(f"{tag}-zip-polyglot", suffix,
                 lambda gz=gz: _maybe_gz(tar_good() + forged(), gz), "corrupt", None),
        ]
    cases += [
        Case("tgz-ratio", ".tar.gz", lambda: gz_zero_member(6 * MiB), "compression-ratio",
             None, SMALL),
        Case("tgz-total-cap", ".tar.gz",
             lambda: tar_bytes([tinfo(f"{i}.nii", random.Random(i).randbytes(5 * MiB))
                                for i in range(3)], gz=True), "too-large", "2.nii", SMALL),
        Case("tgz-member-bomb", ".tar.gz", lambda: gz_zero_member(300 * MiB),
             "member-too-large", "1.nii"),
        Case("tgz-huge-pax-header", ".tar.gz",
             lambda: tar_good(tinfo("p.nii", b"x", pax_headers={"comment": "c" * (3 * MiB)}),
                              gz=True), "corrupt", None),
        Case("tgz-truncated-gzip", ".tar.gz", lambda: tar_good(gz=True)[:-20], "corrupt",
             None),
    ]
    return cases


def _maybe_gz(raw: bytes, gz: bool) -> bytes:
    return gzip.compress(raw, mtime=0) if gz else raw


def _without_end(raw: bytes) -> bytes:
    """A tar cut exactly after its last member's data (no end-of-archive blocks)."""
    end = len(raw)
    while raw[end - 512:end] == bytes(512):
        end -= 512
    return raw[:end]


def _global_pax(headers: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers=headers) as archive:
        info, data = tinfo("1.nii", b"x")
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def hostile_corpus() -> list[Case]:
    """Every hostile case, zip and tar (seeded: the same bytes on every run)."""
    return _zip_cases() + _tar_cases()
