"""`wmheval score` on a 110-subject full-size test folder against the floor of inflating it.

Writes (once; reused with ``--data``) the 110 test subjects of the bundled manifest at their
real grid sizes (realistic lesion patterns from ``bench_scoring.realistic_case``), then
measures, each as a fresh process on the same ``--jobs`` cores, best of ``--repeats``:

- floor: a minimal Python process inflating the 220 files (and nothing else), with the
  fastest available inflater and with plain zlib;
- ``wmheval score`` start to exit (start-up included), without cache, then again with a
  warm cache (a resumed run);
- start-up: ``wmheval score`` of a one-subject submission against that one subject's
  reference (start-up, one case, outputs, exit).

    python benchmarks/bench_score_floor.py --data /tmp/wmh110 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

INFLATE = r"""
import sys, os
from multiprocessing import Pool
mode, jobs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if mode == "zlib":
    import zlib as z
else:
    try:
        from zlib_ng import zlib_ng as z
    except ImportError:
        import zlib as z
def inflate(path):
    with open(path, "rb") as f:
        return len(z.decompressobj(31).decompress(f.read()))
if __name__ == "__main__":
    with Pool(jobs) as pool:
        total = sum(pool.map(inflate, files, chunksize=1))
    print(total)
"""


def generate(data: Path) -> tuple[Path, Path]:
    """The 110-subject folder under ``data``, written once (``data/complete`` marks it)."""
    from bench_scoring import write_test_folder

    reference_root, submission = data / "reference", data / "submission"
    done = data / "complete"
    if done.exists():
        return reference_root, submission
    start = time.perf_counter()
    reference_root, submission, count = write_test_folder(data)
    done.write_text("ok\n")
    print(f"wrote {count} test subjects in {time.perf_counter() - start:.0f} s")
    return reference_root, submission


def timed(command: list[str], repeats: int, env: dict | None = None) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "wmh110")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference, submission = generate(args.data)
    files = sorted(str(p) for p in reference.rglob("wmh.nii.gz")) + sorted(
        str(p) for p in submission.rglob("result.nii.gz"))
    compressed = sum(os.path.getsize(f) for f in files)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]))
    python = sys.executable
    floor = timed([python, "-c", INFLATE, "fast", str(args.jobs), *files], args.repeats, env)
    floor_zlib = timed([python, "-c", INFLATE, "zlib", str(args.jobs), *files], args.repeats,
                       env)
    with tempfile.TemporaryDirectory() as temporary:
        out, cache = Path(temporary) / "out", Path(temporary) / "cache"
        score = [python, "-m", "wmheval.cli.main", "score", str(reference), str(submission),
                 "-o", str(out), "-j", str(args.jobs), "-q"]
        whole = timed([*score, "--no-cache"], args.repeats, env)
        subprocess.run([*score, "--cache", str(cache)], check=True, env=env)
        resumed = timed([*score, "--cache", str(cache)], args.repeats, env)
        # One subject on both sides: against the full reference the 109 others would be
        # missing, and imputing them (their reference's diagonal) is not start-up.
        one, one_reference = Path(temporary) / "one", Path(temporary) / "one_reference"
        first_id = sorted(p.name for p in submission.iterdir())[0]
        (one / first_id).mkdir(parents=True)
        os.symlink(submission / first_id / "result.nii.gz", one / first_id / "result.nii.gz")
        subject_folder = next(p.parent for p in reference.rglob("wmh.nii.gz")
                              if p.parent.name == first_id)
        shutil.copytree(subject_folder,
                        one_reference / subject_folder.relative_to(reference))
        single = timed([python, "-m", "wmheval.cli.main", "score", str(one_reference), str(one),
                        "-o", str(Path(temporary) / "out1"), "-j", "1", "-q", "--no-cache",
                        "--split", "test"], args.repeats, env)
        help_time = timed([python, "-m", "wmheval.cli.main", "--help"], args.repeats, env)
    load = os.getloadavg()
    print(f"{len(files)} files, {compressed / 1e6:.1f} MB compressed; jobs={args.jobs}; "
          f"load average at the end {load[0]:.1f} on {os.cpu_count()} cores")
    print(f"floor: inflate the {len(files)} files (fastest inflater): {floor:6.2f} s")
    print(f"floor: inflate with plain zlib:                 {floor_zlib:6.2f} s")
    print(f"wmheval score, whole process, no cache:        {whole:6.2f} s "
          f"({whole / floor:.2f}x the floor)")
    print(f"wmheval score, resumed (all cases cached):     {resumed:6.2f} s")
    print(f"wmheval score on one subject (start to exit):  {single:6.2f} s")
    print(f"wmheval --help (interpreter and CLI start-up): {help_time:6.2f} s")


if __name__ == "__main__":
    main()
