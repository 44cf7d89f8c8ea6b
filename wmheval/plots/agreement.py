"""Figures of the volumetric agreement analysis, and the figure set for the report.

* :func:`plot_volume_scatter`: compared against reference volume, identity line and fits.
* :func:`plot_bland_altman`: differences against means, bias and limits with their CIs.
* :func:`plot_dice_vs_volume`: Dice against reference volume (log x), lesion-load groups.
* :func:`plot_volume_components`: stacked TP / FN / FP volumes per subject.
* :func:`plot_volumes_by_grade`: volume distributions per (Fazekas) grade.

:mod:`wmheval.pipelines.agreement` writes them with the tables and ``figures.json``.

Every figure is written as PNG (300 dpi) and SVG; matplotlib is imported lazily.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.analysis.agreement import (
    DEFAULT_LOAD_GROUPS,
    AgreementResult,
)
from wmheval.analysis.fazekas import grade_order
from wmheval.io.atomic import write_atomic
from wmheval.plots.palette import REFERENCE_COLOUR, drawable, drawable_all, team_colours
from wmheval.plots.ranking import _pyplot
from wmheval.vocabulary import ordered_scanners

DPI = 300
FIGURES_JSON = "figures.json"
COMPONENT_COLOURS = {"TP": "#2ca02c", "FN": "#1f77b4", "FP": "#d62728"}


def _save(figure, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` (300 dpi) and ``stem.svg`` atomically and close the figure. The
    figures lay themselves out (tight_layout), so no tight bounding box (which would draw
    every figure twice)."""
    stem = Path(stem)
    paths = []
    for fmt in ("png", "svg"):
        target = stem.with_name(f"{stem.name}.{fmt}")
        write_atomic(target, lambda tmp, fmt=fmt: figure.savefig(tmp, format=fmt, dpi=DPI))
        paths.append(target)
    _pyplot().close(figure)
    return paths


def _panels(n: int, width: float = 3.6, height: float = 3.4, ncols: int = 3):
    plt = _pyplot()
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _scanner_colours(scanners: Sequence[str]) -> dict[str, object]:
    cmap = _pyplot().get_cmap("tab10")
    ordered = ordered_scanners(scanners)
    return {s: cmap(k % 10) for k, s in enumerate(ordered)}


def _usable(volumes: pd.DataFrame, scale: str) -> pd.DataFrame:
    rows = volumes.dropna(subset=["reference_ml", "prediction_ml"])
    if scale == "log":
        rows = rows[(rows["reference_ml"] > 0) & (rows["prediction_ml"] > 0)]
    return rows


def _stats_row(statistics: pd.DataFrame, team: str, scale: str) -> pd.Series | None:
    if statistics.empty:
        return None
    match = statistics[(statistics["team"] == team) & (statistics["scale"] == scale)
                       & (statistics["group_type"] == "all")]
    return match.iloc[0] if len(match) else None


def _scanner_legend(fig, colours: dict[str, object]) -> None:
    plt = _pyplot()
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=c, label=s)
               for s, c in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))


def _log_axis(axis) -> None:
    """Logarithmic axis with plain numbers (1, 10, 100) and unlabelled minor ticks."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def plot_volume_scatter(result: AgreementResult, stem: str | Path, scale: str = "ml"
                        ) -> list[Path]:
    """Compared volume (y) against reference volume (x), one panel per team, coloured by
    scanner: identity line (grey dashes), OLS fit (black) and Passing–Bablok fit (brown).
    On the log scale the axes are logarithmic and the fits are those of the log volumes."""
    teams = result.teams
    fig, axes = _panels(len(teams))
    colours = _scanner_colours(result.volumes["scanner"].astype(str))
    for ax, team in zip(axes, teams, strict=True):
        rows = _usable(result.volumes[result.volumes["team"] == team], scale)
        for scanner, block in rows.groupby("scanner", sort=False):
            ax.scatter(block["reference_ml"], block["prediction_ml"], s=14,
                       color=colours[str(scanner)], alpha=0.85, edgecolors="none")
        values = rows[["reference_ml", "prediction_ml"]].to_numpy(dtype=float)
        if values.size:
            low = values.min() * 0.8 if scale == "log" else 0.0
            high = values.max() * (1.25 if scale == "log" else 1.05)
            line = (np.geomspace(low, high, 50) if scale == "log"
                    else np.linspace(low, high, 50))
            ax.plot(line, line, color="grey", linestyle="--", linewidth=0.9,
                    label="identity")
            stats = _stats_row(result.statistics, team, scale)
            if stats is not None:
                for key, colour, name in (("ols", "black", "OLS"),
                                          ("pb", "tab:brown", "Passing–Bablok")):
                    a, b = stats[f"{key}_intercept"], stats[f"{key}_slope"]
                    if np.isfinite(a) and np.isfinite(b):
                        fitted = (np.exp(a) * line ** b if scale == "log" else a + b * line)
                        ax.plot(line, fitted, color=colour, linewidth=1.1,
                                label=f"{name}: slope {b:.2f}")
                ax.text(0.03, 0.97, f"n = {int(stats['n'])}\nr = {stats['pearson_r']:.3f}\n"
                        f"ICC(A,1) = {stats['icc_a1']:.3f}", transform=ax.transAxes,
                        va="top", fontsize=8)
            ax.set_xlim(low, high)
            ax.set_ylim(low, high)
            if scale == "log":
                ax.set_xscale("log")
                ax.set_yscale("log")
                _log_axis(ax.xaxis)
                _log_axis(ax.yaxis)
            ax.legend(loc="lower right", fontsize=7, frameon=False)
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(team, fontsize=10)
        ax.set_xlabel("reference volume (mL)", fontsize=8)
        ax.set_ylabel("compared volume (mL)", fontsize=8)
        ax.tick_params(labelsize=7)
    _scanner_legend(fig, colours)
    fig.suptitle("Lesion volume: compared against reference"
                 + (" (log scale)" if scale == "log" else ""))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, stem)


def plot_bland_altman(result: AgreementResult, stem: str | Path, scale: str = "ml"
                      ) -> list[Path]:
    """Bland–Altman plot per team: difference (compared - reference) against the mean of the
    two; solid line = bias, dashed = 95 % limits of agreement, shaded = their 95 % CIs,
    brown = regression of the difference on the mean (proportional bias). On the log scale
    the difference is ln(compared / reference) against the geometric mean (log x axis)."""
    teams = result.teams
    fig, axes = _panels(len(teams))
    colours = _scanner_colours(result.volumes["scanner"].astype(str))
    for ax, team in zip(axes, teams, strict=True):
        rows = _usable(result.volumes[result.volumes["team"] == team], scale)
        x = rows["reference_ml"].to_numpy(dtype=float)
        y = rows["prediction_ml"].to_numpy(dtype=float)
        if scale == "log":
            x, y = np.log(x), np.log(y)
        mean, difference = (x + y) / 2, y - x
        shown = np.exp(mean) if scale == "log" else mean
        for scanner in dict.fromkeys(rows["scanner"].astype(str)):
            keep = (rows["scanner"].astype(str) == scanner).to_numpy()
            ax.scatter(shown[keep], difference[keep], s=14, color=colours[scanner],
                       alpha=0.85, edgecolors="none")
        stats = _stats_row(result.statistics, team, scale)
        if stats is not None and mean.size:
            for key, style in (("ba_bias", "-"), ("ba_loa_lower", "--"),
                               ("ba_loa_upper", "--")):
                ax.axhline(stats[key], color="black", linestyle=style, linewidth=1)
                if np.isfinite(stats[f"{key}_low"]):
                    ax.axhspan(stats[f"{key}_low"], stats[f"{key}_high"], color="grey",
                               alpha=0.18, linewidth=0)
            line = np.linspace(mean.min(), mean.max(), 20)
            fitted = stats["ba_prop_intercept"] + stats["ba_prop_slope"] * line
            ax.plot(np.exp(line) if scale == "log" else line, fitted, color="tab:brown",
                    linewidth=1)
            ax.text(0.03, 0.97, f"bias {stats['ba_bias']:.2f}\nLoA {stats['ba_loa_lower']:.2f}"
                    f" to {stats['ba_loa_upper']:.2f}\nprop. bias p = {stats['ba_prop_p']:.2g}",
                    transform=ax.transAxes, va="top", fontsize=7,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
        if scale == "log":
            ax.set_xscale("log")
            _log_axis(ax.xaxis)
        ax.set_title(team, fontsize=10)
        ax.set_xlabel("geometric mean volume (mL)" if scale == "log"
                      else "mean of the two volumes (mL)", fontsize=8)
        ax.set_ylabel("ln(compared / reference)" if scale == "log"
                      else "compared - reference (mL)", fontsize=8)
        ax.tick_params(labelsize=7)
    _scanner_legend(fig, colours)
    fig.suptitle("Bland–Altman" + (" (log volumes)" if scale == "log" else " (mL)"))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, stem)


def plot_dice_vs_volume(result: AgreementResult, stem: str | Path) -> list[Path]:
    """Dice against reference volume (log x axis), one colour per team; dotted lines at the
    lesion-load group edges, a short bar per team and group at the group's mean Dice."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    rows = result.volumes.dropna(subset=["dice"])
    rows = rows[rows["reference_ml"] > 0]
    palette = team_colours(result.teams)
    teams = result.teams
    groups = result.load_groups or DEFAULT_LOAD_GROUPS
    low = rows["reference_ml"].min() * 0.8 if len(rows) else 0.1
    high = rows["reference_ml"].max() * 1.25 if len(rows) else 100.0
    for team in teams:
        block = rows[rows["team"] == team]
        ax.scatter(block["reference_ml"], block["dice"], s=14, color=palette[str(team)],
                   alpha=0.75, edgecolors="none", label=drawable(str(team)))
        strata = result.strata[result.strata["team"] == team]
        for _, stratum in strata.iterrows():
            if stratum["n"] == 0 or not np.isfinite(stratum["dice_mean"]):
                continue
            left = max(stratum["low_ml"], low)
            right = min(stratum["high_ml"], high)
            ax.plot([left * 1.05, right / 1.05], [stratum["dice_mean"]] * 2,
                    color=palette[str(team)], linewidth=2, alpha=0.8)
    for _name, lower, _ in groups:
        if lower > 0:
            ax.axvline(lower, color="grey", linestyle=":", linewidth=0.9)
    for name, lower, upper in groups:
        centre = math.sqrt(max(lower, low) * min(upper, high))
        ax.text(centre, 1.02, name, ha="center", va="bottom", fontsize=7, color="dimgrey",
                transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set_xlim(low, high)
    ax.set_ylim(0, 1)
    ax.set_xlabel("reference lesion volume (mL, log scale)")
    ax.set_ylabel("Dice")
    ax.set_title("Dice against lesion load (bars: group means)", pad=18)
    ax.legend(fontsize=7, loc="lower right", ncol=2, frameon=False)
    fig.tight_layout()
    return _save(fig, stem)


def plot_volume_components(result: AgreementResult, stem: str | Path) -> list[Path]:
    """Per subject (sorted by reference volume), stacked bars of the correctly segmented
    volume (TP, green), the missed volume (FN, blue) and the false-positive volume (FP, red).
    TP + FN = reference volume; TP + FP = compared volume."""
    teams = result.teams
    fig, axes = _panels(len(teams), width=4.6, height=3.2, ncols=2)
    for ax, team in zip(axes, teams, strict=True):
        rows = result.volumes[result.volumes["team"] == team].dropna(
            subset=["tp_ml", "fp_ml", "fn_ml"]).sort_values(["reference_ml", "id"])
        positions = np.arange(len(rows))
        bottom = np.zeros(len(rows))
        for name, column in (("TP", "tp_ml"), ("FN", "fn_ml"), ("FP", "fp_ml")):
            values = rows[column].to_numpy(dtype=float)
            ax.bar(positions, values, bottom=bottom, color=COMPONENT_COLOURS[name],
                   width=0.8, label=name)
            bottom += values
        if len(rows) <= 40:
            ax.set_xticks(positions, rows["id"].astype(str), rotation=90, fontsize=6)
        else:
            ax.set_xticks([])
        ax.set_title(team, fontsize=10)
        ax.set_ylabel("volume (mL)", fontsize=8)
        ax.set_xlabel("subject (by reference volume)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    handles = [_pyplot().Rectangle((0, 0), 1, 1, color=c) for c in COMPONENT_COLOURS.values()]
    fig.legend(handles, ["correct (TP)", "missed (FN)", "false positive (FP)"],
               loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Correctly and wrongly segmented volume per subject")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, stem)


def plot_volumes_by_grade(result: AgreementResult, grades: pd.DataFrame, stem: str | Path
                          ) -> list[Path]:
    """Box plots (with the points) of the volumes per grade: the reference volumes and each
    team's volumes side by side within each grade (log y axis)."""
    plt = _pyplot()
    order = grade_order(grades["grade"])
    by_id = grades.set_index("id")["grade"].astype(str)
    usable = result.volumes.dropna(subset=["reference_ml", "prediction_ml"])
    reference = usable.drop_duplicates("id")
    sources = [("reference", reference, "reference_ml")] + [
        (team, usable[usable["team"] == team], "prediction_ml") for team in result.teams]
    n = len(sources)
    width = 0.8 / n
    palette = {"reference": REFERENCE_COLOUR, **team_colours(result.teams)}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(order) * (0.4 * n + 1)), 4.5),
                           layout="constrained")
    rng = np.random.default_rng(0)
    for s, (name, rows, column) in enumerate(sources):
        colour = REFERENCE_COLOUR if s == 0 else palette[str(name)]
        grade_of = rows["id"].map(by_id)
        for g, grade in enumerate(order):
            values = rows.loc[grade_of == grade, column].to_numpy(dtype=float)
            values = values[values > 0]
            if not values.size:
                continue
            position = g - 0.4 + width * (s + 0.5)
            parts = ax.boxplot([values], positions=[position], widths=width * 0.85,
                               patch_artist=True, showfliers=False,
                               medianprops={"color": "black"})
            for box in parts["boxes"]:
                box.set_facecolor(colour)
                box.set_alpha(0.35)
            ax.scatter(position + rng.uniform(-width / 4, width / 4, values.size), values,
                       s=8, color=colour, zorder=3, edgecolors="none")
    ax.set_yscale("log")
    _log_axis(ax.yaxis)
    ax.set_xticks(np.arange(len(order)), [f"grade {g}" for g in order])
    ax.set_ylabel("lesion volume (mL, log scale)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=REFERENCE_COLOUR if s == 0 else
                             palette[str(name)], alpha=0.6)
               for s, (name, _, _) in enumerate(sources)]
    # outside the axes, so it never covers the data
    fig.legend(handles, drawable_all(name for name, _, _ in sources), fontsize=7,
               loc="outside right upper", frameon=False)
    how = ("visual ratings" if result.fazekas_mode == "ratings"
           else "grades of the reference volume")
    ax.set_title(f"Lesion volume per grade ({how})")
    return _save(fig, stem)


def plot_fazekas_confusion(result: AgreementResult, stem: str | Path) -> list[Path]:
    """Confusion matrices (rated × estimated grade) per volume source, counts in the cells,
    share correct in the title."""
    confusion = result.fazekas_confusion
    sources = list(dict.fromkeys(confusion["volumes_of"]))
    fig, axes = _panels(len(sources), width=3.0, height=2.9)
    summary = result.fazekas_summary.set_index("volumes_of")
    for ax, source in zip(axes, sources, strict=True):
        block = confusion[confusion["volumes_of"] == source]
        order = list(dict.fromkeys(block["rated"]))
        matrix = block.pivot(index="rated", columns="estimated", values="n").reindex(
            index=order, columns=order).to_numpy()
        ax.imshow(matrix, cmap="Blues", vmin=0)
        for (r, c), value in np.ndenumerate(matrix):
            ax.text(c, r, str(int(value)), ha="center", va="center", fontsize=8,
                    color="white" if value > matrix.max() / 2 else "black")
        ax.set_xticks(range(len(order)), order, fontsize=7)
        ax.set_yticks(range(len(order)), order, fontsize=7)
        ax.set_xlabel("estimated from volume", fontsize=8)
        ax.set_ylabel("rated" if result.fazekas_mode == "ratings"
                      else "from reference volume", fontsize=8)
        ax.set_title(f"{source}: {summary.loc[source, 'share_correct']:.0%} correct",
                     fontsize=9)
    fig.tight_layout()
    return _save(fig, stem)


# ---------------------------------------------------------------- the figure set

EXPLANATIONS = {
    "scatter": ("Each point is a subject: its reference lesion volume (x) and the compared "
                "segmentation's volume (y), coloured by scanner. Points on the grey dashed "
                "identity line agree exactly; the black line is the least-squares fit, the "
                "brown one the Passing–Bablok fit (robust, errors in both). A slope below 1 "
                "means large loads are under-segmented. r and ICC(A,1) are in the corner."),
    "bland_altman": ("Each point is a subject: the difference compared - reference (y) "
                     "against the mean of the two volumes (x). The solid line is the mean "
                     "difference (bias), the dashed lines the 95 % limits of agreement "
                     "(bias ± 1.96 SD), grey bands their 95 % confidence intervals. The brown "
                     "line regresses the difference on the mean: a slope (small p) means the "
                     "error grows with the lesion load (proportional bias)."),
    "dice": ("Dice of every subject against its reference lesion volume (log scale), one "
             "colour per team; dotted lines separate the lesion-load groups and the short "
             "bars mark each team's mean Dice in each group. Dice is lower for small loads."),
    "components": ("For every subject (sorted by reference volume) the correctly segmented "
                   "volume (TP, green), the missed reference volume (FN, blue) and the "
                   "false-positive volume (FP, red). Green + blue = reference volume; green + "
                   "red = compared volume."),
    "grades": ("Lesion volumes per grade (log scale): boxes show quartiles and median, dots "
               "the subjects; the reference volumes (grey) and each team's volumes side by "
               "side. Well separated grades can be estimated from volume."),
    "confusion": ("Confusion matrix of the grade estimated from volume (columns) against the "
                  "rated grade (rows), with cross-validated volume thresholds; the diagonal "
                  "counts correct grades."),
}
