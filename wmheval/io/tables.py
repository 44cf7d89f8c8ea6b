"""Writing tables people read: CSV, Markdown, LaTeX and HTML, atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from wmheval.io.atomic import write_text_atomic

TABLE_FORMATS = ("csv", "md", "tex", "html")


def render_table(table: pd.DataFrame, fmt: str, float_format: str = "{:.4f}",
                 caption: str | None = None) -> str:
    """Render ``table`` as text in one of :data:`TABLE_FORMATS` (CSV keeps full precision)."""
    if fmt == "csv":
        return table.to_csv(index=False, na_rep="nan")
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(
                lambda v: "nan" if pd.isna(v) else float_format.format(v))
    if fmt == "md":
        text = shown.to_markdown(index=False)
        return (f"**{caption}**\n\n{text}\n" if caption else f"{text}\n")
    if fmt == "tex":
        return shown.to_latex(index=False, caption=caption, escape=True)
    if fmt == "html":
        return shown.to_html(index=False, na_rep="nan", border=0,
                             classes="wmheval-table") + "\n"
    raise ValueError(f"unknown table format {fmt!r}: expected one of {TABLE_FORMATS}")


def write_table(table: pd.DataFrame, path: str | Path, caption: str | None = None) -> Path:
    """Write ``table`` atomically in the format given by ``path``'s suffix."""
    path = Path(path)
    fmt = {".csv": "csv", ".md": "md", ".tex": "tex", ".html": "html"}.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown table suffix; use .csv, .md, .tex or .html")
    return write_text_atomic(path, render_table(table, fmt, caption=caption))


def write_table_formats(table: pd.DataFrame, stem: str | Path,
                        formats: Iterable[str] = TABLE_FORMATS,
                        caption: str | None = None) -> list[Path]:
    """Write ``table`` as ``stem.csv``, ``stem.md``, ``stem.tex``, ``stem.html``."""
    stem = Path(stem)
    return [write_table(table, stem.with_name(f"{stem.name}.{fmt}"), caption)
            for fmt in formats]
