"""``wmheval rank``, ``sensitivity`` and ``report``: challenge rankings, their sensitivity
and the HTML report.

Thin wrappers around :func:`wmheval.pipelines.rank.rank_to_dir` and
:func:`wmheval.pipelines.report.report_to_dir` (``sensitivity`` and ``report``: the analysis
and the HTML report); every ``--out`` is an output set with a manifest. Heavy imports stay
inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.options import (
    DEFAULT_POLICY,
    Add,
    AddName,
    AllowMixedScoring,
    Alpha,
    Bootstrap,
    FieldInput,
    FieldManifest,
    GridSteps,
    MaxTeamsFigures,
    MaxTeamsTests,
    Missing,
    NoFigures,
    OutSet,
    PAdjust,
    PAdjustOption,
    Quiet,
    RankSplit,
    Seed,
    TeamNames,
    TeamsFile,
    Ties,
    TiesOption,
    Title,
    Undefined,
    Weightings,
    parse_weights,
)


def _team_selection(team_names: list[str] | None, teams_file: Path | None) -> list[str]:
    from wmheval.ranking.inputs import read_team_list

    names = list(team_names or [])
    if teams_file is not None:
        names += read_team_list(teams_file)
    return names


def _additions(add: list[Path] | None, name: list[str] | None) -> list[tuple[Path, str | None]]:
    add, name = list(add or []), list(name or [])
    if len(name) > len(add):
        raise ValueError("more --name than --add options")
    return [(a, name[k] if k < len(name) else None) for k, a in enumerate(add)]


def _weights_option(text: str | None) -> str | None:
    """Check ``--weights`` while parsing: a usage error names what cannot be read."""
    try:
        parse_weights(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return text


def _note(text: str) -> None:
    """Print a loading note to stderr (``warning:``/``WARNING:`` notes keep their prefix)."""
    prefix = "" if text.lower().startswith("warning") else "note: "
    typer.echo(f"{prefix}{text}", err=True)


@app.command()
def rank(
    source: FieldInput,
    out: OutSet,
    team_names: TeamNames = None,
    teams: TeamsFile = None,
    add: Add = None,
    name: AddName = None,
    split: RankSplit = "all",
    weights: Annotated[str | None, typer.Option(
        "--weights", callback=_weights_option,
        help="Metric weights: '1,1,1,1,1' (dice,h95,avd,recall,f1) or 'dice=2,f1=1' "
             "(named; others 0). Default: equal, the challenge's rule.")] = None,
    missing: Missing = DEFAULT_POLICY.missing,
    undefined: Undefined = DEFAULT_POLICY.undefined,
    manifest: FieldManifest = None,
    quiet: Quiet = False,
    ranks: Annotated[bool, typer.Option("--ranks", help="Also print each metric's relative "
                                        "rank.")] = False,
    allow_mixed_scoring: AllowMixedScoring = False,
) -> None:
    """Rank teams by the challenge's rule: mean relative min-max rank over five metrics.

    Writes OUT/ranking.csv (columns position, team, score, the per-metric means and
    relative ranks, counts, comparable) and the same table as Markdown, LaTeX and HTML,
    and OUT/notes.md (the missing/undefined policy and what loading decided). Exits 2 on
    bad input (unreadable file, missing columns, unknown team) and on teams not scored
    alike (another reference or --binarize rule) without --allow-mixed-scoring.

    \b
    Example:
      wmheval rank leaderboard/wmh2017_leaderboard.csv --add scores/ --out rk/
      wmheval rank teams/ --split unseen --weights dice=2,f1=1 --out unseen/
    """
    from wmheval.pipelines.rank import rank_to_dir
    from wmheval.ranking.inputs import RankingInputError

    try:
        result = rank_to_dir(
            source, out, teams=_team_selection(team_names, teams), add=_additions(add, name),
            split=split, weights=parse_weights(weights), missing=missing.value,
            undefined=undefined.value, manifest=manifest, on_note=_note,
            allow_mixed_scoring=allow_mixed_scoring)
    except (RankingInputError, ValueError, OSError) as error:
        fail(error)
    ranking, paths = result.ranking, result.written
    if not quiet:
        from wmheval.cli.terminal import console as make_console
        from wmheval.cli.terminal import ranking_tables

        console = make_console()
        for table in ranking_tables(ranking, show_ranks=ranks, width=console.width):
            if table.title == "Ranking":
                table.title = f"Ranking ({split}; {missing.value}/{undefined.value})"
            console.print(table)
        console.print(f"written: {', '.join(str(p) for p in paths)}", highlight=False)


@app.command()
def sensitivity(
    source: FieldInput,
    out: OutSet,
    team_names: TeamNames = None,
    teams: TeamsFile = None,
    add: Add = None,
    name: AddName = None,
    split: RankSplit = "all",
    bootstrap: Bootstrap = 1000,
    samples: Weightings = 100_000,
    grid_steps: GridSteps = 10,
    seed: Seed = 0,
    alpha: Alpha = 0.05,
    missing: Missing = DEFAULT_POLICY.missing,
    undefined: Undefined = DEFAULT_POLICY.undefined,
    manifest: FieldManifest = None,
    ties: TiesOption = Ties.min,
    p_adjust: PAdjustOption = PAdjust.holm,
    no_figures: NoFigures = False,
    max_teams_tests: MaxTeamsTests = 200,
    max_teams_figures: MaxTeamsFigures = 100,
    quiet: Quiet = False,
    allow_mixed_scoring: AllowMixedScoring = False,
) -> None:
    """Ranking sensitivity: metric weights, ranking schemes, bootstrap, significance.

    Means-only inputs (the published leaderboard) get the weight sweep and the schemes that
    need only means; per-case inputs get everything, plus figures (PNG and SVG), and the
    HTML report (OUT/index.html).

    \b
    Example:
      wmheval sensitivity teams/ --out sensitivity/ --bootstrap 1000 --seed 0
    """
    _run_report("sensitivity", source, out, team_names=team_names, teams=teams, add=add,
                name=name, split=split, missing=missing.value, undefined=undefined.value,
                manifest=manifest, quiet=quiet, allow_mixed_scoring=allow_mixed_scoring,
                analysis={"bootstrap": bootstrap, "seed": seed, "samples": samples,
                          "grid_steps": grid_steps, "alpha": alpha, "ties": ties.value,
                          "p_adjust": p_adjust.value, "figures": not no_figures,
                          "max_pairwise_teams": max_teams_tests,
                          "max_figure_teams": max_teams_figures})


def _run_report(command: str, source: Path, out: Path, *, team_names, teams, add, name,
                split: str, missing: str, undefined: str, manifest: Path | None, quiet: bool,
                analysis: dict, allow_mixed_scoring: bool = False,
                reference: Path | None = None,
                predictions: Path | None = None, extra: list[Path] | None = None,
                title: str | None = None) -> None:
    """Shared body of `sensitivity` and `report`: the analysis and the HTML pages, written
    as one output set."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    from wmheval.cli.outsets import command_line
    from wmheval.pipelines.report import report_to_dir
    from wmheval.ranking.inputs import RankingInputError
    from wmheval.report.figuresets import FigureSetError

    console = Console()
    results: list = []
    try:
        with Progress(SpinnerColumn(), "[progress.description]{task.description}",
                      TimeElapsedColumn(), disable=quiet, transient=True,
                      console=console) as progress:
            task = progress.add_task("loading", total=None)
            written = report_to_dir(
                source, out, command=command, command_line=command_line(),
                teams=_team_selection(team_names, teams), add=_additions(add, name),
                split=split, missing=missing, undefined=undefined, manifest=manifest,
                on_note=_note, reference=reference, predictions=predictions,
                extra_sets=extra or (), title=title, allow_mixed_scoring=allow_mixed_scoring,
                on_result=results.append,
                progress=lambda message: progress.update(task, description=message),
                **analysis)
    except (RankingInputError, FigureSetError, ValueError, OSError) as error:
        fail(error)
    if command == "sensitivity" and results:
        from wmheval.pipelines.sensitivity import headline

        for line in headline(results[0]):
            console.print(line, highlight=False, markup=False)
    if not quiet:
        console.print(f"{len(written)} files written to {out}; open {out / 'index.html'}",
                      highlight=False)


@app.command()
def report(
    source: FieldInput,
    out: OutSet,
    team_names: TeamNames = None,
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="Reference folder (release layout) to draw each team's best, "
                            "median and worst case.")] = None,
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="Folder of team submission folders, used when the prediction "
                              "paths in cases.csv no longer exist.")] = None,
    extra: Annotated[list[Path] | None, typer.Option(
        "--extra", help="A folder with a figures.json to add as a section "
                        "(repeatable).")] = None,
    title: Title = None,
    teams: TeamsFile = None,
    add: Add = None,
    name: AddName = None,
    split: RankSplit = "all",
    bootstrap: Bootstrap = 1000,
    samples: Weightings = 100_000,
    seed: Seed = 0,
    alpha: Alpha = 0.05,
    missing: Missing = DEFAULT_POLICY.missing,
    undefined: Undefined = DEFAULT_POLICY.undefined,
    manifest: FieldManifest = None,
    max_teams_tests: MaxTeamsTests = 200,
    max_teams_figures: MaxTeamsFigures = 100,
    quiet: Quiet = False,
    allow_mixed_scoring: AllowMixedScoring = False,
) -> None:
    """An HTML report for a paper: sortable leaderboard, per-scanner and per-team pages,
    challengeR's figures with how to read them, and provenance. Works offline.

    \b
    Example:
      wmheval report scores/ --reference data/ --out report/
    """
    _run_report("report", source, out, team_names=team_names, teams=teams, add=add, name=name,
                split=split, missing=missing.value, undefined=undefined.value,
                manifest=manifest, quiet=quiet, allow_mixed_scoring=allow_mixed_scoring,
                analysis={"bootstrap": bootstrap, "seed": seed, "samples": samples,
                          "alpha": alpha, "max_pairwise_teams": max_teams_tests,
                          "max_figure_teams": max_teams_figures},
                reference=reference, predictions=predictions, extra=extra, title=title)
