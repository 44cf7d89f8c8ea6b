"""Regenerate the realism figures of docs/synthetic.md (docs/images/synth_*.png and .svg).

Usage: ``python docs/make_synthetic_figures.py CHALLENGE [--panels PANELS] [--out docs/images]``

CHALLENGE is a challenge written by ``wmheval synth`` (the test split is what is summarised;
``--small`` is enough for the distributions); PANELS (optional) a second challenge with the
subjects to draw at full size (default: CHALLENGE). Prints the numbers the text quotes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wmheval.io.images import read_image  # noqa: E402
from wmheval.io.manifest import SCANNER_ORDER  # noqa: E402
from wmheval.synth import read_synth_manifest  # noqa: E402
from wmheval.synth.realism import THRESHOLDS, best_threshold, subject_statistics  # noqa: E402

REAL = Path(__file__).resolve().parents[1] / "leaderboard" / \
    "nnunet_resencm_per_case_test110.csv"
SHORT = {"utrecht_philips_3t": "Utrecht\nPhilips 3T", "singapore_siemens_3t":
         "Singapore\nSiemens 3T", "amsterdam_ge_3t": "Amsterdam\nGE 3T",
         "amsterdam_ge_1p5t": "GE 1.5T\n(unseen)", "amsterdam_philips_3t":
         "Philips PET-MR\n(unseen)"}
COLOURS = dict(zip(SCANNER_ORDER, ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"],
                   strict=True))


def _save(fig, out: Path, name: str) -> None:
    fig.savefig(out / f"{name}.png", dpi=300, bbox_inches="tight")
    fig.savefig(out / f"{name}.svg", bbox_inches="tight")
    plt.close(fig)


def _copy(path: Path) -> np.ndarray:
    loaded = read_image(path)  # keep it alive: its array views the SimpleITK buffer
    return np.array(loaded.array)


def panels(root: Path, table: pd.DataFrame, out: Path) -> None:
    """FLAIR, T1 and labels of one test subject per scanner, on each scanner's own grid."""
    chosen = []
    for scanner in SCANNER_ORDER:
        rows = table[(table["scanner"] == scanner) & (table["split"] == "test")]
        if len(rows):
            # A subject with a moderate load (the median of the scanner's test subjects).
            chosen.append(rows.iloc[int(np.argsort(rows["wmh_ml"].to_numpy())[len(rows) // 2])])
    fig, axes = plt.subplots(3, len(chosen), figsize=(2.6 * len(chosen), 8.2))
    for column, row in enumerate(chosen):
        folder = root / row["release_path"]
        flair_image = read_image(folder / "pre" / "FLAIR.nii.gz")
        flair = np.array(flair_image.array)
        t1 = _copy(folder / "pre" / "T1.nii.gz")
        labels = _copy(folder / "wmh.nii.gz")
        spacing = flair_image.geometry.spacing
        z = int(np.argmax((labels == 1).sum(axis=(1, 2))))
        aspect = spacing[1] / spacing[0]
        for r, (image, title) in enumerate(((flair, "FLAIR (pre/)"), (t1, "T1 (pre/)"),
                                             (flair, "labels on FLAIR"))):
            ax = axes[r, column]
            ax.imshow(image[z], cmap="gray", vmin=0, vmax=np.percentile(image[z], 99.5),
                      aspect=aspect, interpolation="nearest")
            if r == 2:
                for value, colour in ((1, "#ff3030"), (2, "#ffb000")):
                    mask = labels[z] == value
                    if mask.any():
                        ax.contour(mask, [0.5], colors=colour, linewidths=0.7)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(title, fontsize=9)
        axes[0, column].set_title(
            f"{SHORT[row['scanner']]}\nid {row['id']}, {row['wmh_ml']:.1f} ml, slice {z}\n"
            f"{flair.shape[2]}x{flair.shape[1]}x{flair.shape[0]} at "
            f"{spacing[0]:.2f}x{spacing[1]:.2f}x{spacing[2]:.1f} mm", fontsize=8)
    fig.suptitle("One test subject per scanner, each on its own grid and orientation "
                 "(array view; red WMH, amber other pathology)", fontsize=10)
    fig.tight_layout()
    _save(fig, out, "synth_panels")


def distributions(stats: pd.DataFrame, out: Path) -> dict:
    """Tissue volumes, WMH volume per scanner against the real reference volumes, lesion
    counts; returns the numbers quoted in the docs."""
    test = stats[stats["split"] == "test"]
    real = pd.read_csv(REAL) if REAL.is_file() else None
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    ax = axes[0]
    names = ["grey_ml", "white_ml", "csf_ml"]
    ax.boxplot([stats[n] for n in names], tick_labels=["grey matter", "white matter",
                                                       "CSF"], widths=0.5)
    for i, name in enumerate(names, start=1):
        ax.scatter(np.full(len(stats), i) + np.random.default_rng(i).uniform(-0.15, 0.15,
                                                                               len(stats)),
                   stats[name], s=6, alpha=0.5, color="#555555")
    ax.set_ylabel("volume (ml)")
    ax.set_title(f"Tissue volumes ({len(stats)} subjects)", fontsize=10)

    ax = axes[1]
    positions = np.arange(len(SCANNER_ORDER))
    for i, scanner in enumerate(SCANNER_ORDER):
        synthetic = test.loc[test["scanner"] == scanner, "wmh_ml"]
        ax.scatter(np.full(len(synthetic), i - 0.17), synthetic, s=9, color=COLOURS[scanner],
                   label="synthetic" if i == 0 else None)
        if real is not None:
            observed = real.loc[real["scanner"] == scanner, "true_ml"]
            ax.scatter(np.full(len(observed), i + 0.17), observed, s=9, facecolors="none",
                       edgecolors="black", linewidths=0.6, label="real" if i == 0 else None)
            ax.hlines(np.median(observed), i + 0.02, i + 0.32, color="black")
        ax.hlines(np.median(synthetic), i - 0.32, i - 0.02, color=COLOURS[scanner])
    ax.set_yscale("log")
    ax.set_xticks(positions, [SHORT[s] for s in SCANNER_ORDER], fontsize=7)
    ax.set_ylabel("WMH volume per test subject (ml)")
    ax.set_title("WMH volume: synthetic (filled) vs real true_ml (open)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[2]
    data = [test.loc[test["scanner"] == s, "n_lesions"] for s in SCANNER_ORDER]
    ax.boxplot(data, tick_labels=[SHORT[s] for s in SCANNER_ORDER], widths=0.5)
    for i, values in enumerate(data, start=1):
        ax.scatter(np.full(len(values), i), values, s=8, color=COLOURS[SCANNER_ORDER[i - 1]])
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel("lesions per test subject (26-connected)")
    ax.set_title("Lesion count (synthetic)", fontsize=10)
    fig.tight_layout()
    _save(fig, out, "synth_distributions")
    numbers = {"tissue": stats[names].describe().round(1),
               "wmh": test.groupby("scanner")["wmh_ml"].describe().round(2),
               "lesions": test.groupby("scanner")["n_lesions"].describe().round(1)}
    if real is not None:
        numbers["real_wmh"] = real.groupby("scanner")["true_ml"].describe().round(2)
    return numbers


def threshold_figure(stats: pd.DataFrame, out: Path, network_dice: float | None) -> dict:
    """Mean Dice of FLAIR / median-WM thresholds inside the white matter, test subjects."""
    test = stats[stats["split"] == "test"]
    curves = np.stack(test["dice_curve"].to_numpy())
    threshold, dice = best_threshold(curves)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for scanner in SCANNER_ORDER:
        part = np.stack(test.loc[test["scanner"] == scanner, "dice_curve"].to_numpy())
        ax.plot(THRESHOLDS, part.mean(axis=0), color=COLOURS[scanner], lw=1,
                label=SHORT[scanner].replace("\n", " "))
    ax.plot(THRESHOLDS, curves.mean(axis=0), color="black", lw=2, label="all test subjects")
    ax.axvline(threshold, color="black", ls=":", lw=1)
    ax.annotate(f"best single threshold {threshold:.2f}: mean Dice {dice:.2f}",
                (threshold, dice), xytext=(threshold + 0.15, dice + 0.12), fontsize=8,
                arrowprops={"arrowstyle": "->", "lw": 0.8})
    if network_dice is not None:
        ax.axhline(network_dice, color="#c00000", ls="--", lw=1)
        ax.text(THRESHOLDS[-1], network_dice + 0.015, f"trained network {network_dice:.2f}",
                ha="right", fontsize=8, color="#c00000")
    ax.set_xlabel("threshold on FLAIR / median white-matter FLAIR (inside the WM mask)")
    ax.set_ylabel("mean Dice")
    ax.set_ylim(0, 1)
    ax.set_title(f"Single FLAIR threshold in the white matter ({len(test)} test subjects)",
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    _save(fig, out, "synth_threshold")
    per_scanner = {s: best_threshold(np.stack(test.loc[test["scanner"] == s, "dice_curve"]
                                              .to_numpy())) for s in SCANNER_ORDER}
    at_best = {s: float(np.stack(test.loc[test["scanner"] == s, "dice_curve"].to_numpy())
                        .mean(axis=0)[np.argmin(np.abs(THRESHOLDS - threshold))])
               for s in SCANNER_ORDER}
    return {"threshold": threshold, "dice": dice, "per_scanner_best": per_scanner,
            "per_scanner_at_best": at_best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("challenge", type=Path)
    parser.add_argument("--panels", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    parser.add_argument("--network-dice", type=float, default=None,
                        help="mean test Dice of a trained network, drawn for comparison")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = read_synth_manifest(args.challenge).reset_index(drop=True)
    stats = subject_statistics(args.challenge, table)
    panel_root = args.panels or args.challenge
    panels(panel_root, read_synth_manifest(panel_root).reset_index(drop=True), args.out)
    numbers = distributions(stats, args.out)
    for key, frame in numbers.items():
        print(f"\n{key}\n{frame.to_string()}")
    result = threshold_figure(stats, args.out, args.network_dice)
    print(f"\nbest threshold {result['threshold']:.2f}: mean Dice {result['dice']:.3f}")
    for scanner in SCANNER_ORDER:
        t, d = result["per_scanner_best"][scanner]
        print(f"  {scanner}: at the overall best {result['per_scanner_at_best'][scanner]:.3f};"
              f" own best {t:.2f} -> {d:.3f}")


if __name__ == "__main__":
    main()
