"""Realism statistics of a generated challenge: tissue volumes, lesion loads, and the Dice a
single FLAIR threshold inside the white matter reaches (the floor a trained model must beat).

The best threshold is searched on FLAIR divided by the subject's median white-matter FLAIR
(the scanners' intensity scales differ by three orders of magnitude), over a fixed grid of
thresholds, choosing the one with the best mean Dice over the given subjects: an oracle
choice on the evaluated subjects themselves, so an optimistic figure for thresholding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.io.images import read_image

THRESHOLDS = np.round(np.arange(1.0, 2.5001, 0.01), 3)
"""FLAIR / median white-matter FLAIR thresholds searched."""
TISSUE_NAMES = {1: "scalp_skull_ml", 2: "csf_ml", 3: "grey_ml", 4: "white_ml"}


@dataclass
class ThresholdCounts:
    """Per subject, the true-positive and false-positive voxel counts at every threshold."""

    tp: np.ndarray     # (n_thresholds,)
    fp: np.ndarray
    n_lesion: int


def threshold_counts(flair: np.ndarray, labels: np.ndarray, wm_mask: np.ndarray,
                     thresholds: np.ndarray = THRESHOLDS) -> ThresholdCounts:
    """Counts of ``(flair / median WM flair > t) & wm_mask`` against label 1, label 2 ignored
    (as the challenge's metrics ignore it), for every threshold ``t``."""
    wm = wm_mask.astype(bool)
    level = float(np.median(flair[wm])) if wm.any() else 1.0
    scored = wm & (labels != 2)
    values = flair[scored] / max(level, 1e-12)
    lesion = labels[scored] == 1
    order = np.sort(values[lesion])
    other = np.sort(values[~lesion])
    tp = order.size - np.searchsorted(order, thresholds, side="right")
    fp = other.size - np.searchsorted(other, thresholds, side="right")
    return ThresholdCounts(tp=tp.astype(np.int64), fp=fp.astype(np.int64),
                           n_lesion=int(np.count_nonzero(labels == 1)))


def dice_curve(counts: ThresholdCounts) -> np.ndarray:
    """Dice at every threshold (1 where both the reference and the prediction are empty)."""
    fn = counts.n_lesion - counts.tp
    denominator = 2 * counts.tp + counts.fp + fn
    return np.where(denominator > 0, 2 * counts.tp / np.maximum(denominator, 1), 1.0)


def best_threshold(curves: np.ndarray,
                   thresholds: np.ndarray = THRESHOLDS) -> tuple[float, float]:
    """(threshold, mean Dice) maximising the mean over subjects of ``curves`` (n, t)."""
    mean = np.asarray(curves).mean(axis=0)
    best = int(np.argmax(mean))
    return float(thresholds[best]), float(mean[best])


def _read_copy(path: Path) -> np.ndarray:
    """An image's array as an owned copy: a LoadedImage's array views the SimpleITK buffer,
    which is freed with the LoadedImage, so keep it alive until the copy is made."""
    loaded = read_image(path)
    array = np.array(loaded.array)
    del loaded
    return array


def subject_statistics(root: str | Path, table: pd.DataFrame) -> pd.DataFrame:
    """Per subject of a generated challenge: tissue volumes (ml), WMH ml, lesion count, and
    the threshold Dice curve (column ``dice_curve``)."""
    rows = []
    for _, row in table.iterrows():
        folder = Path(root) / row["release_path"]
        flair = read_image(folder / "pre" / "FLAIR.nii.gz")
        labels = _read_copy(folder / "wmh.nii.gz")
        tissue = _read_copy(folder / "synth" / "tissue.nii.gz")
        wm = _read_copy(folder / "synth" / "wm_mask.nii.gz")
        voxel_ml = float(np.prod(flair.geometry.spacing)) / 1000.0
        volumes = np.bincount(tissue.ravel().astype(np.int64), minlength=5) * voxel_ml
        counts = threshold_counts(flair.array, labels, wm)
        entry = {"id": str(row["id"]), "split": row["split"], "scanner": row["scanner"],
                 "wmh_ml": float(np.count_nonzero(labels == 1)) * voxel_ml,
                 "n_lesions": int(row.get("n_lesions", 0)),
                 "other_pathology_ml": float(np.count_nonzero(labels == 2)) * voxel_ml,
                 "dice_curve": dice_curve(counts)}
        entry.update({name: float(volumes[k]) for k, name in TISSUE_NAMES.items()})
        rows.append(entry)
    return pd.DataFrame(rows)
