"""Writing tables people read: CSV, Markdown, LaTeX and HTML, atomically.

Numbers are shown with the decimals that suit each column (:data:`COLUMN_FORMATS`: Dice
3, H95 2 mm, AVD 1 %, ...); CSV keeps full precision. LaTeX uses booktabs rules with
right-aligned numeric columns (same decimals per column, so the points line up), a caption
and a label; HTML is a complete page (charset, style, caption, units, sortable columns).
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wmheval.errors import InputError
from wmheval.io.atomic import write_text_atomic
from wmheval.io.paths import display_path, kind_of, not_a_file_problem
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
    texts = shown.to_numpy(dtype=object)
    raw = [table.iloc[:, k].to_numpy() for k in range(table.shape[1])]
    for r in range(len(table)):
        cls = f" class='{html.escape(row_classes[r])}'" if row_classes and row_classes[r] else ""
        cells = []
        for k, column in enumerate(table.columns):
            text = texts[r, k]
            content = custom[column][r] if column in custom else html.escape(text)
            if numeric[column]:
                value = raw[k][r]
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
        return csv_safe(table).to_csv(index=False, na_rep="nan")
    if fmt == "md":
        shown = shown_table(table, float_format)
        for column in table.columns:
            if not _is_number(table[column]):
                shown[column] = shown[column].map(markdown_cell)
        shown.columns = [markdown_cell(header_text(str(c))) for c in table.columns]
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


# ---------------------------------------------------------------- tables from strangers

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
Injection"): such text cells are written with a leading ``'``."""
_ESCAPED = re.compile("^'[=+\\-@\t\r']")
MAX_TABLE_BYTES = 1 << 30
"""Largest table read (a per-case table of a million rows is about 200 MB)."""
MISSING_TOKENS = frozenset({"", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "null", "None",
                            "none"})
"""Cells of a numeric column that mean "no value" (never applied to names and ids)."""


class TableError(InputError):
    """A table cannot be read or holds values that cannot be right (names file and row)."""


def escape_formula(text: str) -> str:
    """``text`` safe for a spreadsheet: a leading ``'`` when it begins with a formula
    trigger (or with ``'``, so that :func:`unescape_formula` gives the text back exactly)."""
    return "'" + text if text and text[0] in (*FORMULA_TRIGGERS, "'") else text


def unescape_formula(text: str) -> str:
    """The inverse of :func:`escape_formula` (a cell written by wmheval reads back as it
    was)."""
    return text[1:] if _ESCAPED.match(text) else text


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell and column name escaped by :func:`escape_formula`
    (numbers stay numbers: a negative AVD difference is not a formula)."""
    safe = table.copy()
    for column in safe.columns:
        if not _is_number(safe[column]) and not pd.api.types.is_bool_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda v: escape_formula(v) if isinstance(v, str) else v)
    safe.columns = [escape_formula(c) if isinstance(c, str) else c for c in safe.columns]
    return safe


def markdown_cell(text: str) -> str:
    """A Markdown table cell: HTML escaped (renderers pass HTML through), ``|`` and line
    breaks that would end the cell or the row made harmless."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"[\r\n]+", " ", text).replace("|", "\\|")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_table_bytes(path: str | Path, max_bytes: int = MAX_TABLE_BYTES) -> bytes:
    """The bytes of a table file: a regular file (a link to one is fine) of at most
    ``max_bytes``; a folder, FIFO, device or dangling link is a :class:`TableError` naming
    it (a FIFO is never waited on)."""
    problem = not_a_file_problem(path)
    if problem is not None:
        raise TableError(f"{display_path(path)}: cannot read the table: {problem}")
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise TableError(f"{display_path(path)}: cannot read the table: "
                         f"{error.strerror}") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise TableError(f"{display_path(path)}: cannot read the table: not a regular "
                             f"file but {kind_of(info.st_mode)}")
        if info.st_size > max_bytes:
            raise TableError(f"{display_path(path)}: {info.st_size} bytes, more than the "
                             f"{max_bytes} a table may have")
        with os.fdopen(os.dup(handle), "rb") as stream:  # the size known: no 1 GiB buffer
            data = stream.read(min(info.st_size, max_bytes) + 1)
            if len(data) > info.st_size:  # it grew while read
                data += stream.read(max_bytes + 1 - len(data))
    except OSError as error:
        raise TableError(f"{display_path(path)}: cannot read the table: "
                         f"{error.strerror}") from None
    finally:
        os.close(handle)
    if len(data) > max_bytes:
        raise TableError(f"{display_path(path)}: more than the {max_bytes} bytes a table "
                         "may have")
    return data


def read_text_table(path: str | Path, max_bytes: int = MAX_TABLE_BYTES) -> pd.DataFrame:
    """A CSV from anyone, every cell as text exactly as written.

    No cell becomes a missing value by itself (team names ``NA``, ``None``, ``null`` and
    ``#N/A`` stay names); cells wmheval escaped against formula injection are read back as
    they were; column names are stripped. A file that is not a regular file, too large,
    holds NUL bytes, is not UTF-8 or is not CSV is a :class:`TableError` naming the file
    (and the line where the problem is)."""
    name = display_path(path)
    data = read_table_bytes(path, max_bytes)
    nul = data.find(b"\0")
    if nul >= 0:
        raise TableError(f"{name}, line {_line_of(data, nul)}: a NUL byte; a CSV table "
                         "is text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TableError(f"{name}, line {_line_of(data, error.start)}: not UTF-8 text "
                         f"(byte 0x{data[error.start]:02x}); save the table as UTF-8"
                         ) from None
    if not text.strip():
        raise TableError(f"{name}: the file is empty (no header, no rows)")
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise TableError(f"{name}: cannot read the table: "
                         f"{str(error).strip().splitlines()[0]}") from None
    table.columns = [unescape_formula(str(c).strip()) for c in table.columns]
    if table.columns.duplicated().any():
        twice = table.columns[table.columns.duplicated()][0]
        raise TableError(f"{name}: the column {twice!r} appears twice")
    for column in table.columns if "'" in text else ():  # no quote: nothing was escaped
        series = table[column]
        escaped = series.str.match(_ESCAPED).fillna(False).to_numpy(dtype=bool)
        if escaped.any():
            table.loc[escaped, column] = series[escaped].str[1:]
    return table


def numeric_cells(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(numbers, bad): a text column as floats, :data:`MISSING_TOKENS` as NaN; ``bad``
    marks the cells that are neither (they are NaN in ``numbers``)."""
    numbers = pd.to_numeric(series, errors="coerce").astype(float)
    unread = numbers.isna().to_numpy()
    bad = pd.Series(False, index=series.index)
    if unread.any():  # the slow path only for cells that did not read as numbers
        stripped = series[unread].astype(str).str.strip()
        blank = stripped.isin(MISSING_TOKENS)
        again = pd.to_numeric(stripped.where(~blank), errors="coerce").astype(float)
        numbers[unread] = again.to_numpy()
        bad[unread] = (again.isna() & ~blank).to_numpy()
    return numbers, bad


def with_numbers(table: pd.DataFrame, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """``table`` (as from :func:`read_text_table`) with every column outside
    ``text_columns`` whose cells are all numbers or missing made numeric (what
    ``pd.read_csv`` would give, without ever turning a name into NaN)."""
    text = set(text_columns)
    table = table.copy()
    for column in table.columns:
        if column in text:
            continue
        numbers, bad = numeric_cells(table[column])
        if not bad.any():
            table[column] = numbers
    return table
