"""Resumable scoring: per-case results cached by the content of the two files and the options.

A case's row depends only on the bytes of its reference and prediction files, the scoring
options and the wmheval version, so the cache key is the SHA-256 of exactly those. Only
scored rows are cached (a failure is recomputed, so its message names today's paths); a
hit is relabelled with the task's id and prediction path. Entries are small JSON files
written atomically, so concurrent workers and killed runs never leave a half entry.
Default folder: ``$WMHEVAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/wmheval/cases``, else
``~/.cache/wmheval/cases``; ``wmheval score --no-cache`` skips it, ``--cache DIR`` moves it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from pathlib import Path

from wmheval.io.atomic import write_text_atomic
from wmheval.io.paths import not_a_file_problem

CACHE_FORMAT = 2  # 2: rows gained reference_diagonal_mm and the overlap counts


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


def case_key(reference_sha: str, prediction_sha: str | None, options: dict) -> str:
    """The cache key of one case: both files' contents, the options and the version."""
    from wmheval import __version__

    payload = {"format": CACHE_FORMAT, "version": __version__, "reference": reference_sha,
               "prediction": prediction_sha, "options": options}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class CaseCache:
    """A folder of cached case rows, one JSON file per key."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            text = self._path(key).read_text(encoding="utf-8")
            row = json.loads(text)
        except (OSError, ValueError):
            return None
        return self.restore(row) if isinstance(row, dict) else None

    def put(self, key: str, row: dict) -> None:
        """Store ``row``; a cache that cannot be written is skipped, never fatal."""
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in row.items()}
        clean["_nan"] = [k for k, v in row.items() if isinstance(v, float) and math.isnan(v)]
        with contextlib.suppress(OSError):
            write_text_atomic(self._path(key), json.dumps(clean))

    @staticmethod
    def restore(row: dict) -> dict:
        nan_keys = set(row.pop("_nan", []))
        return {k: (math.nan if k in nan_keys else v) for k, v in row.items()}
