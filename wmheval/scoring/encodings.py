"""Predictions saved in an encoding the official rule misreads: detect them, name the fix.

The official rule counts every value from 1 (0.5 for floats) up to 1000 as lesion, and in
uint8 images only 1-232 (ITK wraps 1000 to 232). So three common ways of saving a
prediction score as nonsense with the official rule, silently:

* a probability map scaled 0-255 (every voxel above 0 becomes lesion: Dice near 0, AVD of
  hundreds of thousands of percent, recall 1);
* a probability map scaled 0-100 (the same);
* a 0/255 uint8 mask (255 is above 232: an empty mask, Dice 0).

:func:`detect_encoding` recognises them from the value range and the distinct values of
one prediction; ``wmheval score`` fails such a case with a message that names the file and
the fix (``--binarize threshold:128``, ``threshold:50`` or ``nonzero``), and notes how many
cases of the submission share the encoding, unless the user chose a rule explicitly (then
the values are scored as the chosen rule reads them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wmheval.metrics.binarize import official_upper_threshold

MIN_DISTINCT_FOR_MAP = 8
"""A prediction with at least this many distinct non-zero values is a map, not a label
image."""
MAX_INSTANCE_LABELS = 50
"""Values exactly 1, 2, ..., N (fewer than this) are lesion labels (every one foreground
under the official rule), not a map."""
_SAMPLE = 200_000
ENCODING_MARK = "looks like"
"""Text every encoding message holds (the submission-wide note counts them)."""


@dataclass(frozen=True)
class Encoding:
    """A recognised encoding: what it is and the option that scores it as meant."""

    kind: str  # "probability_0_255", "probability_0_100", "mask_0_255"
    description: str
    fix: str
    low: float
    high: float
    n_distinct: int

    def message(self, path: object) -> str:
        """One line naming the file, what it looks like and the fix."""
        return (f"{path}: {ENCODING_MARK} {self.description} (values {self.low:g} to "
                f"{self.high:g}, {self.n_distinct}{'+' if self.n_distinct >= 64 else ''} "
                f"distinct), which the official rule misreads; rerun with --binarize "
                f"{self.fix}, or give --binarize explicitly to score the values as that "
                "rule reads them")


def _distinct_nonzero(nonzero: np.ndarray) -> np.ndarray:
    """The distinct non-zero values (of a sample for very large maps: only their number
    up to 64 and the range matter)."""
    if nonzero.size > _SAMPLE:
        step = nonzero.size // _SAMPLE + 1
        nonzero = nonzero[::step]
    return np.unique(nonzero)


def detect_encoding(values: np.ndarray) -> Encoding | None:
    """The encoding of a prediction array if it is one the official rule misreads, else None.

    Only arrays with non-negative finite values above 1 are candidates: values in [0, 1]
    (masks and 0-1 probability maps) are what the official rule expects, and lesion labels
    1, 2, ..., N (N < :data:`MAX_INSTANCE_LABELS`) are all foreground, as meant.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iuf" or values.size == 0:
        return None
    flat = values.reshape(-1)
    nonzero = flat[flat != 0]
    if values.dtype.kind == "f":
        nonzero = nonzero[np.isfinite(nonzero)]
    if nonzero.size == 0:
        return None
    low, high = float(nonzero.min()), float(nonzero.max())
    if high <= 1 or low < 0:
        return None
    distinct = _distinct_nonzero(nonzero)
    n_distinct = int(min(distinct.size, 64))
    if distinct.size == 1 and high == 255 and official_upper_threshold(values.dtype) < 255:
        return Encoding("mask_0_255", "a 0/255 mask (255 is background under the official "
                        f"rule in {values.dtype} images)", "nonzero", 0.0, high, 1)
    labels = bool(np.all(distinct == np.arange(1, distinct.size + 1))) and \
        distinct.size < MAX_INSTANCE_LABELS
    if distinct.size >= MIN_DISTINCT_FOR_MAP and high <= 255 and not labels:
        if high <= 100:
            return Encoding("probability_0_100", "a probability map scaled 0-100",
                            "threshold:50", 0.0, high, n_distinct)
        return Encoding("probability_0_255", "a probability map scaled 0-255",
                        "threshold:128", 0.0, high, n_distinct)
    return None


def submission_note(rows: list[dict]) -> str | None:
    """One note for the whole submission when cases failed for their encoding: how many,
    and the fix (the most common one)."""
    flagged = [row for row in rows if ENCODING_MARK in str(row.get("error", ""))
               and "--binarize" in str(row.get("error", ""))]
    if not flagged:
        return None
    fixes: dict[str, int] = {}
    for row in flagged:
        text = str(row["error"])
        fix = text.split("rerun with --binarize ", 1)[-1].split(",", 1)[0]
        fixes[fix] = fixes.get(fix, 0) + 1
    best = max(fixes, key=fixes.get)
    return (f"{len(flagged)} of {len(rows)} predictions {ENCODING_MARK} probability maps "
            f"or masks the official rule misreads (failed, not scored as nonsense); rerun "
            f"with --binarize {best}")
