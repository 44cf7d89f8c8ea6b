"""``wmheval board``: the challenge board (init, team add, submit, status, build, recover,
verify, backup) and its life (phase add, select, withdraw, promote, rescore, history,
freeze, export).

This module parses the arguments of the board commands and
reaches the ``wmheval_leaderboard`` package (``leaderboard/``) through
:mod:`wmheval.pipelines.board`, lazily, inside each command,
so ``wmheval`` starts without it and nothing else in ``wmheval/`` imports it.
Exit codes: 0 success; 1 a rejected or failed submission, a full quota, problems found by
``verify``, a leak found by ``build``; 2 usage (no board, unknown team or phase, bad option,
a ledger newer than this wmheval).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wmheval import vocabulary as vocab
from wmheval.cli.app import app
from wmheval.cli.options import choice_enum

board_app = typer.Typer(name="board", no_args_is_help=True, rich_markup_mode=None,
                        help="The challenge board: take in submissions, keep a ledger, "
                        "publish a static board.\n\nExample: wmheval board init challenge "
                        "--reference data/ --limit 5")
team_app = typer.Typer(name="team", no_args_is_help=True, rich_markup_mode=None,
                       help="Teams of the board.\n\nExample: wmheval board team add "
                       "challenge \"Team A\" --baseline")
board_app.add_typer(team_app, name="team")
phase_app = typer.Typer(name="phase", no_args_is_help=True, rich_markup_mode=None,
                        help="Phases of the board.\n\nExample: wmheval board phase add "
                        "challenge final --subjects test --limit 2 --window total")
board_app.add_typer(phase_app, name="phase")
app.add_typer(board_app, name="board")


Window = choice_enum("Window", vocab.BOARD_WINDOWS, "The quota window.")
PerCase = choice_enum("PerCase", vocab.BOARD_PER_CASE, "Who sees a phase's per-case results.")
Visibility = choice_enum("Visibility", vocab.BOARD_VISIBILITY, "Who sees a phase's board.")
EntryRule = choice_enum("EntryRule", vocab.BOARD_ENTRY_RULES,
                        "Which submission stands for a team.")
ExportFormat = choice_enum("ExportFormat", vocab.BOARD_EXPORT_FORMATS, "What export writes.")


def _run(action):
    """Run ``action()``; map the board's errors to one line on stderr and the exit code."""
    from wmheval.cli.errors import fail
    from wmheval.errors import WmhevalError

    try:
        return action()
    except WmhevalError as error:
        from wmheval.io.paths import display_text

        typer.echo(f"error: {display_text(str(error))}", err=True)
        raise typer.Exit(error.exit_code) from None
    except (ValueError, OSError) as error:
        fail(error)


def _open(folder: Path):
    from wmheval.pipelines.board import open_board

    return open_board(folder)


@board_app.command("init")
def init(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder to create."),
    reference: Path = typer.Option(..., "--reference", help="Reference folder (the data "
                                   "release or any tree of <id>/wmh.nii.gz)."),
    name: str | None = typer.Option(None, "--name", help="Challenge name (default: the "
                                    "folder's name)."),
    limit: int = typer.Option(5, "--limit", help="Submissions per team per window (0: no "
                              "limit)."),
    window: Window = typer.Option("24h", "--window", help="Quota window."),
) -> None:
    """Create a board: DIR/challenge.toml, the ledger DIR/ledger.sqlite and its folders.

    One phase named 'test' over every subject of REF; per-case results hidden from the
    public view; the board public. Edit challenge.toml for more (see leaderboard/README.md).

    Example: wmheval board init challenge --reference synth/ --limit 5 --window 24h
    """
    def action():
        from wmheval.pipelines.board import board_class

        board = board_class().init(folder, reference, name=name, limit=limit, window=window.value)
        phase = board.config.phases[0]
        typer.echo(f"board {board.config.name!r} created in {folder}: phase {phase.name} "
                   f"({phase.subjects} subjects), limit {limit or 'none'} per "
                   f"{window.value}; edit {folder / 'challenge.toml'} for more")
        board.close()

    _run(action)


@team_app.command("add")
def team_add(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    name: str = typer.Argument(..., metavar="NAME", help="Team name (shown escaped; any "
                               "text without control characters, at most 80)."),
    baseline: bool = typer.Option(False, "--baseline", help="A baseline: badged, and out "
                                  "of the min-max normalisation by default."),
) -> None:
    """Add a team.

    Example: wmheval board team add challenge "Team A"
    """
    def action():
        with _open(folder) as board:
            team_id = board.add_team(name, baseline=baseline)
        typer.echo(f"team {name!r} added ({team_id}{', baseline' if baseline else ''})")

    _run(action)


@board_app.command("submit")
def submit(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    path: Path = typer.Argument(..., metavar="PATH", help="Predictions: a folder, .zip, "
                                ".tar or .tar.gz/.tgz in any layout 'wmheval score' accepts "
                                "(optionally under one top folder)."),
    team: str = typer.Option(..., "--team", help="Submitting team."),
    phase: str | None = typer.Option(None, "--phase", help="Phase (default: the first)."),
    note: str = typer.Option("", "--note", help="A note shown on the board."),
    method_url: str = typer.Option("", "--method-url", help="Link to the method (http(s) "
                                   "only become links)."),
) -> None:
    """Submit predictions: stored, checked against the quota, extracted and scored.

    Exit 0: accepted and scored; 1: rejected (the reason names the member and the rule),
    over the limit, or scoring failed; 2: usage (unknown team or phase, no board).
    The same bytes from the same team again return the same id and use no quota.

    Example: wmheval board submit challenge team_a.zip --team "Team A" --note "v2"
    """
    def action():
        from wmheval.pipelines.board import submission_refusals

        OverLimit, SubmissionRejected = submission_refusals()  # noqa: N806

        with _open(folder) as board:
            try:
                outcome = board.submit(path, team, phase=phase, note=note,
                                       method_url=method_url)
            except OverLimit as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(1) from None
        again = " (the same archive was submitted before: same id, no quota used)" \
            if outcome.duplicate else ""
        typer.echo(f"submission {outcome.submission_id}: {outcome.state}{again}")
        if outcome.state == "scored":
            shown = ", ".join(
                f"{k} {outcome.means[k]:.4g}" if outcome.means.get(k) is not None
                else f"{k} n/a" for k in ("dice", "h95", "avd", "recall", "f1"))
            typer.echo(f"scores: {shown}")
            typer.echo(f"position: {outcome.position}")
        typer.echo(f"quota: {outcome.quota}")
        if outcome.state in ("rejected", "failed"):
            raise SubmissionRejected(f"submission {outcome.submission_id} {outcome.state}: "
                                     f"{outcome.reason}",
                                     outcome.submission_id)

    _run(action)


@board_app.command("status")
def status(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    team: str | None = typer.Option(None, "--team", help="Only this team."),
    json_output: bool = typer.Option(False, "--json", help="JSON on stdout: a list of "
                                     "submissions (id, team, phase, state, archive_sha256, "
                                     "received_at, finished_at, scores, ...)."),
) -> None:
    """List submissions and their states.

    Example: wmheval board status challenge --team "Team A" --json
    """
    def action():
        with _open(folder) as board:
            rows = board.status(team)
        if json_output:
            typer.echo(json.dumps(rows, indent=1, ensure_ascii=False))
            return
        from wmheval.io.paths import display_text

        for row in rows:
            dice = row["scores"]["dice"] if row["scores"] else None
            shown = f"dice {dice:.4f}" if dice is not None else ""
            typer.echo(f"{row['id']}  {row['received_at'][:19]}  {row['phase']}  "
                       f"{row['state']:<8}  {display_text(row['team'])}  {shown}  "
                       f"{display_text(row['reason'])}"
                       f"{'  STALE: ' + row['stale'] if row['stale'] else ''}".rstrip())
        if not rows:
            typer.echo("no submissions")

    _run(action)


@board_app.command("build")
def build(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    out: Path = typer.Option(..., "--out", help="Folder for the static site (replaced "
                             "whole; the previous site stays if the build fails)."),
    view: str = typer.Option("public", "--view", help="public (participants), private "
                             "(organisers: per-case results too) or team:T (team T: its own "
                             "per-case results where per_case = own)."),
    bootstrap: int | None = typer.Option(None, "--bootstrap", help="Bootstrap resamples of "
                                         "the subjects for the rank intervals (default: "
                                         "challenge.toml's bootstrap, 1000)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Rebuild the boards as they stood "
                                     "at this ISO-8601 time (from the stored snapshots)."),
) -> None:
    """Build the static board: index.html (the ranking), one page per team, rules.html,
    board.csv and board.json. Works from file://; a leak check scans every file written.

    Example: wmheval board build challenge --out site --view public --bootstrap 1000
    """
    def action():
        from wmheval.pipelines.board import build_board_site_as_of

        with _open(folder) as board:
            report = build_board_site_as_of(board, out, view=view, bootstrap=bootstrap,
                                            as_of=as_of)
        typer.echo(f"{report.n_files} files written to {out} ({report.n_ranked} ranked, "
                   f"{report.n_not_ranked} not ranked; B = {report.bootstrap}); open "
                   f"{out / 'index.html'}")

    _run(action)


@board_app.command("recover")
def recover(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
) -> None:
    """Finish or roll back what a killed process left (orphan uploads, queued or
    half-scored submissions); safe to run at any time.

    Example: wmheval board recover challenge
    """
    def action():
        with _open(folder) as board:
            done = board.recover()
        for line in done:
            typer.echo(line)
        typer.echo("nothing to recover" if not done else f"{len(done)} action(s)")

    _run(action)


@board_app.command("verify")
def verify(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
) -> None:
    """Check the ledger's integrity, the event chain, every stored archive's hash and every
    run folder; exit 1 naming each problem.

    Example: wmheval board verify challenge
    """
    def action():
        from wmheval.pipelines.board import verify_board

        if not (folder / "challenge.toml").is_file():
            _open(folder)  # the usual 'no board here' message, exit 2
        problems = verify_board(folder)
        for problem in problems:
            typer.echo(f"problem: {problem}")
        if problems:
            raise typer.Exit(1)
        typer.echo("ok: ledger, event chain, archives and run folders check out")

    _run(action)


@board_app.command("backup")
def backup(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    to: Path = typer.Option(..., "--to", help="File for the copy of the ledger."),
) -> None:
    """Write a consistent copy of the ledger (SQLite online backup) while others may be
    submitting. Archives (blobs/) and run folders are immutable: copy them as files.

    Example: wmheval board backup challenge --to backups/ledger-2026-12-08.sqlite
    """
    def action():
        with _open(folder) as board:
            target = board.backup(to)
        typer.echo(f"ledger copied to {target}")

    _run(action)


def _life():
    from wmheval.pipelines.board import lifecycle

    return lifecycle()


@phase_app.command("add")
def phase_add(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    name: str = typer.Argument(..., metavar="NAME", help="Phase name (letters, digits, "
                               "_ . -)."),
    subjects: str = typer.Option("all", "--subjects", help="all, training, test or subject "
                                 "ids separated by commas."),
    limit: int = typer.Option(5, "--limit", help="Submissions per team per window (0: no "
                              "limit)."),
    window: Window = typer.Option("24h", "--window", help="Quota window."),
    per_case: PerCase = typer.Option("hidden", "--per-case", help="Who sees "
                                     "per-case results: public, own (each team its own) or "
                                     "hidden."),
    visibility: Visibility = typer.Option("public", "--board", help="Who sees "
                                          "the board: public, private or after_close."),
    opens: str = typer.Option("", "--opens", help="ISO-8601 opening time (empty: now)."),
    closes: str = typer.Option("", "--closes", help="ISO-8601 closing time (empty: never)."),
    after: str = typer.Option("", "--after", help="A phase in which a team needs a scored "
                              "submission first."),
    entry: EntryRule = typer.Option("latest", "--entry", help="latest, or "
                                    "selected (the team's selected entry, else its latest)."),
) -> None:
    """Add a phase to challenge.toml (and the ledger).

    Example: wmheval board phase add challenge final --subjects test --limit 2 --window total
    --per-case hidden --board after_close --closes 2026-12-31T23:59 --after sanity
    --entry selected
    """
    def action():
        with _open(folder) as board:
            phase = _life().add_phase(
                board, name, subjects=subjects, limit=limit, window=window.value,
                per_case=per_case.value, visibility=visibility.value, opens=opens,
                closes=closes, after=after, entry=entry.value)
        typer.echo(f"phase {phase.name} added: subjects {subjects}, limit "
                   f"{phase.limit or 'none'} per {phase.window}, per-case {phase.per_case}, "
                   f"board {phase.board}, entry {phase.entry}"
                   + (f", after {phase.after}" if phase.after else ""))

    _run(action)


@board_app.command("select")
def select(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    submission: str = typer.Argument(..., metavar="SUBMISSION", help="Submission id."),
    unselect: bool = typer.Option(False, "--unselect", help="Remove the mark."),
) -> None:
    """Mark a scored submission as its team's selected entry (entry rule 'selected').

    Example: wmheval board select challenge s0193a2b4c5d6e7f8
    """
    def action():
        with _open(folder) as board:
            digest = _life().select(board, submission, unselect=unselect)
        typer.echo(f"submission {submission} {'un' if unselect else ''}selected; snapshot "
                   f"{digest[:16]}")

    _run(action)


@board_app.command("withdraw")
def withdraw(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    submission: str = typer.Argument(..., metavar="SUBMISSION", help="Submission id."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the ledger)."),
) -> None:
    """Withdraw a scored submission: it leaves the board (still counted in the quota).

    Example: wmheval board withdraw challenge s0193a2b4c5d6e7f8 --reason "wrong files"
    """
    def action():
        with _open(folder) as board:
            digest = _life().withdraw(board, submission, reason)
        typer.echo(f"submission {submission} withdrawn; snapshot {digest[:16]}")

    _run(action)


@board_app.command("freeze")
def freeze(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    phase: str = typer.Option(..., "--phase", help="Phase to close for good."),
) -> None:
    """Close a phase for good: final snapshot and a backup; prints the snapshot hash and
    the event-chain head for the results announcement. A frozen phase refuses submissions,
    selections, withdrawals and rescoring.

    Example: wmheval board freeze challenge --phase final
    """
    def action():
        with _open(folder) as board:
            done = _life().freeze(board, phase)
        typer.echo(f"phase {phase} frozen")
        typer.echo(f"snapshot: {done['snapshot']}")
        typer.echo(f"event chain head: {done['head']}")
        typer.echo(f"backup: {done['backup']}")

    _run(action)


@board_app.command("rescore")
def rescore(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    phase: str | None = typer.Option(None, "--phase", help="Only this phase (default: every "
                                     "phase not frozen)."),
    reference: Path | None = typer.Option(None, "--reference", help="A corrected reference "
                                          "folder (replaces the challenge's reference)."),
    reason: str = typer.Option(..., "--reason", help="Why (published with the change)."),
) -> None:
    """Score every affected submission again (case cache reused), keep the old evaluations,
    switch to the new ones in one transaction; prints a before/after table.

    Example: wmheval board rescore challenge --reference reference-v2/ --reason "subject 12
    mask fixed"
    """
    def action():
        with _open(folder) as board:
            done = _life().rescore(board, reason, phase=phase, reference=reference)
        typer.echo(f"{done['rescored']} evaluation(s) switched; reason: {reason}")
        from wmheval.io.paths import display_text
        from wmheval.pipelines.board import board_life

        score = board_life().score_text
        for name, table in done["tables"].items():
            typer.echo(f"phase {name}: team | position before -> after | score before -> after")

            for row in table:
                typer.echo(f"  {display_text(row['team'])} | {row['position_before']} -> "
                           f"{row['position_after']} | {score(row['score_before'])} -> "
                           f"{score(row['score_after'])}")

    _run(action)


@board_app.command("promote")
def promote(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    source: str = typer.Option(..., "--from", help="Phase to copy from."),
    target: str = typer.Option(..., "--to", help="Phase to copy into."),
    submissions: list[str] | None = typer.Option(None, "--submissions", help="Submission "
                                                 "ids (default: every team's entry)."),
) -> None:
    """Copy submissions (by archive hash) into another phase and score them there.

    Example: wmheval board promote challenge --from validation --to final
    """
    def action():
        with _open(folder) as board:
            created = _life().promote(board, source, target, submissions or None)
        typer.echo(f"{len(created)} submission(s) promoted to {target}: "
                   f"{', '.join(created) or '-'}")

    _run(action)


@board_app.command("history")
def history(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    phase: str = typer.Option(..., "--phase", help="Phase."),
    diff: tuple[str, str] | None = typer.Option(None, "--diff", help="Two snapshots (numbers "
                                                "or hash prefixes): the changes between."),
    json_output: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """Every change of a phase's board, and per team the cause of each move: its own entry,
    a withdrawal, a re-evaluation (with the reason), a configuration change, or the field
    (which team moved which metric's best or worst bound).

    Example: wmheval board history challenge --phase test --diff 3 7
    """
    def action():
        from wmheval.pipelines.board import board_life

        with _open(folder) as board:
            items = board_life().history(board, phase, tuple(diff) if diff else None)
        if json_output:
            typer.echo(json.dumps(items, indent=1, ensure_ascii=False))
            return
        for line in board_life().history_lines(items):
            typer.echo(line)

    _run(action)


@board_app.command("export")
def export(
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    fmt: ExportFormat = typer.Option(..., "--format", help="csv or json (the board), "
                                     "challenger (per-case long table: algorithm, case, "
                                     "value, metric)."),
    out: Path = typer.Option(..., "--out", help="File to write."),
    view: str = typer.Option("public", "--view", help="public, private or team:T."),
    phase: str | None = typer.Option(None, "--phase", help="Phase (default: the first)."),
) -> None:
    """Export a phase's board, or the per-case table challengeR reads, for a view (no
    per-case value a view may not see).

    Example: wmheval board export challenge --format challenger --out cases.csv --view private
    """
    def real():
        from wmheval.io.atomic import write_text_atomic
        from wmheval.pipelines.board import board_life

        with _open(folder) as board:
            name = board.config.phase(phase).name
            text = board_life().export_rows(board, name, view, fmt.value)
        write_text_atomic(out, text)
        typer.echo(f"{fmt.value} of phase {name} ({view} view) written to {out}")

    _run(real)


def _platform_enum():
    from wmheval import vocabulary as vocab
    from wmheval.cli.options import choice_enum

    return choice_enum("Platform", vocab.PLATFORMS, "The hosted platform an export comes from.")


Platform = _platform_enum()


@board_app.command("import")
def import_results(
    platform: Platform = typer.Argument(..., metavar="PLATFORM", help="grand-challenge or "
                                        "codabench."),
    folder: Path = typer.Argument(..., metavar="DIR", help="Challenge folder."),
    path: Path = typer.Argument(..., metavar="FILE", help="The platform's results export: "
                                "grand-challenge evaluations (JSON, metrics.json inside), or "
                                "Codabench's leaderboard CSV."),
    phase: str | None = typer.Option(None, "--phase", help="Phase (default: the first)."),
) -> None:
    """Bring a hosted platform's results back, so the official ranking is wmheval's.

    Per-case exports (grand-challenge phases run with --per-case admin) become scored
    submissions of the phase (the board ranks them, with intervals); means-only exports
    are ranked exactly, without intervals, into DIR/imports/<phase>/. See
    docs/platforms.md.

    Example: wmheval board import grand-challenge challenge evaluations.json --phase test
    """
    def action():
        from wmheval.pipelines.board import import_platform_results as run_import

        with _open(folder) as board:
            report = run_import(board, platform.value, path, phase)
        for note in report.notes:
            typer.echo(f"note: {note}")
        kind = "per-case" if report.per_case else "means only"
        typer.echo(f"{platform.value} export ({kind}) into phase {report.phase}: "
                   f"{len(report.imported)} team(s) imported, {len(report.unchanged)} "
                   "already there")
        if report.ranking_dir is not None:
            typer.echo(f"official ranking (no intervals) written to {report.ranking_dir}/")
            for row in report.ranking.itertuples(index=False):
                typer.echo(f"{row.position:>3}  {row.score:.4f}  {row.team}")

    _run(action)
