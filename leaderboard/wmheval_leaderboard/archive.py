"""Adapter to the library's safe archive reader (``wmheval.io.archives``).

The board uses exactly this contract: ``ArchiveLimits``, ``ArchiveRejected`` (a
``DataProblem`` with ``member`` and ``rule``), ``ExtractReport``, ``archive_kind(path)``
and ``safe_extract(archive, dest, *, limits)``. While the library module is not there yet
(it is built on another branch), :mod:`wmheval_leaderboard._fallback_archives` provides a
strict stand-in with the same contract: only regular files and folders, names checked,
members streamed with bounded reads and counted against their declared sizes and the caps.
Delete the fallback once ``wmheval.io.archives`` is merged.
"""

from __future__ import annotations

from pathlib import Path

try:  # the library's reader, once merged
    from wmheval.io.archives import (  # type: ignore[import-not-found]
        ArchiveLimits,
        ArchiveRejected,
        ExtractReport,
        archive_kind,
        safe_extract,
    )
except ImportError:  # pragma: no cover - depends on the merge order
    from wmheval_leaderboard._fallback_archives import (  # noqa: F401
        ArchiveLimits,
        ArchiveRejected,
        ExtractReport,
        archive_kind,
        safe_extract,
    )

from wmheval_leaderboard.config import ArchiveCaps


def limits_for(caps: ArchiveCaps) -> ArchiveLimits:
    """The reader's limits from a phase's caps (compression ratio: no limit, since a raw
    mask that is 99 % zeros deflates 1000-fold; inner .nii.gz bombs are the scorer's)."""
    return ArchiveLimits(max_members=caps.max_members,
                         max_member_bytes=caps.max_member_mb << 20,
                         max_total_bytes=caps.max_total_mb << 20,
                         max_compression_ratio=float("inf"),
                         max_path_bytes=1024, max_depth=32)


def extract(archive: Path, dest: Path, caps: ArchiveCaps) -> ExtractReport:
    """Extract ``archive`` into the fresh folder ``dest`` (ArchiveRejected on any rule)."""
    return safe_extract(archive, dest, limits=limits_for(caps))
