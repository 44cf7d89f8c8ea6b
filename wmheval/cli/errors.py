"""The exit-code rule every command follows: 0 success, 1 problems found in the data or a
run that failed, 2 usage and input errors (each with a message naming the file or problem).

Every error wmheval raises on purpose is a :class:`wmheval.errors.WmhevalError` and carries
its own exit code; errors from elsewhere (numpy, pandas, the operating system) that mean
unusable input are :data:`FOREIGN_INPUT_ERRORS` (exit 2); anything else is a run that
failed (exit 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer

from wmheval.errors import WmhevalError


class UsageError(WmhevalError):
    """How a command was called cannot work (an unknown name, a missing optional extra)."""

    exit_code = 2


FOREIGN_INPUT_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError)
"""Errors not raised by wmheval on purpose that still mean unusable input: exit code 2."""

REPORTED_ERRORS: tuple[type[Exception], ...] = (WmhevalError, *FOREIGN_INPUT_ERRORS,
                                                RuntimeError)
"""What a command reports as a one-line error instead of a traceback."""


def exit_code_for(error: Exception) -> int:
    """The exit code of ``error``: its class's ``exit_code`` for a :class:`WmhevalError`, 2
    for other usage and input errors (:data:`FOREIGN_INPUT_ERRORS`), 1 for anything else
    that went wrong while running (e.g. a RuntimeError such as running out of memory)."""
    if isinstance(error, WmhevalError):
        return error.exit_code
    return 2 if isinstance(error, FOREIGN_INPUT_ERRORS) else 1


def fail(error: Exception | str) -> NoReturn:
    """Print ``error: ...`` on stderr (printable even for undecodable file names) and exit
    by the rule; a plain message is a usage error (2)."""
    from wmheval.io.paths import display_text

    code = exit_code_for(error) if isinstance(error, Exception) else 2
    typer.echo(f"error: {display_text(str(error))}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turn any of :data:`REPORTED_ERRORS` raised in the block into :func:`fail`'s one-line
    message and exit code (for a command's body: ``with reported_errors(): ...``)."""
    try:
        yield
    except REPORTED_ERRORS as error:
        fail(error)
