"""Simulated team submissions: predictions with distinct, controllable error profiles.

Each team's prediction is the reference WMH mask degraded by its :class:`TeamProfile`
(missed lesions, erosion or dilation, ragged boundaries, false positives outside white
matter, extra trouble on the scanners unseen in training), with randomness seeded from
(seed, team, subject id). Some teams leave a case out or write a broken file, as real
participants did.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from wmheval.io.atomic import write_atomic
from wmheval.io.images import write_image
from wmheval.io.tables import write_table_formats
from wmheval.metrics.geometry import Geometry
from wmheval.parallel import parallel_map, progress_bar
from wmheval.synth.anatomy import CSF, GREY, WHITE
from wmheval.synth.challenge import read_synth_manifest
from wmheval.synth.fields import subject_rng
from wmheval.synth.lesions import _blob

RESULT_NAME = "result.nii.gz"
_FULL = np.ones((3, 3, 3), dtype=bool)
_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class TeamProfile:
    """How a simulated team errs. Every effect is off at its default value."""

    name: str
    description: str = ""
    grow: float = 0.0                  # in-plane dilation (> 0) or erosion (< 0), voxels;
                                       # a fraction grows/shrinks that share of the next shell
    boundary_noise: float = 0.0        # chance to flip each voxel of the lesion boundary band
    miss_probability: float = 0.0      # chance to miss any reference lesion
    miss_small_ml: float = 0.0         # lesions smaller than this (ml) ...
    miss_small_probability: float = 0.0  # ... are missed with this chance
    false_positives: float = 0.0       # mean number of false-positive blobs outside WM per case
    false_positive_mm: float = 2.5     # typical radius of a false-positive blob (mm)
    unseen_penalty: float = 0.0        # 0..1: extra misses, erosion, noise, FPs on unseen scanners
    predict_other_pathology: bool = False  # also label the ignored (label 2) regions
    missing_cases: int = 0             # cases left out of the submission
    malformed_cases: int = 0           # cases written as a broken file
    malformed: str = "truncated"       # "truncated" (cut gzip) or "wrong_size" (a slice short)
    dtype: str = "uint8"               # pixel type written: uint8 or float32 (0/1 values)

    def on_scanner(self, seen_in_training: bool) -> TeamProfile:
        """The profile in force on a scanner: unchanged if seen, degraded if unseen."""
        if seen_in_training or self.unseen_penalty <= 0:
            return self
        p = self.unseen_penalty
        return replace(
            self,
            grow=self.grow - 0.6 * p,
            boundary_noise=min(self.boundary_noise + 0.25 * p, 0.9),
            miss_probability=min(self.miss_probability + 0.5 * p, 0.95),
            false_positives=self.false_positives * (1.0 + 3.0 * p) + 2.0 * p,
        )


def default_teams() -> list[TeamProfile]:
    """Six teams whose errors differ, so that different teams win different metrics."""
    return [
        TeamProfile("precise", "Near-perfect: tight boundaries, a little boundary noise, "
                    "labels the ignored regions too (harmless)", boundary_noise=0.05,
                    miss_small_ml=0.02, miss_small_probability=0.3,
                    predict_other_pathology=True),
        TeamProfile("greedy", "Over-segments: lesions grown by most of a voxel shell in-plane, "
                    "finds every lesion, a few false positives in cortex and CSF", grow=0.6,
                    false_positives=1.0, dtype="float32"),
        TeamProfile("cautious", "Under-segments: most of each lesion's outer shell shaved off "
                    "in-plane (every lesion keeps its core); no false positives", grow=-0.6),
        TeamProfile("noisy", "Ragged boundaries and many small false positives outside "
                    "white matter", boundary_noise=0.3, false_positives=6.0,
                    false_positive_mm=1.8),
        TeamProfile("brittle", "Good on the three training scanners, degrades on the two "
                    "unseen ones (misses, erosion, false positives)", boundary_noise=0.08,
                    miss_small_ml=0.05, miss_small_probability=0.3, unseen_penalty=0.8),
        TeamProfile("incomplete", "Decent but misses small lesions; one case missing and one "
                    "case a truncated gzip file", boundary_noise=0.1, miss_small_ml=0.3,
                    miss_small_probability=0.7, missing_cases=1, malformed_cases=1,
                    dtype="float32"),
    ]


def team_table(teams: Sequence[TeamProfile]) -> pd.DataFrame:
    """The teams' profiles as a table (one row per team)."""
    return pd.DataFrame([asdict(t) for t in teams]).rename(columns={"name": "team"})


def _band(mask: np.ndarray) -> np.ndarray:
    """Voxels within one in-plane step of the mask's boundary (inside or outside)."""
    return (ndimage.binary_dilation(mask, _IN_PLANE)
            & ~ndimage.binary_erosion(mask, _IN_PLANE, border_value=1))


def _grow(mask: np.ndarray, amount: float, allowed: np.ndarray,
          rng: np.random.Generator) -> np.ndarray:
    """Dilate (``amount`` > 0) or erode (< 0) in-plane by whole voxels plus a random share
    of the next shell. Erosion keeps each lesion's most central voxel, so a shrunken lesion
    is still detected; dilation stays inside ``allowed``."""
    if amount == 0 or not mask.any():
        return mask
    steps, share = int(abs(amount)), abs(amount) - int(abs(amount))
    if amount > 0:
        grown = ndimage.binary_dilation(mask, _IN_PLANE, steps) if steps else mask.copy()
        shell = ndimage.binary_dilation(grown, _IN_PLANE) & ~grown
        grown |= shell & (rng.random(mask.shape) < share)
        return grown & allowed
    components, n = ndimage.label(mask, structure=_FULL)
    inside = ndimage.distance_transform_cdt(np.pad(mask, 1), metric="taxicab")[1:-1, 1:-1, 1:-1]
    cores = np.zeros_like(mask)
    centres = ndimage.maximum_position(inside, components, np.arange(1, n + 1))
    cores[tuple(np.asarray(centres).T)] = True
    shrunk = ndimage.binary_erosion(mask, _IN_PLANE, steps, border_value=1) if steps else mask
    shell = shrunk & ~ndimage.binary_erosion(shrunk, _IN_PLANE, border_value=1)
    shrunk = shrunk & ~(shell & (rng.random(mask.shape) < share))
    return shrunk | cores


def simulate_prediction(labels: np.ndarray, tissue: np.ndarray, spacing_zyx,
                        team: TeamProfile, rng: np.random.Generator,
                        seen_in_training: bool = True) -> np.ndarray:
    """A team's binary prediction (bool, z y x) derived from reference labels and tissue."""
    profile = team.on_scanner(seen_in_training)
    reference = labels == 1
    brain = tissue >= CSF
    voxel_ml = float(np.prod(spacing_zyx)) / 1000.0
    components, n = ndimage.label(reference, structure=_FULL)
    prediction = reference.copy()
    if n:
        sizes_ml = np.bincount(components.ravel(), minlength=n + 1)[1:] * voxel_ml
        chance = np.full(n, profile.miss_probability)
        small = sizes_ml < profile.miss_small_ml
        chance[small] = 1.0 - (1.0 - chance[small]) * (1.0 - profile.miss_small_probability)
        missed = np.concatenate([[False], rng.random(n) < chance])
        prediction &= ~missed[components]
    prediction = _grow(prediction, profile.grow, brain, rng)
    if profile.boundary_noise > 0 and prediction.any():
        band = _band(prediction) & brain
        flip = band & (rng.random(prediction.shape) < profile.boundary_noise)
        prediction ^= flip
    n_false = rng.poisson(profile.false_positives) if profile.false_positives > 0 else 0
    if n_false:
        outside = np.flatnonzero(((tissue == GREY) | (tissue == CSF)) & ~reference)
        if outside.size:
            allowed = brain & (tissue != WHITE)
            for centre in rng.choice(outside, n_false):
                semi = profile.false_positive_mm * rng.uniform(0.6, 1.6, 3)
                box, blob, _ = _blob(prediction.shape, spacing_zyx,
                                     np.unravel_index(centre, prediction.shape), semi, rng)
                prediction[box] |= blob & allowed[box]
    if profile.predict_other_pathology:
        prediction |= labels == 2
    return prediction


def _write_prediction(mask: np.ndarray, reference: sitk.Image, path: Path, dtype: str) -> None:
    write_image(mask, Geometry.from_image(reference), path, np.dtype(dtype))


def _write_malformed(mask: np.ndarray, reference: sitk.Image, path: Path, kind: str,
                     dtype: str) -> None:
    """A broken result file: a gzip cut inside the NIfTI header (ITK cannot read it; a cut
    further on can read silently as zeros), or an image one slice short."""
    if kind == "wrong_size":
        _write_prediction(mask[:-1], reference, path, dtype)
        return
    if kind != "truncated":
        raise ValueError(f"unknown malformed kind {kind!r}: use 'truncated' or 'wrong_size'")
    valid = Path(str(path) + ".tmp.nii.gz")
    try:
        _write_prediction(mask, reference, valid, dtype)
        payload = valid.read_bytes()
    finally:
        valid.unlink(missing_ok=True)
    cut = payload[: min(len(payload) // 2, 64)]
    write_atomic(path, lambda temporary: temporary.write_bytes(cut))


def _special_cases(team: TeamProfile, ids: Sequence[str], seed: int) -> tuple[set, set]:
    """Which ids a team leaves out and which it writes broken (disjoint, deterministic)."""
    rng = subject_rng(seed, "team-cases", team.name)
    order = [ids[i] for i in rng.permutation(len(ids))]
    missing = set(order[: team.missing_cases])
    malformed = set(order[team.missing_cases: team.missing_cases + team.malformed_cases])
    return missing, malformed


def _subject_task(task: tuple) -> list[dict]:
    """All teams' predictions for one subject (one reading of its files)."""
    row, challenge_root, out_root, teams, seed, plans = task
    folder = Path(challenge_root) / row["release_path"]
    paths = {"wmh": folder / "wmh.nii.gz", "tissue": folder / "synth" / "tissue.nii.gz"}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; simulated submissions need the "
                                    "synthetic challenge's labels and tissue map")
    reference = sitk.ReadImage(str(paths["wmh"]))
    labels = sitk.GetArrayFromImage(reference)
    tissue = sitk.GetArrayFromImage(sitk.ReadImage(str(paths["tissue"])))
    if tissue.shape != labels.shape:
        raise ValueError(f"{paths['tissue']}: size {tissue.shape[::-1]} differs from "
                         f"{paths['wmh']} {labels.shape[::-1]}")
    spacing_zyx = tuple(reference.GetSpacing())[::-1]
    written = []
    for team in teams:
        missing, malformed = plans[team.name]
        status = "missing" if row["id"] in missing else (
            "malformed" if row["id"] in malformed else "ok")
        if status != "missing":
            rng = subject_rng(seed, "team", team.name, row["id"])
            mask = simulate_prediction(labels, tissue, spacing_zyx, team, rng,
                                       bool(row["seen_in_training"]))
            target = Path(out_root) / team.name / row["id"] / RESULT_NAME
            if status == "malformed":
                _write_malformed(mask, reference, target, team.malformed, team.dtype)
            else:
                _write_prediction(mask, reference, target, team.dtype)
        written.append({"team": team.name, "id": row["id"], "status": status})
    return written


def generate_submissions(challenge_root: str | Path, out_root: str | Path,
                         teams: Iterable[TeamProfile] | None = None, seed: int = 0,
                         split: str | None = "test", progress: bool = False,
                         jobs: int | None = None) -> pd.DataFrame:
    """Write ``out_root/<team>/<id>/result.nii.gz`` for every subject of ``split``.

    ``challenge_root`` is a synthetic challenge (it needs ``synth_manifest.csv`` and each
    subject's ``synth/tissue.nii.gz``). ``split`` is "test", "training" or None (all).
    Also writes ``out_root/teams.{csv,md,tex,html}``. Returns one row per team: team,
    description, n_cases (written, broken ones included), n_missing, n_malformed,
    missing_ids, malformed_ids, path.
    """
    challenge_root, out_root = Path(challenge_root), Path(out_root)
    teams = list(default_teams() if teams is None else teams)
    names = [t.name for t in teams]
    if len(set(names)) != len(names) or any(not n or "/" in n for n in names):
        raise ValueError(f"team names must be unique folder names, got {names}")
    subjects = read_synth_manifest(challenge_root)
    if split is not None:
        if split not in ("training", "test"):
            raise ValueError(f"split must be 'training', 'test' or None, got {split!r}")
        subjects = subjects[subjects["split"] == split]
    if subjects.empty:
        raise ValueError(f"{challenge_root}: no {split or ''} subjects to simulate")
    ids = subjects["id"].tolist()
    plans = {t.name: _special_cases(t, ids, seed) for t in teams}
    tasks = [(row, str(challenge_root), str(out_root), teams, int(seed), plans)
             for _, row in subjects.iterrows()]
    if jobs is None:
        jobs = min(os.cpu_count() or 1, 4) if len(tasks) > 8 else 1
    statuses = pd.DataFrame([r for rows in _map(tasks, jobs, progress) for r in rows])
    summary = []
    for team in teams:
        mine = statuses[statuses["team"] == team.name]
        summary.append({
            "team": team.name, "description": team.description,
            "n_cases": int((mine["status"] != "missing").sum()),
            "n_missing": int((mine["status"] == "missing").sum()),
            "n_malformed": int((mine["status"] == "malformed").sum()),
            "missing_ids": " ".join(sorted(mine.loc[mine["status"] == "missing", "id"])),
            "malformed_ids": " ".join(sorted(mine.loc[mine["status"] == "malformed", "id"])),
            "path": str((out_root / team.name).resolve()),
        })
    result = pd.DataFrame(summary)
    write_table_formats(result.drop(columns=["path"]), out_root / "teams",
                        caption="Simulated teams")
    return result


def _map(tasks: list[tuple], jobs: int, progress: bool) -> list[list[dict]]:
    """Simulate every subject's predictions, in worker processes when ``jobs`` > 1."""
    with progress_bar("simulating submissions", len(tasks), progress) as advance:
        return parallel_map(_subject_task, tasks, jobs, on_done=advance)
