"""The scoring child: extract one archive and score it, in its own process with resource
limits (address space, CPU time, file size) and under a wall-clock limit set by the parent.

Run as ``python -m wmheval_leaderboard.worker JOB.json``; it writes ``result.json`` beside
the job (state ``scored``, ``failed`` or ``rejected`` with a one-line reason, and the
per-case rows). It never touches the ledger: the parent commits what it reports.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from wmheval_leaderboard.store import fault_point


def set_limits(memory_mb: int, cpu_s: int, file_mb: int) -> None:
    """Resource limits of the scoring process (Linux/macOS; a no-op elsewhere)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    for limit, value in ((resource.RLIMIT_AS, memory_mb << 20),
                         (resource.RLIMIT_CPU, cpu_s),
                         (resource.RLIMIT_FSIZE, file_mb << 20)):
        hard = resource.getrlimit(limit)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, hard))


def _submission_root(folder: Path) -> Path:
    """The extracted folder, or its one top folder when it holds only that."""
    entries = [p for p in folder.iterdir() if p.name not in ("__MACOSX", ".DS_Store")]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder


def run(job: dict) -> dict:
    from wmheval_leaderboard import archive, engine
    from wmheval_leaderboard.config import ArchiveCaps

    staging = Path(job["staging"])
    extracted = staging / "submission"
    extracted.mkdir()
    try:
        archive.extract(Path(job["blob"]), extracted, ArchiveCaps(**job["caps"]))
    except archive.ArchiveRejected as error:
        return {"state": "rejected", "reason": archive.reason(error)}
    fault_point("mid_extract")
    subjects = job["subjects"] if isinstance(job["subjects"], str) else tuple(job["subjects"])
    policy = engine.make_policy(job["missing"], job["undefined"])
    try:
        scored = engine.score_submission(
            Path(job["reference"]), _submission_root(extracted), staging / "run", subjects,
            policy=policy, cache=Path(job["cache"]) if job.get("cache") else None)
    except (ValueError, OSError) as error:
        return {"state": "failed", "reason": _one_line(error, job)}
    fault_point("mid_score")
    shutil.rmtree(extracted)
    cases = scored.cases
    usable = ~cases["status"].isin(["missing", "error"])
    if not usable.any():
        return {"state": "failed", "reason": "no prediction could be scored for any subject "
                f"of the phase ({len(cases)} subjects; expected <id>/result.nii.gz)"}
    rows = [{key: _plain(value) for key, value in row.items()}
            for row in cases.to_dict("records")]
    return {"state": "scored", "reason": "", "cases": rows, "notes": scored.notes,
            "unmatched": scored.unmatched}


def _plain(value):
    """A JSON-safe value that round-trips exactly (floats by repr; NaN and NA as null)."""
    import math

    import pandas as pd

    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _one_line(error: BaseException, job: dict) -> str:
    text = " ".join(str(error).split())
    return text.replace(str(job["reference"]), "<reference>")


def main(argv: list[str]) -> int:
    job_path = Path(argv[0])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    os.environ["WMHEVAL_BOARD_CHILD"] = "1"
    set_limits(job["memory_mb"], job["cpu_s"], job["file_mb"])
    try:
        result = run(job)
    except MemoryError:
        result = {"state": "failed", "reason": "scoring ran out of its memory limit "
                  f"({job['memory_mb']} MiB)"}
    temporary = job_path.with_name("result.json.tmp")
    temporary.write_text(json.dumps(result), encoding="utf-8")
    os.replace(temporary, job_path.with_name("result.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
