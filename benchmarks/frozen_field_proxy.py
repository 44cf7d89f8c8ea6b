"""How often the platforms' primary score (a frozen-field proxy) orders teams differently
from the full WMH 2017 ranking, measured on the 57 published teams.

    python benchmarks/frozen_field_proxy.py [--field MEANS.csv]

On a platform each submission is scored alone: its rank score among a frozen field plus
itself (:mod:`wmheval.ranking.frozen`). The full ranking normalises every team by the
bounds of all teams together. The two agree whenever the teams being compared move no
bound of the frozen field; they can disagree when a team is the best or worst on a metric
and is not in the frozen field. Two experiments on the published means:

1. **Leave one out.** For each team k, the frozen field is the other 56 teams; every one
   of the 57 teams is scored as a submission against it (team k is then the only one that
   can move a bound). The 57 proxy scores are ordered and compared with the published
   full ranking: the number of folds whose order differs, the discordant pairs, and the
   largest position change.
2. **Leave two out (two submissions).** For each pair (a, b), the frozen field is the 55
   others; a and b are each scored against it alone, and their proxy order is compared
   with their order in the full ranking of all 57 (the joint ranking of field + a + b).

Scoring a team against a field that already holds it reproduces the full ranking exactly
(the published field itself), so these held-out experiments are where the proxy can err.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from wmheval.metrics import METRICS
from wmheval.ranking.minmax import competition_positions, minmax_ranking


def _score_in(field: np.ndarray, row: np.ndarray) -> float:
    """The rank score of ``row`` in ``field`` plus itself."""
    _, scores, _ = minmax_ranking(np.vstack([field, row[None, :]]), None, METRICS)
    return float(scores[-1])


def _discordant(a: np.ndarray, b: np.ndarray, atol: float = 1e-12) -> int:
    """Pairs ordered strictly one way by ``a`` and strictly the other way (or tied) by b."""
    count = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if abs(da) <= atol and abs(db) <= atol:
            continue
        if abs(da) <= atol or abs(db) <= atol or (da > 0) != (db > 0):
            count += 1
    return count


def leave_one_out(means: np.ndarray) -> dict[str, float]:
    _, full, _ = minmax_ranking(means, None, METRICS)
    full_positions = competition_positions(full)
    n = len(means)
    folds_differing, discordant, largest_move = 0, [], 0
    for k in range(n):
        field = np.delete(means, k, axis=0)
        _, field_scores, _ = minmax_ranking(field, None, METRICS)
        proxy = np.insert(field_scores, k, _score_in(field, means[k]))
        pairs = _discordant(proxy, full)
        discordant.append(pairs)
        folds_differing += pairs > 0
        largest_move = max(largest_move, int(np.abs(competition_positions(proxy)
                                                    - full_positions).max()))
    total_pairs = n * (n - 1) // 2
    return {"folds": n, "folds_differing": folds_differing,
            "discordant_pairs_mean": float(np.mean(discordant)),
            "discordant_pairs_max": int(np.max(discordant)),
            "pairs_per_fold": total_pairs,
            "discordant_share": float(np.sum(discordant)) / (n * total_pairs),
            "largest_position_change": largest_move}


def leave_two_out(means: np.ndarray) -> dict[str, float]:
    _, full, _ = minmax_ranking(means, None, METRICS)
    differing = ties = 0
    pairs = list(itertools.combinations(range(len(means)), 2))
    for a, b in pairs:
        field = np.delete(means, [a, b], axis=0)
        pa, pb = _score_in(field, means[a]), _score_in(field, means[b])
        full_order = np.sign(round(full[a] - full[b], 12))
        proxy_order = np.sign(round(pa - pb, 12))
        differing += full_order != proxy_order
        ties += full_order == 0
    return {"pairs": len(pairs), "pairs_differing": int(differing), "tied_in_full": ties}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", help="means table (default: the published leaderboard)")
    args = parser.parse_args()
    from wmheval.ranking.frozen import load_frozen_field

    means, label = load_frozen_field(args.field)
    print(f"field: {label} ({len(means)} teams)")
    one = leave_one_out(means)
    print(f"leave one out: {one['folds_differing']} of {one['folds']} folds order the "
          f"{len(means)} teams differently from the full ranking; discordant pairs per fold "
          f"mean {one['discordant_pairs_mean']:.2f}, max {one['discordant_pairs_max']} of "
          f"{one['pairs_per_fold']} ({100 * one['discordant_share']:.3f}% of all pairs); "
          f"largest position change {one['largest_position_change']}")
    two = leave_two_out(means)
    print(f"leave two out: {two['pairs_differing']} of {two['pairs']} pairs "
          f"({100 * two['pairs_differing'] / two['pairs']:.2f}%) ordered differently by "
          f"their proxy scores than by the full ranking ({two['tied_in_full']} pairs tied "
          "in the full ranking)")


if __name__ == "__main__":
    main()
