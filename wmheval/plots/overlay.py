"""Overlay figures: FLAIR (and T1) slices with true positives, false positives and false
negatives of a prediction in distinct colours, the figure of a segmentation paper."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wmheval.io.atomic import atomic_path
from wmheval.metrics.binarize import OFFICIAL, binarize_prediction
from wmheval.metrics.labels import reference_masks

COLOURS = {
    "true positive": (0.10, 0.85, 0.20),
    "false positive": (0.95, 0.15, 0.10),
    "false negative": (0.15, 0.45, 1.00),
    "ignored (label 2)": (0.95, 0.75, 0.10),
}
"""RGB colour of each overlay class (green, red, blue; amber for the ignored region)."""


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
    predicted, _ = binarize_prediction(prediction, rule)
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


def render_overlay(flair: np.ndarray, reference: np.ndarray, prediction: np.ndarray,
                   out_path: str | Path, *, t1: np.ndarray | None = None,
                   slices: Sequence[int] | None = None, title: str | None = None,
                   spacing: Sequence[float] | None = None, alpha: float = 0.8,
                   rule: str = OFFICIAL, dpi: int = 110) -> Path:
    """Draw axial slices of FLAIR (and T1) with TP/FP/FN coloured; write PNG, SVG or PDF.

    Arrays are indexed (z, y, x); ``spacing`` is (x, y, z) in mm and sets the aspect ratio.
    Each row is one slice: FLAIR, T1 if given, and FLAIR with the overlay. The format
    follows ``out_path``'s suffix (.png, .svg, .pdf). Returns ``out_path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"{out_path}: use a .png, .svg or .pdf file name")
    flair = np.asarray(flair, dtype=np.float32)
    if flair.ndim != 3:
        raise ValueError(f"FLAIR must be a 3D (z, y, x) array, got shape {flair.shape}")
    if t1 is not None and np.shape(t1) != flair.shape:
        raise ValueError(f"size mismatch: FLAIR {flair.shape[::-1]} vs T1 "
                         f"{np.shape(t1)[::-1]} (x, y, z)")
    if np.shape(reference) != flair.shape:
        raise ValueError(f"size mismatch: FLAIR {flair.shape[::-1]} vs reference "
                         f"{np.shape(reference)[::-1]} (x, y, z)")
    classes = overlay_classes(reference, prediction, rule)
    chosen = list(slices) if slices is not None else default_slices(reference, prediction)
    bad = [s for s in chosen if not 0 <= int(s) < flair.shape[0]]
    if bad or not chosen:
        raise ValueError(f"slices {bad or chosen} outside 0..{flair.shape[0] - 1}")
    aspect = 1.0 if spacing is None else float(spacing[1]) / float(spacing[0])
    panels = [("FLAIR", flair, _window(flair))]
    if t1 is not None:
        t1 = np.asarray(t1, dtype=np.float32)
        panels.append(("T1", t1, _window(t1)))
    lut = np.zeros((5, 4), dtype=np.float32)
    for code, colour in enumerate(COLOURS.values(), start=1):
        lut[code] = (*colour, alpha)
    n_cols = len(panels) + 1
    figure, axes = plt.subplots(len(chosen), n_cols, squeeze=False,
                                figsize=(3.2 * n_cols, 3.2 * len(chosen) + 0.6))
    for row, index in enumerate(chosen):
        index = int(index)
        for col, (name, image, (low, high)) in enumerate(panels):
            axes[row, col].imshow(image[index], cmap="gray", vmin=low, vmax=high,
                                  origin="lower", aspect=aspect, interpolation="nearest")
            axes[row, col].set_title(f"{name}, slice {index}", fontsize=9)
        low, high = panels[0][2]
        last = axes[row, n_cols - 1]
        last.imshow(flair[index], cmap="gray", vmin=low, vmax=high, origin="lower",
                    aspect=aspect, interpolation="nearest")
        last.imshow(lut[classes[index]], origin="lower", aspect=aspect,
                    interpolation="nearest")
        counts = np.bincount(classes[index].ravel(), minlength=5)
        last.set_title(f"overlay: TP {counts[1]}, FP {counts[2]}, FN {counts[3]}", fontsize=9)
        for axis in axes[row]:
            axis.set_axis_off()
    handles = [Patch(facecolor=c, edgecolor="none", label=n) for n, c in COLOURS.items()]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
                  frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout(rect=(0, 0.05, 1, 0.97 if title else 1))
    try:
        with atomic_path(out_path) as temporary:
            figure.savefig(temporary, dpi=dpi, format=out_path.suffix.lower()[1:])
    finally:
        plt.close(figure)
    return out_path


def show_case(subject_dir: str | Path, prediction_path: str | Path, out_path: str | Path, *,
              slices: Sequence[int] | None = None, title: str | None = None,
              with_t1: bool = True, rule: str = OFFICIAL) -> Path:
    """Render the overlay of one subject folder (release layout) and a prediction file.

    Reads ``wmh.nii.gz``, ``pre/FLAIR.nii.gz`` and, if present and ``with_t1``,
    ``pre/T1.nii.gz``; errors name the file and the problem.
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
                          spacing=spacing, rule=rule)
