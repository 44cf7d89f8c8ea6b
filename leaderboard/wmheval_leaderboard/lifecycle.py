"""The organiser's commands over a challenge's life: add a phase, select and withdraw
entries, rescore, promote, freeze. Each is one short write transaction with its event,
followed by a snapshot of the boards it can move (:mod:`wmheval_leaderboard.life`).
Scoring (rescore, promote) runs outside transactions, in the board's child process."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

from wmheval_leaderboard import engine, life
from wmheval_leaderboard.board import Board, _text_field
from wmheval_leaderboard.config import (
    BOARD_VISIBILITY,
    ENTRY_RULES,
    PER_CASE,
    SUBJECT_SETS,
    Phase,
    _phase_from_table,
    config_text,
    iso,
    now_utc,
    read_config,
)
from wmheval_leaderboard.errors import BoardError, BoardUsageError


def _write_config(board: Board, challenge) -> None:
    from wmheval.io.atomic import write_text_atomic

    text = config_text(challenge)
    write_text_atomic(board.root / "challenge.toml", text)
    board.config = read_config(board.root)
    board._sync_phases()
    board._note_config_change()


def add_phase(board: Board, name: str, *, subjects: str = "all", limit: int = 5,
              window: str = "24h", per_case: str = "hidden", visibility: str = "public",
              opens: str = "", closes: str = "", after: str = "",
              entry: str = "latest") -> Phase:
    """Append a phase to ``challenge.toml`` (checked as the file is) and give it its
    ledger row; ``subjects`` is all, training, test or comma-separated ids."""
    if any(p.name == name for p in board.config.phases):
        raise BoardUsageError(f"phase {name!r} already exists")
    if after and after not in [p.name for p in board.config.phases]:
        raise BoardUsageError(f"--after: no phase {after!r}")
    for value, allowed, what in ((per_case, PER_CASE, "--per-case"),
                                 (visibility, BOARD_VISIBILITY, "--board"),
                                 (entry, ENTRY_RULES, "--entry")):
        if value not in allowed:
            raise BoardUsageError(f"{what} must be one of {', '.join(allowed)}")
    chosen: str | list[str] = subjects
    if subjects not in SUBJECT_SETS:
        chosen = [s.strip() for s in subjects.split(",") if s.strip()]
        if not chosen:
            raise BoardUsageError("--subjects: all, training, test or ids separated by commas")
    table = {"name": name, "subjects": chosen, "limit": limit, "window": window,
             "per_case": per_case, "board": visibility, "opens": opens, "closes": closes,
             "after": after, "entry": entry}
    phase = _phase_from_table(table, "phase add")
    if not isinstance(phase.subjects, str):
        known = {i for i, _ in engine.reference_subjects(Path(board.config.reference), "all")}
        unknown = sorted(set(phase.subjects) - known)
        if unknown:
            raise BoardUsageError(f"--subjects: not in the reference: {', '.join(unknown[:5])}")
    _write_config(board, replace(board.config, phases=(*board.config.phases, phase)))
    return phase


def _submission(board: Board, submission_id: str):
    row = board._submission(submission_id)
    if row is None:
        raise BoardUsageError(f"no submission {submission_id!r} (see 'wmheval board status')")
    return row


def _frozen(board: Board, phase: str) -> bool:
    row = board.ledger.connection.execute("SELECT frozen_at FROM phases WHERE phase_id = ?",
                                          (phase,)).fetchone()
    return bool(row and row["frozen_at"])


def select(board: Board, submission_id: str, unselect: bool = False) -> str:
    """Mark (or unmark) a scored submission as its team's selected entry; returns the
    snapshot hash of its phase. Under entry rule ``selected`` the latest selected entry
    stands for the team, else its latest scored one."""
    row = _submission(board, submission_id)
    if _frozen(board, row["phase_id"]):
        raise BoardError(f"phase {row['phase_id']} is frozen")
    if row["state"] != "scored" and not unselect:
        raise BoardError(f"submission {submission_id} is {row['state']}; only scored "
                         "submissions can be selected")
    with board.ledger.write() as db:
        db.execute("UPDATE submissions SET selected = ? WHERE submission_id = ?",
                   (0 if unselect else 1, submission_id))
        board.ledger.append_event("submission_unselected" if unselect
                                  else "submission_selected", submission_id, {})
    return life.record_snapshot(board, row["phase_id"], "selection", {
        "kind": "selection", "team": row["team_name"], "submission": submission_id,
        "selected": not unselect})


def withdraw(board: Board, submission_id: str, reason: str) -> str:
    """Withdraw a scored submission (it leaves the board; it still counts against the
    quota, and its evaluations stay in the ledger); returns the snapshot hash."""
    reason = _text_field(reason, "--reason", 500)
    if not reason.strip():
        raise BoardUsageError("--reason: say why")
    row = _submission(board, submission_id)
    if _frozen(board, row["phase_id"]):
        raise BoardError(f"phase {row['phase_id']} is frozen")
    if row["state"] != "scored":
        raise BoardError(f"submission {submission_id} is {row['state']}; only scored "
                         "submissions can be withdrawn")
    with board.ledger.write() as db:
        db.execute("UPDATE submissions SET state = 'withdrawn', reason = ?, withdrawn_at = ? "
                   "WHERE submission_id = ?", (reason, iso(now_utc()), submission_id))
        board.ledger.append_event("submission_withdrawn", submission_id, {"reason": reason})
    return life.record_snapshot(board, row["phase_id"], "withdrawal", {
        "kind": "withdrawal", "team": row["team_name"], "submission": submission_id,
        "reason": reason})


def freeze(board: Board, phase: str) -> dict:
    """Close ``phase`` for good: ``frozen_at`` set (submissions and rescoring refused), the
    final snapshot, a backup of the ledger; returns the snapshot hash, the event-chain head
    and the backup's path."""
    board.config.phase(phase)
    if _frozen(board, phase):
        raise BoardError(f"phase {phase} is already frozen")
    with board.ledger.write() as db:
        db.execute("UPDATE phases SET frozen_at = ? WHERE phase_id = ?",
                   (iso(now_utc()), phase))
        board.ledger.append_event("phase_frozen", phase, {})
    digest = life.record_snapshot(board, phase, "freeze", {"kind": "freeze"}) or \
        life.snapshots(board, phase)[-1].sha256
    backup = board.backup(board.root / "backups" / f"{phase}-{digest[:16]}.sqlite")
    return {"phase": phase, "snapshot": digest, "head": board.ledger.head(),
            "backup": backup}


def _affected(board: Board, phases: list[str]) -> list:
    marks = ",".join("?" * len(phases))
    return board.ledger.query(
        f"SELECT s.*, t.name AS team_name FROM submissions s JOIN teams t USING (team_id) "
        f"WHERE s.phase_id IN ({marks}) AND s.state = 'scored' ORDER BY s.received_at, "
        f"s.submission_id", tuple(phases))


def rescore(board: Board, reason: str, phase: str | None = None,
            reference: str | Path | None = None) -> dict:
    """Score every scored submission of ``phase`` (all unfrozen phases by default) again,
    against ``reference`` when given (it replaces the challenge's reference), reusing the
    case cache; the new evaluations are stored inactive, then switched on together in one
    transaction (old ones kept, inactive). Returns the before/after table per phase."""
    reason = _text_field(reason, "--reason", 500)
    if not reason.strip():
        raise BoardUsageError("--reason: say why")
    phases = [board.config.phase(phase).name] if phase else [
        p.name for p in board.config.phases if not _frozen(board, p.name)]
    for name in phases:
        if _frozen(board, name):
            raise BoardError(f"phase {name} is frozen: its scores cannot change")
    if reference is not None:
        reference = Path(reference)
        if not reference.is_dir():
            raise BoardUsageError(f"{reference}: reference folder not found")
        _write_config(board, replace(board.config, reference=str(reference.resolve())))
    before = {name: life.snapshots(board, name)[-1:] for name in phases}
    staged: list[tuple] = []
    stagings = []
    try:
        for row in _affected(board, phases):
            phase_row, options, evaluation_id = board._evaluation_plan(row)
            active = board.ledger.connection.execute(
                "SELECT evaluation_id FROM evaluations WHERE submission_id = ? AND active = 1",
                (row["submission_id"],)).fetchone()
            if active is not None and active["evaluation_id"] == evaluation_id:
                continue  # already scored under these inputs
            staging, result, final, run_sha = board._evaluate(row, options, evaluation_id)
            stagings.append(staging)
            if result["state"] != "scored":
                raise BoardError(f"rescoring {row['submission_id']} failed: "
                                 f"{result.get('reason', '')}; nothing was switched")
            means, n_cases, n_missing = board._means(result)
            with board.ledger.write() as db:
                board._insert_evaluation(db, row["submission_id"], evaluation_id, phase_row,
                                         options, result, final, run_sha, means, n_cases,
                                         n_missing, active=False, now=iso(now_utc()),
                                         reason=reason)
            staged.append((row["submission_id"], evaluation_id))
    finally:
        for staging in stagings:
            shutil.rmtree(staging, ignore_errors=True)
    now = iso(now_utc())
    with board.ledger.write() as db:
        for submission_id, evaluation_id in staged:
            db.execute("UPDATE evaluations SET active = 0 WHERE submission_id = ?",
                       (submission_id,))
            db.execute("UPDATE evaluations SET active = 1, switched_at = ? WHERE "
                       "evaluation_id = ?", (now, evaluation_id))
        board.ledger.append_event("rescored", None, {
            "reason": reason, "phases": phases, "evaluations": [e for _, e in staged]})
    tables = {}
    for name in phases:
        life.record_snapshot(board, name, "rescore", {
            "kind": "rescore", "reason": reason, "rescored": len(staged),
            "reference_sha256": board.ledger.connection.execute(
                "SELECT reference_sha256 FROM phases WHERE phase_id = ?",
                (name,)).fetchone()[0]})
        after = life.snapshots(board, name)[-1]
        old = {e["team"]: e for e in (before[name][0].payload["board"]["entries"]
                                      if before[name] else [])}
        tables[name] = [{"team": e["team"], "position_before": old.get(e["team"], {}).get(
            "position"), "score_before": old.get(e["team"], {}).get("score"),
            "position_after": e["position"], "score_after": e["score"]}
            for e in after.payload["board"]["entries"]]
    return {"reason": reason, "rescored": len(staged), "tables": tables}


def promote(board: Board, source: str, target: str,
            submissions: list[str] | None = None) -> list[str]:
    """Copy chosen submissions of ``source`` (default: every team's current entry there)
    into ``target`` by archive hash and score them against ``target``'s subjects; no quota
    is used and the parent gate is not asked. The target's board changes once (one
    snapshot, trigger ``promotion``), not once per entry. Returns the new submission ids."""
    board.config.phase(source)
    board.config.phase(target)
    if _frozen(board, target):
        raise BoardError(f"phase {target} is frozen")
    if submissions:
        rows = [_submission(board, s) for s in submissions]
        wrong = [r["submission_id"] for r in rows if r["phase_id"] != source]
        if wrong:
            raise BoardUsageError(f"not in phase {source}: {', '.join(wrong)}")
    else:
        ids = [s.submission_id for s in board.standings(source).rows]
        rows = [_submission(board, s) for s in ids]
    created = []
    for row in rows:
        new_id = "p" + hashlib.sha256(f"{row['submission_id']}\0{target}".encode()
                                      ).hexdigest()[:20]
        with board.ledger.write() as db:
            exists = db.execute("SELECT 1 FROM submissions WHERE phase_id = ? AND team_id = ? "
                                "AND archive_sha256 = ?", (target, row["team_id"],
                                                           row["archive_sha256"])).fetchone()
            if exists:
                continue
            db.execute(
                "INSERT INTO submissions (submission_id, phase_id, team_id, archive_sha256, "
                "archive_bytes, archive_kind, received_at, state, note, method_url, "
                "lease_owner, config_sha256, promoted_from) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, NULL, ?, ?)",
                (new_id, target, row["team_id"], row["archive_sha256"], row["archive_bytes"],
                 row["archive_kind"], iso(now_utc()), row["note"], row["method_url"],
                 board.config.digest(), row["submission_id"]))
            board.ledger.append_event("submission_promoted", new_id, {
                "from": row["submission_id"], "phase": target,
                "archive_sha256": row["archive_sha256"]})
        board._score(new_id, snapshot=False)
        created.append(new_id)
    if created:  # one change of the target's board, however many entries came in
        life.record_snapshot(board, target, "promotion", {
            "kind": "promotion", "from": source, "submissions": created})
    return created


def stale_evaluations(board: Board) -> dict[str, str]:
    """Active evaluations made under another reference content, wmheval version or options
    than the phase's current ones: evaluation id -> why. Computed once per ledger state
    of an open board (the site asks for every team)."""
    head = board.ledger.head()
    cached = board.__dict__.get("_stale_cache")
    if cached is not None and cached[0] == head:
        return cached[1]
    out = {}
    current = {}
    for phase in board.config.phases:
        row = board.ledger.connection.execute("SELECT * FROM phases WHERE phase_id = ?",
                                              (phase.name,)).fetchone()
        ids = json.loads(row["subject_ids_json"])
        current[phase.name] = engine.reference_digest(Path(board.config.reference), ids)
    for r in board.ledger.query(
            "SELECT e.*, s.phase_id FROM evaluations e JOIN submissions s USING "
            "(submission_id) WHERE e.active = 1"):
        _, options, _ = board._evaluation_plan(board._submission(r["submission_id"]))
        why = []
        if r["reference_sha256"] != current[r["phase_id"]]:
            why.append("the reference changed")
        if r["wmheval_version"] != engine.wmheval_version():
            why.append(f"scored by wmheval {r['wmheval_version']}")
        if json.loads(r["options_json"]) != options:
            why.append("the scoring options changed")
        if why:
            out[r["evaluation_id"]] = "; ".join(why) + " (run 'wmheval board rescore')"
    board.__dict__["_stale_cache"] = (head, out)
    return out
