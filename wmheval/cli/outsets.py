"""Running a command into an output set (contract 2): ``--out`` is replaced as a whole with a
``wmheval_manifest.json``, or left untouched when the command fails."""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from wmheval.cli.errors import fail


def command_line() -> str:
    """The command as typed (``wmheval`` and its arguments), shell-quoted."""
    return " ".join(["wmheval", *(shlex.quote(a) for a in sys.argv[1:])])


@contextlib.contextmanager
def staged(out: Path, command: str, inputs: Mapping[str, Path] | None = None,
           options: Mapping[str, object] | None = None) -> Iterator[Path]:
    """Yield the staging folder of ``out``; an :class:`OutputSetError` (a bad or busy
    ``--out``) exits 2 with its message."""
    from wmheval.io.outputs import OutputSetError, output_set

    try:
        with output_set(out, command=command, inputs=inputs, options=options) as staging:
            yield staging
    except OutputSetError as error:
        fail(error)


def final_path(path: Path, staging: Path, out: Path) -> Path:
    """Where a file written into ``staging`` lies once the set is in place."""
    try:
        return out / Path(path).relative_to(staging)
    except ValueError:
        return Path(path)


def input_paths(source: Path, add: list[tuple[Path, str | None]] | None = None,
                **others: Path | None) -> dict[str, Path]:
    """The inputs to hash for the manifest and the report's provenance."""
    inputs = {"input": Path(source)}
    for k, (path, _) in enumerate(add or [], start=1):
        inputs[f"add_{k}"] = Path(path)
    inputs.update({name: Path(path) for name, path in others.items() if path is not None})
    return inputs
