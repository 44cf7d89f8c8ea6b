"""``wmheval score``: score a submission folder against the reference, per scanner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.options import (
    DEFAULT_POLICY,
    Jobs,
    Missing,
    OptionalOutSet,
    Quiet,
    ScoreBinarize,
    ScoreManifest,
    ScoreSplit,
    ScoreTeams,
    Undefined,
)


def print_score_report(result, out: Path | None, show_std: bool = False,
                       width: int | None = None) -> None:
    """Print the per-group means (std with ``show_std``), problems and notes of a run.

    Tables fit 80 columns; message lines are not hard-wrapped, so the file names they carry
    stay whole (copyable) and the terminal folds them.
    """
    from wmheval.cli.terminal import console as make_console
    from wmheval.cli.terminal import summary_tables

    console = make_console(width)
    for table in summary_tables(result.summary, show_std):
        console.print(table)
    _print_problems(console, result)
    imputed = ("n_imputed" in result.summary
               and bool(result.summary["n_imputed"].fillna(0).astype(int).gt(0).any()))
    console.print(f"policy: {result.policy.name}" + (
        " (\\[bracketed] means are the ones used for ranking, with the imputed values; see "
        "docs/ranking.md)" if imputed else " (nothing imputed: every case scored and "
        "defined)"), highlight=False, soft_wrap=True)
    if out is not None:
        from wmheval.io.paths import display_path

        console.print(f"tables written to {display_path(out)}/ (cases.csv, summary.csv, "
                      "summary_table.*)", highlight=False, soft_wrap=True)


def _print_problems(console, result, prefix: str = "",
                    skip_notes: set[str] | frozenset[str] = frozenset()) -> None:
    """One line per failed or missing case, stray file, warning and note (but those in
    ``skip_notes``) of a result, each after ``prefix``."""
    from rich.markup import escape

    from wmheval.scoring.case import SCORED_STATUSES

    prefix = escape(prefix)
    problems = result.cases[~result.cases["status"].isin(SCORED_STATUSES)]
    for _, row in problems.iterrows():
        console.print(f"{prefix}[red]{row['status']}[/red] {escape(str(row['id']))}: "
                      f"{escape(str(row['error']))}", highlight=False, soft_wrap=True)
    for _, row in result.unmatched.iterrows():
        console.print(f"{prefix}[yellow]unmatched[/yellow] {escape(str(row['path']))}: "
                      f"{escape(str(row['problem']))}", highlight=False, soft_wrap=True)
    warned = result.cases[result.cases["warnings"].fillna("").astype(str) != ""]
    for _, row in warned.iterrows():
        console.print(f"{prefix}[yellow]warning[/yellow] {escape(str(row['id']))}: "
                      f"{escape(str(row['warnings']))}", highlight=False, soft_wrap=True)
    for note in result.notes:
        if note not in skip_notes:
            console.print(f"{prefix}note: {escape(note)}", highlight=False, soft_wrap=True)


@app.command()
def score(
    reference: Annotated[Path, typer.Argument(
        help="Reference folder: the data release (training/, test/) or any tree of "
             "<id>/wmh.nii.gz.")],
    submission: Annotated[Path, typer.Argument(
        help="Predictions: a folder (or a .zip, .tar or .tar.gz archive of one) of "
             "<id>/result.nii.gz or <id>.nii.gz / <id>.nii, one per subject.")],
    out: OptionalOutSet = None,
    manifest: ScoreManifest = None,
    binarize: ScoreBinarize = None,
    missing: Missing = DEFAULT_POLICY.missing,
    undefined: Undefined = DEFAULT_POLICY.undefined,
    split: Annotated[ScoreSplit, typer.Option(
        "--split", help="Which reference subjects: auto (the splits the submission "
                        "predicts), all, training or test.")] = ScoreSplit.auto,
    jobs: Jobs = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Also write scores.json.")] = False,
    cache: Annotated[Path | None, typer.Option(
        "--cache", help="Folder of cached per-case results, keyed by file contents and "
                        "options (default: $WMHEVAL_CACHE_DIR or "
                        "~/.cache/wmheval/cases).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Score every case afresh and cache nothing.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run the cases on Dask: 'local' (a local cluster of --jobs "
                            "workers) or a scheduler address such as "
                            "tcp://host:8786.")] = None,
    quiet: Quiet = False,
    std: Annotated[bool, typer.Option("--std", help="Also print the standard "
                                      "deviations.")] = False,
    teams: ScoreTeams = False,
) -> None:
    """Score a folder (or archive) of predicted segmentations exactly as the official
    challenge does.

    Writes one row per subject (Dice, H95, AVD, lesion recall, lesion F1, status, warnings)
    and the aggregates per scanner, for seen and unseen scanners, and overall. Exits with 1
    when any subject is missing or failed, or a file in the submission matches no subject;
    with 2 for usage errors, an --out that cannot be written (the previous set stays) and
    an archive that is rejected (one line naming the member and the rule). An archive is
    extracted safely into a temporary folder ($TMPDIR) that is removed afterwards.
    Cases whose two files and options are unchanged are taken from the cache.

    With --teams, SUBMISSION holds one submission per team (a folder or an archive each):
    every team is scored into --out/<team>/ and the teams' means are combined in
    --out/teams_summary.csv; exit 1 when any team has a problem.

    \b
    Example:
      wmheval score path/to/dataverse_files path/to/my_submission --out scores/
      wmheval score dataverse_files/ my_team.zip --out scores/my_team
      wmheval score dataverse_files/ submissions/ --teams --out scores/
    """
    from wmheval.pipelines.score import score_to_dir
    from wmheval.scoring.cache import default_cache_dir
    from wmheval.scoring.policy import make_policy

    options = {"manifest": manifest, "rule": binarize, "policy": make_policy(missing, undefined),
               "split": split.value, "jobs": jobs or None, "write_json": json_output,
               "cache": None if no_cache else (cache or default_cache_dir()),
               "scheduler": scheduler}
    if teams:
        _score_teams(reference, submission, out, quiet=quiet, **options)
        return
    result = _with_progress(lambda **bar: score_to_dir(reference, submission, out, **bar,
                                                       **options), quiet=quiet)
    if not quiet:
        print_score_report(result, out, show_std=std)
    if not result.ok:
        typer.echo(f"{result.n_problems} problem(s): see the status column"
                   f"{' and unmatched.csv' if len(result.unmatched) else ''}", err=True)
        raise typer.Exit(1)


def _with_progress(run, *, quiet: bool):
    """``run(on_plan=..., on_done=...)`` under one progress bar over the cases; an archive
    refused as a whole, an unreadable input or an unwritable ``--out`` becomes the one-line
    message and exit code of the rule (2; the board exits 1 for a refused archive)."""
    from rich.progress import Progress

    from wmheval.io.archives import ArchiveRejected
    from wmheval.parallel import progress_columns

    try:
        with Progress(*progress_columns(), disable=quiet, transient=True) as progress:
            bar = progress.add_task("scoring", total=None)
            return run(on_plan=lambda total: progress.update(bar, total=total),
                       on_done=lambda _row: progress.advance(bar))
    except ArchiveRejected as error:
        fail(str(error))
    except (ValueError, OSError) as error:  # includes OutputSetError and SchedulerError
        fail(error)


def _score_teams(reference: Path, teams_dir: Path, out: Path | None, *, quiet: bool,
                 **options) -> None:
    """``wmheval score --teams``: score, print one row per team and each team's problems,
    and exit 1 when any team has one."""
    from wmheval.cli.terminal import console as make_console
    from wmheval.cli.terminal import teams_table
    from wmheval.io.paths import display_path
    from wmheval.pipelines.score import TEAMS_SUMMARY, score_teams_to_dir

    result = _with_progress(lambda **bar: score_teams_to_dir(reference, teams_dir, out, **bar,
                                                             **options), quiet=quiet)
    if not quiet:
        console = make_console()
        console.print(teams_table(result.combined_summary()))
        from rich.markup import escape

        for path, why in result.skipped:
            console.print(f"[yellow]skipped[/yellow] {escape(path)}: {escape(why)}",
                          highlight=False, soft_wrap=True)
        shared = set.intersection(*(set(r.notes) for r in result.results.values()))
        for team, scored in result.results.items():
            _print_problems(console, scored, prefix=f"{team}: ", skip_notes=shared)
        for note in sorted(shared):
            console.print(f"every team: note: {note}", highlight=False, soft_wrap=True,
                          markup=False)
        if out is not None:
            where = display_path(out)
            console.print(f"{len(result.results)} teams written to {where}/<team>/ and the "
                          f"combined {where}/{TEAMS_SUMMARY}.csv; next: wmheval rank {where} "
                          "--out ranking/", highlight=False, soft_wrap=True, markup=False)
    if not result.ok:
        failing = [team for team, scored in result.results.items() if not scored.ok]
        typer.echo(f"{result.n_problems} problem(s) in {len(failing)} team(s): "
                   f"{', '.join(failing)}", err=True)
        raise typer.Exit(1)
