"""Atomic output: write to a temporary file in the same folder, then rename over the target."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` at once.

    Readers never see a half-written file, and a failure leaves any old ``target`` intact.
    The temporary name keeps the target's suffixes (writers that infer formats need them).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix,
                                         dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp creates 0600 files; give the result the usual permissions (umask applied).
        os.chmod(temporary_path, 0o666 & ~_current_umask())
        os.replace(temporary_path, target)
    finally:
        if temporary_path.exists():
            temporary_path.unlink()


def write_text_atomic(target: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(target)


def write_atomic(target: str | Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(temporary_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as temporary:
        writer(temporary)
    return Path(target)
