"""The HTML report: one self-contained page set (inline CSS and JS, no CDN, relative links)
that works offline from ``file://`` and from any static web server.

:func:`write_report` writes the pages (the pipeline writes the ranking analysis first):
``index.html`` (leaderboard, per-scanner sections, figures with how-to-read notes, extra
figure sets, provenance) and ``teams/<team>.html`` (per-case table, overlays of the best,
median and worst case). Extra figure sets are folders with a ``figures.json``
(:func:`read_figure_set`).
"""

from wmheval.report.build import write_report
from wmheval.report.figuresets import FigureSet, FigureSetError, read_figure_set
from wmheval.report.provenance import Provenance, make_provenance

__all__ = ["FigureSet", "FigureSetError", "Provenance", "make_provenance", "read_figure_set",
           "write_report"]
