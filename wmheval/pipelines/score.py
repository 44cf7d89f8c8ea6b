"""``wmheval score``: score a submission folder and write one output set."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from wmheval.io.atomic import write_text_atomic
from wmheval.io.outputs import output_set
from wmheval.io.paths import display_path, is_within
from wmheval.io.tables import write_table, write_table_formats
from wmheval.scoring.folder import ScoreResult, score_folder
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy


def score_to_dir(
    reference_dir: str | Path,
    submission_dir: str | Path,
    out: str | Path | None = None,
    *,
    manifest: str | Path | pd.DataFrame | None = None,
    rule: str = "official",
    policy: ScoringPolicy = DEFAULT_POLICY,
    split: str = "auto",
    jobs: int | None = None,
    write_json: bool = False,
    cache: str | Path | None = None,
    scheduler: str | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> ScoreResult:
    """What ``wmheval score`` does: :func:`wmheval.scoring.score_folder`, then, with
    ``out``, one output set (:func:`wmheval.io.outputs.output_set`): ``cases.csv``,
    ``summary.csv`` (and ``scores.json`` with ``write_json``), a readable ``summary_table``
    in Markdown/LaTeX/HTML, ``unmatched.csv`` when stray files exist, and the manifest
    with the inputs' digests. An ``out`` inside the submission is not indexed. The other
    arguments are :func:`~wmheval.scoring.score_folder`'s.
    """
    skip = (Path(out),) if out is not None and is_within(Path(out), Path(submission_dir)) \
        else ()
    result = score_folder(reference_dir, submission_dir, manifest=manifest, rule=rule,
                          policy=policy, split=split, jobs=jobs, cache=cache,
                          scheduler=scheduler, skip=skip, on_plan=on_plan, on_done=on_done)
    if out is not None:
        options = {"rule": rule, "policy": policy.name, "split": split,
                   "manifest": display_path(manifest) if isinstance(manifest, str | Path)
                   else ("custom table" if manifest is not None else "bundled"),
                   "json": write_json}
        with output_set(Path(out), command="score",
                        inputs={"reference": Path(reference_dir),
                                "submission": Path(submission_dir)},
                        digests=result.input_digests, options=options) as staging:
            write_score_outputs(result, staging, write_json=write_json)
    return result


def write_score_outputs(result: ScoreResult, out: str | Path, write_json: bool = False
                        ) -> list[Path]:
    """Write the tables of a :class:`ScoreResult` into the folder ``out`` (file by file;
    :func:`score_to_dir` writes them into a staging folder that replaces ``--out`` whole)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_table(result.cases, out / "cases.csv"),
               write_table(result.summary, out / "summary.csv")]
    written += write_table_formats(result.readable_summary(), out / "summary_table",
                                   formats=("md", "tex", "html"),
                                   caption="WMH challenge metrics, mean ± std of the scored "
                                   "values per group; [mean used for ranking, with missing "
                                   f"and undefined values imputed] under {result.policy.name}")
    stale = out / "unmatched.csv"
    if len(result.unmatched):
        written.append(write_table(result.unmatched, stale))
    elif stale.exists():
        stale.unlink()
    if write_json:
        payload = {
            "cases": json.loads(result.cases.to_json(orient="records")),
            "summary": json.loads(result.summary.to_json(orient="records")),
            "unmatched": json.loads(result.unmatched.to_json(orient="records")),
            "notes": result.notes,
            "policy": {"name": result.policy.name,
                       "missing": result.policy.missing.value,
                       "undefined": result.policy.undefined.value},
        }
        written.append(write_text_atomic(out / "scores.json", json.dumps(payload, indent=1)))
    return written
