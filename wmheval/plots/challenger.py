"""challengeR's figure set (Wiesenfarth et al. 2021), drawn with matplotlib.

* :func:`plot_dots_boxes`: every case as a dot over a box per team, one panel per metric.
* :func:`plot_podium`: per-case places of every team, with the frequency of each place.
* :func:`plot_rank_heatmap`: how often each team takes each per-case place.
* :func:`plot_significance_map`: which team beats which (one-sided Wilcoxon, Holm).
* :func:`plot_tau_violins`: Kendall's tau of perturbed rankings against the official one.

Each writes ``stem.png`` (300 dpi) and ``stem.svg`` and returns both paths. Teams are drawn
in the order given (the official ranking's order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from wmheval.metrics import HIGHER_IS_BETTER, METRICS
from wmheval.plots.palette import drawable_all, team_colours
from wmheval.plots.ranking import METRIC_LABELS, _pyplot, log_ticks, save_figure
from wmheval.ranking.minmax import (
    competition_positions,
    higher_is_better,
    relative_ranks,
    weighted_scores,
)

LOG_AXES = {"avd": 0.1, "h95": 0.1}
"""Metrics drawn on a log axis (one far-off case, e.g. a missing case scored as an empty
mask, would flatten every box on a linear one), with the floor that values below are drawn
at (% and mm)."""


def _direction(metric: str) -> str:
    return "higher is better" if HIGHER_IS_BETTER.get(metric, True) else "lower is better"


def per_case_positions(values: np.ndarray, metrics: Sequence[str] = METRICS) -> np.ndarray:
    """Each team's place (1 best) on every case by the challenge's rule applied to that
    case alone (relative min-max ranks, equal weights): (teams, subjects) ints."""
    values = np.asarray(values, dtype=float)
    per_case = np.transpose(values, (1, 0, 2))  # (subjects, teams, metrics)
    rel = relative_ranks(per_case, higher_is_better(metrics))
    scores = weighted_scores(rel, np.full(len(metrics), 1.0 / len(metrics)))
    return competition_positions(scores, axis=1).T


def plot_dots_boxes(values: np.ndarray, teams: Sequence[str], stem: str | Path,
                    metrics: Sequence[str] = METRICS, title: str | None = None
                    ) -> list[Path]:
    """Dot-and-box plots: per metric a panel, per team a box with every case as a dot.

    ``values`` is (teams, subjects, metrics) as in ``CaseCube.values``. AVD and H95, whose
    outliers would flatten the boxes on a linear axis, are drawn on log axes
    (:data:`LOG_AXES`).
    """
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    n = len(teams)
    colours = team_colours(teams)
    names = drawable_all(teams)
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False, layout="constrained",
                             figsize=(max(5.0, 0.55 * n + 2.0), 2.1 * len(metrics) + 0.4))
    for k, (ax, metric) in enumerate(zip(axes[:, 0], metrics, strict=True)):
        data = [v[np.isfinite(v)] for v in values[:, :, k]]
        if metric in LOG_AXES:
            data = [np.maximum(d, LOG_AXES[metric]) for d in data]
            ax.set_yscale("log")
        keep = [t for t in range(n) if data[t].size]
        if keep:
            ax.boxplot([data[t] for t in keep], positions=keep, widths=0.55,
                       showfliers=False, medianprops={"color": "black"},
                       boxprops={"color": "0.35"}, whiskerprops={"color": "0.35"},
                       capprops={"color": "0.35"})
        for t in keep:
            jitter = rng.uniform(-0.16, 0.16, data[t].size)
            ax.scatter(t + jitter, data[t], s=9, color=colours[str(teams[t])], alpha=0.75,
                       edgecolors="none", zorder=3)
        label = METRIC_LABELS.get(metric, metric)
        if metric in LOG_AXES:
            label += ", log"
            log_ticks(ax.yaxis, [d for d in data if d.size])
        ax.set_ylabel(f"{label}\n({_direction(metric)})", fontsize=8)
        ax.set_xticks(range(n), names if k == len(metrics) - 1 else [""] * n,
                      rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center",
                      fontsize=8)
        ax.set_xlim(-0.6, n - 0.4)
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        ax.tick_params(axis="y", labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem, dpi=300)


def plot_podium(values: np.ndarray, teams: Sequence[str], stem: str | Path,
                metric: str = "dice", metrics: Sequence[str] = METRICS,
                title: str | None = None) -> list[Path]:
    """Podium plot of one metric: for every case each team is placed by its value on that
    case (place 1 = best); a dot shows the value at the team's place and a line joins one
    case's dots. Below, bars count how often each team took each place."""
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    k = list(metrics).index(metric)
    metric_values = values[:, :, k]
    n, n_cases = metric_values.shape
    oriented = metric_values if HIGHER_IS_BETTER.get(metric, True) else -metric_values
    places = competition_positions(np.where(np.isnan(oriented), -np.inf, oriented), axis=0,
                                   descending=True)
    from matplotlib.ticker import MaxNLocator

    palette = team_colours(teams)
    colours = [palette[str(t)] for t in teams]
    names = drawable_all(teams)
    fig, (top, bottom) = plt.subplots(
        2, 1, layout="constrained", height_ratios=(3, 1.3),
        figsize=(max(5.5, 0.9 * n + 2.0), 5.6))
    width = 0.8 / n
    for s in range(n_cases):
        xs = places[:, s] - 1 + (np.arange(n) - (n - 1) / 2) * width
        order = np.argsort(xs)
        top.plot(xs[order], metric_values[order, s], color="0.75", linewidth=0.5, zorder=1)
    for t in range(n):
        xs = places[t] - 1 + (t - (n - 1) / 2) * width
        top.scatter(xs, metric_values[t], s=12, color=colours[t], zorder=2,
                    label=names[t], edgecolors="none")
        counts = np.bincount(places[t] - 1, minlength=n)[:n]
        bottom.bar(np.arange(n) + (t - (n - 1) / 2) * width, counts, width=width,
                   color=colours[t])
    for ax in (top, bottom):
        ax.set_xticks(range(n), [str(p) for p in range(1, n + 1)], fontsize=8)
        ax.set_xlim(-0.6, n - 0.4)
        ax.tick_params(axis="y", labelsize=7)
    label = METRIC_LABELS.get(metric, metric)
    top.set_ylabel(f"{label} per case\n({_direction(metric)})", fontsize=8)
    bottom.set_ylabel("cases", fontsize=8)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: whole cases
    bottom.set_xlabel("place on the case (1 = best)", fontsize=8)
    fig.legend(*top.get_legend_handles_labels(), loc="outside right upper", fontsize=7,
               frameon=False, title="team", title_fontsize=7)
    top.set_title(title or f"Podium: places on each case by {label}", fontsize=10)
    return save_figure(fig, stem, dpi=300)


def plot_rank_heatmap(values: np.ndarray, teams: Sequence[str], stem: str | Path,
                      metrics: Sequence[str] = METRICS, title: str | None = None
                      ) -> list[Path]:
    """Heatmap of per-case places: column = team (official order), row = place, colour
    and number = cases on which the team took that place (challenge rule per case)."""
    plt = _pyplot()
    places = per_case_positions(values, metrics)
    n, n_cases = places.shape
    counts = np.stack([np.bincount(places[t] - 1, minlength=n)[:n] for t in range(n)], axis=1)
    fig, ax = plt.subplots(layout="constrained",
                           figsize=(max(4.5, 0.55 * n + 2.2), max(3.2, 0.4 * n + 1.6)))
    image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(1, counts.max()), aspect="auto")
    if n <= 25:
        for (r, c), value in np.ndenumerate(counts):
            if value:
                ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > counts.max() / 2 else "black")
    ax.set_xticks(range(n), list(teams), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(p) for p in range(1, n + 1)], fontsize=8)
    ax.set_ylabel("place on a case (1 = best)", fontsize=8)
    fig.colorbar(image, ax=ax, label=f"cases (of {n_cases})", shrink=0.85)
    ax.set_title(title or "Per-case places", fontsize=10)
    return save_figure(fig, stem, dpi=300)


def plot_significance_map(wins: Mapping[str, np.ndarray], teams: Sequence[str],
                          stem: str | Path, alpha: float = 0.05, title: str | None = None
                          ) -> list[Path]:
    """Per metric a (teams x teams) map: a filled cell means the row team is significantly
    better than the column team (``wins[metric][i, j]``, e.g. from ``wilcoxon_wins``)."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    n = len(teams)
    names = list(wins)
    cols = min(len(names), 3)
    rows = (len(names) + cols - 1) // cols
    side = max(2.4, 0.28 * n + 1.4)
    fig, axes = plt.subplots(rows, cols, squeeze=False, layout="constrained",
                             figsize=(side * cols + 0.6, side * rows + 0.6))
    cmap = ListedColormap(["#f2f2f2", "#0072B2"])
    for ax, metric in zip(axes.ravel(), names, strict=False):
        matrix = np.asarray(wins[metric], dtype=bool)
        shown = np.where(np.eye(n, dtype=bool), np.nan, matrix.astype(float))
        ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
        ax.set_xticks(range(n), list(teams), rotation=90, fontsize=6 if n > 8 else 7)
        ax.set_yticks(range(n), list(teams), fontsize=6 if n > 8 else 7)
        ax.set_xticks(np.arange(-0.5, n), minor=True)
        ax.set_yticks(np.arange(-0.5, n), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=9)
    for ax in axes.ravel()[len(names):]:
        ax.set_axis_off()
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color="#0072B2", label="row team significantly better"),
                        Patch(color="#f2f2f2", label="no significant difference")],
               loc="outside lower center", ncol=2, fontsize=7, frameon=False)
    fig.suptitle(title or f"Significance map (one-sided Wilcoxon, Holm, alpha {alpha})",
                 fontsize=10)
    return save_figure(fig, stem, dpi=300)


def plot_tau_violins(taus: Mapping[str, np.ndarray], stem: str | Path,
                     title: str | None = None) -> list[Path]:
    """Violins of Kendall's tau between perturbed rankings (bootstrap resamples, random
    weightings, ...) and the official ranking; 1 = identical order."""
    plt = _pyplot()
    names = [k for k, v in taus.items() if np.isfinite(np.asarray(v, dtype=float)).any()]
    data = [np.asarray(taus[k], dtype=float) for k in names]
    data = [d[np.isfinite(d)] for d in data]
    fig, ax = plt.subplots(layout="constrained", figsize=(max(3.6, 1.6 * len(names) + 1.5),
                                                           3.4))
    if names:
        parts = ax.violinplot(data, positions=range(len(names)), showmedians=True,
                              showextrema=True)
        for body in parts["bodies"]:
            body.set_facecolor("#56B4E9")
            body.set_alpha(0.7)
        for key in ("cmedians", "cmins", "cmaxes", "cbars"):
            parts[key].set_color("black")
            parts[key].set_linewidth(0.8)
        for x, d in enumerate(data):
            ax.text(x, 1.02, f"median {np.median(d):.2f}\nn = {d.size}", ha="center",
                    va="bottom", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("Kendall's tau to the official ranking", fontsize=8)
    lowest = min((float(d.min()) for d in data if d.size), default=0.0)
    ax.set_ylim(max(-1.05, lowest - 0.1), 1.05)
    ax.axhline(1.0, color="0.6", linewidth=0.6, linestyle=":")
    ax.set_title(title or "Ranking stability", fontsize=10, pad=26)
    return save_figure(fig, stem, dpi=300)
