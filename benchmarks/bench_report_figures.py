"""Wall time of ``wmheval sensitivity``/``report`` by stage: analysis, tables, figures,
report pages (issue 27: drawing took ~68 of 77-98 s).

Run: ``python benchmarks/bench_report_figures.py [--teams 8] [--subjects 30]``. The field
is random per-case results on the five scanners (seeded), so the run needs no data. Prints
one line per stage with its wall time in seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SCANNERS = ("utrecht_philips_3t", "singapore_siemens_3t", "amsterdam_ge_3t",
            "amsterdam_ge_1p5t", "amsterdam_philips_3t")


def make_field(root: Path, teams: int, subjects: int, seed: int = 0):
    """``teams`` score folders (cases.csv) of ``subjects`` subjects, loaded as a field."""
    from wmheval.ranking import load_field

    rng = np.random.default_rng(seed)
    for t in range(teams):
        skill = 0.55 + 0.3 * t / max(teams - 1, 1)
        n = subjects
        table = pd.DataFrame({
            "id": [str(k + 1) for k in range(n)],
            "scanner": [SCANNERS[k % 5] for k in range(n)],
            "split": "test", "seen_in_training": [k % 5 < 3 for k in range(n)],
            "status": "ok",
            "dice": np.clip(skill + rng.normal(0, 0.1, n), 0, 1),
            "h95": np.abs(20 * (1 - skill) + rng.gamma(1.0, 3.0, n)),
            "avd": np.abs(60 * (1 - skill) + rng.gamma(1.0, 15.0, n)),
            "recall": np.clip(skill + rng.normal(0, 0.05, n), 0, 1),
            "f1": np.clip(skill + rng.normal(0, 0.05, n), 0, 1)})
        folder = root / f"team_{t:02d}"
        folder.mkdir(parents=True)
        table.to_csv(folder / "cases.csv", index=False)
    return load_field(root)


def _cpu() -> float:
    """CPU seconds of this process and its finished workers (user + system)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args()
    from wmheval.analysis.sensitivity import analyse_sensitivity
    from wmheval.pipelines.sensitivity import write_sensitivity
    from wmheval.report import write_report

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        field = make_field(root / "scores", args.teams, args.subjects)
        times = {}
        start = time.perf_counter()
        result = analyse_sensitivity(field, bootstrap=args.bootstrap, samples=args.samples)
        times["analysis"] = time.perf_counter() - start
        start = time.perf_counter()
        write_sensitivity(result, root / "tables", figures=False)
        times["tables"] = time.perf_counter() - start
        start, cpu = time.perf_counter(), _cpu()
        write_sensitivity(result, root / "out", figures=True)
        times["figures (tables + figures) "] = time.perf_counter() - start
        cpu_figures = _cpu() - cpu
        start = time.perf_counter()
        write_report(field, root / "out")
        times["report pages"] = time.perf_counter() - start
    print(f"{args.teams} teams x {args.subjects} subjects, bootstrap {args.bootstrap}, "
          f"{args.samples} weightings")
    for stage, seconds in times.items():
        print(f"{stage:<28} {seconds:7.1f} s")
    print(f"{'total':<28} {sum(times.values()) - times['tables']:7.1f} s")
    print(f"{'CPU time of the figures':<28} {cpu_figures:7.1f} s (all processes)")


if __name__ == "__main__":
    main()
