"""The typer application object that every command module registers on."""

import typer

app = typer.Typer(
    name="wmheval",
    help="Score, rank and analyse WMH segmentations as the MICCAI 2017 WMH Challenge does.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich's boxed panels truncate long option names at 80 columns.
    rich_markup_mode=None,
)
