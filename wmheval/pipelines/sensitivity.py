"""``wmheval sensitivity``: every ranking table, sensitivity analysis and figure for a field,
with the HTML report, as one output set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wmheval.analysis.sensitivity import (
    MAX_FIGURE_TEAMS,
    MAX_PAIRWISE_TEAMS,
    SensitivityResult,
    analyse_sensitivity,
)
from wmheval.io.tables import TABLE_FORMATS, write_table_formats
from wmheval.pipelines.rank import write_policy_notes, write_ranking
from wmheval.ranking.inputs import Field

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
                         progress: Callable[[str], None] | None = None,
                         max_pairwise_teams: int = MAX_PAIRWISE_TEAMS,
                         max_figure_teams: int = MAX_FIGURE_TEAMS,
                         on_note: Callable[[str], None] | None = None,
                         on_result: Callable[[SensitivityResult], None] | None = None
                         ) -> list[tuple[Path, str]]:
    """Analyse ``field`` (:func:`wmheval.analysis.sensitivity.analyse_sensitivity`) and
    write the result under ``out_dir`` (:func:`write_sensitivity`); returns every written
    file with a one-line description (for an index page). ``on_result`` hears the
    :class:`SensitivityResult` (the command line prints its headline)."""
    result = analyse_sensitivity(field, bootstrap=bootstrap, seed=seed, samples=samples,
                                 grid_steps=grid_steps, weights=weights, alpha=alpha,
                                 ties=ties, p_adjust=p_adjust, progress=progress,
                                 max_pairwise_teams=max_pairwise_teams,
                                 max_figure_teams=max_figure_teams)
    for note in result.limit_notes:
        if on_note is not None:
            on_note(note)
    if on_result is not None:
        on_result(result)
    return write_sensitivity(result, out_dir, figures=figures and result.draw_figures,
                             progress=progress)


def write_sensitivity(result: SensitivityResult, out_dir: str | Path, *, figures: bool = True,
                      progress: Callable[[str], None] | None = None
                      ) -> list[tuple[Path, str]]:
    """Write the tables and figures of a :class:`SensitivityResult` under ``out_dir``.

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
    field, label = result.field, result.label
    written: list[tuple[Path, str]] = []
    written += _described(write_ranking(result.ranking, out,
                                        caption=f"Ranking ({label}; policy "
                                                f"{field.policy.name})"),
                          f"official ranking, relative min-max rank ({label})")
    written.append((write_policy_notes(field, out),
                    f"how missing and undefined values were handled ({field.policy.name}), "
                    "the case set, and notes on left-out or absent rows"))
    if not result.comparisons:
        if figures:
            written += _figures(result, out, step)
        return written
    written += _tables(result.dependence.summary, out / "field_dependence",
                       "leave one team out: per removed team, how many pairs of the other "
                       "teams swap order")
    written += _tables(result.dependence.swaps, out / "field_dependence_swaps",
                       "leave one team out: every pair of teams whose order flips when a "
                       "third team is removed")
    sweep = result.weights
    written += _tables(sweep.summary, out / "weights_summary",
                       "rank range over the weight simplex and share of weight space ranked "
                       "first, per team")
    written += _tables(sweep.named.reset_index(), out / "weights_named",
                       "rank under named weightings (default, single-metric, leave-one-out, "
                       "random)")
    written += _tables(result.weights_tau, out / "weights_tau",
                       "Kendall tau between each weighting's ranking and the default")
    written += _tables(result.schemes, out / "schemes",
                       "positions under every ranking scheme, side by side")
    if result.bootstrap is not None:
        written += _tables(result.bootstrap.summary, out / "bootstrap_summary",
                           f"bootstrap over subjects ({result.n_resamples} resamples): rank "
                           f"distribution per team")
        written += _tables(result.bootstrap_tau, out / "bootstrap_tau",
                           "Kendall tau between bootstrap rankings and the full-data ranking")
    if result.significance is not None:
        written += _tables(result.significance, out / "significance_wins",
                           f"teams beaten significantly per metric (one-sided Wilcoxon, "
                           f"p-values adjusted: {result.p_adjust}, alpha {result.alpha})")
    written += _tables(sweep.named_weights.reset_index(), out / "weights_used",
                       "the weights of every named weighting (random_k drawn from a uniform "
                       "Dirichlet with the seed shown in the provenance)")
    if figures:
        written += _figures(result, out, step)
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


def _draw(task: tuple) -> tuple[str, list[Path]]:
    """Draw one figure: ``(key, function, args, kwargs)`` -> ``(key, files)`` (run in a
    worker process; the figures are independent)."""
    key, function, args, kwargs = task
    return key, function(*args, **kwargs)


def figure_tasks(result: SensitivityResult, out: Path) -> list[tuple]:
    """The figures of ``result`` to draw, as ``(key, function, args, kwargs)`` in the
    order of the report (a field of one team gets its cases only)."""
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

    field, sweep, boot = result.field, result.weights, result.bootstrap
    order = list(result.ranking["team"])
    tasks: list[tuple] = []
    if field.has_cases:
        index = [list(field.teams).index(t) for t in order]
        values = np.ascontiguousarray(field.cube.values[index])
        tasks.append(("dots_boxes", plot_dots_boxes, (values, order, out / "dots_boxes"), {}))
    if field.has_cases and result.comparisons:
        tasks += [
            ("podium", plot_podium, (values, order, out / "podium"), {}),
            ("rank_heatmap", plot_rank_heatmap, (values, order, out / "rank_heatmap"), {}),
        ]
        if result.wins is not None:  # None above the pairwise-tests bound
            tasks.append(("significance_map", plot_significance_map,
                          (result.wins, order, out / "significance_map", result.alpha), {}))
        tasks.append(("bootstrap_blobs", plot_bootstrap_blobs,
                      (boot.distribution, boot.full_positions, out / "bootstrap_blobs"), {}))
    if result.comparisons:
        taus = {"random weightings": sweep.tau.loc[sweep.tau["kind"] == "dirichlet", "tau"]
                .to_numpy()}
        if boot is not None:
            taus = {"bootstrap resamples": boot.tau, **taus}
        tasks += [
            ("tau_violins", plot_tau_violins, (taus, out / "tau_violins"), {}),
            ("weights_heatmap", plot_weight_heatmap, (sweep.named, out / "weights_heatmap"),
             {"weights": sweep.named_weights}),
            ("schemes_lines", plot_scheme_ranks,
             (result.schemes, result.scheme_names, out / "schemes_lines"), {}),
            ("field_dependence", plot_field_dependence,
             (result.dependence.summary, out / "field_dependence"), {}),
        ]
    if field.has_cases:
        tasks.append(("scanner_boxes", plot_scanner_boxes,
                      (field.cases, out / "scanner_boxes"), {"teams": order}))
    return tasks


def _figures(result: SensitivityResult, out: Path, step,
             jobs: int | None = None) -> list[tuple[Path, str]]:
    """Draw the figure set in ``jobs`` worker processes (default: all cores; the figures
    are independent, and drawing is most of the time of ``sensitivity`` and ``report``),
    write ``figures.json`` (report contract 3), return the files."""
    from wmheval.parallel import parallel_map

    step("figures")
    tasks = figure_tasks(result, out)
    # the slowest figures first, so two workers finish together
    slow = {"scanner_boxes": 0, "dots_boxes": 1, "significance_map": 2}
    ordered = sorted(range(len(tasks)), key=lambda k: (slow.get(tasks[k][0], 9), k))
    drawn = dict(parallel_map(_draw, [tasks[k] for k in ordered], jobs))
    return _figure_index([(key, drawn[key]) for key, *_ in tasks], out)


def _figure_index(drawn: list[tuple[str, list[Path]]], out: Path) -> list[tuple[Path, str]]:
    """Write ``figures.json`` for the figures ``drawn`` (key, files); return the files."""
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


def headline(result: SensitivityResult) -> list[str]:
    """The result in a few sentences (what ``wmheval sensitivity`` prints): who is first,
    in how many bootstrap resamples and how much of the weight space, and the Kendall tau
    of the perturbed rankings to the official one."""
    ranking = result.ranking
    first = ranking[ranking["position"] == ranking["position"].min()]["team"].astype(str)
    lines = [f"First: {' and '.join(first)} (score {ranking['score'].iloc[0]:.4f}) of "
             f"{len(ranking)} team(s), {result.label}."]
    if not result.comparisons:
        return lines + ["One team: no comparison (bootstrap, tau, tests) to report."]
    boot = result.bootstrap
    if boot is not None and len(boot.tau):
        n = len(boot.tau)
        shares = boot.summary.set_index("team")["share_first"]
        leader = str(shares.idxmax())
        wins = int(round(float(shares.max()) * n))
        taus = np.asarray(boot.tau, dtype=float)
        lines.append(f"Bootstrap over subjects: {leader} first in {wins} of {n} resamples "
                     f"({100 * wins / n:.1f} %); Kendall tau to the official ranking: median "
                     f"{np.nanmedian(taus):.3f}, 5 % quantile {np.nanquantile(taus, 0.05):.3f}"
                     ".")
    sampled = result.weights.tau
    dirichlet = sampled.loc[sampled["kind"] == "dirichlet", "tau"].to_numpy(dtype=float)
    if len(dirichlet):
        shares = result.weights.summary.set_index("team")["share_first"]
        lines.append(f"Metric weights: {shares.idxmax()} first in "
                     f"{100 * float(shares.max()):.1f} % of {len(dirichlet)} random "
                     f"weightings; median Kendall tau {np.nanmedian(dirichlet):.3f}.")
    return lines


def sensitivity_to_dir(source: str | Path, out: str | Path, **options) -> list[Path]:
    """What ``wmheval sensitivity`` does: :func:`wmheval.pipelines.report.report_to_dir`
    with ``command="sensitivity"`` (the analysis, its figures and the HTML report, no
    overlays unless a reference is given)."""
    from wmheval.pipelines.report import report_to_dir

    return report_to_dir(source, out, command="sensitivity", **options)
