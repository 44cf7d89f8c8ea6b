"""Writing tables people read: CSV, Markdown, LaTeX and HTML, atomically.

Numbers are shown with the decimals that suit each column (:data:`COLUMN_FORMATS`: Dice
3, H95 2 mm, AVD 1 %, ...); CSV keeps full precision. LaTeX uses booktabs rules with
right-aligned numeric columns (same decimals per column, so the points line up), a caption
and a label; HTML is a complete page (charset, style, caption, units, sortable columns).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wmheval.io.atomic import write_text_atomic
from wmheval.vocabulary import METRIC_SPECS, SCORE_SPEC

TABLE_FORMATS = ("csv", "md", "tex", "html")
NAN_TEXT = "n/a"
"""How an undefined or missing number is shown (CSV keeps ``nan``)."""


@dataclass(frozen=True)
class ColumnFormat:
    """How a column is shown: label, unit, decimals and which direction is better."""

    label: str
    unit: str = ""
    decimals: int = 3
    better: str | None = None  # "higher", "lower" or None

    @property
    def arrow(self) -> str:
        return {"higher": "↑", "lower": "↓"}.get(self.better or "", "")


_METRIC_FORMATS = {
    name: ColumnFormat(spec.label, spec.unit, spec.decimals,
                       "higher" if spec.higher_is_better else "lower")
    for name, spec in METRIC_SPECS.items()
}
COLUMN_FORMATS: dict[str, ColumnFormat] = {
    **_METRIC_FORMATS,
    "score": ColumnFormat(SCORE_SPEC.label, SCORE_SPEC.unit, SCORE_SPEC.decimals, "lower"),
    "position": ColumnFormat("Position", "", 0, "lower"),
    "published_position": ColumnFormat("Published position", "", 0, "lower"),
    "overall_position": ColumnFormat("Overall position", "", 0, "lower"),
    "published_score": ColumnFormat("Published score", "", 4, "lower"),
    "precision": ColumnFormat("Precision", "", 3, "higher"),
    "reference_ml": ColumnFormat("Reference volume", "ml", 2),
    "prediction_ml": ColumnFormat("Predicted volume", "ml", 2),
    "share_first": ColumnFormat("Share ranked first", "", 3),
    "share_same_position": ColumnFormat("Share at own position", "", 3),
    "n_cases": ColumnFormat("Cases", "", 0),
    "n_missing": ColumnFormat("Missing", "", 0),
    "n_undefined": ColumnFormat("Undefined", "", 0),
}
"""Display format of the columns wmheval writes (see :func:`column_format` for derived
names such as ``rank_dice``, ``dice_unseen``, ``mean_tau``)."""

_RANK = re.compile(r"^(?:median|mean|min|max|q\d+)_rank(?:_named)?$|^rank_\w+$")


def column_format(name: str) -> ColumnFormat | None:
    """The display format of column ``name``, or None for a column shown as it is.

    Known names, ``<metric>_<group>`` (e.g. ``dice_unseen``), ``rank_<metric>`` (relative
    rank in [0, 1], lower is better), rank statistics, and ``*_tau`` columns.
    """
    if name in COLUMN_FORMATS:
        return COLUMN_FORMATS[name]
    head, _, group = name.partition("_")
    if head in _METRIC_FORMATS and group:
        base = _METRIC_FORMATS[head]
        return ColumnFormat(f"{base.label} ({group})", base.unit, base.decimals, base.better)
    if name.startswith("rank_") and name[5:] in _METRIC_FORMATS:
        return ColumnFormat(f"{_METRIC_FORMATS[name[5:]].label} rel. rank", "", 3, "lower")
    if _RANK.match(name):
        return ColumnFormat(name.replace("_", " "), "", 1, "lower")
    if name.endswith("_tau") or name == "tau":
        return ColumnFormat(name.replace("_", " "), "", 3, "higher")
    return None


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _decimals(series: pd.Series, column: str) -> int:
    """Decimals of a numeric column: its format's, 0 for whole numbers, else 3."""
    values = pd.to_numeric(series, errors="coerce").dropna()
    whole = bool(len(values)) and bool((values == values.round()).all())
    spec = column_format(column)
    if spec is not None:
        return 0 if spec.decimals == 0 and whole else max(spec.decimals, 0 if whole else 1)
    return 0 if whole else 3


def format_value(value, column: str, decimals: int | None = None,
                 float_format: str | None = None) -> str:
    """One cell as text: ``decimals`` (default: the column's) for numbers, :data:`NAN_TEXT`
    for NaN or missing, anything else as ``str``."""
    if value is None or isinstance(value, (bool, str)) or type(value).__name__ == "bool_":
        return NAN_TEXT if value is None else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return NAN_TEXT
    if float_format is not None and column_format(column) is None and decimals != 0:
        return float_format.format(number)
    if decimals is None:
        decimals = _decimals(pd.Series([number]), column)
    return f"{number:.{decimals}f}"


def shown_table(table: pd.DataFrame, float_format: str | None = None) -> pd.DataFrame:
    """The table as text cells with each column's decimals (what Markdown/LaTeX show)."""
    shown = pd.DataFrame(index=table.index)
    for column in table.columns:
        series = table[column]
        if _is_number(series):
            decimals = _decimals(series, str(column))
            shown[column] = [format_value(v, str(column), decimals, float_format)
                             for v in series]
        else:
            shown[column] = series.map(lambda v: NAN_TEXT if pd.isna(v) else str(v))
    return shown


def header_text(column: str, arrows: bool = True) -> str:
    """Plain-text header: label, unit and direction, e.g. ``H95 (mm) ↓``."""
    spec = column_format(column)
    if spec is None:
        return column
    text = spec.label + (f" ({spec.unit})" if spec.unit else "")
    return f"{text} {spec.arrow}" if arrows and spec.arrow else text


_LATEX_SPECIALS = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                   "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "\\": r"\textbackslash{}", "±": r"$\pm$", "↑": r"$\uparrow$",
                   "↓": r"$\downarrow$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and write ± ↑ ↓ as math)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def render_latex(table: pd.DataFrame, caption: str | None = None, label: str | None = None,
                 float_format: str | None = None) -> str:
    """A booktabs ``table`` environment: numeric columns right-aligned with a fixed number
    of decimals per column (so decimal points align), caption and label; the packages it
    needs are named in a comment at the top."""
    shown = shown_table(table, float_format)
    align = "".join("r" if _is_number(table[c]) else "l" for c in table.columns)
    lines = ["% Needs \\usepackage{booktabs} (\\toprule, \\midrule, \\bottomrule).",
             "% Numeric columns are right-aligned with the same decimals per column.",
             "\\begin{table}[htbp]", "\\centering"]
    if caption:
        lines.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    lines += [f"\\begin{{tabular}}{{{align}}}", "\\toprule",
              " & ".join(latex_escape(header_text(str(c))) for c in table.columns) + " \\\\",
              "\\midrule"]
    for _, row in shown.iterrows():
        lines.append(" & ".join(latex_escape(v) for v in row.tolist()) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def html_table(table: pd.DataFrame, caption: str | None = None, *, sortable: bool = True,
               table_id: str | None = None, row_classes: Iterable[str] | None = None,
               cell_html: dict[str, Iterable[str]] | None = None,
               float_format: str | None = None) -> str:
    """An HTML ``<table>``: caption, headers with units and better-direction marks,
    numbers right-aligned with each column's decimals and their full value in
    ``data-value`` (so sorting uses it). ``row_classes`` sets a class per row (e.g.
    ``seen``/``unseen``); ``cell_html`` replaces the escaped text of a column's cells with
    ready-made HTML (links)."""
    shown = shown_table(table, float_format)
    classes = "wmheval-table" + (" sortable" if sortable else "")
    parts = [f"<table class='{classes}'" + (f" id='{html.escape(table_id)}'" if table_id
                                               else "") + ">"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>")
    numeric = {c: _is_number(table[c]) for c in table.columns}
    for column in table.columns:
        spec = column_format(str(column))
        label = html.escape(spec.label if spec else str(column))
        unit = f" <span class='unit'>({html.escape(spec.unit)})</span>" if spec and spec.unit \
            else ""
        arrow = ""
        if spec and spec.better:
            arrow = (f" <span class='dir' title='{spec.better} is better'>"
                     f"{spec.arrow}</span>")
        title = f" title='{html.escape(str(column))}'"
        cls = " class='num'" if numeric[column] else ""
        parts.append(f"<th scope='col'{cls}{title}>{label}{unit}{arrow}</th>")
    parts.append("</tr></thead><tbody>")
    row_classes = list(row_classes) if row_classes is not None else None
    custom = {k: list(v) for k, v in (cell_html or {}).items()}
    for r, (_, row) in enumerate(table.iterrows()):
        cls = f" class='{html.escape(row_classes[r])}'" if row_classes and row_classes[r] else ""
        cells = []
        for column in table.columns:
            text = shown.iloc[r][column]
            content = custom[column][r] if column in custom else html.escape(text)
            if numeric[column]:
                value = row[column]
                data = "" if pd.isna(value) else repr(float(value))
                cells.append(f"<td class='num' data-value='{data}'>{content}</td>")
            else:
                cells.append(f"<td>{content}</td>")
        parts.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def render_table(table: pd.DataFrame, fmt: str, float_format: str | None = None,
                 caption: str | None = None, label: str | None = None) -> str:
    """Render ``table`` as text in one of :data:`TABLE_FORMATS` (CSV keeps full precision).

    ``float_format`` (e.g. ``"{:.2f}"``) applies to numeric columns without a known
    format; known columns (:func:`column_format`) keep their own decimals.
    """
    if fmt == "csv":
        return table.to_csv(index=False, na_rep="nan")
    if fmt == "md":
        shown = shown_table(table, float_format)
        shown.columns = [header_text(str(c)) for c in table.columns]
        align = ["right" if _is_number(table[c]) else "left" for c in table.columns]
        text = shown.to_markdown(index=False, colalign=align, disable_numparse=True)
        return (f"**{caption}**\n\n{text}\n" if caption else f"{text}\n")
    if fmt == "tex":
        return render_latex(table, caption, label, float_format)
    if fmt == "html":
        from wmheval.io.htmlpage import page

        body = html_table(table, caption, float_format=float_format)
        title = caption or "wmheval table"
        return page(title, f"<div class='tablewrap'>{body}</div>")
    raise ValueError(f"unknown table format {fmt!r}: expected one of {TABLE_FORMATS}")


def write_table(table: pd.DataFrame, path: str | Path, caption: str | None = None) -> Path:
    """Write ``table`` atomically in the format given by ``path``'s suffix (the LaTeX label
    is ``tab:<file stem>``)."""
    path = Path(path)
    fmt = {".csv": "csv", ".md": "md", ".tex": "tex", ".html": "html"}.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown table suffix; use .csv, .md, .tex or .html")
    label = "tab:" + re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-")
    return write_text_atomic(path, render_table(table, fmt, caption=caption, label=label))


def write_table_formats(table: pd.DataFrame, stem: str | Path,
                        formats: Iterable[str] = TABLE_FORMATS,
                        caption: str | None = None) -> list[Path]:
    """Write ``table`` as ``stem.csv``, ``stem.md``, ``stem.tex``, ``stem.html``."""
    stem = Path(stem)
    return [write_table(table, stem.with_name(f"{stem.name}.{fmt}"), caption)
            for fmt in formats]
