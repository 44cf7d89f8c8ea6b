"""``wmheval rank``, ``sensitivity`` and ``report``: challenge rankings, their sensitivity
and the HTML report.

Thin wrappers around :func:`wmheval.pipelines.rank.rank_to_dir` and
:func:`wmheval.pipelines.report.report_to_dir` (``sensitivity`` and ``report``: the analysis
and the HTML report); every ``--out`` is an output set with a manifest. Heavy imports stay
inside the commands.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.policy_options import (
    DEFAULT_POLICY,
    MISSING_HELP,
    UNDEFINED_HELP,
    MissingPolicy,
    UndefinedPolicy,
)

INPUT_HELP = ("A table of team means (e.g. leaderboard/wmh2017_leaderboard.csv), a folder of "
              "team folders each holding a wmheval score cases.csv, or a per-case CSV with a "
              "'team' column.")
SPLIT_HELP = ("Subjects to rank on: all, seen, unseen, test, training, or a scanner key "
              "(per-case inputs only, except 'all').")
MANIFEST_HELP = ("Subject manifest CSV (id, split, scanner, seen_in_training) for per-case "
                 "tables without those columns (default: they are 'unknown').")


class Ties(StrEnum):
    """Ties in the rank-based schemes."""

    MIN = "min"
    AVERAGE = "average"


class PAdjust(StrEnum):
    """Multiple-testing adjustment of the test-based scheme."""

    HOLM = "holm"
    NONE = "none"


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


def parse_weights(text: str | None):
    """Weights from the command line: ``"1,1,1,1,2"`` (metric order dice, h95, avd,
    recall, f1) or ``"dice=2,f1=1"`` (named; others 0). None or empty: equal weights."""
    if text is None or not text.strip():
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in parts)}
        return [float(p) for p in parts]
    except ValueError as error:
        raise ValueError(f"cannot read weights {text!r}: {error}") from error


def _note(text: str) -> None:
    """Print a loading note to stderr (``warning:``/``WARNING:`` notes keep their prefix)."""
    prefix = "" if text.lower().startswith("warning") else "note: "
    typer.echo(f"{prefix}{text}", err=True)


@app.command()
def rank(
    source: Path = typer.Argument(..., metavar="INPUT", help=INPUT_HELP),
    team_names: list[str] | None = typer.Argument(
        None, metavar="[TEAM]...", help="Rank only these teams (added teams always stay)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for ranking.csv/.md/.tex/.html."),
    teams: Path | None = typer.Option(None, "--teams", help="File with team names to keep, "
                                      "one per line."),
    add: list[Path] | None = typer.Option(None, "--add", help="Insert a team: a wmheval score "
                                          "output folder or its cases.csv (repeatable)."),
    name: list[str] | None = typer.Option(None, "--name", help="Name of the team inserted by "
                                          "the matching --add (default: its folder name)."),
    split: str = typer.Option("all", "--split", help=SPLIT_HELP),
    weights: str | None = typer.Option(None, "--weights", help="Metric weights: '1,1,1,1,1' "
                                       "(dice,h95,avd,recall,f1) or 'dice=2,f1=1'."),
    missing: MissingPolicy = typer.Option(DEFAULT_POLICY.missing.value, "--missing",
                                          help=MISSING_HELP),
    undefined: UndefinedPolicy = typer.Option(DEFAULT_POLICY.undefined.value, "--undefined",
                                              help=UNDEFINED_HELP),
    manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the table."),
    ranks: bool = typer.Option(False, "--ranks", help="Also print each metric's relative "
                               "rank."),
) -> None:
    """Rank teams by the challenge's rule: mean relative min-max rank over five metrics.

    Writes OUT/ranking.csv (columns position, team, score, the per-metric means and
    relative ranks, counts, comparable) and the same table as Markdown, LaTeX and HTML,
    and OUT/notes.md (the missing/undefined policy and what loading decided). Exits 2 on
    bad input (unreadable file, missing columns, unknown team).
    """
    from wmheval.pipelines.rank import rank_to_dir
    from wmheval.ranking.inputs import RankingInputError

    try:
        result = rank_to_dir(
            source, out, teams=_team_selection(team_names, teams), add=_additions(add, name),
            split=split, weights=parse_weights(weights), missing=missing.value,
            undefined=undefined.value, manifest=manifest, on_note=_note)
    except (RankingInputError, ValueError, OSError) as error:
        fail(error)
    ranking, paths = result.ranking, result.written
    if not quiet:
        from wmheval.cli.terminal import console as make_console
        from wmheval.cli.terminal import ranking_tables

        console = make_console()
        for table in ranking_tables(ranking, show_ranks=ranks):
            if table.title == "Ranking":
                table.title = f"Ranking ({split}; {missing.value}/{undefined.value})"
            console.print(table)
        console.print(f"written: {', '.join(str(p) for p in paths)}", highlight=False)


@app.command()
def sensitivity(
    source: Path = typer.Argument(..., metavar="INPUT", help=INPUT_HELP),
    team_names: list[str] | None = typer.Argument(
        None, metavar="[TEAM]...", help="Analyse only these teams (added teams always stay)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for all tables and figures."),
    teams: Path | None = typer.Option(None, "--teams", help="File with team names to keep."),
    add: list[Path] | None = typer.Option(None, "--add", help="Insert a team (repeatable)."),
    name: list[str] | None = typer.Option(None, "--name", help="Name for the matching --add."),
    split: str = typer.Option("all", "--split", help=SPLIT_HELP),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples of the "
                                  "subjects (per-case inputs)."),
    samples: int = typer.Option(100_000, "--samples", help="Random Dirichlet weightings."),
    grid_steps: int = typer.Option(10, "--grid-steps", help="Simplex grid resolution "
                                   "(weights in multiples of 1/steps)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (weights and bootstrap)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the tests."),
    missing: MissingPolicy = typer.Option(DEFAULT_POLICY.missing.value, "--missing",
                                          help=MISSING_HELP),
    undefined: UndefinedPolicy = typer.Option(DEFAULT_POLICY.undefined.value, "--undefined",
                                              help=UNDEFINED_HELP),
    manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    ties: Ties = typer.Option(Ties.MIN.value, "--ties", help="Ties in mean_rank, median_rank "
                              "and rank_then_aggregate: min (challengeR's default) or "
                              "average."),
    p_adjust: PAdjust = typer.Option(PAdjust.HOLM.value, "--p-adjust", help="test_based: "
                                     "holm (default) or none (challengeR's default)."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Tables only."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or file list."),
) -> None:
    """Ranking sensitivity: metric weights, ranking schemes, bootstrap, significance.

    Means-only inputs (the published leaderboard) get the weight sweep and the schemes that
    need only means; per-case inputs get everything, plus figures (PNG and SVG).
    """
    _run_report("sensitivity", source, out, team_names=team_names, teams=teams, add=add,
                name=name, split=split, missing=missing.value, undefined=undefined.value,
                manifest=manifest, quiet=quiet,
                analysis={"bootstrap": bootstrap, "seed": seed, "samples": samples,
                          "grid_steps": grid_steps, "alpha": alpha, "ties": ties.value,
                          "p_adjust": p_adjust.value, "figures": not no_figures})


def _run_report(command: str, source: Path, out: Path, *, team_names, teams, add, name,
                split: str, missing: str, undefined: str, manifest: Path | None, quiet: bool,
                analysis: dict, reference: Path | None = None,
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
                extra_sets=extra or (), title=title,
                progress=lambda message: progress.update(task, description=message),
                **analysis)
    except (RankingInputError, FigureSetError, ValueError, OSError) as error:
        fail(error)
    if not quiet:
        console.print(f"{len(written)} files written to {out}; open {out / 'index.html'}",
                      highlight=False)


@app.command()
def report(
    source: Path = typer.Argument(..., metavar="INPUT", help=INPUT_HELP),
    team_names: list[str] | None = typer.Argument(
        None, metavar="[TEAM]...", help="Report only these teams (added teams always stay)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the report (index.html)."),
    reference: Path | None = typer.Option(None, "--reference", help="Reference folder "
                                          "(release layout) to draw each team's best, "
                                          "median and worst case."),
    predictions: Path | None = typer.Option(None, "--predictions", help="Folder of team "
                                            "submission folders, used when the prediction "
                                            "paths in cases.csv no longer exist."),
    extra: list[Path] | None = typer.Option(None, "--extra", help="A folder with a "
                                            "figures.json to add as a section (repeatable)."),
    title: str | None = typer.Option(None, "--title", help="Title of the report."),
    teams: Path | None = typer.Option(None, "--teams", help="File with team names to keep."),
    add: list[Path] | None = typer.Option(None, "--add", help="Insert a team (repeatable)."),
    name: list[str] | None = typer.Option(None, "--name", help="Name for the matching --add."),
    split: str = typer.Option("all", "--split", help=SPLIT_HELP),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples."),
    samples: int = typer.Option(100_000, "--samples", help="Random Dirichlet weightings."),
    seed: int = typer.Option(0, "--seed", help="Random seed (weights and bootstrap)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the tests."),
    missing: MissingPolicy = typer.Option(DEFAULT_POLICY.missing.value, "--missing",
                                          help=MISSING_HELP),
    undefined: UndefinedPolicy = typer.Option(DEFAULT_POLICY.undefined.value, "--undefined",
                                              help=UNDEFINED_HELP),
    manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> None:
    """An HTML report for a paper: sortable leaderboard, per-scanner and per-team pages,
    challengeR's figures with how to read them, and provenance. Works offline."""
    _run_report("report", source, out, team_names=team_names, teams=teams, add=add, name=name,
                split=split, missing=missing.value, undefined=undefined.value,
                manifest=manifest, quiet=quiet,
                analysis={"bootstrap": bootstrap, "seed": seed, "samples": samples,
                          "alpha": alpha},
                reference=reference, predictions=predictions, extra=extra, title=title)
