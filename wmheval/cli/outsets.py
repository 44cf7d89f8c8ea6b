"""The command as typed, for the output set's provenance (the pipelines open the output
sets themselves: :mod:`wmheval.pipelines`)."""

from __future__ import annotations

import shlex
import sys


def command_line() -> str:
    """The command as typed (``wmheval`` and its arguments), shell-quoted."""
    return " ".join(["wmheval", *(shlex.quote(a) for a in sys.argv[1:])])
