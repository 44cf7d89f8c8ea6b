"""One palette keyed by team, shared by every figure, and labels every font can draw.

A team keeps its colour in every figure of an output set: :func:`team_colours` assigns the
colours by the sorted team names (not by the order a figure draws them in), from the
Okabe-Ito colour-blind-safe palette for up to 8 teams and from ``tab20`` without its greys
beyond. The reference (``REFERENCE_COLOUR``) is a dark grey no team gets.

:func:`drawable` replaces characters the installed fonts cannot draw (e.g. CJK team names
without a CJK font) by ``<U+XXXX>`` codes, so a name never shows as empty boxes, and
matplotlib's "Glyph missing" warnings are not raised at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
"""Okabe & Ito (2008): distinguishable with every common colour-vision deficiency."""
REFERENCE_COLOUR = "#5f5f5f"
"""The reference's colour (a grey that no team colour is)."""


def _tab20_without_greys() -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    colours = [to_hex(c) for c in colormaps["tab20"].colors]
    return [c for k, c in enumerate(colours) if k not in (14, 15)]


def team_colours(teams: Iterable[str]) -> dict[str, str]:
    """Colour of every team, keyed by name: the same team gets the same colour in every
    figure drawn from the same field, whatever order the figure draws the teams in."""
    names = sorted({str(t) for t in teams})
    palette = list(OKABE_ITO) if len(names) <= len(OKABE_ITO) else _tab20_without_greys()
    return {name: palette[k % len(palette)] for k, name in enumerate(names)}


@lru_cache(maxsize=1)
def _font_characters() -> frozenset[int]:
    """Code points the default font family (and its fallbacks) can draw."""
    from matplotlib import font_manager, rcParams
    from matplotlib.ft2font import FT2Font

    covered: set[int] = set()
    families = rcParams["font.family"]
    names = []
    for family in families:
        names += rcParams.get(f"font.{family}", []) if family in (
            "sans-serif", "serif", "monospace", "cursive", "fantasy") else [family]
    for name in names:
        try:
            path = font_manager.findfont(name, fallback_to_default=False)
        except (ValueError, RuntimeError):
            continue
        try:
            covered |= set(FT2Font(path).get_charmap())
        except (OSError, RuntimeError):
            continue
    if not covered:
        covered = set(range(32, 0x250))
    return frozenset(covered)


def drawable(text: str) -> str:
    """``text`` with every character the fonts cannot draw written as ``<U+XXXX>``."""
    covered = _font_characters()
    if all(ord(c) in covered or c in "\n\t" for c in text):
        return text
    return "".join(c if ord(c) in covered or c in "\n\t" else f"<U+{ord(c):04X}>"
                   for c in text)


def drawable_all(texts: Iterable[str]) -> list[str]:
    """:func:`drawable` of each text."""
    return [drawable(str(t)) for t in texts]
