"""The typer application object that every command module registers on."""

import typer

app = typer.Typer(
    name="wmheval",
    help="Score, rank and analyse WMH segmentations as the MICCAI 2017 WMH Challenge does."
    "\n\n\b\nExample:\n  wmheval score data/ my_submission/ --out scores/\n"
    "  wmheval rank leaderboard/wmh2017_leaderboard.csv --add scores/ --out rk/",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich's boxed panels truncate long option names at 80 columns.
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from wmheval import __version__

        typer.echo(f"wmheval {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    # Options that come before any command (only --version).
    pass
