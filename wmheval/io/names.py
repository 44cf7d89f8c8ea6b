"""Labels to file names: the one place where a name from a person becomes part of a path.

Team names, figure-set titles, subject ids and ``--name`` values come from participants and
users; none of them may ever become a path as it is (``../../etc/x``, ``/tmp/x``, ``NUL``,
a name of 10,000 characters, a control character). :func:`safe_file_name` turns any label
into one path component that every common file system accepts, and keeps the names of
different labels different (also on case-insensitive file systems).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_NAME_LENGTH = 64
"""Longest name returned (file systems allow 255 bytes; callers add suffixes such as
``.html`` and prefixes such as an index)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{k}" for k in range(10)),
             *(f"lpt{k}" for k in range(10))}
"""Names Windows reserves whatever their extension (``nul.txt`` too)."""
_HASH_LENGTH = 8
_LOOKS_HASHED = re.compile(rf"-[0-9a-f]{{{_HASH_LENGTH}}}$")


def _label_bytes(label: object) -> bytes:
    text = label if isinstance(label, str) else str(label)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return text.encode("utf-8", "surrogatepass")


def label_hash(label: object, length: int = _HASH_LENGTH) -> str:
    """A short, stable hexadecimal hash of ``label`` (its UTF-8 bytes; undecodable bytes of
    a non-UTF-8 file name kept as they were)."""
    return hashlib.sha256(_label_bytes(label)).hexdigest()[:length]


def safe_file_name(label: object, taken: set[str] | None = None,
                   max_length: int = MAX_NAME_LENGTH) -> str:
    """One safe, unique path component for ``label`` (any text, or anything ``str()`` takes).

    The result has only ASCII letters, digits, ``.``, ``_`` and ``-``; never begins with a
    ``.`` or ``-`` (no hidden files, no option look-alikes), never ends with a ``.``, holds
    no ``..``, is never empty nor a name Windows reserves (``CON``, ``nul.txt``, ...), and
    is at most ``max_length`` characters. A label that is already such a name is returned
    unchanged; any other gets ``-`` and a short hash of the original label, so different
    labels that clean to the same text (``a/b``, ``a:b``) still get different names.

    ``taken``: the lower-cased names already given in the same folder; the result is
    different from all of them ignoring case (a counter is added where needed) and is added
    to the set. Use one set per folder.
    """
    if max_length < 2 * _HASH_LENGTH:
        raise ValueError(f"max_length must be at least {2 * _HASH_LENGTH}, got {max_length}")
    raw = label if isinstance(label, str) else str(label)
    text = "".join(c for c in unicodedata.normalize("NFKD", raw)
                   if not unicodedata.combining(c))
    cleaned = _DOTS.sub(".", _UNSAFE.sub("_", text)).strip("._-")
    reserved = cleaned.split(".", 1)[0].lower() in _RESERVED
    # A label that looks like an altered name (ends in -<hash>) is hashed too, so that a
    # participant cannot take the name another team's label was given.
    altered = (not cleaned or cleaned != raw or reserved or len(cleaned) > max_length
               or _LOOKS_HASHED.search(cleaned) is not None)
    if reserved:  # "nul.txt" -> "nul_.txt-<hash>": the part before the first dot counts
        stem, dot, rest = cleaned.partition(".")
        cleaned = f"{stem}_{dot}{rest}"
    if altered:
        suffix = label_hash(raw)
        room = max_length - len(suffix) - 1
        base = cleaned[:room].rstrip(".-")
        name = f"{base}-{suffix}" if base else f"label-{suffix}"
    else:
        name = cleaned
    if taken is not None:
        base, counter = name, 2
        while name.lower() in taken:
            tail = f"-{counter}"
            name = base[:max_length - len(tail)].rstrip("._-") + tail
            counter += 1
        taken.add(name.lower())
    return name
