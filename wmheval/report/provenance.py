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
                    options: Mapping[str, object] | None = None) -> Provenance:
    """Provenance of a run now: hashes every input (a folder over its sorted contents)."""
    from wmheval import __version__
    from wmheval.io.outputs import file_digest

    hashed = {}
    for name, path in (inputs or {}).items():
        path = Path(path)
        hashed[name] = (str(path.resolve()), file_digest(path) if path.exists() else "missing")
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Provenance(command, __version__, now, hashed, dict(options or {}))
