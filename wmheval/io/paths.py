"""File names people can read, and what kind of thing a path is when it is not a file.

Names that are not valid UTF-8 (possible on Linux) reach Python as strings with lone
surrogates (``surrogateescape``); they cannot be printed or written to a UTF-8 table as
they are, so :func:`display_path` shows their raw bytes as ``\\xNN`` escapes.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def display_path(path: str | os.PathLike | bytes) -> str:
    """``path`` as printable UTF-8 text: undecodable bytes become ``\\xNN`` escapes."""
    text = os.fsdecode(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def display_text(text: str) -> str:
    """Any message made printable the same way (lone surrogates become escapes)."""
    return display_path(text)


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a non-regular file mode is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def not_a_file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a regular file (following links); None if it can."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "broken symbolic link" if os.path.islink(path) else "file not found"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
        if error.errno == errno.ENAMETOOLONG:
            return "path longer than the system allows"
        return f"cannot access the file ({error.strerror})"
    if stat.S_ISREG(info.st_mode):
        return None
    through = "a symbolic link to " if os.path.islink(path) else ""
    return f"not a regular file but {through}{kind_of(info.st_mode)}"


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (absolute, not resolving links)."""
    path_text, folder_text = os.path.abspath(path), os.path.abspath(folder)
    return path_text == folder_text or path_text.startswith(folder_text.rstrip(os.sep) + os.sep)


def public_path(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """``path`` as a published page may show it: relative to ``base`` (default: the current
    folder) when it lies inside it, else only its last component. Never an absolute local
    path (issue 27 item 9: a published report must not leak the author's folders)."""
    absolute = os.path.abspath(os.fsdecode(path))
    root = os.path.abspath(os.fsdecode(base) if base is not None else os.getcwd())
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # another drive
        relative = ""
    if relative and relative != os.pardir and not relative.startswith(os.pardir + os.sep):
        return display_path(Path(relative).as_posix())
    return display_path(Path(absolute).name or "root")


def public_command(command: str, base: str | os.PathLike | None = None) -> str:
    """A command line with every absolute path argument (also ``--opt=/path``) written by
    :func:`public_path`."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    shown = []
    for word in words:
        option, equals, value = (word.partition("=") if word.startswith("-") and "=" in word
                                 else ("", "", word))
        if os.path.isabs(value):
            value = public_path(value, base)
        shown.append(shlex.quote(f"{option}{equals}{value}") if equals else shlex.quote(value))
    return " ".join(shown)
