"""Benchmark of the ranking analyses: weight sweep on the published field, bootstrap.

Run: ``python benchmarks/bench_ranking.py [--weightings 100000] [--resamples 1000]``.
The bootstrap uses a random field of the leaderboard's size (57 teams x 110 subjects).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wmheval._resources import published_leaderboard_path
from wmheval.analysis.bootstrap import bootstrap_ranking
from wmheval.analysis.weights import field_weight_sensitivity
from wmheval.ranking import load_field
from wmheval.ranking.minmax import higher_is_better
from wmheval.ranking.schemes import rank_then_aggregate
from wmheval.ranking.significance import significance_counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weightings", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--subjects", type=int, default=110)
    args = parser.parse_args()

    field = load_field(published_leaderboard_path())
    start = time.perf_counter()
    sweep = field_weight_sensitivity(field, n_samples=args.weightings, grid_steps=10)
    elapsed = time.perf_counter() - start
    n_weightings = sweep.weights.shape[1]
    print(f"weight sweep: {n_weightings} weightings x {len(field.teams)} teams "
          f"(positions + Kendall tau) in {elapsed:.2f} s")

    rng = np.random.default_rng(0)
    means = field.metric_means()
    values = means[:, None, :] * rng.lognormal(0, 0.2, (len(means), args.subjects, 5))
    start = time.perf_counter()
    boot = bootstrap_ranking(values, field.teams, n_resamples=args.resamples, seed=0)
    elapsed = time.perf_counter() - start
    print(f"bootstrap: {args.resamples} resamples x {len(field.teams)} teams x "
          f"{args.subjects} subjects in {elapsed:.2f} s (mean tau {boot.tau.mean():.3f})")

    start = time.perf_counter()
    rank_then_aggregate(values)
    print(f"rank-then-aggregate: {time.perf_counter() - start:.3f} s")

    start = time.perf_counter()
    significance_counts(values, higher_is_better())
    print(f"test-based (Wilcoxon, {len(field.teams) * (len(field.teams) - 1)} ordered pairs "
          f"x 5 metrics, Holm): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
