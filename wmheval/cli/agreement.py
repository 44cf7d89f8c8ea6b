"""``wmheval agreement``: volumetric agreement, lesion-load and Fazekas analysis.

A thin wrapper around :func:`wmheval.pipelines.agreement.agreement_to_dir`; heavy imports stay
inside the command.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail


class Scale(StrEnum):
    """Volume scale of the statistics."""

    ml = "ml"
    log = "log"
    both = "both"


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected numbers separated by commas, got {text!r}",
                                 param_hint=option) from None


def _grading(thresholds: str | None, grades: str | None):
    if thresholds is None:
        if grades is not None:
            raise typer.BadParameter("--grades needs --grading", param_hint="--grades")
        return None
    edges = _numbers(thresholds, "--grading")
    if sorted(edges) != edges or len(set(edges)) != len(edges) or not edges:
        raise typer.BadParameter(f"thresholds must increase, got {thresholds!r}",
                                 param_hint="--grading")
    if grades is None:
        names = ["0-1", "2", "3"] if len(edges) == 2 else [f"G{k}" for k in
                                                            range(len(edges) + 1)]
    else:
        names = [g.strip() for g in grades.split(",")]
    if len(names) != len(edges) + 1:
        raise typer.BadParameter(f"{len(edges)} thresholds need {len(edges) + 1} grade names, "
                                 f"got {names}", param_hint="--grades")
    return edges, names


def _summary_lines(result) -> list[str]:
    """At most 80 columns: one line per team and scale on all its subjects."""
    lines = [f"{'team':<14}{'scale':>5}{'n':>4}{'r':>7}{'ICC(A,1)':>9}{'OLS b':>7}"
             f"{'PB b':>6}{'bias':>8}  {'limits of agr.':<16}"]
    statistics = result.statistics
    if statistics.empty:
        return lines + ["(no team had 3 subjects with volumes)"]
    for _, row in statistics[statistics["group_type"] == "all"].iterrows():
        limits = f"{row['ba_loa_lower']:.2f} to {row['ba_loa_upper']:.2f}"
        lines.append(f"{str(row['team'])[:13]:<14}{row['scale']:>5}{int(row['n']):>4}"
                     f"{row['pearson_r']:>7.3f}{row['icc_a1']:>9.3f}{row['ols_slope']:>7.2f}"
                     f"{row['pb_slope']:>6.2f}{row['ba_bias']:>8.2f}  {limits:<16}".rstrip())
    return lines


@app.command()
def agreement(
    inputs: list[Path] = typer.Argument(..., metavar="INPUT...", help="wmheval score output "
                                        "folders (or a folder of team folders); with "
                                        "--reference: segmentation folders to compare."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (tables, figures, "
                             "figures.json)."),
    name: list[str] | None = typer.Option(None, "--name", help="Team name of the matching "
                                          "INPUT (default: its folder name; repeatable)."),
    reference: Path | None = typer.Option(None, "--reference", help="Two-folder mode: a "
                                          "segmentation folder treated as the reference "
                                          "(<id>/wmh.nii.gz, <id>/result.nii.gz or "
                                          "<id>.nii.gz); each INPUT is scored against it."),
    scale: Scale = typer.Option(Scale.ml, "--scale", help="Statistics on mL, on log volume "
                                "(zero volumes left out), or both."),
    load_groups: str | None = typer.Option(None, "--load-groups", help="Lesion-load group "
                                           "edges in mL, e.g. '5,15' (the default groups: "
                                           "<5, 5-15, >=15 mL)."),
    ratings: Path | None = typer.Option(None, "--ratings", help="CSV of visual ratings "
                                        "(columns id, grade): fit cross-validated volume "
                                        "thresholds."),
    grading: str | None = typer.Option(None, "--grading", help="Without ratings: volume "
                                       "thresholds in mL that define grades, e.g. '5,15'."),
    grades: str | None = typer.Option(None, "--grades", help="Names of the --grading grades "
                                      "(default '0-1,2,3' for two thresholds)."),
    folds: int = typer.Option(10, "--folds", help="k of the k-fold cross-validation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the cross-validation folds."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Subject manifest "
                                         "(two-folder mode; default: the bundled one)."),
    binarize: str = typer.Option("official", "--binarize", help="Binarisation of the "
                                 "compared masks (two-folder mode)."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (0: all cores)."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Tables only."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Volume agreement (correlation, fits, ICC, Bland–Altman), Dice by lesion load, and
    Fazekas grades from volume, per team, scanner and seen/unseen.

    Writes OUT/agreement.csv (every statistic with its 95 % CI), readable tables,
    load_groups.*, fazekas_*.*, volumes.csv, notes.md, figures (PNG + SVG) and
    figures.json. Exits 1 when subjects had no volumes or ratings matched no subject, 2 on
    unusable input.
    """
    from rich.console import Console

    from wmheval.analysis.agreement import (
        DEFAULT_LOAD_GROUPS,
        AgreementInputError,
        parse_load_groups,
    )
    from wmheval.analysis.fazekas import RatingsError
    from wmheval.io.layouts import LayoutError
    from wmheval.io.manifest import ManifestError
    from wmheval.pipelines.agreement import agreement_to_dir

    groups = DEFAULT_LOAD_GROUPS
    if load_groups is not None:
        try:
            groups = parse_load_groups(load_groups)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--load-groups") from None
    if ratings is not None and grading is not None:
        raise typer.BadParameter("give --ratings or --grading, not both", param_hint="--grading")
    if folds < 2:
        raise typer.BadParameter("at least 2 folds", param_hint="--folds")
    scales = ("ml", "log") if scale is Scale.both else (scale.value,)
    console = Console(stderr=True)
    try:
        with console.status("agreement analysis", spinner="dots") if not quiet else \
                _nothing():
            result, written = agreement_to_dir(
                inputs, out, names=name, reference=reference, manifest=manifest,
                rule=binarize, jobs=jobs or None, scales=scales, load_groups=groups,
                ratings=ratings, grading=_grading(grading, grades), folds=folds, seed=seed,
                figures=not no_figures)
    except (AgreementInputError, RatingsError, LayoutError, ManifestError, ValueError,
            OSError) as error:
        fail(error)
    if not quiet:
        typer.echo("\n".join(_summary_lines(result)))
        for note in result.notes:
            typer.echo(_wrapped(f"note: {note}"))
        typer.echo(f"{len(written)} files written to {out}/ (agreement.csv, figures.json, "
                   "notes.md, ...)")
    for problem in result.problems:
        typer.echo(_wrapped(f"problem: {problem}"), err=True)
    if result.problems:
        raise typer.Exit(1)


def _wrapped(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=80, subsequent_indent="  ", break_on_hyphens=False)


def _nothing():
    import contextlib

    return contextlib.nullcontext()
