"""``wmheval agreement``: read or score the inputs, analyse volumetric agreement, and write
the tables, figures and ``figures.json`` as one output set."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from wmheval.analysis.agreement import (
    DEFAULT_LOAD_GROUPS,
    AgreementResult,
    analyse_agreement,
    grade_table,
    read_score_folders,
    readable_statistics,
    volumes_from_cases,
)
from wmheval.analysis.fazekas import DEFAULT_FOLDS, read_ratings
from wmheval.io.atomic import write_text_atomic
from wmheval.io.outputs import output_set
from wmheval.io.tables import write_table, write_table_formats
from wmheval.plots.agreement import (
    EXPLANATIONS,
    FIGURES_JSON,
    plot_bland_altman,
    plot_dice_vs_volume,
    plot_fazekas_confusion,
    plot_volume_components,
    plot_volume_scatter,
    plot_volumes_by_grade,
)


def write_agreement_tables(result: AgreementResult, out: str | Path
                           ) -> list[tuple[Path, str, str]]:
    """Write every table of ``result`` into ``out`` (atomically, file by file).

    Returns (path, title, kind) for each table written (kind ``csv`` or ``html``); the
    figures module lists them in ``figures.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, str, str]] = []

    def tables(table: pd.DataFrame, stem: str, title: str) -> None:
        for path in write_table_formats(table, out / stem, caption=title):
            written.append((path, title, path.suffix.lstrip(".")))

    written.append((write_table(result.volumes, out / "volumes.csv"),
                    "Per-subject volumes (mL): reference, compared, TP, FP, FN", "csv"))
    if len(result.statistics):
        written.append((write_table(result.statistics, out / "agreement.csv"),
                        "Agreement statistics, every number with its CI", "csv"))
        tables(readable_statistics(result.statistics), "agreement_table",
               "Volume agreement per team and group (95 % CIs in brackets)")
    tables(result.strata, "load_groups", "Dice, recall and volume error by lesion-load group")
    if result.fazekas_summary is not None:
        tables(result.fazekas_summary, "fazekas_summary",
               "Fazekas grades from volume: share correct and thresholds")
    if result.fazekas_confusion is not None:
        tables(result.fazekas_confusion, "fazekas_confusion",
               "Fazekas grades: confusion (rated x estimated), per volume source")
    notes = "\n".join(f"- {n}" for n in [*result.problems, *result.notes]) or "- none"
    written.append((write_text_atomic(out / "notes.md",
                                      "# Agreement analysis: notes\n\n" + notes + "\n"),
                    "What was left out or skipped, and why", "md"))
    return written


def _relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def write_agreement_report(result: AgreementResult, out: str | Path, figures: bool = True
                           ) -> list[tuple[Path, str]]:
    """Write tables, figures (PNG + SVG) and ``figures.json`` into ``out``.

    ``figures.json`` is the report's extension point: a list of {"title", "explanation",
    "png", "svg"} entries (paths relative to ``out``), the first also with "tables" (every
    table as CSV and, where written, HTML). Returns every file with a description.
    """
    out = Path(out)
    tables = write_agreement_tables(result, out)
    labels = {"csv": "CSV", "md": "Markdown", "tex": "LaTeX", "html": "HTML"}
    written = [(path, f"{title} ({labels.get(kind, kind.upper())})")
               for path, title, kind in tables]
    entries: list[dict] = []

    def add(paths: list[Path], title: str, key: str) -> None:
        png, svg = (p for p in paths)
        entries.append({"title": title, "explanation": EXPLANATIONS[key],
                        "png": _relative(png, out), "svg": _relative(svg, out)})
        written.extend([(png, f"{title} (PNG)"), (svg, f"{title} (SVG)")])

    if figures and len(result.volumes.dropna(subset=["reference_ml", "prediction_ml"])):
        scales = list(dict.fromkeys(result.statistics["scale"])) if len(
            result.statistics) else ["ml"]
        for scale in scales:
            suffix = "" if scale == "ml" else "_log"
            label = "" if scale == "ml" else " (log volumes)"
            add(plot_volume_scatter(result, out / f"scatter{suffix}", scale),
                f"Volume agreement{label}", "scatter")
            add(plot_bland_altman(result, out / f"bland_altman{suffix}", scale),
                f"Bland–Altman{label}", "bland_altman")
        add(plot_dice_vs_volume(result, out / "dice_vs_volume"),
            "Dice against lesion load", "dice")
        add(plot_volume_components(result, out / "volume_components"),
            "Correct, missed and false-positive volume per subject", "components")
        grades = grade_table(result.volumes, result.ratings, result.grading)
        if grades is not None:
            add(plot_volumes_by_grade(result, grades, out / "volumes_by_grade"),
                "Lesion volume per grade", "grades")
        if result.fazekas_confusion is not None:
            add(plot_fazekas_confusion(result, out / "fazekas_confusion_matrix"),
                "Grades estimated from volume", "confusion")
    if entries:
        listed = []
        for path, title, kind in tables:
            if kind not in ("csv", "html"):
                continue
            stem = path.with_suffix("")
            entry = next((t for t in listed if t["_stem"] == stem), None)
            if entry is None:
                entry = {"title": title, "_stem": stem}
                listed.append(entry)
            entry[kind] = _relative(path, out)
        entries[0]["tables"] = [{k: v for k, v in t.items() if k != "_stem"} for t in listed]
    written.append((write_text_atomic(out / FIGURES_JSON, json.dumps(entries, indent=1)
                                      + "\n"),
                    "the figure set for the HTML report (figures.json)"))
    return written



def agreement_to_dir(inputs: Sequence[str | Path], out: str | Path, *,
                     names: Sequence[str] | None = None, reference: str | Path | None = None,
                     manifest: str | Path | None = None, rule: str = "official",
                     jobs: int | None = None, scales: Sequence[str] = ("ml",),
                     load_groups=DEFAULT_LOAD_GROUPS, ratings: str | Path | None = None,
                     grading: tuple[Sequence[float], Sequence[str]] | None = None,
                     folds: int = DEFAULT_FOLDS, seed: int = 0, figures: bool = True
                     ) -> tuple[AgreementResult, list[tuple[Path, str]]]:
    """What ``wmheval agreement`` does: read or score the inputs, analyse, write everything.

    Without ``reference``, ``inputs`` are ``wmheval score`` output folders (or folders of
    team folders); with it, ``inputs`` are segmentation folders, each scored against the
    ``reference`` segmentation folder (:func:`wmheval.scoring.pair.score_pair`); their
    ``cases.csv`` go to ``out/pairs/<name>/``. ``out`` is written as one output set
    (:func:`wmheval.io.outputs.output_set`: replaced whole with a ``wmheval_manifest.json``,
    untouched on error; :class:`~wmheval.io.outputs.OutputSetError` for an unusable
    ``out``). Returns the result and the written files (their final paths).
    """
    out = Path(out)
    sources = {f"input_{k}": Path(p) for k, p in enumerate(inputs, start=1)}
    sources.update({name: Path(p) for name, p in (("reference", reference),
                                                  ("ratings", ratings)) if p is not None})
    options = {"names": list(names or []), "rule": rule, "scales": list(scales),
               "load_groups": [[name, low, high if math.isfinite(high) else "inf"]
                               for name, low, high in load_groups],
               "grading": [list(x) for x in grading] if grading else None,
               "folds": folds, "seed": seed, "figures": figures}
    with output_set(out, command="agreement", inputs=sources, options=options) as staging:
        result, written = _agreement_into(
            inputs, staging, names=names, reference=reference, manifest=manifest, rule=rule,
            jobs=jobs, scales=scales, load_groups=load_groups, ratings=ratings,
            grading=grading, folds=folds, seed=seed, figures=figures)
    final = Path(os.path.abspath(out))
    return result, [(final / Path(path).relative_to(staging), description)
                    for path, description in written]


def _agreement_into(inputs: Sequence[str | Path], out: Path, *, names, reference, manifest,
                    rule, jobs, scales, load_groups, ratings, grading, folds, seed, figures
                    ) -> tuple[AgreementResult, list[tuple[Path, str]]]:
    """:func:`agreement_to_dir`'s work, written into the staging folder ``out``."""
    out = Path(out)
    pair_problems: list[str] = []
    written: list[tuple[Path, str]] = []
    if reference is None:
        volumes = read_score_folders(inputs, names)
    else:
        from wmheval.io.names import safe_file_name
        from wmheval.scoring.pair import score_pair

        names = list(names or [])
        tables = []
        taken: set[str] = set()
        for k, folder in enumerate(inputs):
            name = names[k] if k < len(names) else Path(folder).name
            scored = score_pair(reference, folder, manifest=manifest, rule=rule, jobs=jobs)
            # A name is a label, never a path (issue 33 item 1).
            folder_name = safe_file_name(name, taken)
            path = write_table(scored.cases, out / "pairs" / folder_name / "cases.csv")
            written.append((path, f"{name} scored against {reference} (CSV)"))
            for _, row in scored.unmatched.iterrows():
                pair_problems.append(f"{name}: unmatched {row['path']}: {row['problem']}")
            for _, row in scored.cases[scored.cases["error"].fillna("") != ""].iterrows():
                pair_problems.append(f"{name}: subject {row['id']}: {row['error']}")
            tables.append(volumes_from_cases(scored.cases, name))
        volumes = pd.concat(tables, ignore_index=True)
    rated = read_ratings(ratings) if ratings is not None else None
    result = analyse_agreement(volumes, scales=scales, load_groups=load_groups, ratings=rated,
                               grading=grading, folds=folds, seed=seed)
    result.problems[:0] = pair_problems
    written += write_agreement_report(result, out, figures=figures)
    return result, written
