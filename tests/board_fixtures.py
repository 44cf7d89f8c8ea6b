"""Shared data of the board tests: a six-subject reference cut from the small synthetic
challenge (tiny grids) and the simulated teams' predictions on it, as folders and archives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import synth_fixtures

SUBJECTS = ("1", "3", "5", "70", "117", "118")
"""Three scanners; the simulated team 'incomplete' misses 5 and has 118 truncated."""
REPO = Path(__file__).resolve().parents[1]
small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions


def cli_env(**extra: str) -> dict:
    """The environment of a `wmheval` child process: this tree first on the path."""
    env = dict(os.environ)
    paths = [str(REPO), str(REPO / "baselines"), str(REPO / "leaderboard")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env.pop("WMHEVAL_BOARD_FAULT", None)
    env.update(extra)
    return env


def wmheval(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``wmheval ARGS`` in a child process (what a user runs); never raises."""
    return subprocess.run([sys.executable, "-m", "wmheval.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=cli_env(**env), timeout=300)


@pytest.fixture(scope="session")
def mini_reference(small_challenge, tmp_path_factory):
    """A reference folder with the six :data:`SUBJECTS` (and the synthetic manifest)."""
    root = small_challenge[0]
    out = tmp_path_factory.mktemp("board_reference") / "reference"
    for path in sorted(root.glob("test/**/wmh.nii.gz")):
        if path.parent.name in SUBJECTS:
            target = out / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    shutil.copyfile(root / "synth_manifest.csv", out / "synth_manifest.csv")
    return out


@pytest.fixture(scope="session")
def team_folders(small_submissions, tmp_path_factory):
    """team name -> a folder of its predictions for the :data:`SUBJECTS`."""
    root = small_submissions[0]
    out = tmp_path_factory.mktemp("board_teams")
    folders = {}
    for team in ("precise", "greedy", "cautious", "noisy", "brittle", "incomplete"):
        for subject in SUBJECTS:
            source = root / team / subject / "result.nii.gz"
            if source.exists():
                target = out / team / subject / "result.nii.gz"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        folders[team] = out / team
    return folders


def zip_folder(folder: Path, target: Path, extra: dict[str, bytes] | None = None,
               top: str | None = None) -> Path:
    """Zip a predictions folder (optionally under one top folder, with extra members)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{name}" if top else name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


@pytest.fixture(scope="session")
def team_archives(team_folders, tmp_path_factory):
    """team name -> a zip of its predictions."""
    out = tmp_path_factory.mktemp("board_archives")
    return {team: zip_folder(folder, out / f"{team}.zip") for team, folder in
            team_folders.items()}


def new_board(root: Path, reference: Path, teams=(), baselines=(), limit: int = 5,
              **settings):
    """A board in ``root`` over the whole reference, with teams added; ``settings``
    rewrite keys of challenge.toml's [challenge] (e.g. bootstrap=200)."""
    from wmheval_leaderboard.board import Board
    from wmheval_leaderboard.config import config_text, read_config

    board = Board.init(root, reference, name="Test challenge", limit=limit)
    board.close()
    if settings:
        from dataclasses import replace

        config = replace(read_config(root), **settings)
        (root / "challenge.toml").write_text(config_text(config), encoding="utf-8")
    board = Board.open(root)
    for team in teams:
        board.add_team(team)
    for team in baselines:
        board.add_team(team, baseline=True)
    return board


def fixed_reference(reference: Path, target: Path, subject: str = "70",
                    share: float = 0.5) -> Path:
    """A copy of ``reference`` in ``target`` with the first ``share`` of subject's lesion
    voxels removed from its mask: the reference fix of a challenge's life."""
    import nibabel as nib
    import numpy as np

    shutil.copytree(reference, target)
    path = next(m for m in target.rglob("wmh.nii.gz") if m.parent.name == subject)
    image = nib.load(path)
    mask = np.asarray(image.dataobj).copy()
    lesion = np.argwhere(mask == 1)
    mask[tuple(lesion[: int(len(lesion) * share)].T)] = 0
    nib.save(nib.Nifti1Image(mask, image.affine, image.header), path)
    return target


MINMAX_METRICS = {"dice": True, "h95": False, "avd": False, "recall": True, "f1": True}
"""The five metrics and whether higher is better: the oracle's own copy."""


def literal_minmax(means: dict[str, dict[str, float]]):
    """The challenge's relative min-max ranking of ``means`` (team -> metric -> mean),
    written out literally as an oracle: per metric (mean - best) / (worst - best), averaged
    over the five; positions by score, ties within 1e-12 sharing one. Returns (bounds per
    metric as (best, worst), scores, positions)."""
    bounds, scores = {}, {team: 0.0 for team in means}
    for metric, higher in MINMAX_METRICS.items():
        values = [means[t][metric] for t in means]
        best = max(values) if higher else min(values)
        worst = min(values) if higher else max(values)
        bounds[metric] = (best, worst)
        for team in means:
            relative = 0.0 if worst == best else (means[team][metric] - best) / (worst - best)
            scores[team] += relative / len(MINMAX_METRICS)
    order = sorted(means, key=lambda t: scores[t])
    positions = {}
    for k, team in enumerate(order):
        tied = k and abs(scores[team] - scores[order[k - 1]]) <= 1e-12
        positions[team] = positions[order[k - 1]] if tied else k + 1
    return bounds, scores, positions
