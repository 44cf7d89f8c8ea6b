"""The exit-code rule every command follows: 0 success, 1 problems found in the data or a
run that failed, 2 usage and input errors (each with a message naming the file or problem).
"""

from __future__ import annotations

from typing import NoReturn

import typer


class UsageError(Exception):
    """How a command was called cannot work (an unknown name, a missing optional extra)."""


INPUT_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError, UsageError)
"""Errors that mean bad usage or unusable input: exit code 2."""


def exit_code_for(error: Exception) -> int:
    """2 for usage and input errors (:data:`INPUT_ERRORS`), 1 for anything else that went
    wrong while running (e.g. a RuntimeError such as running out of memory)."""
    return 2 if isinstance(error, INPUT_ERRORS) else 1


def fail(error: Exception | str) -> NoReturn:
    """Print ``error: ...`` on stderr (printable even for undecodable file names) and exit
    by the rule; a plain message is a usage error (2)."""
    from wmheval.io.paths import display_text

    code = exit_code_for(error) if isinstance(error, Exception) else 2
    typer.echo(f"error: {display_text(str(error))}", err=True)
    raise typer.Exit(code)
