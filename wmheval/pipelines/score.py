"""``wmheval score``: score a submission (a folder or an archive) and write one output set."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wmheval.io.archives import DEFAULT_LIMITS, ArchiveLimits, extracted_submission
from wmheval.io.atomic import write_text_atomic
from wmheval.io.layouts import find_team_submissions
from wmheval.io.names import safe_file_name
from wmheval.io.outputs import output_set, write_manifest
from wmheval.io.paths import display_path, is_within
from wmheval.io.tables import write_table, write_table_formats
from wmheval.scoring.aggregate import wide_summary
from wmheval.scoring.folder import ScoreResult, score_folder, score_folders
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy


def score_to_dir(
    reference_dir: str | Path,
    submission_dir: str | Path,
    out: str | Path | None = None,
    *,
    manifest: str | Path | pd.DataFrame | None = None,
    rule: str | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
    split: str = "auto",
    jobs: int | None = None,
    write_json: bool = False,
    cache: str | Path | None = None,
    scheduler: str | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
    archive_limits: ArchiveLimits = DEFAULT_LIMITS,
    name_as: str | None = None,
) -> ScoreResult:
    """What ``wmheval score`` does: :func:`wmheval.scoring.score_folder`, then, with
    ``out``, one output set (:func:`wmheval.io.outputs.output_set`): ``cases.csv``,
    ``summary.csv`` (and ``scores.json`` with ``write_json``), a readable ``summary_table``
    in Markdown/LaTeX/HTML, ``unmatched.csv`` when stray files exist, and the manifest
    with the inputs' digests. An ``out`` inside the submission is not indexed. The other
    arguments are :func:`~wmheval.scoring.score_folder`'s.

    ``submission_dir`` may also be a ``.zip``, ``.tar`` or ``.tar.gz``/``.tgz`` archive: it
    is extracted by :func:`wmheval.io.archives.extracted_submission` (under
    ``archive_limits``) into a temporary folder that is removed once the cases are scored;
    tables, messages and the manifest then name the archive and its members
    (``sub.zip:1/result.nii.gz``), never the temporary folder. Raises
    :class:`~wmheval.io.archives.ArchiveRejected` for an archive refused as a whole, and
    :class:`~wmheval.errors.InputError` for a single image or another kind of file.

    ``name_as``: how messages, notes and ``unmatched.csv`` name a submission folder whose
    path means nothing to their reader (one the caller extracted into a temporary folder,
    as the challenge board does): ``<name_as>/1/result.nii.gz``.
    """
    with extracted_submission(submission_dir, limits=archive_limits) as (folder, kind):
        skip = (Path(out),) if out is not None and is_within(Path(out), folder) else ()
        result = score_folder(reference_dir, folder, manifest=manifest, rule=rule,
                              policy=policy, split=split, jobs=jobs, cache=cache,
                              scheduler=scheduler, skip=skip, on_plan=on_plan,
                              on_done=on_done)
        if kind is not None:
            _name_members(result, folder, submission_dir)
        elif name_as is not None:
            _name_members(result, folder, name_as, separator="/",
                          columns=("error", "warnings"))
    if out is not None:
        options = _score_options(rule, policy, split, manifest, write_json)
        with output_set(Path(out), command="score",
                        inputs={"reference": Path(reference_dir),
                                "submission": Path(submission_dir)},
                        digests=result.input_digests, options=options) as staging:
            write_score_outputs(result, staging, write_json=write_json,
                                paths_relative_to=Path(out))
    return result


def _score_options(rule, policy: ScoringPolicy, split: str, manifest,
                   write_json: bool) -> dict:
    """The options a score output set's manifest records (the report and ``rank`` compare
    the rule and the reference of teams across score folders)."""
    return {"rule": rule or "official", "encoding_check": rule is None,
            "policy": policy.name, "split": split,
            "manifest": display_path(manifest) if isinstance(manifest, str | Path)
            else ("custom table" if manifest is not None else "bundled"),
            "json": write_json}


TEAMS_SUMMARY = "teams_summary"
"""Stem of the combined tables of ``wmheval score --teams`` (``teams_summary.csv``: every
team's summary rows with a ``team`` column; ``teams_summary_table.*``: one row per team)."""


@dataclass
class TeamsScoreResult:
    """What ``wmheval score --teams`` found: one :class:`ScoreResult` per team."""

    results: dict[str, ScoreResult]
    """Team name to its result, in name order."""
    folders: dict[str, str]
    """Team name to the name of its score folder inside ``out`` (a safe file name)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Entries of the teams folder that are no submission (path, reason)."""

    @property
    def n_problems(self) -> int:
        return sum(result.n_problems for result in self.results.values())

    @property
    def ok(self) -> bool:
        return self.n_problems == 0

    def combined_summary(self) -> pd.DataFrame:
        """Every team's summary rows, ``team`` first (``teams_summary.csv``)."""
        tables = [result.summary.assign(team=team) for team, result in self.results.items()]
        table = pd.concat(tables, ignore_index=True)
        return table[["team", *[c for c in table.columns if c != "team"]]]

    def readable_summary(self) -> pd.DataFrame:
        """One row per team: cases, missing, failed and ``mean ± std [ranked]`` per metric
        over all scored subjects (``teams_summary_table.*``)."""
        rows = []
        for team, result in self.results.items():
            wide = wide_summary(result.summary)
            row = wide[wide["group"] == "all"].iloc[0].to_dict()
            row.pop("group")
            rows.append({"team": team, **row})
        return pd.DataFrame(rows)


def score_teams_to_dir(
    reference_dir: str | Path,
    teams_dir: str | Path,
    out: str | Path | None = None,
    *,
    manifest: str | Path | pd.DataFrame | None = None,
    rule: str | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
    split: str = "auto",
    jobs: int | None = None,
    write_json: bool = False,
    cache: str | Path | None = None,
    scheduler: str | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
    archive_limits: ArchiveLimits = DEFAULT_LIMITS,
) -> TeamsScoreResult:
    """What ``wmheval score --teams`` does: score every team's submission in ``teams_dir``
    (each sub-folder or archive is one team's: :func:`wmheval.io.layouts.find_team_submissions`)
    with :func:`wmheval.scoring.score_folders`, all cases in one pool, and with ``out`` write
    one output set: ``out/<team>/`` as ``wmheval score`` writes it for that team alone (its
    own manifest, so ``rank``, ``sensitivity`` and ``report`` read ``out`` as a field of
    teams), plus the combined ``teams_summary.csv`` and ``teams_summary_table.*``.

    Every archive is checked and every folder matched to the reference before any case is
    scored; an archive refused as a whole raises
    :class:`~wmheval.io.archives.ArchiveRejected` naming it. Other arguments as for
    :func:`score_to_dir`.
    """
    found = find_team_submissions(teams_dir)
    taken: set[str] = set()
    folders = {team: safe_file_name(team, taken) for team in found.submissions}
    with contextlib.ExitStack() as stack:
        extracted: dict[str, tuple[Path, str | None]] = {}
        for team, path in found.submissions.items():
            extracted[team] = stack.enter_context(
                extracted_submission(path, limits=archive_limits))
        results = score_folders(reference_dir, {t: f for t, (f, _) in extracted.items()},
                                manifest=manifest, rule=rule, policy=policy, split=split,
                                jobs=jobs, cache=cache, scheduler=scheduler,
                                skip=(Path(out),) if out is not None else (),
                                on_plan=on_plan, on_done=on_done)
        for team, (folder, kind) in extracted.items():
            if kind is not None:
                _name_members(results[team], folder, found.submissions[team])
    teams = TeamsScoreResult(results, folders,
                             [(display_path(p), why) for p, why in found.skipped])
    if out is not None:
        options = _score_options(rule, policy, split, manifest, write_json)
        with output_set(Path(out), command="score --teams",
                        inputs={"reference": Path(reference_dir), "teams": Path(teams_dir)},
                        options={**options, "teams": folders}) as staging:
            for team, result in results.items():
                folder = staging / folders[team]
                write_score_outputs(result, folder, write_json=write_json,
                                    paths_relative_to=Path(out) / folders[team])
                write_manifest(folder, command="score", options=options,
                               inputs={"reference": Path(reference_dir),
                                       "submission": found.submissions[team]},
                               digests=result.input_digests)
            write_table(teams.combined_summary(), staging / f"{TEAMS_SUMMARY}.csv")
            write_table_formats(teams.readable_summary(), staging / f"{TEAMS_SUMMARY}_table",
                                formats=("md", "tex", "html"),
                                caption="WMH challenge metrics per team over all scored "
                                "subjects, mean ± std of the scored values; [mean used for "
                                "ranking, with missing and undefined values imputed] under "
                                f"{policy.name}")
    return teams


def _name_members(result: ScoreResult, folder: Path, archive: str | Path, *,
                  separator: str = ":",
                  columns: tuple[str, ...] = ("prediction_path", "error", "warnings")) -> None:
    """Replace the temporary folder an archive was extracted to, wherever the result's
    texts (``columns`` of the cases, the unmatched files, the notes) name it, by
    ``<archive><separator>`` (so ``sub.zip:1/result.nii.gz``)."""
    prefix = display_path(os.path.abspath(folder)).rstrip(os.sep) + os.sep
    label = f"{display_path(archive)}{separator}"

    def relabel(text):
        return text.replace(prefix, label) if isinstance(text, str) else text

    for column in columns:
        result.cases[column] = result.cases[column].map(relabel)
    for column in ("path", "problem"):
        result.unmatched[column] = result.unmatched[column].map(relabel)
    result.notes[:] = [relabel(note) for note in result.notes]


ARCHIVE_MEMBER = re.compile(r"\.(zip|tar|tgz|tar\.gz):")
"""How a prediction inside an archive submission is named (``sub.zip:1/result.nii.gz``)."""


def prediction_paths_relative_to(cases: pd.DataFrame, folder: str | Path) -> pd.DataFrame:
    """``cases`` with ``prediction_path`` relative to ``folder`` (POSIX separators), so the
    score folder and its submission can move together and still find each other (the
    report reads the path against the folder of cases.csv). Paths that have no relative
    form (another drive) stay absolute; empty cells stay empty."""
    if "prediction_path" not in cases:
        return cases
    base = os.path.abspath(folder)

    def relative(recorded) -> str:
        if not isinstance(recorded, str) or not recorded:
            return ""
        if ARCHIVE_MEMBER.search(recorded):  # sub.zip:1/result.nii.gz names a member
            return recorded
        absolute = os.path.abspath(recorded)
        try:
            return Path(os.path.relpath(absolute, base)).as_posix()
        except ValueError:
            return absolute

    cases = cases.copy()
    cases["prediction_path"] = [relative(p) for p in cases["prediction_path"]]
    return cases


def write_score_outputs(result: ScoreResult, out: str | Path, write_json: bool = False,
                        paths_relative_to: str | Path | None = None) -> list[Path]:
    """Write the tables of a :class:`ScoreResult` into the folder ``out`` (file by file;
    :func:`score_to_dir` writes them into a staging folder that replaces ``--out`` whole).

    ``cases.csv`` records each ``prediction_path`` relative to ``paths_relative_to`` (the
    output folder once in place; default ``out``), the manifest the submission's hash.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cases = prediction_paths_relative_to(result.cases, paths_relative_to or out)
    written = [write_table(cases, out / "cases.csv"),
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
            "cases": json.loads(cases.to_json(orient="records")),
            "summary": json.loads(result.summary.to_json(orient="records")),
            "unmatched": json.loads(result.unmatched.to_json(orient="records")),
            "notes": result.notes,
            "policy": {"name": result.policy.name,
                       "missing": result.policy.missing.value,
                       "undefined": result.policy.undefined.value},
        }
        written.append(write_text_atomic(out / "scores.json", json.dumps(payload, indent=1)))
    return written
