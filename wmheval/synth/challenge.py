"""Writing the synthetic challenge in the data release's layout, subject by subject.

Every subject is drawn from its own random stream, seeded from (seed, id), so any subset
of ids reproduces exactly the same subjects as the whole release.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from wmheval.io.atomic import write_text_atomic
from wmheval.io.images import write_image
from wmheval.io.manifest import load_manifest
from wmheval.metrics.geometry import Geometry
from wmheval.parallel import parallel_map, progress_bar
from wmheval.synth.anatomy import WHITE, build_anatomy
from wmheval.synth.fields import subject_rng
from wmheval.synth.lesions import atrophy_for_load, draw_lesions, sample_lesion_load
from wmheval.synth.scanners import get_profile

SMALL_TRAINING_PER_SCANNER = 4
SMALL_TEST_PER_SCANNER = 3
SMALL_INPLANE_MM = 2.0
"""The small grid: in-plane voxels of at most 2 mm, slices as acquired (3 mm)."""
TINY_INPLANE_FACTOR = 4
TINY_SLICE_FACTOR = 3
PHANTOMS = ("anatomical", "geometric")
"""``anatomical``: the MNI ICBM152 template with lesions (default); ``geometric``: the old
ellipsoid phantom, fast, for unit tests."""
SYNTH_MANIFEST = "synth_manifest.csv"
SUBJECT_FILES = ("wmh.nii.gz", "pre/FLAIR.nii.gz", "pre/T1.nii.gz", "orig/FLAIR.nii.gz",
                 "orig/T1.nii.gz", "synth/wm_mask.nii.gz", "synth/tissue.nii.gz")
"""Files written per subject, relative to its folder."""
_FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass
class SyntheticSubject:
    """One generated subject: arrays indexed (z, y, x) and the grid they live on."""

    id: str
    labels: np.ndarray      # float32 0/1/2
    flair: np.ndarray       # float32
    t1: np.ndarray          # float32
    tissue: np.ndarray      # uint8 0..4
    geometry: Geometry
    target_ml: float
    flair_orig: np.ndarray | None = None   # as acquired (uint16); None: same as ``flair``
    t1_orig: np.ndarray | None = None

    @property
    def wm_mask(self) -> np.ndarray:
        return (self.tissue == WHITE).astype(np.uint8)

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.geometry.spacing)) / 1000.0

    def summary(self) -> dict:
        """Lesion count (26-connected components of label 1) and volumes."""
        wmh = self.labels == 1
        _, n_lesions = ndimage.label(wmh, structure=_FULL_CONNECTIVITY)
        return {"n_lesions": int(n_lesions),
                "wmh_ml": float(np.count_nonzero(wmh)) * self.voxel_ml,
                "other_pathology_ml": float(np.count_nonzero(self.labels == 2)) * self.voxel_ml,
                "target_ml": self.target_ml}


def grid_for(row: pd.Series, small: bool,
             tiny: bool = False) -> tuple[tuple[int, int, int], tuple[float, ...]]:
    """(size, spacing) in x, y, z for a manifest row; smaller grids keep the field of view.

    ``small``: in-plane spacing raised to at most 2 mm where finer, slices unchanged;
    ``tiny`` (tests only): 1/4 of the in-plane size and 1/3 of the slices.
    """
    size = np.array([int(row["shape_x"]), int(row["shape_y"]), int(row["shape_z"])])
    spacing = np.array([float(row["spacing_x"]), float(row["spacing_y"]),
                        float(row["spacing_z"])])
    if tiny:
        factors = np.array([TINY_INPLANE_FACTOR, TINY_INPLANE_FACTOR, TINY_SLICE_FACTOR])
        reduced = np.maximum(np.round(size / factors).astype(int), 4)
    elif small:
        extent = size * spacing
        reduced = size.copy()
        reduced[:2] = np.minimum(size[:2], np.ceil(extent[:2] / SMALL_INPLANE_MM - 1e-6))
    else:
        reduced = size
    spacing = np.round(spacing * size / reduced, 4)
    return tuple(int(n) for n in reduced), tuple(float(s) for s in spacing)


def centred_geometry(size_xyz, spacing_xyz, direction) -> Geometry:
    """Geometry whose grid centre sits at the physical origin."""
    matrix = np.asarray(direction, dtype=float).reshape(3, 3)
    half = (np.asarray(size_xyz) - 1) / 2.0 * np.asarray(spacing_xyz)
    origin = -(matrix @ half)
    return Geometry(spacing=tuple(spacing_xyz), origin=tuple(float(o) for o in np.round(origin, 4)),
                    direction=tuple(float(d) for d in direction))


def synthesize_subject(subject_id: str, scanner: str, size_xyz, spacing_xyz,
                       seed: int = 0, phantom: str = "anatomical") -> SyntheticSubject:
    """Draw one subject (anatomy, lesions, FLAIR and T1) on a grid; a pure function.

    ``phantom``: ``"anatomical"`` (the MNI template, default) or ``"geometric"``.
    """
    if phantom == "anatomical":
        return _anatomical_subject(subject_id, scanner, size_xyz, spacing_xyz, seed)
    if phantom != "geometric":
        raise ValueError(f"unknown phantom {phantom!r}; choose one of {PHANTOMS}")
    rng = subject_rng(seed, "subject", subject_id)
    profile = get_profile(scanner)
    load = sample_lesion_load(rng)
    atrophy = atrophy_for_load(load, rng)
    shape_zyx = tuple(int(n) for n in size_xyz[::-1])
    spacing_zyx = tuple(float(s) for s in spacing_xyz[::-1])
    anatomy = build_anatomy(shape_zyx, spacing_zyx, rng, atrophy)
    lesions = draw_lesions(anatomy, load, rng)
    flair, t1 = acquire_images(anatomy, lesions, profile, rng)
    return SyntheticSubject(
        id=str(subject_id), labels=lesions.labels.astype(np.float32), flair=flair, t1=t1,
        tissue=anatomy.tissue, geometry=centred_geometry(size_xyz, spacing_xyz,
                                                         profile.direction),
        target_ml=float(load))


@dataclass
class AnatomicalParts:
    """Everything behind one anatomical subject (for tests and the realism report)."""

    subject: SyntheticSubject
    template: object          # wmheval.synth.template.Template
    maps: object              # wmheval.synth.brain.SubjectMaps (template space)
    pose: object              # wmheval.synth.acquisition.Pose
    coords: np.ndarray        # template index (3, z, y, x) of every voxel centre
    matrix: np.ndarray        # template index step per grid index step (x, y, z)
    lesion_fraction: np.ndarray
    other_fraction: np.ndarray
    age: float
    atrophy: float


def anatomical_parts(subject_id: str, scanner: str, size_xyz, spacing_xyz,
                     seed: int = 0) -> AnatomicalParts:
    """Draw one subject of the anatomical challenge and keep its intermediate maps."""
    from wmheval.synth.acquisition import (
        acquire_subject,
        draw_contrast,
        draw_pose,
        get_acquisition,
        labelled_volume,
        template_coordinates,
    )
    from wmheval.synth.brain import atrophy_for, draw_subject, has_other_pathology, sample_load
    from wmheval.synth.template import load_template

    profile = get_acquisition(scanner)
    rng = subject_rng(seed, "anatomical", subject_id)
    load = sample_load(scanner, rng)
    age = float(np.clip(rng.normal(70.0, 8.0), 50.0, 92.0))
    atrophy = atrophy_for(load, age, rng)
    pose = draw_pose(rng)
    contrast = draw_contrast(profile, rng)
    template = load_template()
    size_xyz = tuple(int(n) for n in size_xyz)
    spacing_xyz = tuple(float(s) for s in spacing_xyz)
    geometry = centred_geometry(size_xyz, spacing_xyz, profile.direction)
    coords, matrix = template_coordinates(template, size_xyz, spacing_xyz, profile.direction,
                                          geometry.origin, pose, rng)
    maps = draw_subject(template, rng, target_ml=load, atrophy=atrophy, contrast=contrast,
                        scale=pose.volume_scale,
                        other_pathology=has_other_pathology(seed, str(subject_id)),
                        labelled_ml=labelled_volume(coords, matrix, spacing_xyz))
    images = acquire_subject(template, maps, profile, spacing_xyz, coords, matrix, rng)
    subject = SyntheticSubject(
        id=str(subject_id), labels=images.labels.astype(np.float32), flair=images.flair,
        t1=images.t1, tissue=images.tissue, geometry=geometry, target_ml=float(load),
        flair_orig=images.flair_orig, t1_orig=images.t1_orig)
    return AnatomicalParts(subject=subject, template=template, maps=maps, pose=pose,
                           coords=coords, matrix=matrix,
                           lesion_fraction=images.lesion_fraction,
                           other_fraction=images.other_fraction, age=age, atrophy=atrophy)


def _anatomical_subject(subject_id: str, scanner: str, size_xyz, spacing_xyz,
                        seed: int) -> SyntheticSubject:
    """One subject of the anatomical challenge (see :mod:`wmheval.synth.brain`)."""
    return anatomical_parts(subject_id, scanner, size_xyz, spacing_xyz, seed).subject


def acquire_images(anatomy, lesions, profile, rng):
    """FLAIR and T1 of a subject (a seam for tests and other image models)."""
    from wmheval.synth.scanners import acquire

    return acquire(anatomy, lesions, profile, rng)


def write_subject(subject: SyntheticSubject, folder: str | Path) -> Path:
    """Write a subject's five files (see :data:`SUBJECT_FILES`) into ``folder``."""
    folder = Path(folder)
    flair_orig = subject.flair if subject.flair_orig is None else subject.flair_orig
    t1_orig = subject.t1 if subject.t1_orig is None else subject.t1_orig
    arrays = (subject.labels, subject.flair, subject.t1, flair_orig, t1_orig, subject.wm_mask,
              subject.tissue)
    for relative, array in zip(SUBJECT_FILES, arrays, strict=True):
        write_image(array, subject.geometry, folder / relative)
    return folder


def select_subjects(manifest: pd.DataFrame, small: bool = False,
                    ids: Iterable[str] | None = None,
                    all_training: bool = False) -> pd.DataFrame:
    """Manifest rows to generate: ``ids`` if given, else all (or the small selection).

    The small selection takes, in manifest order, the first 4 training subjects of each
    training scanner (every training subject with ``all_training``) and the first 3 test
    subjects of every scanner.
    """
    if ids is not None:
        wanted = [str(i) for i in ids]
        unknown = [i for i in wanted if i not in manifest.index]
        if unknown:
            raise ValueError(f"subject ids not in the manifest: {unknown[:10]}")
        return manifest.loc[wanted]
    if not small:
        return manifest
    quota = {"training": len(manifest) if all_training else SMALL_TRAINING_PER_SCANNER,
             "test": SMALL_TEST_PER_SCANNER}
    keep = manifest.groupby(["split", "scanner"], sort=False, group_keys=False).apply(
        lambda group: group.head(quota.get(group.name[0], 0)))
    return manifest.loc[[i for i in manifest.index if i in set(keep.index)]]


def _generate_one(task: tuple) -> dict:
    row, root, small, seed, phantom, tiny = task
    size, spacing = grid_for(row, small, tiny)
    subject = synthesize_subject(row["id"], row["scanner"], size, spacing, seed, phantom)
    folder = write_subject(subject, Path(root) / row["release_path"])
    return {"id": row["id"], "split": row["split"], "site": row.get("site", ""),
            "scanner": row["scanner"], "seen_in_training": bool(row["seen_in_training"]),
            "release_path": row["release_path"], "path": str(folder.resolve()),
            "shape": size, "spacing": spacing, **subject.summary()}


def _resolve_manifest(manifest) -> pd.DataFrame:
    table = manifest if isinstance(manifest, pd.DataFrame) else load_manifest(manifest)
    needed = ["release_path", "shape_x", "shape_y", "shape_z", "spacing_x", "spacing_y",
              "spacing_z"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"the manifest lacks columns {missing} needed to synthesise data")
    table = table.copy()
    table["id"] = table["id"].astype(str)
    return table.set_index("id", drop=False)


def generate_challenge(root: str | Path, *, small: bool = False, seed: int = 0,
                       ids: Iterable[str] | None = None, manifest=None, progress: bool = False,
                       jobs: int | None = None, phantom: str = "anatomical",
                       tiny: bool = False, all_subjects: bool = False,
                       all_training: bool = False) -> pd.DataFrame:
    """Write a synthetic challenge under ``root`` in the real release's layout.

    Per subject: ``wmh.nii.gz`` (float32 labels 0/1/2), ``pre/FLAIR.nii.gz`` and
    ``pre/T1.nii.gz`` (float32) on the manifest's FLAIR grid (or the small grid), and the
    ground-truth anatomy ``synth/wm_mask.nii.gz`` and ``synth/tissue.nii.gz`` (uint8).
    Also writes ``root/synth_manifest.csv``. Returns one row per written subject (id,
    split, scanner, seen_in_training, path, shape, spacing, n_lesions, wmh_ml, ...).
    ``jobs`` worker processes (default: up to 4 for more than 8 subjects, else 1).
    ``phantom``: ``"anatomical"`` (default) or ``"geometric"`` (fast, for unit tests);
    ``tiny`` (tests): grids of 1/4 in-plane and 1/3 of the slices. ``all_subjects`` with
    ``small``: every manifest subject (the release's 60 training and 110 test) on the small
    grid, not the 27-subject selection. ``all_training`` with ``small``: the small
    selection's 15 test subjects and all 60 training subjects (learned baselines overfit 12).
    """
    if phantom not in PHANTOMS:
        raise ValueError(f"unknown phantom {phantom!r}; choose one of {PHANTOMS}")
    root = Path(root)
    table = select_subjects(_resolve_manifest(manifest), small and not all_subjects, ids,
                            all_training=all_training)
    tasks = [(row, str(root), small, int(seed), phantom, tiny) for _, row in table.iterrows()]
    if jobs is None:
        busy = 2 if phantom == "anatomical" else 8
        jobs = min(os.cpu_count() or 1, 4) if len(tasks) > busy else 1
    rows = _run(tasks, max(int(jobs), 1), progress)
    result = pd.DataFrame(rows)
    if result.empty:
        return result
    result = result.set_index("id", drop=False).loc[table.index].reset_index(drop=True)
    written = result.drop(columns=["path"]).copy()
    written[["shape_x", "shape_y", "shape_z"]] = pd.DataFrame(written.pop("shape").tolist())
    written[["spacing_x", "spacing_y", "spacing_z"]] = pd.DataFrame(
        written.pop("spacing").tolist())
    written["seed"] = int(seed)
    written["small"] = bool(small)
    written["phantom"] = phantom
    write_text_atomic(root / SYNTH_MANIFEST, written.to_csv(index=False))
    return result


def _run(tasks: list[tuple], jobs: int, progress: bool) -> list[dict]:
    """Generate every task, in worker processes when ``jobs`` > 1, with a progress bar."""
    with progress_bar("synthesising subjects", len(tasks), progress) as advance:
        return parallel_map(_generate_one, tasks, jobs, on_done=advance)


def read_synth_manifest(root: str | Path) -> pd.DataFrame:
    """The ``synth_manifest.csv`` of a generated challenge, indexed by id."""
    path = Path(root) / SYNTH_MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; is {root} a synthetic challenge "
                                "(made by `wmheval synth`)?")
    table = pd.read_csv(path, dtype={"id": str, "release_path": str}, keep_default_na=False)
    table["seen_in_training"] = table["seen_in_training"].astype(str).str.lower() == "true"
    return table.set_index("id", drop=False)
