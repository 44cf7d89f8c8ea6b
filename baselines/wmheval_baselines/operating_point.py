"""The decision threshold a trained network's output is read at: its operating point.

Two policies (``TrainConfig.operating_point``):

* ``posterior`` (the papers' reading): posterior >= 0.5, which for a class-balanced loss is
  output >= beta (:func:`~wmheval_baselines.inference.decision_threshold`).
* ``fitted``: the posterior level with the best mean Dice over the *training* subjects,
  searched on :data:`POSTERIOR_LEVELS` after training (as the threshold baseline fits its
  z-score threshold). Dice is best read below posterior 0.5 when a model is unsure: for a
  calibrated model the F1-optimal posterior threshold is half the best F1 (Lipton et al.
  2014, "Thresholding classifiers to maximize F1 score"), so a network that finds lesions
  with Dice 0.4 is best read near posterior 0.2, which posterior 0.5 under-segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wmheval_baselines.inference import decision_threshold, weighted_output

OPERATING_POINTS = ("posterior", "fitted")
"""``posterior``: read at posterior 0.5 (the papers'); ``fitted``: fitted on training Dice."""

POSTERIOR_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 19))
"""The posterior levels the ``fitted`` operating point chooses from: 0.05, 0.10, ..., 0.90."""


@dataclass(frozen=True)
class OperatingPoint:
    """A fitted operating point: the posterior level, the output threshold it means and the
    mean training Dice at each level (the curve it was chosen from)."""

    posterior: float
    threshold: float
    mean_dice: float
    subjects: int
    curve: dict[str, float] = field(default_factory=dict)  # posterior level -> mean Dice


def output_threshold(posterior: float, beta: float | None) -> float:
    """The network output that means ``posterior``: ``posterior`` itself for an unweighted
    loss (``beta`` None), the class-balanced loss's shifted output otherwise (0.5 -> beta)."""
    if posterior == 0.5:
        return decision_threshold(beta)  # exactly beta, not a rounded weighted_output
    return float(posterior) if beta is None else float(weighted_output(posterior, beta))


def dice_by_threshold(output: np.ndarray, labels: np.ndarray,
                      thresholds: np.ndarray | list[float]) -> np.ndarray:
    """Dice of ``output >= t`` against ``labels == 1`` for each ``t`` (NaN for every ``t``
    where the reference has no lesion voxel: such a subject says nothing about the level)."""
    lesion = labels == 1
    reference = int(lesion.sum())
    if reference == 0:
        return np.full(len(thresholds), np.nan)
    inside = np.sort(output[lesion].ravel())
    everywhere = np.sort(output.ravel())
    bounds = np.asarray(thresholds, dtype=output.dtype)
    hits = inside.size - np.searchsorted(inside, bounds, side="left")
    found = everywhere.size - np.searchsorted(everywhere, bounds, side="left")
    return 2.0 * hits / (found + reference)


def fit_operating_point(curves: np.ndarray, beta: float | None,
                        levels: tuple[float, ...] = POSTERIOR_LEVELS) -> OperatingPoint:
    """The posterior level with the best mean Dice over subjects (rows of ``curves``, one
    column per level; NaN rows ignored). Ties go to the level nearest 0.5, the papers'."""
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    valid = curves[~np.isnan(curves).any(axis=1)]
    if valid.shape[0] == 0:
        raise ValueError("no training subject has a lesion voxel: nothing to fit the "
                         "operating point on")
    means = valid.mean(axis=0)
    best = max(range(len(levels)), key=lambda i: (round(means[i], 12), -abs(levels[i] - 0.5)))
    curve = {f"{level:.2f}": float(m) for level, m in zip(levels, means, strict=True)}
    return OperatingPoint(posterior=float(levels[best]),
                          threshold=output_threshold(levels[best], beta),
                          mean_dice=float(means[best]), subjects=int(valid.shape[0]),
                          curve=curve)
