"""Adapter to the library's safe archive reader (``wmheval.io.archives``).

The board uses exactly this contract: ``ArchiveLimits``, ``ArchiveRejected`` (a
``DataProblem`` with ``member`` and ``rule``), ``archive_kind(path)`` and
``safe_extract(archive, dest, *, limits)``; the phase's caps in ``challenge.toml`` become
the reader's limits here.
"""

from __future__ import annotations

from pathlib import Path

from wmheval.io.archives import ArchiveLimits, ArchiveRejected, ExtractReport, safe_extract
from wmheval_leaderboard.config import ArchiveCaps


def limits_for(caps: ArchiveCaps) -> ArchiveLimits:
    """The reader's limits from a phase's caps (the reader's defaults for the rest: its
    compression-ratio cap sits above deflate's ceiling, so honest masks pass)."""
    wanted = {"max_members": caps.max_members, "max_member_bytes": caps.max_member_mb << 20,
              "max_total_bytes": caps.max_total_mb << 20,
              "max_archive_bytes": caps.max_archive_mb << 20}
    known = set(ArchiveLimits.__dataclass_fields__)
    return ArchiveLimits(**{k: v for k, v in wanted.items() if k in known})


def reason(error: Exception) -> str:
    """The one-line reason of a rejection, without the stored archive's (hash) name."""
    if hasattr(error, "archive"):
        error.archive = None
    text = " ".join(str(error).split())
    return text.removeprefix("archive rejected: ")


def extract(archive: Path, dest: Path, caps: ArchiveCaps) -> ExtractReport:
    """Extract ``archive`` into the fresh folder ``dest`` (ArchiveRejected on any rule)."""
    return safe_extract(archive, dest, limits=limits_for(caps))


__all__ = ["ArchiveRejected", "extract", "limits_for", "reason"]
