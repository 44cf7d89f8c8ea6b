"""Scoring two segmentation folders against each other (two raters, CT against MRI, ...).

One folder is treated as the reference: each of its masks is read as a challenge reference
(value 1 = lesion, 2 = ignored, anything else background), the other folder's masks are
binarised with the usual rule. The rows are the ``cases.csv`` rows of ``wmheval score``, so
every volume, overlap and metric comes from the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from wmheval.io.layouts import LayoutError, find_reference_cases, index_submission
from wmheval.io.manifest import load_manifest
from wmheval.metrics.binarize import parse_rule
from wmheval.scoring.aggregate import summarize
from wmheval.scoring.case import CaseTask
from wmheval.scoring.folder import CASE_COLUMNS, ScoreResult, run_tasks


def segmentation_files(folder: str | Path) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """Subject id -> mask file in ``folder``: a release-style tree of ``<id>/wmh.nii.gz``, or
    ``<id>/result.nii.gz`` / ``<id>.nii.gz`` files. Also returns (path, problem) pairs for
    files that are not masks or share an id."""
    folder = Path(folder)
    try:
        return {c.id: c.path for c in find_reference_cases(folder)}, []
    except LayoutError:
        if not folder.is_dir():
            raise
    index = index_submission(folder)
    problems = [(str(p), why) for p, why in index.unrecognised]
    for case_id, paths in index.duplicates.items():
        problems += [(str(p), f"several masks for subject {case_id!r}; keep exactly one")
                     for p in paths]
    if not index.predictions and not index.duplicates:
        raise LayoutError(f"{folder}: no segmentation files (<id>/wmh.nii.gz, "
                          "<id>/result.nii.gz or <id>.nii.gz) found")
    return dict(index.predictions), problems


def score_pair(reference_dir: str | Path, compared_dir: str | Path, *,
               manifest: str | Path | pd.DataFrame | None = None, rule: str = "official",
               jobs: int | None = None, on_plan: Callable[[int], None] | None = None,
               on_done: Callable[[dict], None] | None = None) -> ScoreResult:
    """Score ``compared_dir`` against ``reference_dir`` subject by subject.

    Subjects only in the reference folder get ``status=missing``; masks only in the compared
    folder, and files that are not masks, are listed in ``unmatched``. Scanner and
    seen/unseen come from the manifest (default: the bundled one), ``unknown`` otherwise.
    """
    parse_rule(rule)
    table = manifest if isinstance(manifest, pd.DataFrame) else load_manifest(manifest)
    references, reference_problems = segmentation_files(reference_dir)
    compared, compared_problems = segmentation_files(compared_dir)
    unmatched = reference_problems + compared_problems
    unmatched += [(str(compared[i]), f"no reference mask for subject {i!r}")
                  for i in sorted(set(compared) - set(references))]
    tasks, info = [], []
    for case_id in sorted(references, key=lambda i: (not i.isdigit(), i.zfill(12))):
        tasks.append(CaseTask(id=case_id, reference_path=references[case_id],
                              prediction_path=compared.get(case_id), rule=rule))
        known = case_id in table.index
        info.append({
            "id": case_id,
            "scanner": str(table.at[case_id, "scanner"]) if known else "unknown",
            "split": str(table.at[case_id, "split"]) if known else "unknown",
            "seen_in_training": bool(table.at[case_id, "seen_in_training"]) if known
            else pd.NA,
        })
    if on_plan:
        on_plan(len(tasks))
    rows = run_tasks(tasks, jobs=jobs, on_done=on_done)
    cases = pd.DataFrame(info).merge(pd.DataFrame(rows), on="id", how="left")
    cases = cases[list(CASE_COLUMNS)]
    notes = []
    unknown = int((cases["scanner"] == "unknown").sum())
    if unknown:
        notes.append(f"{unknown} subjects are not in the manifest (scanner 'unknown')")
    return ScoreResult(cases=cases, summary=summarize(cases),
                       unmatched=pd.DataFrame(unmatched, columns=["path", "problem"]),
                       notes=notes)
