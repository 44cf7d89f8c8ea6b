"""Scoring a submission folder against a reference folder: the ``wmheval score`` engine."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wmheval.io.layouts import (
    LayoutError,
    SubmissionIndex,
    find_reference_cases,
    holds_references,
    index_submission,
    suggested_id,
    team_folders_in,
)
from wmheval.io.manifest import load_manifest
from wmheval.io.paths import display_path
from wmheval.metrics import METRICS
from wmheval.metrics.binarize import parse_rule
from wmheval.parallel import parallel_map
from wmheval.scoring.aggregate import summarize, wide_summary
from wmheval.scoring.cache import (
    CacheMiss,
    CaseCache,
    case_key,
    content_digest,
    key_inputs,
)
from wmheval.scoring.case import (
    COUNT_COLUMNS,
    SCORED_STATUSES,
    STATUS_ERROR,
    STATUS_MISSING,
    CaseTask,
    crashed_row,
    safe_score_case,
)
from wmheval.scoring.encodings import submission_note
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy
from wmheval.vocabulary import SCORE_SPLITS

CASE_COLUMNS = (
    "id", "scanner", "split", "seen_in_training", "status", *METRICS, *COUNT_COLUMNS,
    "prediction_path", "error", "warnings",
)
SPLIT_CHOICES = SCORE_SPLITS


@dataclass
class ScoreResult:
    """Everything one scoring run found: per-case rows, aggregates, and stray files."""

    cases: pd.DataFrame
    summary: pd.DataFrame
    unmatched: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    policy: ScoringPolicy = DEFAULT_POLICY
    input_digests: dict[str, str] = field(default_factory=dict)
    """One digest per input (``reference``, ``submission``) over the scored files: relative
    path and content SHA-256, for the output set's manifest."""

    @property
    def n_problems(self) -> int:
        """Cases missing or failed, plus files in the submission that match no subject."""
        failed = self.cases["status"].isin([STATUS_MISSING, STATUS_ERROR]).sum()
        return int(failed) + len(self.unmatched)

    @property
    def ok(self) -> bool:
        return self.n_problems == 0

    def readable_summary(self) -> pd.DataFrame:
        """Per-group ``mean ± std`` table for people (``[mean used for ranking]`` where it
        differs)."""
        return wide_summary(self.summary)


def _manifest_rows(reference_cases, manifest: pd.DataFrame, check_grid: bool,
                   notes: list[str]) -> dict[str, pd.Series]:
    """Manifest rows of the reference subjects it applies to (by id; by id and grid when
    ``check_grid``); one note for the subjects left ``unknown``."""
    from wmheval.io.images import ImageError, read_grid
    from wmheval.io.manifest import grid_matches

    rows: dict[str, pd.Series] = {}
    mismatched: list[str] = []
    absent: list[str] = []
    for case in reference_cases:
        if case.id not in manifest.index:
            absent.append(case.id)
            continue
        if check_grid:
            try:
                size, spacing = read_grid(case.path)
            except ImageError:
                size, spacing = (), ()
            if not grid_matches(manifest, case.id, size, spacing):
                mismatched.append(case.id)
                continue
        rows[case.id] = manifest.loc[case.id]
    if mismatched:
        notes.append(f"{len(mismatched)} subject(s) share an id with the bundled 2017 "
                     f"manifest but not its image grid (size and spacing), so their scanner, "
                     f"split and seen status are 'unknown': {_listed(mismatched)} (give "
                     "--manifest FILE to map them)")
    if absent:
        notes.append(f"{len(absent)} subject(s) are not in the manifest (scanner "
                     f"'unknown'): {_listed(absent)}")
    return rows


def _listed(ids: list[str]) -> str:
    return f"{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}"


def _case_split(case, row: pd.Series | None) -> str:
    if row is not None and row["split"]:
        return str(row["split"])
    return case.split_from_path or "unknown"


def _select_split(cases, splits: dict[str, str], predicted_ids: set[str], split: str,
                  notes: list[str], reference_dir: str | Path = ""):
    if split == "all":
        return cases
    if split != "auto":
        chosen = [c for c in cases if splits[c.id] == split]
        if not chosen:
            present = sorted(set(splits.values()))
            raise ValueError(f"{reference_dir}: no {split} subjects in the reference (splits "
                             f"found: {', '.join(present)}); use --split auto or all")
        return chosen
    present = {splits[c.id] for c in cases}
    keep = {s for s in present if any(splits[c.id] == s and c.id in predicted_ids
                                      for c in cases)}
    if not keep or keep == present:
        return cases
    dropped = sorted(present - keep)
    notes.append(f"split auto: the submission has no prediction for the {', '.join(dropped)} "
                 f"subjects, so only {', '.join(sorted(keep))} subjects are scored "
                 "(use --split all to score every reference subject)")
    return [c for c in cases if splits[c.id] in keep]


def resolve_manifest(reference_dir: str | Path,
                     manifest: str | Path | pd.DataFrame | None) -> tuple[pd.DataFrame, bool,
                                                                          str]:
    """(manifest, check_grid, where): an explicit manifest applies by id; without one, a
    manifest inside the reference folder (a synthetic challenge's) applies by id; else the
    bundled 2017 manifest applies only where a subject's image grid is the one it records."""
    from wmheval.io.manifest import find_data_manifest

    if isinstance(manifest, pd.DataFrame):
        return manifest, False, "the given manifest"
    if manifest is not None:
        return load_manifest(manifest), False, str(manifest)
    shipped = find_data_manifest(reference_dir)
    if shipped is not None:
        return load_manifest(shipped), False, str(shipped)
    return load_manifest(), True, "the bundled 2017 manifest"


@dataclass(frozen=True)
class ReadReference:
    """A reference folder as scoring needs it, read once: its subjects, their manifest rows
    (:func:`_manifest_rows`) and the notes that reading made."""

    cases: list
    rows: dict[str, pd.Series]
    notes: list[str]


def read_reference(reference_dir: str | Path, submission_dir: str | Path,
                   manifest: pd.DataFrame, check_grid: bool) -> ReadReference:
    """Find the reference subjects (saying so when the arguments look swapped with
    ``submission_dir``) and their manifest rows (with ``check_grid``, each subject's image
    grid is read to check it)."""
    notes: list[str] = []
    cases = _reference_cases(reference_dir, submission_dir)
    return ReadReference(cases, _manifest_rows(cases, manifest, check_grid, notes), notes)


def plan_tasks(reference_dir: str | Path, submission_dir: str | Path, *,
               manifest: pd.DataFrame, rule: str = "official", split: str = "auto",
               check_grid: bool = False, skip: tuple[Path, ...] = (),
               check_encoding: bool = False,
               index: SubmissionIndex | None = None,
               reference: ReadReference | None = None,
               ) -> tuple[list[CaseTask], pd.DataFrame, pd.DataFrame, list[str]]:
    """Match reference subjects to predictions: (tasks, case info, unmatched files, notes).

    A subject takes scanner, split and seen status from ``manifest`` when its id is there
    (and, with ``check_grid``, its image grid is the recorded one); otherwise ``unknown``.
    Paths in ``skip`` (the output folder, when it lies inside the submission) are not
    indexed as part of the submission. ``index``: predictions already found (e.g. by
    :func:`wmheval.io.platform_layouts.read_predictions_json`) instead of indexing the
    submission folder. ``reference``: the reference already read (:func:`read_reference`,
    once for several submissions) instead of reading it here.
    """
    if split not in SPLIT_CHOICES:
        raise ValueError(f"split must be one of {SPLIT_CHOICES}, got {split!r}")
    parse_rule(rule)
    if reference is None:
        reference = read_reference(reference_dir, submission_dir, manifest, check_grid)
    notes: list[str] = []
    reference_cases = reference.cases
    all_reference_ids = {c.id for c in reference_cases}
    if index is None:
        index = index_submission(submission_dir, skip=skip)
        teams = team_folders_in(index, submission_dir, all_reference_ids)
        if teams:
            raise LayoutError(
                f"{display_path(submission_dir)}: holds the submissions of {len(teams)} "
                f"teams ({_listed(teams)}), not one submission: score them all at once "
                f"with --teams (wmheval score {display_path(reference_dir)} "
                f"{display_path(submission_dir)} --teams --out scores/), or give one "
                "team's folder")
    rows = reference.rows
    notes.extend(reference.notes)
    splits = {c.id: _case_split(c, rows.get(c.id)) for c in reference_cases}
    predicted = set(index.predictions) | set(index.duplicates)
    selected = _select_split(reference_cases, splits, predicted, split, notes, reference_dir)
    selected_ids = {c.id for c in selected}
    unmatched = [(display_path(p), why) for p, why in index.unrecognised]
    for case_id in sorted(predicted - all_reference_ids):
        hint = suggested_id(case_id, all_reference_ids)
        for path in index.duplicates.get(case_id) or [index.predictions[case_id]]:
            problem = f"no reference subject with id {display_path(case_id)!r}"
            if hint is not None:
                problem += (f" (did you mean {display_path(hint)}? name the prediction "
                            f"after the reference id: {display_path(hint)}/result.nii.gz or "
                            f"{display_path(hint)}.nii.gz)")
            unmatched.append((display_path(path), problem))
    if index.documents:
        names = [display_path(p) for p in index.documents]
        notes.append(f"{len(names)} document(s) beside the predictions, not scored and no "
                     f"problem: {_listed(names)}")
    for case_id in sorted((predicted & all_reference_ids) - selected_ids):
        path = index.predictions.get(case_id) or index.duplicates[case_id][0]
        unmatched.append((display_path(path), f"subject {display_path(case_id)!r} is outside "
                                              "the scored split"))
    tasks, info = [], []
    for case in selected:
        tasks.append(CaseTask(
            id=case.id, reference_path=case.path,
            prediction_path=index.predictions.get(case.id), rule=rule,
            duplicate_paths=tuple(index.duplicates.get(case.id, ())),
            check_encoding=check_encoding))
        row = rows.get(case.id)
        info.append({
            "id": display_path(case.id),
            "scanner": str(row["scanner"]) if row is not None else "unknown",
            "split": splits[case.id],
            "seen_in_training": bool(row["seen_in_training"]) if row is not None else pd.NA,
        })
    unmatched_table = pd.DataFrame(unmatched, columns=["path", "problem"])
    return tasks, pd.DataFrame(info, columns=list(CASE_COLUMNS[:4])), unmatched_table, notes


def _reference_cases(reference_dir: str | Path, submission_dir: str | Path):
    """The reference subjects; when there are none but the two folders look swapped (the
    reference holds predictions, the submission references), say so."""
    try:
        return find_reference_cases(reference_dir)
    except LayoutError as error:
        reference = Path(reference_dir)
        try:
            swapped = (Path(submission_dir).is_dir() and holds_references(submission_dir)
                       and reference.is_dir() and bool(index_submission(reference).predictions))
        except (LayoutError, OSError):
            swapped = False
        if not swapped:
            raise
        raise LayoutError(
            f"{error}; it holds predictions, and {display_path(submission_dir)} holds the "
            "reference (wmh.nii.gz): the arguments look swapped. The reference comes first: "
            f"wmheval score {display_path(submission_dir)} {display_path(reference_dir)}"
        ) from None


def _worker_init() -> None:
    import SimpleITK as sitk

    from wmheval.parallel import keep_freed_memory

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    keep_freed_memory()


def run_case(task: CaseTask, cache_dir: str | None = None) -> dict:
    """Score one task (reusing a cached row for unchanged files); never raises.

    The row carries ``_digests`` (SHA-256 of the reference and prediction files) for the
    output manifest; :func:`score_folder` removes it.
    """
    digests = (content_digest(task.reference_path), content_digest(task.prediction_path))
    cache = key = inputs = None
    cache_note = ""
    if cache_dir is not None and digests[0] is not None and not task.duplicate_paths and (
            task.prediction_path is None or digests[1] is not None):
        options = {"rule": task.rule, "geometry_tolerance": task.geometry_tolerance,
                   "check_encoding": task.check_encoding}
        inputs = key_inputs(digests[0], digests[1], options)
        cache, key = CaseCache(cache_dir), case_key(digests[0], digests[1], options)
        found = cache.lookup(key, inputs)
        if not isinstance(found, CacheMiss):
            found.update(id=task.id, prediction_path=display_path(task.prediction_path)
                         if task.prediction_path else "")
            found["_digests"] = digests
            return found
        if not found.absent:
            cache_note = (f"cache entry {display_path(cache.entry_path(key))} not used "
                          f"({found.reason}): scored afresh")
    row = safe_score_case(task)
    row["id"] = task.id
    for column in ("prediction_path", "error", "warnings"):
        row[column] = display_path(row[column])
    if cache is not None and row["status"] in SCORED_STATUSES:
        cache.put(key, inputs, row)
    if cache_note:
        row["warnings"] = " | ".join(w for w in (row["warnings"], cache_note) if w)
    row["_digests"] = digests
    return row


def run_tasks(tasks: list[CaseTask], jobs: int | None = None,
              on_done: Callable[[dict], None] | None = None, *,
              cache_dir: str | Path | None = None, scheduler: str | None = None) -> list[dict]:
    """Score tasks in order: in ``jobs`` local worker processes (default: all cores), or on
    a Dask distributed cluster when ``scheduler`` is given (an address or ``"local"``)."""
    function = functools.partial(run_case, cache_dir=os.fspath(cache_dir) if cache_dir
                                 else None)
    if scheduler is not None:
        from wmheval.distributed import dask_map

        return dask_map(function, tasks, scheduler, jobs=jobs, on_done=on_done,
                        initializer=_worker_init)
    return parallel_map(function, tasks, jobs, on_done=on_done, initializer=_worker_init,
                        on_crash=_crashed)


def _crashed(task: CaseTask, reason: str) -> dict:
    """The row of a task whose worker died (see :func:`wmheval.parallel.parallel_map`)."""
    row = crashed_row(task, reason)
    for column in ("prediction_path", "error", "warnings"):
        row[column] = display_path(row[column])
    row["_digests"] = (None, None)
    return row


def _input_digest(paths: list[tuple[str, str | None]]) -> str:
    """One digest over the scored files of an input: (relative path, content SHA-256)."""
    digest = hashlib.sha256()
    for name, sha in sorted(paths, key=lambda item: os.fsencode(item[0])):
        digest.update(f"{os.fsencode(name).hex()}\0{sha}\n".encode())
    return digest.hexdigest()


def score_folder(
    reference_dir: str | Path,
    submission_dir: str | Path,
    *,
    manifest: str | Path | pd.DataFrame | None = None,
    rule: str | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
    split: str = "auto",
    jobs: int | None = None,
    cache: str | Path | None = None,
    scheduler: str | None = None,
    skip: Sequence[Path] = (),
    index: SubmissionIndex | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> ScoreResult:
    """Score every reference subject against its prediction, as ``wmheval score`` does.

    Subjects without a prediction get ``status=missing`` (NaN metrics, counted in
    ``n_missing``); ``policy`` (:mod:`wmheval.scoring.policy`) says what missing and
    undefined values count as in the summaries' ``mean_ranked`` (default: an empty mask;
    fixed values per case). ``manifest``: see :func:`resolve_manifest`. ``split="auto"``
    scores the splits the submission has predictions for; a split with no reference
    subject is a ValueError. ``cache`` is a folder of per-case results keyed by file
    contents and options (:mod:`wmheval.scoring.cache`; None: no cache). ``scheduler`` runs
    the cases on Dask (an address or ``"local"``). ``skip``: folders inside the submission
    that are not indexed (an output folder written there). ``index``: the predictions
    already found (a platform's layout) instead of indexing ``submission_dir``, the
    folder their paths are relative to. ``on_plan(n_cases)`` and
    ``on_done(row)`` report progress. ``rule`` None is the official rule with a check: a
    prediction it would misread (a 0-255 or 0-100 probability map, a 0/255 uint8 mask)
    fails with the fix in its message, and one note counts them; a rule given explicitly
    (``"official"`` too) scores the values as it reads them.

    A submission folder that holds several teams' folders is refused
    (:class:`~wmheval.io.layouts.LayoutError` naming them): :func:`score_folders` scores
    them. Writes nothing: :func:`wmheval.pipelines.score.score_to_dir` writes the output
    set.
    """
    results = score_folders(reference_dir, {"": submission_dir}, manifest=manifest,
                            rule=rule, policy=policy, split=split, jobs=jobs, cache=cache,
                            scheduler=scheduler, skip=skip, index=index, on_plan=on_plan,
                            on_done=on_done)
    return results[""]


@dataclass
class _Planned:
    submission_dir: Path
    tasks: list[CaseTask]
    info: pd.DataFrame
    unmatched: pd.DataFrame
    notes: list[str]


def score_folders(
    reference_dir: str | Path,
    submissions: Mapping[str, str | Path],
    *,
    manifest: str | Path | pd.DataFrame | None = None,
    rule: str | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
    split: str = "auto",
    jobs: int | None = None,
    cache: str | Path | None = None,
    scheduler: str | None = None,
    skip: Sequence[Path] = (),
    index: SubmissionIndex | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> dict[str, ScoreResult]:
    """Score several submissions (``{name: folder}``) against one reference, every case of
    every submission in one pool of ``jobs`` workers (so a small submission does not leave
    cores idle), each submission exactly as :func:`score_folder` scores it alone.

    Every submission is matched to the reference before any case is scored, so a folder
    that cannot be read fails the call at once. ``index`` applies only to a single
    submission. Returns one :class:`ScoreResult` per name, in the given order.
    """
    if index is not None and len(submissions) != 1:
        raise ValueError("index applies to a single submission")
    check_encoding = rule is None
    rule = rule or "official"
    table, check_grid, _ = resolve_manifest(reference_dir, manifest)
    planned: dict[str, _Planned] = {}
    reference = None  # read once, for the first submission (its arguments may be swapped)
    for name, folder in submissions.items():
        reference = reference or read_reference(reference_dir, folder, table, check_grid)
        tasks, info, unmatched, notes = plan_tasks(
            reference_dir, folder, manifest=table, rule=rule, split=split,
            check_grid=check_grid, skip=tuple(skip), check_encoding=check_encoding,
            index=index, reference=reference)
        planned[name] = _Planned(Path(folder), tasks, info, unmatched, notes)
    every_task = [task for plan in planned.values() for task in plan.tasks]
    if on_plan:
        on_plan(len(every_task))
    rows = run_tasks(every_task, jobs=jobs, on_done=on_done, cache_dir=cache,
                     scheduler=scheduler)
    results: dict[str, ScoreResult] = {}
    start = 0
    for name, plan in planned.items():
        own = rows[start:start + len(plan.tasks)]
        start += len(plan.tasks)
        results[name] = _assemble(reference_dir, plan, own, policy)
    return results


def _assemble(reference_dir: str | Path, plan: _Planned, rows: list[dict],
              policy: ScoringPolicy) -> ScoreResult:
    """One submission's :class:`ScoreResult` from its planned tasks and scored rows."""
    tasks, notes = plan.tasks, list(plan.notes)
    digests = [row.pop("_digests", (None, None)) for row in rows]
    encoding_note = submission_note(rows)
    if encoding_note:
        notes.append(encoding_note)
    scored = pd.DataFrame(rows, columns=[c for c in CASE_COLUMNS if c not in
                                         ("scanner", "split", "seen_in_training")])
    scored["id"] = [display_path(task.id) for task in tasks]
    cases = plan.info.merge(scored, on="id", how="left")[list(CASE_COLUMNS)]
    summary, policy_notes = summarize(cases, policy, with_notes=True)

    def relative(path, root):
        return os.path.relpath(path, root) if path is not None else ""

    input_digests = {
        "reference": _input_digest([(relative(t.reference_path, reference_dir), d[0])
                                    for t, d in zip(tasks, digests, strict=True)]),
        "submission": _input_digest([(relative(t.prediction_path, plan.submission_dir), d[1])
                                     for t, d in zip(tasks, digests, strict=True)
                                     if t.prediction_path is not None]),
    }
    return ScoreResult(cases=cases, summary=summary, unmatched=plan.unmatched,
                       notes=notes + policy_notes, policy=policy, input_digests=input_digests)
