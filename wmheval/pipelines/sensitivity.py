"""``wmheval sensitivity``: every ranking table, sensitivity analysis and figure for a field,
with the HTML report, as one output set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.analysis.bootstrap import field_bootstrap
from wmheval.analysis.field_dependence import field_dependence
from wmheval.analysis.weights import field_weight_sensitivity, tau_summary
from wmheval.io.tables import TABLE_FORMATS, write_table_formats
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field
from wmheval.ranking.leaderboard import rank_field, write_policy_notes, write_ranking
from wmheval.ranking.minmax import higher_is_better
from wmheval.ranking.schemes import available_schemes, compare_schemes
from wmheval.ranking.significance import significance_counts

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

    written += _tables(sweep.named_weights.reset_index(), out / "weights_used",
                       "the weights of every named weighting (random_k drawn from a uniform "
                       "Dirichlet with the seed shown in the provenance)")
    if figures:
        written += _figures(field, out, ranking, sweep, schemes, scheme_names,
                            boot if field.has_cases else None, alpha, step, dependence,
                            p_adjust)
    return written


FIGURE_TEXTS = {
    "dots_boxes": (
        "Every case, per team and metric",
        "One panel per metric, one column per team in the order of the official ranking. "
        "Each dot is one case; the box spans the middle half of the cases, the line in it "
        "is the median and the whiskers reach the last case within 1.5 box lengths. AVD and "
        "H95 are on log axes (values below 0.1 drawn at 0.1) so one far-off case does not "
        "flatten the rest. Missing cases count as the worst value of the field when the "
        "policy says so."),
    "podium": (
        "Podium: places on each case (Dice)",
        "For every case the teams are placed 1 (best Dice) to n; a dot shows a team's Dice "
        "at its place and a grey line joins the dots of one case. Dots high up on the left "
        "mean good cases won; the bars below count how often each team took each place."),
    "rank_heatmap": (
        "Per-case places",
        "The challenge's rule applied to each case alone (relative min-max ranks of the "
        "five metrics, equal weights). Column = team in official order, row = place; the "
        "number is how many cases the team took that place on. A dark diagonal means the "
        "ranking holds case by case; spread-out columns mean it rests on averages."),
    "significance_map": (
        "Significance map",
        "Per metric, a blue cell means the row team is better than the column team on "
        "significantly many cases (one-sided Wilcoxon signed-rank test paired by case, "
        "p-values adjusted over all pairs, Holm by default). Teams are in official order; "
        "blue above the diagonal only would mean a clean, significant order."),
    "bootstrap_blobs": (
        "Bootstrap rank distribution",
        "The subjects are resampled with replacement and the field re-ranked each time. "
        "Blob area = share of resamples in which the team (x) got the rank (y); the key on "
        "the right gives the sizes. The cross is the rank on all data, the bar the "
        "2.5-97.5 % range. Tall bars mean the rank is not stable under a different test "
        "set."),
    "tau_violins": (
        "Ranking stability (Kendall's tau)",
        "Kendall's tau between each perturbed ranking and the official one: bootstrap "
        "resamples of the subjects, and random metric weightings drawn uniformly from the "
        "simplex. 1 = same order; values near 0 = unrelated orders."),
    "weights_heatmap": (
        "Rank under named metric weightings",
        "Each column is a weighting of the five metrics: default (equal), one metric only, "
        "leaving one metric out, and five random weightings. The strip on top prints "
        "every weight, so the random ones are disclosed (also in weights_used.csv). Cell "
        "= the team's rank under that weighting."),
    "schemes_lines": (
        "Rank under other ranking schemes",
        "Each line is a team; x = ranking scheme (the official relative min-max rule, mean "
        "or median of per-case ranks, rank-then-aggregate, test-based), y = rank. Crossing "
        "lines show where the choice of scheme changes the order; teams tied at an end "
        "share one label."),
    "field_dependence": (
        "Field dependence (leave one team out)",
        "The relative min-max rank of a team depends on who else is in the field. Each bar "
        "removes one team and counts the pairs of the remaining teams whose order flips "
        "(details in field_dependence_swaps.csv). No bars means the order of the others "
        "does not depend on any single team."),
    "scanner_boxes": (
        "Per-scanner results",
        "One panel per metric; per scanner a box per team with every case as a dot. "
        "Shaded scanners marked unseen were not in the training data, so they measure "
        "generalisation. AVD and H95 are on log axes."),
}
"""Title and how-to-read text of every figure of the ranking report (also in figures.json)."""


def _figures(field: Field, out: Path, ranking: pd.DataFrame, sweep, schemes: pd.DataFrame,
             scheme_names: list[str], boot, alpha: float, step, dependence=None,
             p_adjust: str = "holm") -> list[tuple[Path, str]]:
    """Draw the figure set, write ``figures.json`` (report contract 3), return the files."""
    from wmheval.plots.challenger import (
        plot_dots_boxes,
        plot_podium,
        plot_rank_heatmap,
        plot_significance_map,
        plot_tau_violins,
    )
    from wmheval.plots.ranking import (
        plot_bootstrap_blobs,
        plot_field_dependence,
        plot_scanner_boxes,
        plot_scheme_ranks,
        plot_weight_heatmap,
    )

    step("figures")
    order = list(ranking["team"])
    drawn: list[tuple[str, list[Path]]] = []
    if field.has_cases:
        index = [list(field.teams).index(t) for t in order]
        values = field.cube.values[index]
        drawn.append(("dots_boxes", plot_dots_boxes(values, order, out / "dots_boxes")))
        drawn.append(("podium", plot_podium(values, order, out / "podium")))
        drawn.append(("rank_heatmap", plot_rank_heatmap(values, order, out / "rank_heatmap")))
        from wmheval.ranking.significance import wilcoxon_wins

        wins = {m: wilcoxon_wins(values[:, :, k], bool(higher_is_better([m])[0]), alpha,
                                 p_adjust) for k, m in enumerate(METRICS)}
        drawn.append(("significance_map",
                      plot_significance_map(wins, order, out / "significance_map", alpha)))
        drawn.append(("bootstrap_blobs",
                      plot_bootstrap_blobs(boot.distribution, boot.full_positions,
                                           out / "bootstrap_blobs")))
    taus = {"random weightings": sweep.tau.loc[sweep.tau["kind"] == "dirichlet", "tau"]
            .to_numpy()}
    if boot is not None:
        taus = {"bootstrap resamples": boot.tau, **taus}
    drawn.append(("tau_violins", plot_tau_violins(taus, out / "tau_violins")))
    drawn.append(("weights_heatmap",
                  plot_weight_heatmap(sweep.named, out / "weights_heatmap",
                                      weights=sweep.named_weights)))
    drawn.append(("schemes_lines", plot_scheme_ranks(schemes, scheme_names,
                                                     out / "schemes_lines")))
    if dependence is not None:
        drawn.append(("field_dependence", plot_field_dependence(dependence.summary,
                                                                out / "field_dependence")))
    if field.has_cases:
        drawn.append(("scanner_boxes", plot_scanner_boxes(field.cases, out / "scanner_boxes",
                                                          teams=order)))
    entries, written = [], []
    for key, paths in drawn:
        title, text = FIGURE_TEXTS[key]
        entries.append({"title": title, "explanation": text, "png": f"{key}.png",
                        "svg": f"{key}.svg"})
        written += _described(paths, title[0].lower() + title[1:])
    tables = [{"title": caption, "csv": f"{stem}.csv", "html": f"{stem}.html"}
              for stem, caption in REPORT_TABLES if (out / f"{stem}.csv").is_file()]
    import json

    from wmheval.io.atomic import write_text_atomic

    manifest = write_text_atomic(out / "figures.json", json.dumps(
        {"figures": entries, "tables": tables}, indent=2) + "\n")
    written.append((manifest, "the figures with their explanations, for the HTML report"))
    return written


REPORT_TABLES = (
    ("weights_summary", "Rank range over the weight simplex"),
    ("weights_named", "Rank under named weightings"),
    ("weights_used", "Weights of the named weightings"),
    ("weights_tau", "Kendall's tau per weighting"),
    ("schemes", "Positions under every ranking scheme"),
    ("bootstrap_summary", "Bootstrap rank distribution per team"),
    ("bootstrap_tau", "Kendall's tau of the bootstrap rankings"),
    ("significance_wins", "Teams beaten significantly per metric"),
)
"""Tables of the analysis listed in figures.json (stem, title)."""


def sensitivity_to_dir(source: str | Path, out: str | Path, **options) -> list[Path]:
    """What ``wmheval sensitivity`` does: :func:`wmheval.pipelines.report.report_to_dir`
    with ``command="sensitivity"`` (the analysis, its figures and the HTML report, no
    overlays unless a reference is given)."""
    from wmheval.pipelines.report import report_to_dir

    return report_to_dir(source, out, command="sensitivity", **options)
