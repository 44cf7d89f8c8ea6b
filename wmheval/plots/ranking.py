"""Figures of rankings and their sensitivity (PNG and SVG; matplotlib imported lazily, Agg).

* :func:`plot_bootstrap_blobs`: bootstrap rank distribution per team (challengeR's blob plot).
* :func:`plot_weight_heatmap`: rank of every team under a set of named weightings.
* :func:`plot_scheme_ranks`: each team's rank under every ranking scheme, as lines.
* :func:`plot_scanner_boxes`: per-scanner box plots of each metric per team (per-case data).

Each writes ``stem.png`` and ``stem.svg`` atomically and returns both paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.io.atomic import write_atomic
from wmheval.metrics import HIGHER_IS_BETTER, METRICS
from wmheval.plots.palette import drawable_all, team_colours
from wmheval.vocabulary import METRIC_SPECS, ordered_scanners, seen_flags

METRIC_LABELS = {name: spec.axis_label for name, spec in METRIC_SPECS.items()}
"""Axis labels with units (:data:`wmheval.vocabulary.METRIC_SPECS`)."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_ticks(axis, data) -> None:
    """Readable ticks on a log ``axis`` holding ``data`` (arrays): plain numbers at 1, 2, 5
    per decade (so values below 10 get ticks too), minor ticks unlabelled and smaller than
    the major ones."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = np.concatenate([np.asarray(d, dtype=float).ravel() for d in data]) if data \
        else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    decades = (np.log10(values.max()) - np.log10(values.min())) if values.size else 3.0
    subs = (1.0, 2.0, 5.0) if decades <= 3.0 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 1.0))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
    axis.set_tick_params(which="minor", length=2, width=0.5)
    axis.set_tick_params(which="major", length=4, width=0.8)


def save_figure(figure, stem: str | Path, dpi: int = 300) -> list[Path]:
    """Save ``figure`` as ``stem.png`` and ``stem.svg`` (atomically) and close it.

    The figure is laid out and its tight bounding box measured once; both formats are
    then written with that box and the layout frozen (``bbox_inches="tight"`` and a
    constrained layout would otherwise redo both for every format: half the drawing time).
    """
    stem = Path(stem)
    figure.canvas.draw()  # runs the layout engine once
    box = figure.get_tightbbox(figure.canvas.get_renderer()).padded(0.1)
    figure.set_layout_engine("none")
    paths = []
    for fmt in ("png", "svg"):
        target = stem.with_name(f"{stem.name}.{fmt}")
        write_atomic(target, lambda tmp, fmt=fmt: figure.savefig(tmp, format=fmt, dpi=dpi,
                                                                 bbox_inches=box))
        paths.append(target)
    _pyplot().close(figure)
    return paths


def plot_bootstrap_blobs(distribution: pd.DataFrame, full_positions: Sequence[int],
                         stem: str | Path, title: str = "Bootstrap rank distribution"
                         ) -> list[Path]:
    """Blob plot: x = teams (full-data order), y = rank, blob area = share of resamples.

    ``distribution`` is teams x positions (shares), as in ``BootstrapResult.distribution``;
    a black cross marks each team's full-data position and a bar its 2.5-97.5 % range. The
    key of blob sizes and the marks sits outside the axes, so it never covers a blob.
    """
    plt = _pyplot()
    order = np.argsort(np.asarray(full_positions), kind="stable")
    shares = distribution.to_numpy(dtype=float)[order]
    teams = list(distribution.index[order])
    n, n_ranks = shares.shape
    scale = 500 * min(1.0, 12 / max(n, 1))

    def area(share):
        return scale * np.asarray(share) + 2

    fig, ax = plt.subplots(layout="constrained",
                           figsize=(max(4.5, 0.32 * n + 3.2), max(3.5, 0.22 * n_ranks + 2)))
    xs, ys = np.nonzero(shares > 0)
    ax.scatter(xs, ys + 1, s=area(shares[xs, ys]), color="#0072B2", alpha=0.6,
               edgecolors="none", clip_on=False)
    ranks = np.arange(1, n_ranks + 1)
    cumulative = np.cumsum(shares, axis=1)
    low = ranks[np.argmax(cumulative >= 0.025, axis=1)]
    high = ranks[np.argmax(cumulative >= 0.975, axis=1)]
    ax.vlines(np.arange(n), low, high, color="black", linewidth=0.8,
              label="2.5-97.5 % of resamples")
    ax.scatter(np.arange(n), np.asarray(full_positions)[order], marker="x", color="black",
               s=18, zorder=3, label="full-data position")
    ax.plot([0, n - 1], [1, n], color="grey", linewidth=0.5, linestyle=":")
    ax.set_xticks(np.arange(n), drawable_all(teams), rotation=90,
                  fontsize=max(5, 10 - n // 10))
    # room for the largest blob at rank 1 and the last rank; whole ranks only
    pad = 0.5 + 0.35 * np.sqrt(area(1.0) / 500)
    ax.set_ylim(n_ranks + pad, 1 - pad)
    ax.set_yticks(ranks)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylabel("rank (1 = best)")
    ax.set_title(title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    for share in (0.1, 0.5, 1.0):
        handles.append(ax.scatter([], [], s=area(share), color="#0072B2", alpha=0.6,
                                  edgecolors="none"))
        labels.append(f"{share:.0%} of resamples")
    fig.legend(handles, labels, loc="outside right center", fontsize=7, frameon=False,
               labelspacing=1.6, borderpad=1.0)
    return save_figure(fig, stem)


def plot_weight_heatmap(named: pd.DataFrame, stem: str | Path,
                        title: str = "Rank under each metric weighting",
                        weights: pd.DataFrame | None = None) -> list[Path]:
    """Heatmap of ranks: rows = teams (default order), columns = named weightings.

    ``weights`` (metrics x weightings, e.g. ``named_weight_table``) is drawn as a strip
    above the heatmap with every weight printed, so random weightings are disclosed.
    """
    plt = _pyplot()
    table = named.sort_values(named.columns[0], kind="stable")
    n, k = table.shape
    strip = weights is not None
    height = max(3.0, 0.22 * n + 1.5) + (1.3 if strip else 0)
    fig = plt.figure(layout="constrained", figsize=(max(5.0, 0.55 * k + 3), height))
    if strip:
        top, ax = fig.subplots(2, 1, sharex=True,
                               height_ratios=(1.0, max(1.5, 0.22 * n + 0.5)))
        w = weights.reindex(columns=list(table.columns)).to_numpy(dtype=float)
        top.imshow(w, aspect="auto", cmap="Greys", vmin=0, vmax=1.6, interpolation="nearest")
        for (r, c), value in np.ndenumerate(w):
            top.text(c, r, f"{value:.2f}".lstrip("0") if value < 1 else "1", ha="center",
                     va="center", fontsize=5.5)
        top.set_yticks(range(len(weights.index)),
                       [METRIC_LABELS.get(m, m).split(" (")[0] for m in weights.index],
                       fontsize=7)
        top.set_title("weights of each weighting (columns sum to 1)", fontsize=8)
        top.tick_params(axis="x", bottom=False)
    else:
        ax = fig.subplots()
    image = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis_r",
                      interpolation="nearest")
    ax.set_xticks(np.arange(k), list(table.columns), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(n), list(table.index), fontsize=max(5, 9 - n // 15))
    if n * k <= 400:
        for (r, c), value in np.ndenumerate(table.to_numpy()):
            ax.text(c, r, str(int(value)), ha="center", va="center", fontsize=6,
                    color="white" if value > n / 2 else "black")
    bar = fig.colorbar(image, ax=ax, label="rank (1 = best)")
    from matplotlib.ticker import MaxNLocator

    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)


def _tied_labels(ranks: np.ndarray, names: Sequence[str]) -> dict[float, str]:
    """One label per distinct rank: tied teams share it as ``"a, b"`` (never overprinted)."""
    labels: dict[float, list[str]] = {}
    for rank, name in zip(ranks, names, strict=True):
        if np.isfinite(rank):
            labels.setdefault(float(rank), []).append(str(name))
    return {rank: ", ".join(group) for rank, group in sorted(labels.items())}


def plot_scheme_ranks(schemes: pd.DataFrame, scheme_names: Sequence[str], stem: str | Path,
                      title: str = "Rank under each ranking scheme") -> list[Path]:
    """Line plot: x = schemes, y = rank, one line per team (from ``compare_schemes``).

    Teams tied at the first or last scheme share one label (``"a, b"``), so tied names are
    never printed over each other.
    """
    plt = _pyplot()
    n = len(schemes)
    fontsize = max(5, 9 - n // 12)
    fig, ax = plt.subplots(layout="constrained",
                           figsize=(max(6.0, 1.3 * len(scheme_names) + 3),
                                    max(3.5, 0.2 * n + 1.5)))
    xs = np.arange(len(scheme_names))
    palette = team_colours(schemes["team"].astype(str))
    table = schemes[list(scheme_names)].to_numpy(dtype=float)
    for row, team in enumerate(schemes["team"].astype(str)):
        ax.plot(xs, table[row], marker="o", markersize=3, linewidth=1,
                color=palette[team], alpha=0.85)
    names = drawable_all(schemes["team"])
    for column, x, ha, dx in ((0, xs[0], "right", -0.1), (-1, xs[-1], "left", 0.1)):
        for rank, label in _tied_labels(table[:, column], names).items():
            ax.text(x + dx, rank, label, va="center", ha=ha, fontsize=fontsize)
    ax.set_xticks(xs, list(scheme_names), rotation=20)
    longest = max((len(label) for c in (0, -1)
                   for label in _tied_labels(table[:, c], names).values()), default=8)
    margin = 0.25 + 0.07 * longest
    ax.set_xlim(-margin, len(scheme_names) - 1 + margin)
    ax.set_ylim(n + 0.5, 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("rank (1 = best)")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, stem)


def plot_scanner_boxes(cases: pd.DataFrame, stem: str | Path,
                       metrics: Sequence[str] = METRICS, teams: Sequence[str] | None = None,
                       title: str = "Per-scanner results") -> list[Path]:
    """Box plots: one panel per metric, x = scanners, one box per team within each scanner,
    every case as a dot on its box (boxes from a handful of cases say little alone).

    ``cases`` is a long per-case table with columns ``team, scanner`` and the metrics
    (e.g. ``Field.cases``), optionally ``seen_in_training``: scanners not seen in training
    are shaded and labelled "unseen". NaN values are left out; AVD and H95 are on log axes.
    """
    plt = _pyplot()
    teams = list(teams) if teams is not None else list(dict.fromkeys(cases["team"]))
    scanners = ordered_scanners(cases["scanner"].astype(str))
    unseen = set()
    if "seen_in_training" in cases:
        # Unseen: no subject of the scanner seen in training and at least one known unseen
        # (a scanner whose status is unknown is not marked).
        flags = pd.DataFrame({"scanner": cases["scanner"].astype(str),
                              "seen": seen_flags(cases["seen_in_training"])})
        for scanner, group in flags.groupby("scanner"):
            if not (group["seen"] == True).any() and (group["seen"] == False).any():  # noqa: E712
                unseen.add(scanner)
    n_t = len(teams)
    width = 0.8 / max(n_t, 1)
    palette = team_colours(teams)
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False, layout="constrained",
                             figsize=(max(7.0, len(scanners) * (0.3 * n_t + 1.2)),
                                      2.3 * len(metrics) + 0.8))
    labels = [f"{s}\n(unseen)" if s in unseen else s for s in scanners]
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        shown: list[np.ndarray] = []
        for k, scanner in enumerate(scanners):
            if scanner in unseen:
                ax.axvspan(k - 0.45, k + 0.45, color="#fdf0e6", zorder=0)
        for t, team in enumerate(teams):
            rows = cases[cases["team"] == team]
            data = [rows.loc[rows["scanner"].astype(str) == s, metric].dropna().to_numpy(
                dtype=float) for s in scanners]
            if metric in ("avd", "h95"):  # log axes: one far-off case flattens linear ones
                data = [np.maximum(d, 0.1) for d in data]
            positions = np.arange(len(scanners)) - 0.4 + width * (t + 0.5)
            keep = [k for k, d in enumerate(data) if d.size]
            if not keep:
                continue
            parts = ax.boxplot([data[k] for k in keep], positions=positions[keep],
                               widths=width * 0.85, patch_artist=True, showfliers=False,
                               medianprops={"color": "black", "linewidth": 0.8})
            for box in parts["boxes"]:
                box.set_facecolor(palette[str(team)])
                box.set_alpha(0.45)
            # one collection per team and panel (not per scanner): fewer artists to draw
            xs = np.concatenate([positions[k] + rng.uniform(-0.25, 0.25, data[k].size) * width
                                 for k in keep])
            ax.scatter(xs, np.concatenate([data[k] for k in keep]), s=14,
                       color=palette[str(team)], edgecolors="black", linewidths=0.3,
                       zorder=3)
            shown.extend(d for d in data if d.size)
        if metric in ("avd", "h95"):
            ax.set_yscale("log")
            log_ticks(ax.yaxis, shown)
        ax.set_xticks(np.arange(len(scanners)), labels, fontsize=7)
        ax.set_xlim(-0.5, len(scanners) - 0.5)
        arrow = "higher is better" if HIGHER_IS_BETTER.get(metric, True) else "lower is better"
        label = METRIC_LABELS.get(metric, metric) + (", log" if metric in ("avd", "h95")
                                                      else "")
        ax.set_ylabel(f"{label}\n({arrow})", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette[str(t)], alpha=0.6) for t in teams]
    fig.legend(handles, drawable_all(teams), loc="outside lower center", ncol=min(n_t, 7),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)


def plot_field_dependence(summary: pd.DataFrame, stem: str | Path,
                          title: str = "Leave one team out: order swaps among the others"
                          ) -> list[Path]:
    """Horizontal bars: per removed team (in ranking order, best at the top), how many
    pairs of the remaining teams swap order (``FieldDependence.summary``)."""
    plt = _pyplot()
    table = summary.sort_values(["removed_position", "removed_team"], kind="stable")
    n = len(table)
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.2 * n + 1.2)))
    ys = np.arange(n)
    counts = table["n_swapped_pairs"].to_numpy(dtype=float)
    ax.barh(ys, counts, color="tab:orange", height=0.7)
    labels = [f"{p}. {t}" for p, t in zip(table["removed_position"],
                                         drawable_all(table["removed_team"]), strict=True)]
    ax.set_yticks(ys, labels, fontsize=max(5, 9 - n // 12))
    ax.set_ylim(n - 0.5, -0.5)
    top = max(float(counts.max()) if n else 0.0, 1.0)
    ax.set_xlim(0, top * 1.3)
    for y, (count, teams) in enumerate(zip(counts, table["n_teams_swapped"], strict=True)):
        if count:
            ax.text(count + top * 0.01, y, f"{int(count)} ({int(teams)} teams)", va="center",
                    fontsize=max(5, 8 - n // 15))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole pairs
    if n and not counts.any():
        ax.text(0.5, 0.5, "no swaps: removing any one team leaves the order of the others "
                "unchanged", transform=ax.transAxes, ha="center", va="center", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "0.7"})
    ax.set_xlabel("pairs of other teams whose order flips when this team is removed")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", linewidth=0.3, alpha=0.6)
    return save_figure(fig, stem, dpi=300)
