"""Overlay figures: FLAIR (and T1) slices with true positives, false positives and false
negatives of a prediction in distinct colours, the figure of a segmentation paper."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wmheval.io.atomic import atomic_path
from wmheval.metrics.binarize import OFFICIAL, binarize_prediction
from wmheval.metrics.labels import reference_masks

COLOURS = {
    "true positive": (0.941, 0.894, 0.259),   # Okabe-Ito yellow
    "false positive": (0.835, 0.369, 0.000),  # Okabe-Ito vermillion
    "false negative": (0.337, 0.706, 0.914),  # Okabe-Ito sky blue
    "ignored (label 2)": (0.800, 0.475, 0.655),  # Okabe-Ito reddish purple
}
"""RGB colour of each overlay class: the Okabe-Ito palette, told apart by people with any
common colour-vision deficiency (and by lightness in greyscale print)."""

STYLES = ("fill", "contour")


@dataclass(frozen=True)
class OverlayFigure:
    """A written overlay figure and the voxel counts it shows.

    ``counts``: true positives, false positives and false negatives over the whole volume
    (the counts the challenge's Dice uses: prediction in the ignored region left out), and
    the ignored voxels; ``slice_counts``: the same per drawn slice.
    """

    path: Path
    counts: dict[str, int]
    slices: tuple[int, ...]
    slice_counts: tuple[dict[str, int], ...]

    @property
    def dice(self) -> float:
        """Dice of the case from the drawn classes (NaN when both masks are empty)."""
        tp, fp, fn = self.counts["tp"], self.counts["fp"], self.counts["fn"]
        return 2.0 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def class_counts(classes: np.ndarray) -> dict[str, int]:
    """TP, FP, FN and ignored voxel counts of an :func:`overlay_classes` array."""
    counts = np.bincount(np.asarray(classes, dtype=np.uint8).ravel(), minlength=5)
    return {"tp": int(counts[1]), "fp": int(counts[2]), "fn": int(counts[3]),
            "ignored": int(counts[4])}


def overlay_classes(reference: np.ndarray, prediction: np.ndarray,
                    rule: str = OFFICIAL) -> np.ndarray:
    """Per-voxel class codes: 0 none, 1 TP, 2 FP, 3 FN, 4 ignored region (label 2).

    ``reference`` holds labels (1 WMH, 2 ignored) or a boolean mask; ``prediction`` is
    binarised with ``rule`` and its voxels in the ignored region do not count, as in
    scoring.
    """
    reference = np.asarray(reference)
    prediction = np.asarray(prediction)
    if reference.shape != prediction.shape:
        raise ValueError(f"size mismatch: reference {reference.shape[::-1]} vs prediction "
                         f"{prediction.shape[::-1]} (x, y, z)")
    if reference.dtype == bool:
        wmh, ignored = reference, np.zeros_like(reference)
    else:
        wmh, ignored = reference_masks(reference)
    predicted, _ = binarize_prediction(prediction, rule=rule)
    predicted &= ~ignored
    classes = np.zeros(reference.shape, dtype=np.uint8)
    classes[ignored] = 4
    classes[wmh & predicted] = 1
    classes[predicted & ~wmh] = 2
    classes[wmh & ~predicted] = 3
    return classes


def default_slices(reference: np.ndarray, prediction: np.ndarray | None = None,
                   count: int = 3) -> list[int]:
    """The ``count`` axial slices with most reference lesion (ties: most prediction, then
    nearest the middle), in ascending order; middle slices if there is no lesion."""
    reference = np.asarray(reference)
    n_slices = reference.shape[0]
    count = max(1, min(count, n_slices))
    wmh = (reference_masks(reference)[0] if reference.dtype != bool else reference)
    lesion = wmh.reshape(n_slices, -1).sum(axis=1).astype(float)
    if prediction is not None:
        lesion += 1e-3 * (np.asarray(prediction) != 0).reshape(n_slices, -1).sum(axis=1)
    middle = -1e-9 * np.abs(np.arange(n_slices) - (n_slices - 1) / 2.0)
    order = np.argsort(-(lesion + middle), kind="stable")[:count]
    return sorted(int(i) for i in order)


def _window(image: np.ndarray) -> tuple[float, float]:
    """Display range: 1st to 99.5th percentile of the non-zero voxels."""
    values = image[np.isfinite(image) & (image != 0)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [1.0, 99.5])
    return float(low), float(max(high, low + 1e-6))


def brain_box(flair: np.ndarray, classes: np.ndarray | None = None,
              margin: int = 2) -> tuple[slice, slice]:
    """In-plane (y, x) bounding box of the head, joined with every overlay voxel, plus
    ``margin`` voxels. Head: voxels above 30 % of the FLAIR's 99th percentile on at least
    a tenth of the slices (background noise rarely is, slice after slice)."""
    flair = np.nan_to_num(np.asarray(flair, dtype=np.float32))
    positive = flair[flair > 0]
    level = 0.3 * float(np.percentile(positive, 99)) if positive.size else 0.0
    mask = (flair > level).mean(axis=0) >= 0.1
    if classes is not None:
        mask |= (np.asarray(classes) > 0).any(axis=0)
    if not mask.any():
        return slice(0, flair.shape[1]), slice(0, flair.shape[2])
    ys, xs = np.nonzero(mask)
    return (slice(max(0, ys.min() - margin), min(flair.shape[1], ys.max() + margin + 1)),
            slice(max(0, xs.min() - margin), min(flair.shape[2], xs.max() + margin + 1)))


def fit_suptitle(figure, text: str, fontsize: float = 9) -> None:
    """Set ``text`` as the figure's title, wrapped (at spaces where it can) until it fits the
    figure's width (a long team name and subject once ran off both edges of the overlay)."""
    import textwrap

    title = figure.suptitle(text, fontsize=fontsize)
    renderer = figure.canvas.get_renderer()
    characters = len(text)
    while characters > 8 and title.get_window_extent(renderer).width > 0.96 * figure.bbox.width:
        characters = int(characters * 0.9)
        title.set_text(textwrap.fill(text, characters, break_long_words=True))


def render_overlay(flair: np.ndarray, reference: np.ndarray, prediction: np.ndarray,
                   out_path: str | Path, *, t1: np.ndarray | None = None,
                   slices: Sequence[int] | None = None, title: str | None = None,
                   spacing: Sequence[float] | None = None, alpha: float = 0.85,
                   rule: str = OFFICIAL, dpi: int = 300, style: str = "fill",
                   crop: bool = True, n_slices: int = 3, panel_inches: float = 2.4
                   ) -> OverlayFigure:
    """Draw axial slices of FLAIR (and T1) with TP/FP/FN coloured; write PNG, SVG or PDF.

    Arrays are indexed (z, y, x); ``spacing`` is (x, y, z) in mm and sets the aspect ratio.
    Each row is one slice: FLAIR, T1 if given, and FLAIR with the overlay (``style``
    "fill": translucent voxels; "contour": class outlines). Panels are cropped to the head
    (``crop``); the ignored region appears (and in the legend) only when present. The
    title gets the case's Dice. Format from ``out_path``'s suffix (.png at ``dpi``, .svg,
    .pdf). Returns the path with the TP/FP/FN counts drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"{out_path}: use a .png, .svg or .pdf file name")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    flair = np.array(flair, dtype=np.float32)  # owned copies: never draw from a borrowed view
    if flair.ndim != 3:
        raise ValueError(f"FLAIR must be a 3D (z, y, x) array, got shape {flair.shape}")
    if t1 is not None and np.shape(t1) != flair.shape:
        raise ValueError(f"size mismatch: FLAIR {flair.shape[::-1]} vs T1 "
                         f"{np.shape(t1)[::-1]} (x, y, z)")
    if np.shape(reference) != flair.shape:
        raise ValueError(f"size mismatch: FLAIR {flair.shape[::-1]} vs reference "
                         f"{np.shape(reference)[::-1]} (x, y, z)")
    classes = overlay_classes(reference, prediction, rule)
    chosen = (list(slices) if slices is not None
              else default_slices(reference, prediction, count=n_slices))
    bad = [s for s in chosen if not 0 <= int(s) < flair.shape[0]]
    if bad or not chosen:
        raise ValueError(f"slices {bad or chosen} outside 0..{flair.shape[0] - 1}")
    chosen = [int(s) for s in chosen]
    box = brain_box(flair, classes) if crop else (slice(None), slice(None))
    aspect = 1.0 if spacing is None else float(spacing[1]) / float(spacing[0])
    panels = [("FLAIR", flair, _window(flair))]
    if t1 is not None:
        t1 = np.array(t1, dtype=np.float32)
        panels.append(("T1", t1, _window(t1)))
    names = list(COLOURS)
    drawn_ignored = any((classes[index] == 4).any() for index in chosen)
    shown = [1, 2, 3, 4] if drawn_ignored else [1, 2, 3]  # ignored only where drawn
    lut = np.zeros((5, 4), dtype=np.float32)
    for code, colour in enumerate(COLOURS.values(), start=1):
        lut[code] = (*colour, alpha)
    height = (box[0].stop or flair.shape[1]) - (box[0].start or 0)
    width = (box[1].stop or flair.shape[2]) - (box[1].start or 0)
    ratio = height * aspect / max(width, 1)
    n_cols = len(panels) + 1
    figure, axes = plt.subplots(
        len(chosen), n_cols, squeeze=False, layout="constrained",
        figsize=(panel_inches * n_cols, (panel_inches * ratio + 0.3) * len(chosen) + 0.8))
    slice_counts = []
    for row, index in enumerate(chosen):
        for col, (name, image, (low, high)) in enumerate(panels):
            axes[row, col].imshow(image[index][box], cmap="gray", vmin=low, vmax=high,
                                  origin="lower", aspect=aspect, interpolation="nearest")
            axes[row, col].set_title(f"{name}, slice {index}", fontsize=8)
        low, high = panels[0][2]
        last = axes[row, n_cols - 1]
        last.imshow(flair[index][box], cmap="gray", vmin=low, vmax=high, origin="lower",
                    aspect=aspect, interpolation="nearest")
        drawn = classes[index][box]
        if style == "fill":
            last.imshow(lut[drawn], origin="lower", aspect=aspect, interpolation="nearest")
        else:
            for code in shown:
                if (drawn == code).any():
                    last.contour((drawn == code).astype(float), levels=[0.5],
                                 colors=[COLOURS[names[code - 1]]], linewidths=0.8,
                                 origin="lower")
        counts = class_counts(classes[index])
        slice_counts.append(counts)
        last.set_title(f"TP {counts['tp']}, FP {counts['fp']}, FN {counts['fn']} voxels",
                       fontsize=8)
        for axis in axes[row]:
            axis.set_axis_off()
    total = class_counts(classes)
    result = OverlayFigure(out_path, total, tuple(chosen), tuple(slice_counts))
    handles = [Patch(facecolor=COLOURS[names[code - 1]], edgecolor="none",
                     label=names[code - 1]) for code in shown]
    figure.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7,
                  frameon=False)
    dice = result.dice
    heading = f"Dice {dice:.3f}" if np.isfinite(dice) else "Dice undefined (both empty)"
    heading = f"{title}: {heading}" if title else heading
    fit_suptitle(figure, heading, fontsize=9)
    try:
        with atomic_path(out_path) as temporary:
            figure.savefig(temporary, dpi=dpi, format=out_path.suffix.lower()[1:])
    finally:
        plt.close(figure)
    return result


def show_case(subject_dir: str | Path, prediction_path: str | Path, out_path: str | Path, *,
              slices: Sequence[int] | None = None, title: str | None = None,
              with_t1: bool = True, rule: str = OFFICIAL, **options) -> OverlayFigure:
    """Render the overlay of one subject folder (release layout) and a prediction file.

    Reads ``wmh.nii.gz``, ``pre/FLAIR.nii.gz`` and, if present and ``with_t1``,
    ``pre/T1.nii.gz``; errors name the file and the problem. ``options`` go to
    :func:`render_overlay` (style, dpi, n_slices, crop).
    """
    from wmheval.io.images import read_image

    subject_dir = Path(subject_dir)

    def read(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file not found")
        loaded = read_image(path)  # ImageError (a ValueError) names the file and the problem
        # A copy: loaded.array is a view of ITK's buffer, freed with ``loaded`` (segfaults).
        return np.array(loaded.array), loaded.geometry.spacing

    flair, spacing = read(subject_dir / "pre" / "FLAIR.nii.gz")
    reference, _ = read(subject_dir / "wmh.nii.gz")
    prediction, _ = read(Path(prediction_path))
    if prediction.shape != reference.shape:
        raise ValueError(f"{prediction_path}: size {prediction.shape[::-1]} differs from the "
                         f"reference {reference.shape[::-1]} (x, y, z)")
    t1_path = subject_dir / "pre" / "T1.nii.gz"
    t1 = read(t1_path)[0] if with_t1 and t1_path.is_file() else None
    return render_overlay(flair, reference, prediction, out_path, t1=t1, slices=slices,
                          title=title or f"{subject_dir.name}: {Path(prediction_path).name}",
                          spacing=spacing, rule=rule, **options)
