"""``wmheval rank`` and ``wmheval sensitivity``: challenge rankings and their sensitivity.

Thin wrappers around :func:`wmheval.ranking.leaderboard.rank_to_dir` and
:func:`wmheval.analysis.report.sensitivity_to_dir`; heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wmheval.cli.app import app

INPUT_HELP = ("A table of team means (e.g. leaderboard/wmh2017_leaderboard.csv), a folder of "
              "team folders each holding a wmheval score cases.csv, or a per-case CSV with a "
              "'team' column.")
SPLIT_HELP = ("Subjects to rank on: all, seen, unseen, test, training, or a scanner key "
              "(per-case inputs only, except 'all').")
POLICY_HELP = "'worst' (count as the worst value of the field) or 'exclude' (leave out)."


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


def _fail(error: Exception) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code=1)


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
    missing: str = typer.Option("worst", "--missing", help="Missing/failed cases: "
                                + POLICY_HELP),
    undefined: str = typer.Option("worst", "--undefined", help="Undefined (NaN) metrics of "
                                  "scored cases, e.g. H95 of an empty prediction: "
                                  + POLICY_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the table."),
    ranks: bool = typer.Option(False, "--ranks", help="Also print each metric's relative "
                               "rank."),
) -> None:
    """Rank teams by the challenge's rule: mean relative min-max rank over five metrics.

    Writes OUT/ranking.csv (columns position, team, score, the per-metric means and
    relative ranks, counts) and the same table as Markdown, LaTeX and HTML. Exits 1 on bad
    input (unreadable file, missing columns, unknown team).
    """
    from wmheval.ranking.inputs import RankingInputError
    from wmheval.ranking.leaderboard import parse_weights, rank_to_dir

    try:
        ranking, paths = rank_to_dir(
            source, out, teams=_team_selection(team_names, teams),
            add=_additions(add, name), split=split, weights=parse_weights(weights),
            missing=missing, undefined=undefined)
    except (RankingInputError, ValueError, OSError) as error:
        _fail(error)
    if not quiet:
        from wmheval.cli.terminal import console as make_console
        from wmheval.cli.terminal import ranking_tables

        console = make_console()
        for table in ranking_tables(ranking, show_ranks=ranks):
            table.title = f"Ranking ({split})" if table.title == "Ranking" else table.title
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
    missing: str = typer.Option("worst", "--missing", help="Missing/failed cases: "
                                + POLICY_HELP),
    undefined: str = typer.Option("worst", "--undefined", help="Undefined metrics: "
                                  + POLICY_HELP),
    no_figures: bool = typer.Option(False, "--no-figures", help="Tables only."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or file list."),
) -> None:
    """Ranking sensitivity: metric weights, ranking schemes, bootstrap, significance.

    Means-only inputs (the published leaderboard) get the weight sweep and the schemes that
    need only means; per-case inputs get everything, plus figures (PNG and SVG).
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    from wmheval.analysis.report import sensitivity_to_dir
    from wmheval.ranking.inputs import RankingInputError

    console = Console()
    try:
        with Progress(SpinnerColumn(), "[progress.description]{task.description}",
                      TimeElapsedColumn(), disable=quiet, transient=True,
                      console=console) as progress:
            task = progress.add_task("loading", total=None)
            written = sensitivity_to_dir(
                source, out, teams=_team_selection(team_names, teams),
                add=_additions(add, name), split=split, missing=missing,
                undefined=undefined, bootstrap=bootstrap, seed=seed, samples=samples,
                grid_steps=grid_steps, alpha=alpha, figures=not no_figures,
                progress=lambda message: progress.update(task, description=message))
    except (RankingInputError, ValueError, OSError) as error:
        _fail(error)
    if not quiet:
        for path, description in written:
            console.print(f"{path}: {description}", highlight=False)
