"""How rank and sensitivity grow with teams x cases (issue 33 item 6).

Run: ``python benchmarks/bench_many_teams.py [--teams 10 50 200] [--cases 30 110]
[--resamples 200] [--weightings 10000]``. Each stage runs on a random per-case field of
the given size and prints its wall time and the peak of memory allocated during it
(``tracemalloc``, which sees NumPy's buffers). The stages are those of ``wmheval rank``
(load + official ranking) and ``wmheval sensitivity`` (leave one team out, weight sweep,
ranking schemes with the pairwise tests, bootstrap, significance counts).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.analysis.bootstrap import field_bootstrap
from wmheval.analysis.field_dependence import field_dependence
from wmheval.analysis.weights import field_weight_sensitivity
from wmheval.metrics import METRICS
from wmheval.ranking import load_field, rank_field
from wmheval.ranking.minmax import higher_is_better
from wmheval.ranking.schemes import compare_schemes
from wmheval.ranking.significance import significance_counts


def write_field(path: Path, n_teams: int, n_cases: int, seed: int = 0) -> Path:
    """One long per-case CSV with a team column (plausible random values)."""
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.4, 0.9, n_teams)[:, None]
    shape = (n_teams, n_cases)
    table = pd.DataFrame({
        "team": np.repeat([f"team{k:05d}" for k in range(n_teams)], n_cases),
        "id": np.tile([str(k) for k in range(n_cases)], n_teams),
        "status": "ok",
        "dice": np.clip(skill + rng.normal(0, 0.1, shape), 0, 1).ravel(),
        "h95": np.abs(20 * (1 - skill) + rng.normal(0, 2, shape)).ravel(),
        "avd": np.abs(60 * (1 - skill) + rng.normal(0, 5, shape)).ravel(),
        "recall": np.clip(skill + rng.normal(0, 0.05, shape), 0, 1).ravel(),
        "f1": np.clip(skill - 0.05 + rng.normal(0, 0.05, shape), 0, 1).ravel(),
    })
    table.to_csv(path, index=False)
    return path


def measure(label: str, work):
    tracemalloc.start()
    start = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {label:<34s} {elapsed:8.2f} s  {peak / 2**20:9.1f} MiB peak", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--cases", type=int, nargs="+", default=[30, 110])
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--weightings", type=int, default=10_000)
    args = parser.parse_args()
    higher = higher_is_better(METRICS)
    with tempfile.TemporaryDirectory() as folder:
        for n_cases in args.cases:
            for n_teams in args.teams:
                print(f"{n_teams} teams x {n_cases} cases", flush=True)
                path = write_field(Path(folder) / f"f{n_teams}_{n_cases}.csv", n_teams,
                                   n_cases)
                field = measure("rank: load", lambda path=path: load_field(path))
                measure("rank: official ranking", lambda field=field: rank_field(field))
                measure("sensitivity: leave one team out",
                        lambda field=field: field_dependence(field))
                measure(f"sensitivity: {args.weightings} weightings",
                        lambda field=field: field_weight_sensitivity(
                            field, n_samples=args.weightings, grid_steps=10))
                measure("sensitivity: schemes (pairwise tests)",
                        lambda field=field: compare_schemes(field))
                measure(f"sensitivity: bootstrap x{args.resamples}",
                        lambda field=field: field_bootstrap(field, args.resamples))
                measure("sensitivity: significance counts",
                        lambda field=field: significance_counts(field.cube.values, higher))


if __name__ == "__main__":
    main()
