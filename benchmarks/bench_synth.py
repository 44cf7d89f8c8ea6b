"""Time the synthetic challenge: generation (small or full) and simulated submissions.

Usage: ``python benchmarks/bench_synth.py [--full] [--jobs N]`` (writes into a temporary
folder and deletes it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wmheval.synth import generate_challenge
from wmheval.synth.submissions import generate_submissions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="all 170 subjects at real size")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        start = time.perf_counter()
        table = generate_challenge(root / "challenge", small=not args.full, jobs=args.jobs)
        middle = time.perf_counter()
        teams = generate_submissions(root / "challenge", root / "subs", jobs=args.jobs)
        end = time.perf_counter()
    voxels = sum(x * y * z for x, y, z in table["shape"])
    print(f"challenge: {len(table)} subjects, {voxels / 1e6:.1f} M voxels, "
          f"{middle - start:.1f} s")
    print(f"submissions: {len(teams)} teams x {int(teams['n_cases'].max())} cases, "
          f"{end - middle:.1f} s")


if __name__ == "__main__":
    main()
