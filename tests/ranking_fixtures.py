"""Helpers for the ranking tests: write small ``wmheval score``-style outputs and tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.metrics import METRICS

SCANNERS = ("utrecht_philips_3t", "amsterdam_ge_1p5t")

# Three teams, three subjects; team means chosen so that the min-max ranks are easy by hand.
HAND_CASES = {
    # team: rows of (dice, h95, avd, recall, f1) per subject s1, s2, s3
    "alpha": [(0.8, 2.0, 10.0, 0.9, 0.8), (0.8, 4.0, 10.0, 0.9, 0.8), (0.8, 3.0, 10.0, 0.9, 0.8)],
    "beta": [(0.6, 5.0, 20.0, 0.7, 0.6), (0.6, 7.0, 20.0, 0.7, 0.6), (0.6, 6.0, 20.0, 0.7, 0.6)],
    "gamma": [(0.4, 8.0, 40.0, 0.8, 0.4), (0.4, 10.0, 40.0, 0.8, 0.4),
              (0.4, 9.0, 40.0, 0.8, 0.4)],
}


def cases_frame(rows, ids=("s1", "s2", "s3"), scanners=None, statuses=None) -> pd.DataFrame:
    """A ``cases.csv``-like DataFrame from (dice, h95, avd, recall, f1) rows."""
    table = pd.DataFrame(rows, columns=list(METRICS))
    table.insert(0, "id", list(ids))
    scanners = scanners or [SCANNERS[k % 2] for k in range(len(ids))]
    table.insert(1, "scanner", scanners)
    table.insert(2, "split", "test")
    table.insert(3, "seen_in_training", [s == "utrecht_philips_3t" for s in scanners])
    table.insert(4, "status", statuses or ["ok"] * len(ids))
    table["precision"] = np.nan
    return table


def write_team(root: Path, team: str, frame: pd.DataFrame) -> Path:
    """Write ``root/team/cases.csv``; returns the team folder."""
    folder = root / team
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "cases.csv", index=False)
    return folder


def write_hand_teams(root: Path) -> Path:
    """The three hand teams as ``root/<team>/cases.csv``; returns ``root``."""
    for team, rows in HAND_CASES.items():
        write_team(root, team, cases_frame(rows))
    return root


def random_teams(root: Path, n_teams: int = 4, n_subjects: int = 12, seed: int = 0) -> Path:
    """Plausible random teams (scores per subject around a team skill) under ``root``."""
    rng = np.random.default_rng(seed)
    ids = [f"{k:03d}" for k in range(n_subjects)]
    scanners = [SCANNERS[k % 2] for k in range(n_subjects)]
    for t in range(n_teams):
        skill = 0.6 + 0.1 * t / max(n_teams - 1, 1)
        noise = rng.normal(0, 0.1, size=n_subjects)
        rows = np.column_stack([
            np.clip(skill + noise, 0, 1),
            np.abs(20 * (1 - skill) + rng.normal(0, 1, n_subjects)),
            np.abs(60 * (1 - skill) + rng.normal(0, 5, n_subjects)),
            np.clip(skill + rng.normal(0, 0.05, n_subjects), 0, 1),
            np.clip(skill - 0.05 + rng.normal(0, 0.05, n_subjects), 0, 1),
        ])
        write_team(root, f"team{t}", cases_frame(rows.tolist(), ids, scanners))
    return root


def write_means_table(path: Path, rows: dict[str, tuple[float, ...]],
                      leaderboard_names: bool = True) -> Path:
    """A table of team means, with the leaderboard's column names or ours."""
    names = (["dice", "hd95_mm", "avd_pct", "lesion_recall", "lesion_f1"]
             if leaderboard_names else list(METRICS))
    table = pd.DataFrame([(t, *v) for t, v in rows.items()], columns=["team", *names])
    table.to_csv(path, index=False)
    return path
