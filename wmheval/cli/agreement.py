"""``wmheval agreement``: volumetric agreement, lesion-load and Fazekas analysis.

A thin wrapper around :func:`wmheval.pipelines.agreement.agreement_to_dir`; heavy imports
stay inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.options import (
    Binarize,
    Jobs,
    NoFigures,
    OutSet,
    Quiet,
    Scale,
    ScoreManifest,
    Seed,
)
from wmheval.vocabulary import VOLUME_SCALES


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected numbers separated by commas, got {text!r}",
                                 param_hint=option) from None


def parse_load_groups(text: str) -> tuple[tuple[str, float, float], ...]:
    """``--load-groups``: edges in mL, e.g. ``"5,15"`` -> <5, 5-15, >=15 mL
    (:func:`wmheval.analysis.agreement.load_groups_from_edges`); a ValueError names what
    cannot be read."""
    from wmheval.analysis.agreement import load_groups_from_edges

    try:
        edges = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"load-group edges must be numbers in mL separated by commas, got "
                         f"{text!r}") from None
    try:
        return load_groups_from_edges(edges)
    except ValueError:
        raise ValueError(f"load-group edges must be positive and increasing, got "
                         f"{text!r}") from None


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


def _summary_lines(result, width: int = 80) -> list[str]:
    """One line per team and scale on all its subjects, at most ``width`` columns: the
    team's full name (on a line of its own when it is longer than the column), numbers
    never cut, and a legend with the units."""
    numbers = (f"{'scale':>5}{'n':>4}{'r':>7}{'ICC(A,1)':>9}{'OLS b':>7}{'PB b':>6}"
               f"{'bias':>8}  {'limits of agreement':<19}")
    statistics = result.statistics
    if statistics.empty:
        return [f"{'team':<14}{numbers}".rstrip(), "(no team had 3 subjects with volumes)"]
    rows = statistics[statistics["group_type"] == "all"]
    room = max(width - len(numbers.rstrip()), 6)
    longest = max([4, *(len(str(t)) for t in rows["team"])])
    column = min(longest + 1, room)
    lines = [f"{'team':<{column}}{numbers}".rstrip()]
    for _, row in rows.iterrows():
        team = str(row["team"])
        limits = f"{row['ba_loa_lower']:.2f} to {row['ba_loa_upper']:.2f}"
        values = (f"{row['scale']:>5}{int(row['n']):>4}{row['pearson_r']:>7.3f}"
                  f"{row['icc_a1']:>9.3f}{row['ols_slope']:>7.2f}{row['pb_slope']:>6.2f}"
                  f"{row['ba_bias']:>8.2f}  {limits}")
        if len(team) >= column:  # the whole name on its own line, the numbers below it
            lines += [team, f"{'':<{column}}{values}"]
        else:
            lines.append(f"{team:<{column}}{values}")
    scales = set(rows["scale"])
    units = []
    if "ml" in scales:
        units.append("ml: bias and limits in mL (team minus reference)")
    if "log" in scales:
        units.append("log: in natural log of mL (exp(bias) = typical volume ratio)")
    import textwrap

    legend = ("r Pearson, ICC(A,1) absolute agreement, OLS b / PB b slopes (least squares / "
              "Passing-Bablok); Bland-Altman " + "; ".join(units) + ".")
    return lines + textwrap.wrap(legend, width=width, break_on_hyphens=False)


@app.command()
def agreement(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT...", help="wmheval score output folders (or a folder of team "
                                 "folders); with --reference: segmentation folders to "
                                 "compare.")],
    out: OutSet,
    name: Annotated[list[str] | None, typer.Option(
        "--name", help="Team name of the matching INPUT (default: its folder name; "
                       "repeatable).")] = None,
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="Two-folder mode: a segmentation folder treated as the "
                            "reference (<id>/wmh.nii.gz, <id>/result.nii.gz or "
                            "<id>.nii.gz); each INPUT is scored against it.")] = None,
    scale: Annotated[Scale, typer.Option(
        "--scale", help="Statistics on mL, on log volume (zero volumes left out), or "
                        "both.")] = Scale.ml,
    load_groups: Annotated[str | None, typer.Option(
        "--load-groups", help="Lesion-load group edges in mL, e.g. '5,15' (the default "
                              "groups: <5, 5-15, >=15 mL).")] = None,
    ratings: Annotated[Path | None, typer.Option(
        "--ratings", help="CSV of visual ratings (columns id, grade): fit cross-validated "
                          "volume thresholds.")] = None,
    grading: Annotated[str | None, typer.Option(
        "--grading", help="Without ratings: volume thresholds in mL that define grades, "
                          "e.g. '5,15'.")] = None,
    grades: Annotated[str | None, typer.Option(
        "--grades", help="Names of the --grading grades (default '0-1,2,3' for two "
                         "thresholds).")] = None,
    folds: Annotated[int, typer.Option("--folds", help="k of the k-fold "
                                       "cross-validation.")] = 10,
    seed: Seed = 0,
    manifest: ScoreManifest = None,
    binarize: Binarize = "official",
    jobs: Jobs = 0,
    no_figures: NoFigures = False,
    quiet: Quiet = False,
) -> None:
    """Volume agreement (correlation, fits, ICC, Bland–Altman), Dice by lesion load, and
    Fazekas grades from volume, per team, scanner and seen/unseen.

    Writes OUT/agreement.csv (every statistic with its 95 % CI), readable tables,
    load_groups.*, fazekas_*.*, volumes.csv, notes.md, figures (PNG + SVG) and
    figures.json. Exits 1 when subjects had no volumes or ratings matched no subject, 2 on
    unusable input. Two-folder mode (--reference) uses --manifest, --binarize, --jobs.

    \b
    Example:
      wmheval agreement teams/ --out agreement/ --scale both --grading 5,15
      wmheval agreement ct_masks/ --reference mri_masks/ --out ct_vs_mri/
    """
    from rich.console import Console

    from wmheval.analysis.agreement import (
        DEFAULT_LOAD_GROUPS,
        AgreementInputError,
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
    scales = VOLUME_SCALES if scale is Scale.both else (scale.value,)
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
