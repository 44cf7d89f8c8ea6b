"""Entry point of the ``wmheval`` console script: imports every command module."""

from wmheval.cli import agreement  # noqa: F401, I001  (registers `wmheval agreement`)
from wmheval.cli import baseline  # noqa: F401, I001  (registers `wmheval baseline`)
from wmheval.cli import board  # noqa: F401, I001  (registers `wmheval board`: the board app)
from wmheval.cli import demo  # noqa: F401, I001  (registers `wmheval demo`)
from wmheval.cli import platforms  # noqa: F401, I001  (registers `platform-run`, `export`)
from wmheval.cli import rank  # noqa: F401, I001  (registers `wmheval rank`, `sensitivity`)
from wmheval.cli import score  # noqa: F401  (registers `wmheval score`)
from wmheval.cli import synth  # noqa: F401, I001  (registers `synth`, `synth-submissions`, `show`)
from wmheval.cli.app import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
