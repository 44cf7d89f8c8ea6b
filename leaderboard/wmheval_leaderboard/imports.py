"""``wmheval board import``: a hosted platform's results back into a board, so that the
official ranking (and, with per-case values, the rank intervals) is wmheval's.

* **Per-case exports** (grand-challenge evaluations whose ``metrics.json`` has ``case``,
  i.e. phases run with ``--per-case admin``): each team becomes a scored submission of the
  phase, with one evaluation whose case results are the platform's values; the board (and
  its site) then ranks them with intervals, as if they had been submitted here. A subject
  the export has no value for is ``missing``; the platform's nulls for a scored subject are
  undefined values (the board's policy decides what they count as). Teams that do not exist
  are added.
* **Means-only exports** (Codabench's leaderboard CSV, grand-challenge without ``case``):
  ranked exactly with wmheval's relative min-max rule over the imported teams, without
  intervals (there are no cases to resample), into
  ``DIR/imports/<phase>/<platform>-<sha12>/ranking.{csv,md,tex,html}``; the board's own
  standings are case-based, so these teams are not added to it.

Every import stores the exported file in the blob store and appends an event to the
ledger's chain; importing the same file again changes nothing. Imports bypass quotas and
submission windows (the organiser imports what the platform already accepted).
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wmheval_leaderboard import engine
from wmheval_leaderboard.config import iso, now_utc
from wmheval_leaderboard.errors import BoardUsageError
from wmheval_leaderboard.ledger import new_submission_id
from wmheval_leaderboard.store import publish_run, store_blob, tree_sha256

MAX_EXPORT_BYTES = 64 << 20


@dataclass
class ImportReport:
    """What an import did."""

    platform: str
    phase: str
    archive_sha256: str
    per_case: bool
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ranking_dir: Path | None = None
    ranking: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _reference_rows(board, subject_ids: list[str]) -> pd.DataFrame:
    """Scanner, split, seen flag and reference diagonal of the phase's subjects (scored
    against an empty submission: every row is ``missing`` with the reference facts)."""
    from wmheval.scoring.folder import score_folder

    with tempfile.TemporaryDirectory(prefix="wmheval-import-") as empty:
        result = score_folder(board.config.reference, empty, split="all", jobs=1)
    cases = result.cases.set_index(result.cases["id"].astype(str))
    return cases.loc[[i for i in subject_ids if i in cases.index]]


def _team_rows(team: str, imported: pd.DataFrame, reference: pd.DataFrame) -> list[dict]:
    from wmheval.report.platforms import dotless

    by_key = {dotless(i): row for i, row in imported.set_index("id").iterrows()}
    rows = []
    for subject_id, facts in reference.iterrows():
        values = by_key.get(dotless(subject_id))
        present = values is not None and any(math.isfinite(values[m])
                                             for m in engine.metrics())
        seen = facts["seen_in_training"]
        rows.append({
            "id": subject_id, "scanner": str(facts["scanner"]), "split": str(facts["split"]),
            "seen_in_training": None if seen is pd.NA or seen is None else bool(seen),
            "status": "ok" if present else "missing",
            **{m: (float(values[m]) if present and math.isfinite(values[m]) else None)
               for m in engine.metrics()},
            "reference_diagonal_mm": float(facts["reference_diagonal_mm"]),
        })
    return rows


def import_results(board, platform: str, path: str | Path, phase: str | None) -> ImportReport:
    """Import ``path`` (the platform's results export) into ``phase`` of ``board``."""
    from wmheval.io.platform_results import read_platform_results

    path = Path(path)
    chosen = board.config.phase(phase)
    results = read_platform_results(platform, path)
    try:
        sha, size, _ = store_blob(board.root, path, MAX_EXPORT_BYTES)
    except ValueError as error:
        raise BoardUsageError(str(error)) from None
    report = ImportReport(platform, chosen.name, sha, results.per_case,
                          notes=list(results.notes))
    subject_ids = json.loads(board.ledger.connection.execute(
        "SELECT subject_ids_json FROM phases WHERE phase_id = ?",
        (chosen.name,)).fetchone()[0])
    if not results.per_case:
        _rank_means(board, results, chosen.name, sha, subject_ids, report)
        return report
    reference = _reference_rows(board, subject_ids)
    unknown = set(results.cases["id"]) - {_key(i) for i in reference.index}
    if unknown:
        report.notes.append(f"{len(unknown)} subject id(s) in the export are not in phase "
                            f"{chosen.name} and were left out: "
                            f"{', '.join(sorted(unknown)[:5])}")
    for team in results.means.index:
        existing = board.ledger.connection.execute(
            "SELECT team_id FROM teams WHERE name = ?", (team,)).fetchone()
        team_id = existing["team_id"] if existing else board.add_team(team)
        duplicate = board.ledger.connection.execute(
            "SELECT submission_id FROM submissions WHERE phase_id = ? AND team_id = ? AND "
            "archive_sha256 = ?", (chosen.name, team_id, sha)).fetchone()
        if duplicate:
            report.unchanged.append(team)
            continue
        rows = _team_rows(team, results.cases[results.cases["team"] == team], reference)
        _commit_team(board, chosen.name, team, team_id, sha, size, platform, rows)
        report.imported.append(team)
    return report


def _key(subject_id: str) -> str:
    from wmheval.report.platforms import dotless

    return dotless(subject_id)


def _commit_team(board, phase: str, team: str, team_id: str, sha: str, size: int,
                 platform: str, rows: list[dict]) -> None:
    """One scored submission with its evaluation, run folder and case results."""
    moment = now_utc()
    now = iso(moment)
    submission_id = new_submission_id(moment, team_id, phase, sha)
    phase_row = board.ledger.connection.execute(
        "SELECT * FROM phases WHERE phase_id = ?", (phase,)).fetchone()
    options = {"missing": board.config.missing, "undefined": board.config.undefined,
               "imported_from": platform, "export_sha256": sha}
    evaluation_id = "e" + hashlib.sha256(json.dumps(
        [submission_id, phase_row["reference_sha256"], engine.wmheval_version(), options],
        sort_keys=True).encode()).hexdigest()[:20]
    runs = board.root / "runs"
    runs.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{submission_id}-", dir=runs))
    cases = pd.DataFrame(rows)
    cases.to_csv(staging / "cases.csv", index=False)
    final = runs / submission_id / evaluation_id
    run_sha = tree_sha256(staging)
    publish_run(staging, final)
    policy = engine.make_policy(board.config.missing, board.config.undefined)
    ranked = engine.rank_cases(cases.assign(team="_"), policy).table.iloc[0]
    means = {m: (float(ranked[m]) if math.isfinite(float(ranked[m])) else None)
             for m in engine.metrics()}
    with board.ledger.write() as db:
        db.execute(
            "INSERT INTO submissions (submission_id, phase_id, team_id, archive_sha256, "
            "archive_bytes, archive_kind, received_at, state, note, method_url, "
            "lease_owner, config_sha256, finished_at) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, 'scored', ?, '', NULL, ?, ?)",
            (submission_id, phase, team_id, sha, size, f"import:{platform}", now,
             f"imported from {platform}", board.config.digest(), now))
        db.execute(
            "INSERT INTO evaluations (evaluation_id, submission_id, reference_sha256, "
            "wmheval_version, options_json, created_at, run_dir, run_sha256, n_cases, "
            "n_missing, means_json, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (evaluation_id, submission_id, phase_row["reference_sha256"],
             engine.wmheval_version(), json.dumps(options, sort_keys=True), now,
             final.relative_to(board.root).as_posix(), run_sha, int(ranked["n_cases"]),
             int(ranked["n_missing"]), json.dumps(means, sort_keys=True)))
        db.executemany(
            "INSERT INTO case_results (evaluation_id, subject_id, scanner, split, "
            "seen_in_training, status, dice, h95, avd, recall, f1, reference_diagonal_mm) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(evaluation_id, r["id"], r["scanner"], r["split"],
              None if r["seen_in_training"] is None else int(r["seen_in_training"]),
              r["status"], r["dice"], r["h95"], r["avd"], r["recall"], r["f1"],
              r["reference_diagonal_mm"]) for r in rows])
        board.ledger.append_event("submission_imported", submission_id, {
            "team": team_id, "phase": phase, "platform": platform, "export_sha256": sha,
            "evaluation": evaluation_id, "run_sha256": run_sha, "means": means})


def _rank_means(board, results, phase: str, sha: str, subject_ids: list[str],
                report: ImportReport) -> None:
    from wmheval.pipelines.rank import write_ranking
    from wmheval.ranking.inputs import field_from_means
    from wmheval.ranking.leaderboard import rank_field

    field = field_from_means(results.means, source=f"{results.platform} export",
                             case_ids=subject_ids, case_label=f"subjects of phase {phase}")
    ranking = rank_field(field)
    folder = board.root / "imports" / phase / f"{results.platform}-{sha[:12]}"
    write_ranking(ranking, folder, caption=f"{phase}: official WMH ranking of the "
                  f"{len(ranking)} teams of a {results.platform} export (means only: no "
                  "intervals)")
    digest = hashlib.sha256(ranking.to_csv(index=False).encode()).hexdigest()
    known = board.ledger.connection.execute(
        "SELECT 1 FROM events WHERE kind = 'means_imported' AND ref_id = ?",
        (f"{phase}:{sha}",)).fetchone()
    if known is None:
        with board.ledger.write():
            board.ledger.append_event("means_imported", f"{phase}:{sha}", {
                "platform": results.platform, "phase": phase, "export_sha256": sha,
                "teams": list(results.means.index), "ranking_sha256": digest,
                "folder": folder.relative_to(board.root).as_posix()})
        report.imported = list(results.means.index)
    else:
        report.unchanged = list(results.means.index)
    report.ranking_dir, report.ranking = folder, ranking
