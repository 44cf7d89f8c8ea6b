"""The ``wmheval`` command line (typer). Each module registers one group of commands."""
