"""Time the synthetic challenge: generation (small or full) and simulated submissions.

Usage: ``python benchmarks/bench_synth.py [--full] [--jobs N] [--phantom geometric]
[--id ID ...] [--no-submissions]`` (writes into a temporary folder and deletes it).
Prints wall time, CPU time (this process and its workers) and the machine's load average,
so that runs on a busy machine can be read.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from wmheval.synth import generate_challenge
from wmheval.synth.submissions import generate_submissions


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the real grids (else --small)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes")
    parser.add_argument("--phantom", default="anatomical", choices=["anatomical", "geometric"])
    parser.add_argument("--id", dest="ids", action="append", default=None,
                        help="only these subject ids (repeatable)")
    parser.add_argument("--no-submissions", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        start, cpu = time.perf_counter(), _cpu_seconds()
        table = generate_challenge(root / "challenge", small=not args.full, jobs=args.jobs,
                                   phantom=args.phantom, ids=args.ids)
        middle, cpu_middle = time.perf_counter(), _cpu_seconds()
        voxels = sum(x * y * z for x, y, z in table["shape"])
        print(f"challenge ({args.phantom}, {'full' if args.full else 'small'}): "
              f"{len(table)} subjects, {voxels / 1e6:.1f} M voxels, {middle - start:.1f} s "
              f"wall, {cpu_middle - cpu:.1f} CPU-s ({(cpu_middle - cpu) / len(table):.2f} "
              "CPU-s per subject)")
        if not args.no_submissions:
            teams = generate_submissions(root / "challenge", root / "subs", jobs=args.jobs)
            end = time.perf_counter()
            print(f"submissions: {len(teams)} teams x {int(teams['n_cases'].max())} cases, "
                  f"{end - middle:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
