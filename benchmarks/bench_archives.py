"""The safe archive reader: time and peak memory to reject each hostile archive of the test
corpus, and to extract a 110-subject submission of small grids.

Each figure is the best of ``--repeats`` runs in this process (time) and the peak of
Python allocations during one run (tracemalloc; zlib's buffers are Python bytes, so they
are counted). The last line gives this process's peak resident memory (VmHWM), corpus
building included.

    python benchmarks/bench_archives.py [--repeats 3] [--only zip-]
"""

from __future__ import annotations

import argparse
import gzip
import io
import shutil
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from archive_corpus import hostile_corpus  # noqa: E402
from nifti_factory import nifti1_bytes  # noqa: E402

from wmheval.io.archives import DEFAULT_LIMITS, ArchiveRejected, safe_extract  # noqa: E402


def measure(archive: Path, work: Path, limits, repeats: int) -> tuple[float, int, str]:
    """Best time (s), peak traced bytes, outcome (the rule, or 'accepted')."""
    best, outcome = float("inf"), ""
    for attempt in range(repeats + 1):
        dest = work / f"stage{attempt}"
        traced = attempt == repeats
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        try:
            report = safe_extract(archive, dest, limits=limits)
            outcome = f"accepted ({len(report.members)} files, {report.total_bytes} bytes)"
        except ArchiveRejected as error:
            outcome = error.rule
        elapsed = time.perf_counter() - start
        if traced:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        else:
            best = min(best, elapsed)
        shutil.rmtree(dest, ignore_errors=True)
    return best, peak, outcome


def small_grid_submission(n_subjects: int = 110, seed: int = 0) -> bytes:
    """A zip of ``<id>/result.nii.gz`` for ``n_subjects`` uint8 masks of 64x64x16 voxels
    with a few box lesions each."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for subject in range(n_subjects):
            mask = np.zeros((16, 64, 64), dtype=np.uint8)
            for _ in range(rng.integers(3, 12)):
                z, y, x = rng.integers(0, 14), rng.integers(0, 60), rng.integers(0, 60)
                mask[z:z + 2, y:y + rng.integers(1, 5), x:x + rng.integers(1, 5)] = 1
            out.writestr(f"{subject}/result.nii.gz", gzip.compress(nifti1_bytes(mask)))
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="Only cases whose id starts with this.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print(f"{'archive':38s} {'bytes':>10s} {'time':>9s} {'peak':>9s}  outcome")
        worst_time = worst_peak = 0.0
        for case in hostile_corpus():
            if not case.id.startswith(args.only):
                continue
            archive = work / f"{case.id}{case.suffix}"
            archive.write_bytes(case.build())
            best, peak, outcome = measure(archive, work, case.limits, args.repeats)
            worst_time, worst_peak = max(worst_time, best), max(worst_peak, peak)
            print(f"{case.id:38s} {archive.stat().st_size:10d} {best * 1000:7.1f}ms "
                  f"{peak / 2**20:7.2f}MB  {outcome}")
            archive.unlink()
        print(f"slowest rejection {worst_time * 1000:.1f} ms, largest peak "
              f"{worst_peak / 2**20:.2f} MB (Python allocations)")
        archive = work / "submission110.zip"
        archive.write_bytes(small_grid_submission())
        best, peak, outcome = measure(archive, work, DEFAULT_LIMITS,
                                      args.repeats)
        print(f"110-subject small-grid zip ({archive.stat().st_size} bytes): "
              f"{best * 1000:.1f} ms, peak {peak / 2**20:.2f} MB, {outcome}")
    status = Path("/proc/self/status")
    if status.exists():
        hwm = status.read_text().split("VmHWM:")[1].split()[0]
        print(f"process peak RSS (corpus building included): {int(hwm) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
