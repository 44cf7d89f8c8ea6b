"""What a report was made from: command, wmheval version, inputs with content hashes, date."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    """The command line, version, UTC time, inputs ``{name: (path, sha256)}`` and options."""

    command: str
    version: str
    created_utc: str
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)


def make_provenance(command: str, inputs: Mapping[str, str | Path] | None = None,
                    options: Mapping[str, object] | None = None,
                    base: str | Path | None = None) -> Provenance:
    """Provenance of a run now: hashes every input (a folder over its sorted contents).

    Paths are recorded as a published page may show them
    (:func:`wmheval.io.paths.public_path`: relative to ``base``, default the current
    folder, or just the name), never as absolute local paths; the hash identifies the
    input. Absolute paths in ``command`` are shortened the same way."""
    from wmheval import __version__
    from wmheval.io.outputs import file_digest
    from wmheval.io.paths import public_command, public_path

    hashed = {}
    for name, path in (inputs or {}).items():
        path = Path(path)
        hashed[name] = (public_path(path, base),
                        file_digest(path) if path.exists() else "missing")
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    options = {k: (public_path(v, base) if isinstance(v, Path) and v.is_absolute() else v)
               for k, v in dict(options or {}).items()}
    return Provenance(public_command(command, base), __version__, now, hashed, options)
