"""One call that writes every ranking table, sensitivity analysis and figure for a field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.analysis.bootstrap import field_bootstrap
from wmheval.analysis.field_dependence import field_dependence
from wmheval.analysis.significance import significance_counts
from wmheval.analysis.weights import field_weight_sensitivity, tau_summary
from wmheval.io.tables import TABLE_FORMATS, write_table_formats
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field
from wmheval.ranking.leaderboard import rank_field, write_policy_notes, write_ranking
from wmheval.ranking.minmax import higher_is_better
from wmheval.ranking.schemes import available_schemes, compare_schemes

FORMAT_NAMES = {"csv": "CSV", "md": "Markdown", "tex": "LaTeX", "html": "HTML"}


def _described(paths: list[Path], text: str) -> list[tuple[Path, str]]:
    described = []
    for path in paths:
        kind = FORMAT_NAMES.get(path.suffix.lstrip("."), path.suffix.lstrip(".").upper())
        described.append((path, f"{text} ({kind})"))
    return described


def _tables(table: pd.DataFrame, stem: Path, text: str) -> list[tuple[Path, str]]:
    return _described(write_table_formats(table, stem, TABLE_FORMATS, caption=text), text)


def write_ranking_report(field: Field, out_dir: str | Path, *, bootstrap: int = 1000,
                         seed: int = 0, samples: int = 100_000, grid_steps: int = 10,
                         weights=None, alpha: float = 0.05, figures: bool = True,
                         ties: str = "min", p_adjust: str = "holm",
                         progress: Callable[[str], None] | None = None
                         ) -> list[tuple[Path, str]]:
    """Write the ranking and its sensitivity analyses for ``field`` under ``out_dir``.

    Always (means suffice): ``ranking.*`` (official ranking), ``weights_summary.*`` (rank
    range and share of weight space ranked first per team), ``weights_named.*`` (rank under
    named weightings), ``weights_tau.*`` (Kendall tau to the default ranking),
    ``schemes.*`` (all schemes side by side), ``field_dependence.*`` and
    ``field_dependence_swaps.*`` (leave one team out: which pairs of the others swap),
    ``notes.md`` (the missing/undefined policy, the case set and loading notes) and
    figures ``weights_heatmap``, ``schemes_lines``, ``field_dependence``. With per-case
    results also ``bootstrap_summary.*``,
    ``bootstrap_tau.*``, ``significance_wins.*`` and figures ``bootstrap_blobs``,
    ``scanner_boxes``. Tables come as CSV/Markdown/LaTeX/HTML, figures as PNG/SVG.
    Returns every written file with a one-line description (for an index page).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _message: None)
    label = f"split {field.split}" if field.split != "all" else "all subjects"
    written: list[tuple[Path, str]] = []

    step("official ranking")
    ranking = rank_field(field, weights)
    written += _described(write_ranking(ranking, out, caption=f"Ranking ({label}; policy "
                                                              f"{field.policy.name})"),
                          f"official ranking, relative min-max rank ({label})")
    written.append((write_policy_notes(field, out),
                    f"how missing and undefined values were handled ({field.policy.name}), "
                    "the case set, and notes on left-out or absent rows"))

    step("field dependence (leave one team out)")
    dependence = field_dependence(field, weights)
    written += _tables(dependence.summary, out / "field_dependence",
                       "leave one team out: per removed team, how many pairs of the other "
                       "teams swap order")
    written += _tables(dependence.swaps, out / "field_dependence_swaps",
                       "leave one team out: every pair of teams whose order flips when a "
                       "third team is removed")

    step("weight sweep")
    sweep = field_weight_sensitivity(field, n_samples=samples, grid_steps=grid_steps,
                                     seed=seed)
    written += _tables(sweep.summary, out / "weights_summary",
                       "rank range over the weight simplex and share of weight space ranked "
                       "first, per team")
    named = sweep.named.reset_index()
    written += _tables(named, out / "weights_named",
                       "rank under named weightings (default, single-metric, leave-one-out, "
                       "random)")
    written += _tables(tau_summary(sweep), out / "weights_tau",
                       "Kendall tau between each weighting's ranking and the default")

    step("ranking schemes")
    schemes = compare_schemes(field, alpha=alpha, ties=ties, p_adjust=p_adjust)
    scheme_names = list(available_schemes(field))
    if field.published is not None and "published_position" in field.published:
        published = field.published["published_position"].reindex(schemes["team"])
        schemes.insert(1, "published", published.to_numpy())
        scheme_names.insert(0, "published")
    written += _tables(schemes, out / "schemes",
                       "positions under every ranking scheme, side by side")

    if field.has_cases:
        step(f"bootstrap ({bootstrap} resamples)")
        boot = field_bootstrap(field, bootstrap, seed, weights)
        written += _tables(boot.summary, out / "bootstrap_summary",
                           f"bootstrap over subjects ({bootstrap} resamples): rank "
                           f"distribution per team")
        taus = boot.tau
        tau_table = pd.DataFrame([{
            "n_resamples": len(taus), "mean_tau": float(np.nanmean(taus)),
            "median_tau": float(np.nanmedian(taus)),
            "q05_tau": float(np.nanquantile(taus, 0.05)), "min_tau": float(np.nanmin(taus)),
        }])
        written += _tables(tau_table, out / "bootstrap_tau",
                           "Kendall tau between bootstrap rankings and the full-data ranking")
        step("significance tests")
        wins = significance_counts(field.cube.values, higher_is_better(METRICS), alpha,
                                   p_adjust)
        win_table = pd.DataFrame(wins, columns=[f"beats_{m}" for m in METRICS])
        win_table.insert(0, "team", list(field.teams))
        win_table["beats_total"] = wins.sum(axis=1)
        win_table = win_table.sort_values(["beats_total", "team"], ascending=[False, True])
        written += _tables(win_table, out / "significance_wins",
                           f"teams beaten significantly per metric (one-sided Wilcoxon, "
                           f"p-values adjusted: {p_adjust}, alpha {alpha})")

    if figures:
        from wmheval.plots.ranking import (
            plot_bootstrap_blobs,
            plot_field_dependence,
            plot_scanner_boxes,
            plot_scheme_ranks,
            plot_weight_heatmap,
        )

        step("figures")
        written += _described(plot_weight_heatmap(sweep.named, out / "weights_heatmap"),
                              "heatmap of each team's rank under named weightings")
        written += _described(plot_scheme_ranks(schemes, scheme_names, out / "schemes_lines"),
                              "each team's rank under every ranking scheme")
        written += _described(plot_field_dependence(dependence.summary,
                                                    out / "field_dependence"),
                              "leave one team out: order swaps among the other teams")
        if field.has_cases:
            written += _described(
                plot_bootstrap_blobs(boot.distribution, boot.full_positions,
                                     out / "bootstrap_blobs"),
                "blob plot of bootstrap rank distributions")
            written += _described(
                plot_scanner_boxes(field.cases, out / "scanner_boxes",
                                   teams=list(ranking["team"])),
                "per-scanner box plots of each metric per team")
    return written


def sensitivity_to_dir(source: str | Path, out: str | Path, *, teams=None, add=(),
                       split: str = "all", missing: str | None = None,
                       undefined: str | None = None, policy=None, manifest=None,
                       on_note: Callable[[str], None] | None = None,
                       **options) -> list[tuple[Path, str]]:
    """What ``wmheval sensitivity`` does: load a field like ``wmheval rank`` and call
    :func:`write_ranking_report` (``options``: bootstrap, seed, samples, grid_steps,
    weights, alpha, figures, ties, p_adjust, progress). ``on_note`` receives the notes of
    loading the field."""
    from wmheval.ranking.inputs import prepare_field
    from wmheval.ranking.leaderboard import _manifest_table

    field = prepare_field(source, teams, add, split, missing, undefined,
                          _manifest_table(manifest), policy)
    for note in field.notes:
        if on_note is not None:
            on_note(note)
    return write_ranking_report(field, out, **options)
