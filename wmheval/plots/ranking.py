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

METRIC_LABELS = {"dice": "Dice", "h95": "H95 (mm)", "avd": "AVD (%)",
                 "recall": "Lesion recall", "f1": "Lesion F1"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, stem: str | Path, dpi: int = 150) -> list[Path]:
    """Save ``figure`` as ``stem.png`` and ``stem.svg`` (atomically) and close it."""
    stem = Path(stem)
    paths = []
    for fmt in ("png", "svg"):
        target = stem.with_name(f"{stem.name}.{fmt}")
        write_atomic(target, lambda tmp, fmt=fmt: figure.savefig(tmp, format=fmt, dpi=dpi,
                                                                 bbox_inches="tight"))
        paths.append(target)
    _pyplot().close(figure)
    return paths


def plot_bootstrap_blobs(distribution: pd.DataFrame, full_positions: Sequence[int],
                         stem: str | Path, title: str = "Bootstrap rank distribution"
                         ) -> list[Path]:
    """Blob plot: x = teams (full-data order), y = rank, blob area = share of resamples.

    ``distribution`` is teams x positions (shares), as in ``BootstrapResult.distribution``;
    a black cross marks each team's full-data position and a bar its 2.5-97.5 % range.
    """
    plt = _pyplot()
    order = np.argsort(np.asarray(full_positions), kind="stable")
    shares = distribution.to_numpy(dtype=float)[order]
    teams = list(distribution.index[order])
    n, n_ranks = shares.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.28 * n + 2), max(3.5, 0.2 * n_ranks + 2)))
    xs, ys = np.nonzero(shares > 0)
    ax.scatter(xs, ys + 1, s=600 * shares[xs, ys] * min(1.0, 12 / max(n, 1)) + 2,
               color="tab:blue", alpha=0.6, edgecolors="none")
    ranks = np.arange(1, n_ranks + 1)
    cumulative = np.cumsum(shares, axis=1)
    low = ranks[np.argmax(cumulative >= 0.025, axis=1)]
    high = ranks[np.argmax(cumulative >= 0.975, axis=1)]
    ax.vlines(np.arange(n), low, high, color="black", linewidth=0.8)
    ax.scatter(np.arange(n), np.asarray(full_positions)[order], marker="x", color="black",
               s=18, zorder=3, label="full-data position")
    ax.plot([0, n - 1], [1, n], color="grey", linewidth=0.5, linestyle=":")
    ax.set_xticks(np.arange(n), teams, rotation=90, fontsize=max(5, 10 - n // 10))
    ax.set_ylim(n_ranks + 0.5, 0.5)
    ax.set_ylabel("rank (1 = best)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, stem)


def plot_weight_heatmap(named: pd.DataFrame, stem: str | Path,
                        title: str = "Rank under each metric weighting") -> list[Path]:
    """Heatmap of ranks: rows = teams (default order), columns = named weightings."""
    plt = _pyplot()
    table = named.sort_values(named.columns[0], kind="stable")
    n, k = table.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * k + 3), max(3.0, 0.22 * n + 1.5)))
    image = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis_r",
                      interpolation="nearest")
    ax.set_xticks(np.arange(k), list(table.columns), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(n), list(table.index), fontsize=max(5, 9 - n // 15))
    if n * k <= 400:
        for (r, c), value in np.ndenumerate(table.to_numpy()):
            ax.text(c, r, str(int(value)), ha="center", va="center", fontsize=6,
                    color="white" if value > n / 2 else "black")
    fig.colorbar(image, ax=ax, label="rank (1 = best)")
    ax.set_title(title)
    return save_figure(fig, stem)


def plot_scheme_ranks(schemes: pd.DataFrame, scheme_names: Sequence[str], stem: str | Path,
                      title: str = "Rank under each ranking scheme") -> list[Path]:
    """Line plot: x = schemes, y = rank, one line per team (from ``compare_schemes``)."""
    plt = _pyplot()
    n = len(schemes)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(scheme_names) + 2),
                                    max(3.5, 0.2 * n + 1.5)))
    xs = np.arange(len(scheme_names))
    colors = plt.get_cmap("tab20" if n > 10 else "tab10")
    for row, (_, team) in enumerate(schemes.iterrows()):
        ranks = team[list(scheme_names)].to_numpy(dtype=float)
        ax.plot(xs, ranks, marker="o", markersize=3, linewidth=1,
                color=colors(row % colors.N), alpha=0.85)
        ax.text(xs[-1] + 0.08, ranks[-1], str(team["team"]), va="center",
                fontsize=max(5, 9 - n // 12))
        ax.text(xs[0] - 0.08, ranks[0], str(team["team"]), va="center", ha="right",
                fontsize=max(5, 9 - n // 12))
    ax.set_xticks(xs, list(scheme_names), rotation=20)
    ax.set_xlim(-0.9, len(scheme_names) - 0.1)
    ax.set_ylim(n + 0.5, 0.5)
    ax.set_ylabel("rank (1 = best)")
    ax.set_title(title)
    return save_figure(fig, stem)


def plot_scanner_boxes(cases: pd.DataFrame, stem: str | Path,
                       metrics: Sequence[str] = METRICS, teams: Sequence[str] | None = None,
                       title: str = "Per-scanner results") -> list[Path]:
    """Box plots: one panel per metric, x = scanners, one box per team within each scanner.

    ``cases`` is a long per-case table with columns ``team, scanner`` and the metrics
    (e.g. ``Field.cases``); NaN values are left out.
    """
    plt = _pyplot()
    teams = list(teams) if teams is not None else list(dict.fromkeys(cases["team"]))
    scanners = list(dict.fromkeys(cases["scanner"].astype(str)))
    from wmheval.io.manifest import SCANNER_ORDER

    scanners.sort(key=lambda s: (SCANNER_ORDER.index(s) if s in SCANNER_ORDER else 99, s))
    n_t = len(teams)
    width = 0.8 / max(n_t, 1)
    colors = plt.get_cmap("tab20" if n_t > 10 else "tab10")
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False,
                             figsize=(max(6.0, len(scanners) * (0.25 * n_t + 1.2)),
                                      2.6 * len(metrics)))
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for t, team in enumerate(teams):
            rows = cases[cases["team"] == team]
            data = [rows.loc[rows["scanner"].astype(str) == s, metric].dropna().to_numpy()
                    for s in scanners]
            positions = np.arange(len(scanners)) - 0.4 + width * (t + 0.5)
            keep = [k for k, d in enumerate(data) if d.size]
            if not keep:
                continue
            parts = ax.boxplot([data[k] for k in keep], positions=positions[keep],
                               widths=width * 0.9, patch_artist=True, showfliers=True,
                               flierprops={"markersize": 2})
            for box in parts["boxes"]:
                box.set_facecolor(colors(t % colors.N))
                box.set_alpha(0.8)
        ax.set_xticks(np.arange(len(scanners)), scanners, fontsize=8)
        arrow = "higher is better" if HIGHER_IS_BETTER.get(metric, True) else "lower is better"
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)}\n({arrow})", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors(t % colors.N)) for t in range(n_t)]
    fig.legend(handles, teams, loc="upper center", ncol=min(n_t, 6), fontsize=8,
               bbox_to_anchor=(0.5, 1.0 + 0.02 * ((n_t + 5) // 6)))
    fig.suptitle(title, y=1.0 + 0.04 * ((n_t + 5) // 6) + 0.02)
    fig.tight_layout()
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
    labels = [f"{p}. {t}" for p, t in zip(table["removed_position"], table["removed_team"],
                                         strict=True)]
    ax.set_yticks(ys, labels, fontsize=max(5, 9 - n // 12))
    ax.set_ylim(n - 0.5, -0.5)
    top = max(float(counts.max()) if n else 0.0, 1.0)
    ax.set_xlim(0, top * 1.3)
    for y, (count, teams) in enumerate(zip(counts, table["n_teams_swapped"], strict=True)):
        if count:
            ax.text(count + top * 0.01, y, f"{int(count)} ({int(teams)} teams)", va="center",
                    fontsize=max(5, 8 - n // 15))
    ax.set_xlabel("pairs of other teams whose order flips when this team is removed")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", linewidth=0.3, alpha=0.6)
    return save_figure(fig, stem, dpi=300)
