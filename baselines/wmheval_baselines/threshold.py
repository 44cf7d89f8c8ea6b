"""The threshold baseline: the best FLAIR z-score threshold inside a white-matter mask.

The floor every learned model must beat. FLAIR is z-scored with robust statistics (median,
1.4826 x MAD) of the white-matter mask, the mask is dilated in-plane by ``dilation_mm`` (so
periventricular lesions that a white-matter mask calls grey matter stay reachable), and
voxels at or above the threshold are WMH. The threshold and the dilation are chosen to
maximise the mean Dice over the *training* subjects only, then applied to the subjects to
predict. The white-matter mask comes from the data (the synthetic ``synth/wm_mask.nii.gz``
or ``--wm-masks DIR``), as for the learned models' white-matter networks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from wmheval.io.atomic import write_text_atomic
from wmheval_baselines.data import DataError, Volume, find_subjects, load_volume
from wmheval_baselines.splits import split_subjects
from wmheval_baselines.wm_mask import search_region

THRESHOLD_GRID = tuple(float(t) for t in np.round(np.arange(0.5, 10.001, 0.05), 2))
DILATIONS_MM = (0.0, 2.0, 4.0)
FIT_NAME = "threshold_fit.json"


@dataclass
class ThresholdFit:
    """The fitted threshold baseline (saved as JSON beside its predictions)."""

    threshold: float
    dilation_mm: float
    train_mean_dice: float
    training_subjects: list[str] = field(default_factory=list)
    curve: dict[str, list[float]] = field(default_factory=dict)  # dilation -> mean Dice

    def to_json(self, path: Path) -> Path:
        payload = asdict(self) | {"grid": list(THRESHOLD_GRID)}
        write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
        return path


def robust_zscore(flair: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(flair - median) / (1.4826 MAD)`` with statistics over ``mask`` (lesions, a few per
    cent of the white matter, barely move them)."""
    values = flair[mask > 0] if np.any(mask) else flair[flair > 0]
    if values.size == 0:
        return np.zeros(flair.shape, np.float32)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * 1.4826
    return ((flair - median) / max(mad, 1e-6)).astype(np.float32)


def dice_curve(z: np.ndarray, region: np.ndarray, labels: np.ndarray,
               grid: Sequence[float] = THRESHOLD_GRID) -> np.ndarray:
    """Dice of ``region & (z >= t)`` against ``labels == 1`` for every ``t`` in ``grid``,
    scored as the challenge does (voxels labelled 2 removed from the prediction)."""
    counted = region & (labels != 2)
    lesion = labels == 1
    reference = int(np.count_nonzero(lesion))
    predicted_values = np.sort(z[counted])
    hit_values = np.sort(z[counted & lesion])
    thresholds = np.asarray(grid, dtype=np.float32)
    predicted = predicted_values.size - np.searchsorted(predicted_values, thresholds, "left")
    hits = hit_values.size - np.searchsorted(hit_values, thresholds, "left")
    denominator = predicted + reference
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(denominator > 0, 2.0 * hits / denominator, 1.0)
    return dice


def segment(volume: Volume, threshold: float, dilation_mm: float) -> np.ndarray:
    """The baseline's binary WMH mask (canonical grid) of one subject."""
    z = robust_zscore(volume.flair, volume.wm)
    return (search_region(volume.wm, volume.spacing, dilation_mm) & (z >= threshold)
            ).astype(np.uint8)


def fit_threshold(volumes: Sequence[Volume], grid: Sequence[float] = THRESHOLD_GRID,
                  dilations_mm: Sequence[float] = DILATIONS_MM) -> ThresholdFit:
    """The (threshold, dilation) with the best mean training Dice (ties: lower threshold,
    smaller dilation)."""
    if not volumes:
        raise ValueError("no training volumes to fit the threshold on")
    best: tuple[float, float, float] | None = None
    curves: dict[str, list[float]] = {}
    for dilation in dilations_mm:
        curve = np.zeros(len(grid))
        for volume in volumes:
            z = robust_zscore(volume.flair, volume.wm)
            region = search_region(volume.wm, volume.spacing, dilation)
            curve += dice_curve(z, region, volume.wmh, grid)
        curve /= len(volumes)
        curves[f"{dilation:g}"] = [round(float(v), 5) for v in curve]
        index = int(np.argmax(curve))
        if best is None or curve[index] > best[0]:
            best = (float(curve[index]), float(grid[index]), float(dilation))
    assert best is not None
    return ThresholdFit(threshold=best[1], dilation_mm=best[2], train_mean_dice=best[0],
                        training_subjects=[v.subject.id for v in volumes], curve=curves)


def threshold_baseline(data: str | Path, out: str | Path, *, split: str = "challenge",
                       wm_masks: str | Path | None = None, console=None) -> ThresholdFit:
    """Fit on the split's training subjects of ``data``, predict the split's subjects into
    ``out/<id>/result.nii.gz`` (FLAIR grids) and write the fit to ``out/../<out
    name>_threshold_fit.json``; return the fit."""
    from wmheval_baselines.predict import write_result

    subjects = find_subjects(data)
    train, predict = split_subjects(subjects, split)
    if not predict:  # as predict_folder: writing nothing is an error, not a success
        raise DataError(f"{data}: no subjects to predict for split {split!r}")
    # The fit sees the white-matter mask as read, as at test time (no lesion union).
    volumes = [load_volume(s, wm_masks=wm_masks, need_wm=True, lesions_in_wm=False)
               for s in train]
    fit = fit_threshold(volumes)
    out = Path(out)
    for subject in predict:
        volume = load_volume(subject, labels=False, wm_masks=wm_masks, need_wm=True)
        write_result(segment(volume, fit.threshold, fit.dilation_mm), subject.flair_path,
                     out / subject.id / "result.nii.gz")
    fit.to_json(fit_path(out))
    if console is not None:
        console.print(f"threshold baseline: z >= {fit.threshold:g} inside the white-matter "
                      f"mask dilated {fit.dilation_mm:g} mm (training mean Dice "
                      f"{fit.train_mean_dice:.3f}); wrote {len(predict)} predictions to {out}",
                      highlight=False, markup=False)
    return fit


def fit_path(submission: str | Path) -> Path:
    """Where :func:`threshold_baseline` writes its fit: beside the submission folder."""
    submission = Path(submission)
    return submission.parent / f"{submission.name}_{FIT_NAME}"
