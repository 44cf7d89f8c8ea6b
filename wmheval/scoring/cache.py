"""Resumable scoring: per-case results cached by the content of the two files and the options.

A case's row depends only on the bytes of its reference and prediction files, the scoring
options and the wmheval version, so the cache key is the SHA-256 of exactly those. Only
scored rows are cached (a failure is recomputed, so its message names today's paths); a
hit is relabelled with the task's id and prediction path. Entries are small JSON files
written atomically, so concurrent workers and killed runs never leave a half entry.
Default folder: ``$WMHEVAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/wmheval/cases``, else
``~/.cache/wmheval/cases``; ``wmheval score --no-cache`` skips it, ``--cache DIR`` moves it.

The cache never trusts what it finds. An entry is used only when all of these hold:

* it is a regular file (opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with
  ``fstat``: a symbolic link, a FIFO or a device is never read) of at most
  :data:`MAX_ENTRY_BYTES`;
* it is JSON in this module's format whose ``sha256`` is the hash of its own content
  (damage and hand edits that do not recompute it are caught);
* the inputs it records (file hashes, options, version) hash to the key it is filed under
  and are the inputs of the case asked for (another case's entry under a key is refused);
* its row has exactly the columns of a scored row, a scored status, metrics in their
  ranges and Dice and AVD equal to the values its own voxel counts give.

Anything else is a :class:`CacheMiss` with the reason; the case is scored afresh (the
caller notes it in the case's warnings) and the entry is replaced. The hash is not a
signature: someone who may write the cache folder can forge a consistent entry, so the
folder must be as private as the results (the default is in the user's home).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from wmheval.io.atomic import write_text_atomic
from wmheval.io.paths import kind_of, not_a_file_problem

CACHE_FORMAT = 3  # 3: self-hashed envelope recording the key's inputs; 2: bare rows
MAX_ENTRY_BYTES = 256 * 1024
"""Largest cache entry read (a scored row is about 1 KB; warnings can name long paths)."""

_METRICS = ("dice", "h95", "avd", "recall", "f1")
_FRACTIONS = ("dice", "recall", "f1", "precision")
_NON_NEGATIVE = ("h95", "avd", "reference_ml", "prediction_ml", "reference_diagonal_mm",
                 "overlap_ml")
_COUNTS = ("n_reference_voxels", "n_prediction_voxels", "n_reference_lesions",
           "n_prediction_lesions", "n_overlap_voxels")
_TEXTS = ("id", "status", "prediction_path", "error", "warnings")


def default_cache_dir() -> Path:
    """Where per-case results are cached unless told otherwise."""
    if os.environ.get("WMHEVAL_CACHE_DIR"):
        return Path(os.environ["WMHEVAL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wmheval" / "cases"


def content_digest(path: str | Path | None) -> str | None:
    """SHA-256 of a regular file's bytes; None for no file or anything that is not one
    (a FIFO is never opened)."""
    if path is None or not_a_file_problem(path) is not None:
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def key_inputs(reference_sha: str, prediction_sha: str | None, options: dict) -> dict:
    """Everything a case's row depends on: both files' contents, the options, the version."""
    from wmheval import __version__

    return {"format": CACHE_FORMAT, "version": __version__, "reference": reference_sha,
            "prediction": prediction_sha, "options": options}


def _key_of(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def case_key(reference_sha: str, prediction_sha: str | None, options: dict) -> str:
    """The cache key of one case: the SHA-256 of :func:`key_inputs`."""
    return _key_of(key_inputs(reference_sha, prediction_sha, options))


def _seal(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()
                          ).hexdigest()


@dataclass(frozen=True)
class CacheMiss:
    """Why no cached row was used: ``absent`` (no entry), else the entry's problem."""

    reason: str
    absent: bool = False


def _read_entry(path: Path) -> bytes | CacheMiss:
    """The bytes of a regular file of at most :data:`MAX_ENTRY_BYTES`, never following a
    link, never blocking on a FIFO, never reading a device."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except FileNotFoundError:
        return CacheMiss("no entry", absent=True)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return CacheMiss("the entry is a symbolic link")
        return CacheMiss(f"the entry cannot be opened ({error.strerror})")
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            return CacheMiss(f"the entry is not a regular file but {kind_of(info.st_mode)}")
        if info.st_size > MAX_ENTRY_BYTES:
            return CacheMiss(f"the entry is {info.st_size} bytes, more than the "
                             f"{MAX_ENTRY_BYTES} a row can take")
        chunks, size = [], 0
        while chunk := os.read(handle, MAX_ENTRY_BYTES + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ENTRY_BYTES:
                return CacheMiss("the entry grew past the size a row can take")
        return b"".join(chunks)
    except OSError as error:
        return CacheMiss(f"the entry cannot be read ({error.strerror})")
    finally:
        os.close(handle)


def _number(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool)
                             and math.isfinite(value))


def row_problem(row: dict) -> str | None:
    """Why ``row`` is not a believable scored row (None if it is): exact columns, a scored
    status, finite numbers in their ranges, Dice and AVD equal to what its counts give."""
    from wmheval.metrics.overlap import avd_from_counts, dice_from_counts
    from wmheval.scoring.case import COUNT_COLUMNS, SCORED_STATUSES

    expected = {*_TEXTS, *_METRICS, *COUNT_COLUMNS}
    if set(row) != expected:
        odd = sorted(set(row) ^ expected)
        return f"its row has other columns than a scored row ({', '.join(odd[:5])})"
    if not all(isinstance(row[name], str) for name in _TEXTS):
        return "its row has a text column that is not text"
    if row["status"] not in SCORED_STATUSES:
        return f"its row has status {row['status']!r}, not a scored one"
    for name in (*_METRICS, *COUNT_COLUMNS):
        if not _number(row[name]):
            return f"its {name} is not a finite number"
    for name in _FRACTIONS:
        if row[name] is not None and not 0 <= row[name] <= 1:
            return f"its {name} {row[name]} is outside 0-1"
    for name in _NON_NEGATIVE:
        if row[name] is not None and row[name] < 0:
            return f"its {name} {row[name]} is negative"
    counts = [row[name] for name in _COUNTS]
    if any(value is None or value != int(value) or value < 0 for value in counts):
        return "its voxel and lesion counts are not whole numbers"
    n_reference, n_prediction, _, _, n_overlap = (int(value) for value in counts)
    if n_overlap > min(n_reference, n_prediction):
        return "its overlap is larger than a mask"
    for name, expected_value in (("dice", dice_from_counts(n_reference, n_prediction,
                                                           n_overlap)),
                                 ("avd", avd_from_counts(n_reference, n_prediction))):
        stored = math.nan if row[name] is None else row[name]
        if not (math.isnan(stored) and math.isnan(expected_value)) and \
                not math.isclose(stored, expected_value, rel_tol=1e-12, abs_tol=1e-12):
            return f"its {name} {row[name]} is not the {expected_value} its counts give"
    return None


class CaseCache:
    """A folder of cached case rows, one self-verifying JSON file per key."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def entry_path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def lookup(self, key: str, inputs: dict) -> dict | CacheMiss:
        """The cached row of the case whose :func:`key_inputs` are ``inputs``, or why none
        is used. Never returns a row that fails any check of the module docstring."""
        if _key_of(inputs) != key:
            return CacheMiss("the key is not the hash of the case's inputs")
        data = _read_entry(self.entry_path(key))
        if isinstance(data, CacheMiss):
            return data
        try:
            entry = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return CacheMiss("the entry is not JSON")
        if not isinstance(entry, dict) or set(entry) != {"body", "sha256"} or \
                not isinstance(entry["body"], dict):
            return CacheMiss("the entry is not in the cache's format")
        body = entry["body"]
        try:
            sealed = _seal(body)
        except (TypeError, ValueError):
            return CacheMiss("the entry holds values JSON cannot hash")
        if entry["sha256"] != sealed:
            return CacheMiss("the entry's content does not match its hash (edited or "
                             "damaged)")
        if set(body) != {"key", "inputs", "row", "nan"}:
            return CacheMiss("the entry is not in the cache's format")
        if body["key"] != key or not isinstance(body["inputs"], dict) or \
                _key_of(body["inputs"]) != key:
            return CacheMiss("the entry belongs to another key")
        if body["inputs"] != inputs:
            return CacheMiss("the entry was made from other inputs")
        row, nan_keys = body["row"], body["nan"]
        if not isinstance(row, dict) or not isinstance(nan_keys, list) or \
                not set(nan_keys) <= set(row) or any(row[k] is not None for k in nan_keys):
            return CacheMiss("the entry is not in the cache's format")
        problem = row_problem(row)
        if problem is not None:
            return CacheMiss(problem)
        return {k: (math.nan if k in nan_keys or v is None else v) for k, v in row.items()}

    def get(self, key: str, inputs: dict) -> dict | None:
        """The verified row, or None (see :meth:`lookup` for the reason)."""
        found = self.lookup(key, inputs)
        return None if isinstance(found, CacheMiss) else found

    def put(self, key: str, inputs: dict, row: dict) -> None:
        """Store ``row``; a cache that cannot be written is skipped, never fatal, and a row
        that would not pass :meth:`lookup`'s checks is not stored."""
        nan_keys = [k for k, v in row.items() if isinstance(v, float) and math.isnan(v)]
        clean = {k: (None if k in nan_keys else v) for k, v in row.items()}
        clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in clean.items()}
        if _key_of(inputs) != key or row_problem(clean) is not None:
            return
        body = {"key": key, "inputs": inputs, "row": clean, "nan": nan_keys}
        try:
            entry = json.dumps({"body": body, "sha256": _seal(body)})
        except (TypeError, ValueError):
            return
        target = self.entry_path(key)
        if target.parent.is_symlink():
            return
        with contextlib.suppress(OSError):
            write_text_atomic(target, entry)
