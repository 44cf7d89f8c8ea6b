"""Writing the HTML report: index page, per-team pages, overlays, embedded figure sets."""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from wmheval.io.atomic import write_text_atomic
from wmheval.io.htmlpage import markdown_html, page
from wmheval.io.names import safe_file_name
from wmheval.io.tables import html_table
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field
from wmheval.report.figuresets import FIGURES_JSON, FigureSet, read_figure_set
from wmheval.report.provenance import Provenance
from wmheval.vocabulary import STATUS_OK, ordered_scanners, parse_seen, seen_flags

CASE_COLUMNS = ("id", "scanner", "status", *METRICS, "reference_ml", "prediction_ml")
"""Columns of the per-case table on a team page (those present)."""


def _href(path: str) -> str:
    """A relative URL for a POSIX relative path (spaces and odd characters quoted)."""
    return html.escape(quote(path, safe="/._-"), quote=True)


def policy_text(field: Field) -> str:
    """The missing/undefined policy of the field in words
    (:func:`wmheval.scoring.policy.describe_policy`), plus the notes of loading it."""
    from wmheval.scoring.policy import describe_policy  # contract 1 (issue 8)

    text = describe_policy(field.policy)
    if field.notes:
        text += "\n\n" + "\n".join(f"- {note}" for note in field.notes)
    return text


def _seen_flags(field: Field) -> dict[str, bool | None]:
    """Per subject id: seen in training (True), unseen (False) or unknown (None), read by
    :func:`wmheval.vocabulary.parse_seen` as ``rank --split`` and summary.csv read it."""
    if field.cases is None or "seen_in_training" not in field.cases:
        return {}
    flags = field.cases.drop_duplicates("id").set_index("id")["seen_in_training"]
    return {str(k): parse_seen(v) for k, v in flags.items()}


def _group_means(field: Field, mask: np.ndarray) -> np.ndarray:
    """(teams, metrics) means of the policy-applied cube over the subjects in ``mask``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(field.cube.values[:, mask, :], axis=1)


def leaderboard_table(field: Field, ranking: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard: position, team, score, metric means, Dice on seen and unseen
    scanners (per-case fields with seen/unseen subjects), counts, published position."""
    columns = ["position", "team", "score", *METRICS]
    table = ranking[columns].copy()
    seen = _seen_flags(field)
    if field.has_cases and seen:
        flags = [seen.get(str(s)) for s in field.cube.subjects]
        order = [list(field.teams).index(t) for t in table["team"]]
        k = list(METRICS).index("dice")
        # Unknown subjects are in neither group (as in `rank --split unseen`, summary.csv).
        for name, mask in (("dice_seen", np.array([f is True for f in flags])),
                           ("dice_unseen", np.array([f is False for f in flags]))):
            if mask.any():
                table[name] = _group_means(field, mask)[order, k]
    for column in ("n_cases", "n_missing", "n_undefined", "published_position"):
        if column in ranking and ranking[column].notna().any():
            table[column] = ranking[column].to_numpy()
    return table


def scanner_tables(field: Field, ranking: pd.DataFrame, weights=None
                   ) -> list[tuple[str, bool | None, pd.DataFrame]]:
    """Per scanner (manifest order): (scanner, seen in training or None, the ranking on that
    scanner's subjects).

    Each table is the challenge ranking of the team means on the scanner's subjects (same
    missing/undefined policy and ``weights``), as ``wmheval rank --split <scanner>`` ranks
    them: ``position`` and ``score`` are the scanner's own, best first;
    ``overall_position`` is the team's position in ``ranking`` (the whole field).
    """
    from wmheval.ranking.minmax import minmax_ranking

    if not field.has_cases:
        return []
    scanners = np.array(field.cube.scanners)
    names = ordered_scanners(scanners)
    seen = _seen_flags(field)
    teams = list(field.teams)
    overall = dict(zip(ranking["team"], ranking["position"], strict=True))
    result = []
    for scanner in names:
        mask = scanners == scanner
        means = _group_means(field, mask)
        _, scores, positions = minmax_ranking(means, weights, METRICS)
        table = pd.DataFrame(means, columns=list(METRICS))
        table.insert(0, "score", scores)
        table.insert(0, "team", teams)
        table.insert(0, "position", positions)
        table["overall_position"] = [overall.get(t) for t in teams]
        table["n_cases"] = int(mask.sum())
        order = np.lexsort((np.array(teams, dtype=object).astype(str), positions))
        table = table.iloc[order].reset_index(drop=True)
        ids = [s for s, m in zip(field.cube.subjects, mask, strict=True) if m]
        known = {seen.get(str(i)) for i in ids} - {None}
        flag = known.pop() if len(known) == 1 else None
        result.append((scanner, flag, table))
    return result


def png_css_width(path: Path) -> float | None:
    """The width in CSS pixels at which a PNG shows at its print size (pixels and the
    ``pHYs`` resolution matplotlib writes), so a small figure is not blown up; None when
    the file has no resolution."""
    import struct

    try:
        with open(path, "rb") as stream:
            head = stream.read(1 << 16)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width = struct.unpack(">I", head[16:20])[0]
    at = head.find(b"pHYs")
    if at < 0:
        return None
    per_metre, _, unit = struct.unpack(">IIB", head[at + 4:at + 13])
    if unit != 1 or per_metre <= 0:
        return None
    return width * 96.0 / (per_metre * 0.0254)


def _figure_block(figure: dict, out: Path) -> str:
    png = figure["png"].relative_to(out).as_posix()
    css = png_css_width(figure["png"])
    style = f" style='width:{css:.0f}px'" if css else ""
    links = [f"<a href='{_href(png)}'>PNG</a>"]
    if figure.get("svg"):
        links.append(f"<a href='{_href(figure['svg'].relative_to(out).as_posix())}'>SVG</a>")
    return (f"<figure class='fig'><a href='{_href(png)}'><img src='{_href(png)}'{style} "
            f"alt='{html.escape(figure['title'])}' loading='lazy'></a><figcaption>"
            f"<h3>{html.escape(figure['title'])}</h3><p>{html.escape(figure['explanation'])}"
            f"</p><p class='links'>{' · '.join(links)}</p></figcaption></figure>")


def _figure_set_html(figure_set: FigureSet, out: Path) -> str:
    parts = [_figure_block(f, out) for f in figure_set.figures]
    if figure_set.tables:
        items = []
        for table in figure_set.tables:
            links = [f"<a href='{_href(table[k].relative_to(out).as_posix())}'>"
                     f"{k.upper()}</a>" for k in ("html", "csv") if table.get(k)]
            items.append(f"<li>{html.escape(table['title'])}: {' · '.join(links)}</li>")
        parts.append("<h3>Tables</h3><ul>" + "".join(items) + "</ul>")
    return "\n".join(parts)


def _import_extra(figure_set: FigureSet, out: Path, index: int) -> FigureSet:
    """Copy an extra figure set's files under ``out/extras/`` so the report is self-contained."""
    from wmheval.report.figuresets import MAX_FIGURE_FILE_BYTES, read_regular_file

    target = out / "extras" / f"{index}_{safe_file_name(figure_set.title).lower()}"
    taken: set[str] = set()

    def copied(entry: dict, keys: tuple[str, ...]) -> dict:
        entry = dict(entry)
        for key in keys:
            if entry.get(key):
                source = Path(entry[key])
                # Read again without following links (checked when the set was read).
                data = read_regular_file(source, MAX_FIGURE_FILE_BYTES)
                destination = target / (safe_file_name(source.stem, taken)
                                        + source.suffix.lower())
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(data)
                entry[key] = destination
        return entry

    return FigureSet(target, figure_set.title,
                     [copied(f, ("png", "svg")) for f in figure_set.figures],
                     [copied(t, ("csv", "html")) for t in figure_set.tables])


def _nav(prefix: str, sections: Sequence[tuple[str, str]]) -> str:
    links = "".join(f"<a href='{prefix}index.html#{anchor}'>{html.escape(label)}</a>"
                    for anchor, label in sections)
    return (f"<header class='site'><a class='brand' href='{prefix}index.html'>wmheval report"
            f"</a>{links}</header>\n")


def _provenance_html(provenance: Provenance | None) -> str:
    if provenance is None:
        return "<p>No provenance recorded.</p>"
    rows = [("Command", f"<code>{html.escape(provenance.command)}</code>"),
            ("wmheval version", html.escape(provenance.version)),
            ("Created", html.escape(provenance.created_utc))]
    for name, (path, digest) in provenance.inputs.items():
        rows.append((f"Input: {name}", f"{html.escape(path)}<br><code>sha256 "
                                       f"{html.escape(digest)}</code>"))
    if provenance.options:
        options = ", ".join(f"{k}={v}" for k, v in provenance.options.items())
        rows.append(("Options", f"<code>{html.escape(options)}</code>"))
    return "<dl class='prov'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + \
        "</dl>"


def _pick_cases(rows: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """Best, median and worst scored case by Dice (fewer when there are fewer cases)."""
    scored = rows[(rows["status"] == STATUS_OK) & np.isfinite(rows["dice"].astype(float))]
    scored = scored.sort_values(["dice", "id"], ascending=[False, True], kind="stable")
    if scored.empty:
        return []
    picks = [("best", scored.iloc[0]), ("median", scored.iloc[len(scored) // 2]),
             ("worst", scored.iloc[-1])]
    seen, unique = set(), []
    for label, row in picks:
        if row["id"] not in seen:
            seen.add(row["id"])
            unique.append((label, row))
    return unique


def _prediction_file(row: pd.Series, team: str, predictions: Path | None
                     ) -> tuple[Path | None, str]:
    """The prediction a case was scored from, and where it was looked for.

    In order: ``prediction_path`` of cases.csv read against the score folder (``wmheval
    score`` records it relative to its output folder, so a score folder moved with its
    submission still finds it), the same path as written (absolute, or relative to the
    current folder as older versions wrote it), then ``<predictions>/<team>/<id>/
    result.nii.gz`` (or ``<id>.nii.gz``). Returns (None, the places tried) when none is a
    file.
    """
    recorded = str(row.get("prediction_path", "") or "")
    tried: list[str] = []
    if recorded and recorded != "nan":
        folder = str(row.get("score_folder", "") or "")
        candidates = [Path(folder) / recorded] if folder and folder != "nan" else []
        candidates.append(Path(recorded))
        for candidate in candidates:
            if candidate.is_file():
                return candidate, ""
        shown = recorded if not Path(recorded).is_absolute() else \
            ".../" + "/".join(Path(recorded).parts[-3:])
        tried.append(f"{shown} (cases.csv, relative to the score folder)")
    if predictions is not None and _one_component(team) and _one_component(str(row["id"])):
        for candidate in (predictions / team / str(row["id"]) / "result.nii.gz",
                          predictions / team / f"{row['id']}.nii.gz"):
            if candidate.is_file():
                return candidate, ""
        tried.append(f"--predictions {predictions.name}/{team}/{row['id']}/result.nii.gz")
    return None, "; ".join(tried) or "no prediction_path in cases.csv"


def _missing_overlay_text(have_reference: bool, lost: list[str], problems: list[str]) -> str:
    """Why a team page lacks some or all overlays, with the option that fixes it."""
    if not have_reference:
        return ("No overlays: pass --reference (the reference folder, release layout) to "
                "draw the best, median and worst case.")
    parts = []
    if lost:
        parts.append(f"{len(lost)} overlay(s) not drawn: the prediction file was not found "
                     f"(looked for {lost[0]}): the score folder was moved without its "
                     "submission, or an older wmheval recorded the path relative to where "
                     "score ran. Pass --predictions FOLDER (a folder of submissions, "
                     "FOLDER/<team>/<id>/result.nii.gz), or keep the score folder and the "
                     "submission at the same relative place.")
    if problems:
        parts.append(f"{len(problems)} overlay(s) not drawn: {problems[0]}; check that "
                     "--reference is the reference the team was scored against.")
    return " ".join(parts) or "No scored case to draw."


def _one_component(name: str) -> bool:
    """Whether ``name`` names an entry of a folder (not ``..``, no separator, no NUL), so
    that ``folder / name`` stays inside ``folder``."""
    return name not in ("", ".", "..") and not any(c in name for c in ("/", "\\", "\0")) \
        and os.sep not in name and (os.altsep is None or os.altsep not in name)


def _team_page(team: str, slug: str, rows: pd.DataFrame, position, out: Path,
               subjects: dict[str, Path], overlays: bool, nav: str,
               note: Callable[[str], None], predictions: Path | None = None
               ) -> tuple[Path, list[Path]]:
    seen = {True: "seen", False: "unseen"}
    shown = rows[[c for c in CASE_COLUMNS if c in rows.columns]].copy()
    flags = ({index: None if pd.isna(f) else bool(f)
              for index, f in seen_flags(rows["seen_in_training"]).items()}
             if "seen_in_training" in rows else None)
    row_classes = [seen.get(f, "") for f in flags.values()] if flags is not None else None
    scanner_cells = None
    if flags is not None and "scanner" in shown:
        scanner_cells = [html.escape(str(s)) + (f"<span class='tag {seen[f]}'>{seen[f]}</span>"
                                                if f is not None else "")
                         for s, f in zip(shown["scanner"], flags.values(), strict=True)]
    table = html_table(shown, f"Every case of {team} (click a column to sort)",
                       row_classes=row_classes,
                       cell_html={"scanner": scanner_cells} if scanner_cells else None)
    figures_html, written = [], []
    problems: list[str] = []
    lost: list[str] = []
    if overlays and subjects:
        from wmheval.plots.overlay import show_case

        for label, row in _pick_cases(rows):
            case_id = str(row["id"])
            prediction, tried = _prediction_file(row, team, predictions)
            if case_id not in subjects:
                problems.append(f"subject {case_id} is not in the --reference folder")
                note(f"overlay of {team} / {case_id} skipped: not in the reference folder")
                continue
            if prediction is None:
                lost.append(tried)
                note(f"overlay of {team} / {case_id} skipped: prediction not found ({tried})")
                continue
            flag = seen.get(flags[row.name], "") if flags is not None else ""
            name = f"overlays/{slug}_{safe_file_name(case_id)}.png"
            try:
                figure = show_case(subjects[case_id], prediction, out / "teams" / name,
                                   title=f"{team}, subject {case_id} ({row.get('scanner', '')}"
                                         f"{', ' + flag if flag else ''})",
                                   with_t1=False, n_slices=2, panel_inches=2.2)
            except (OSError, ValueError) as error:
                note(f"overlay of {team} / {case_id} skipped: {error}")
                continue
            written.append(figure.path)
            figures_html.append(
                f"<figure><a href='{_href(name)}'><img src='{_href(name)}' loading='lazy' "
                f"alt='overlay of {html.escape(team)} on subject {html.escape(case_id)}'></a>"
                f"<figcaption><b>{label} case</b>: subject {html.escape(case_id)}, Dice "
                f"{float(row['dice']):.3f} in cases.csv, {figure.dice:.3f} from the drawn "
                f"voxels (TP {figure.counts['tp']}, FP {figure.counts['fp']}, FN "
                f"{figure.counts['fn']}).</figcaption></figure>")
    overlay_html = ""
    if figures_html:
        overlay_html = (
            "<h2 id='overlays'>Best, median and worst case</h2><p>Among the scored cases "
            "(missing and failed ones have no picture), by Dice. The two axial slices with "
            "most reference lesion, cropped to the head: FLAIR on the left, on the right "
            "true positives (yellow), false positives (vermillion) and false negatives (sky "
            "blue); the ignored region (label 2, purple) only where present.</p>"
            f"<div class='grid3'>{''.join(figures_html)}</div>")
    if overlays and (lost or problems or not figures_html):
        overlay_html += "<p class='note'>" + html.escape(
            _missing_overlay_text(bool(subjects), lost, problems)) + "</p>"
    body = (f"<h1>{html.escape(team)}</h1><p class='lead'>Official position "
            f"{html.escape(str(position))}; {len(rows)} cases. "
            "<a href='../index.html#leaderboard'>Back to the leaderboard</a></p>"
            f"{overlay_html}<h2 id='cases'>Cases</h2><div class='tablewrap'>{table}</div>")
    path = write_text_atomic(out / "teams" / f"{slug}.html",
                             page(f"{team}: wmheval report", body, nav=nav))
    return path, written


SECTIONS = (("leaderboard", "Leaderboard"), ("scanners", "Scanners"),
            ("figures", "Figures"), ("teams", "Teams"), ("provenance", "Provenance"))


def write_report(field: Field, out: str | Path, *, reference: str | Path | None = None,
                 predictions: str | Path | None = None, extra_sets: Sequence[str | Path] = (),
                 provenance: Provenance | None = None,
                 title: str | None = None, overlays: bool = True,
                 progress: Callable[[str], None] | None = None,
                 weights=None) -> list[Path]:
    """Write the report pages of ``field`` into ``out``; returns the files written.

    The ranking analysis (:func:`wmheval.pipelines.sensitivity.write_ranking_report`) is
    written into ``out`` first by the pipeline; its ``figures.json``, if there, becomes the
    Figures section. ``weights``: the metric weights of the ranking shown (None: equal).
    ``reference``: the reference
    folder (release layout) whose images the team pages' overlays are drawn from;
    ``predictions``: where to find a team's predictions (``<team>/<id>/result.nii.gz``)
    when the paths recorded in cases.csv no longer exist.
    ``extra_sets``: folders with a ``figures.json`` (contract 3), copied in as sections.
    """
    from wmheval.ranking.leaderboard import rank_field

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _message: None)
    written: list[Path] = []
    # Extra sets from others are checked before any work (a bad one fails at once).
    checked_extras = [read_figure_set(Path(folder)) for folder in extra_sets]
    step("report pages")
    ranking = rank_field(field, weights)
    own = read_figure_set(out, "Ranking analysis") if (out / FIGURES_JSON).is_file() else None
    extras = [_import_extra(figure_set, out, k)
              for k, figure_set in enumerate(checked_extras, start=1)]
    written += [f[key] for s in extras for f in [*s.figures, *s.tables]
                for key in ("png", "svg", "csv", "html") if f.get(key)]

    subjects: dict[str, Path] = {}
    if reference is not None:
        from wmheval.io.layouts import find_reference_cases

        subjects = {c.id: c.path.parent for c in find_reference_cases(reference)}
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    team_pages = []
    if field.cases is not None:
        nav = _nav("../", SECTIONS)
        positions = dict(zip(ranking["team"], ranking["position"], strict=True))
        for team in ranking["team"]:
            slugs[team] = safe_file_name(str(team), taken)
            rows = field.cases[field.cases["team"] == team]
            step(f"team page {team}")
            path, pictures = _team_page(str(team), slugs[team], rows, positions[team], out,
                                        subjects, overlays and reference is not None, nav,
                                        step, Path(predictions) if predictions else None)
            team_pages.append(path)
            written += [path, *pictures]

    board = leaderboard_table(field, ranking)
    team_cells = [f"<a href='teams/{_href(slugs[t])}.html'>{html.escape(str(t))}</a>"
                  if t in slugs else html.escape(str(t)) for t in board["team"]]
    label = "all subjects" if field.split == "all" else f"split {field.split}"
    n_cases = (f", {len(field.cube.subjects)} cases" if field.has_cases else
               " (means only)")
    parts = [f"<h1>{html.escape(title or 'WMH challenge ranking')}</h1>",
             f"<p class='lead'>{len(board)} teams{n_cases}, {label}. Ranked by the MICCAI "
             "2017 WMH Challenge rule: per metric each team's mean is placed between the "
             "best (0) and worst (1) team; the score is the mean of these five relative "
             "ranks (lower is better).</p>",
             "<h2 id='leaderboard'>Leaderboard</h2>",
             f"<div class='note'>{markdown_html(policy_text(field))}</div>",
             "<div class='tablewrap'>" + html_table(
                 board, "Official ranking: click a column header to sort; ↑ higher is "
                 "better, ↓ lower is better", table_id="leaderboard-table",
                 cell_html={"team": team_cells}) + "</div>",
             "<p class='links'>Download: " + " · ".join(
                 f"<a href='ranking.{ext}'>{name}</a>" for ext, name in
                 (("csv", "CSV"), ("md", "Markdown"), ("tex", "LaTeX"), ("html", "HTML"))
                 if (out / f"ranking.{ext}").is_file()) + "</p>"]
    scanners = scanner_tables(field, ranking, weights)
    parts.append("<h2 id='scanners'>Scanners</h2>")
    if scanners:
        parts.append("<p>The ranking on each scanner's subjects alone (same "
                     "missing/undefined policy and rule, as <code>wmheval rank --split "
                     "&lt;scanner&gt;</code>): position and score are the scanner's own; "
                     "overall_position is the position on the whole field. Scanners marked "
                     "<span class='tag unseen'>unseen</span> were "
                     "not in the training data.</p><p>" + " · ".join(
                         f"<a href='#scanner-{safe_file_name(s)}'>{html.escape(s)}</a>"
                         for s, _, _ in scanners) + "</p>")
        for scanner, flag, table in scanners:
            tag = "" if flag is None else (f"<span class='tag {'seen' if flag else 'unseen'}'>"
                                           f"{'seen' if flag else 'unseen'}</span>")
            cells = [f"<a href='teams/{_href(slugs[t])}.html'>{html.escape(str(t))}</a>"
                     if t in slugs else html.escape(str(t)) for t in table["team"]]
            parts.append(f"<h3 id='scanner-{safe_file_name(scanner)}'>{html.escape(scanner)}{tag}"
                         "</h3><div class='tablewrap'>" + html_table(
                             table, None, cell_html={"team": cells})
                         + "</div>")
    else:
        parts.append("<p>Per-scanner results need per-case input (a folder of wmheval score "
                     "outputs).</p>")
    parts.append("<h2 id='figures'>Figures</h2>")
    if own is not None and own.figures:
        parts.append(_figure_set_html(own, out))
    else:
        parts.append("<p>No figures (run without --no-figures).</p>")
    for extra in extras:
        anchor = f"extra-{safe_file_name(extra.title)}"
        parts.append(f"<h2 id='{anchor}'>{html.escape(extra.title)}</h2>")
        parts.append(_figure_set_html(extra, out))
    parts.append("<h2 id='teams'>Teams</h2>")
    if slugs:
        parts.append("<ul>" + "".join(
            f"<li><a href='teams/{_href(slugs[t])}.html'>{html.escape(str(t))}</a></li>"
            for t in ranking["team"]) + "</ul>")
    else:
        parts.append("<p>Team pages need per-case input.</p>")
    parts.append("<h2 id='provenance'>Provenance</h2>" + _provenance_html(provenance))
    nav = _nav("", SECTIONS + tuple((f"extra-{safe_file_name(e.title)}", e.title) for e in extras))
    index = write_text_atomic(out / "index.html",
                              page(title or "wmheval report", "\n".join(parts), nav=nav))
    return [*written, index]
