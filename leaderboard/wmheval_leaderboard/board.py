"""The board: initialise a challenge folder, add teams, take in and score submissions,
report their state, recover after a crash, verify, back up.

Every write is one short ``BEGIN IMMEDIATE`` transaction (:meth:`Ledger.write`) that also
appends its event; archive storage, extraction and scoring happen outside transactions, the
last two in a child process (:mod:`wmheval_leaderboard.worker`) with resource and time
limits. The steps of a submission, each a possible crash point (the fault hook
``WMHEVAL_BOARD_FAULT=<step>`` kills the process there in tests):

``after_blob`` (archive stored) -> ``after_queue_commit`` (row ``queued``) ->
``after_scoring_mark`` (row ``scoring``) -> ``mid_extract`` / ``mid_score`` (in the child)
-> ``after_run_folder`` (run folder in place) -> ``after_result_commit`` (``scored``).

``recover`` finishes every row left ``queued`` or ``scoring`` by a process that is gone;
scoring is deterministic and run folders are replaced whole, so re-running is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from wmheval_leaderboard import engine
from wmheval_leaderboard.config import (
    Challenge,
    Phase,
    config_text,
    iso,
    now_utc,
    parse_time,
    read_config,
    window_seconds,
)
from wmheval_leaderboard.errors import (
    BoardError,
    BoardUsageError,
    OverLimit,
    SubmissionRejected,
)
from wmheval_leaderboard.ledger import LEDGER_NAME, Ledger, new_submission_id
from wmheval_leaderboard.store import (
    blob_path,
    clean_temporaries,
    fault_point,
    file_sha256,
    publish_run,
    store_blob,
    tree_sha256,
)

COUNTED_STATES = ("queued", "scoring", "scored", "withdrawn")
"""States that use a quota slot: a rejected archive or a failed scoring run does not; a
withdrawn one (only scored submissions can be withdrawn) still does."""
MAX_NAME = 80
MAX_NOTE = 2000
MAX_URL = 500


def _text_field(value: str, what: str, limit: int, multiline: bool = False) -> str:
    """A participant-controlled string: NFC, at most ``limit`` characters, no control
    characters (newlines allowed in notes). Its content is never interpreted."""
    value = unicodedata.normalize("NFC", value)
    allowed = "\n\t" if multiline else ""
    if any((unicodedata.category(c) == "Cc" and c not in allowed) for c in value):
        raise BoardUsageError(f"{what}: control characters are not allowed")
    if len(value) > limit:
        raise BoardUsageError(f"{what}: longer than {limit} characters")
    return value


def team_slug(name: str) -> str:
    """A file-name-safe, unique key for a team: ``team-`` and 12 hex digits of the name's
    SHA-256. No file name is ever built from the name's characters."""
    return f"team-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    """Whether the process that holds a row is still running (same host only)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # cannot tell: leave it to its own host
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


@dataclass
class SubmitOutcome:
    """What ``submit`` did: the row, whether it was a resubmission, means, position and
    the quota line."""

    submission_id: str
    state: str
    reason: str
    duplicate: bool
    means: dict
    position: str | None
    quota: str


@dataclass
class Standing:
    """One row of a board."""

    team: str
    slug: str
    baseline: bool
    position: int | None
    tied: bool
    score: float
    means: dict
    n_cases: int
    n_missing: int
    submission_id: str
    submitted_at: str
    note: str
    method_url: str
    rank_lo: int | None = None
    rank_hi: int | None = None
    top_group: bool = False
    separable_from_next: bool | None = None
    evaluation_id: str = ""


@dataclass
class Standings:
    """A phase's board: ranked standings, the not-ranked list, and how it was computed."""

    phase: str
    rows: list[Standing]
    not_ranked: list[dict]
    policy_name: str
    missing_wording: str
    bootstrap: int
    seed: int | None
    inputs_sha256: str
    case_values: list[float] = field(default_factory=list)
    subject_ids: list[str] = field(default_factory=list)


class Board:
    """A challenge folder: its settings (``challenge.toml``) and its ledger."""

    def __init__(self, root: Path, config: Challenge, ledger: Ledger) -> None:
        self.root, self.config, self.ledger = root, config, ledger

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, root: str | Path) -> Board:
        root = Path(root)
        config = read_config(root)
        ledger = Ledger.open(root)
        board = cls(root, config, ledger)
        board._sync_phases()
        board._note_config_change()
        return board

    def close(self) -> None:
        self.ledger.close()

    def _note_config_change(self) -> None:
        """A changed ``challenge.toml`` is an event and a snapshot of every phase (cause
        ``configuration``): a board can move with the settings."""
        digest = self.config.digest()
        with self.ledger.write() as db:
            last = db.execute("SELECT payload_json FROM events WHERE kind IN "
                              "('board_created', 'config_changed') ORDER BY seq DESC "
                              "LIMIT 1").fetchone()
            if last is not None and json.loads(last[0]).get("config") == digest:
                return
            self.ledger.append_event("config_changed", None,
                                     {"config": digest, "text": config_text(self.config)})
        from wmheval_leaderboard.life import record_all

        record_all(self, "config", {"kind": "config", "config": digest})

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @classmethod
    def init(cls, root: str | Path, reference: str | Path, *, name: str | None = None,
             limit: int = 5, window: str = "24h") -> Board:
        """Write ``root/challenge.toml``, the ledger and the folders: one phase ``test``
        over every subject of ``reference``, ``limit`` per team per ``window``, per-case
        results hidden from the public view, the board public."""
        root = Path(root)
        reference = Path(reference)
        if not reference.is_dir():
            raise BoardUsageError(f"{reference}: reference folder not found")
        if (root / "challenge.toml").exists() or (root / LEDGER_NAME).exists():
            raise BoardUsageError(f"{root}: a board is already here")
        window_seconds(window)
        if limit < 0:
            raise BoardUsageError("--limit must be 0 (no limit) or more")
        name = _text_field(name or root.name, "--name", MAX_NAME)
        try:
            engine.reference_subjects(reference, "all")
        except (ValueError, OSError) as error:
            raise BoardUsageError(str(error)) from None
        challenge = Challenge(name=name, reference=str(reference.resolve()),
                              phases=(Phase(limit=limit or None, window=window),),
                              created=iso(now_utc()))
        root.mkdir(parents=True, exist_ok=True)
        for folder in ("blobs/sha256", "blobs/tmp", "runs", "snapshots", "cache"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        from wmheval.io.atomic import write_text_atomic

        write_text_atomic(root / "challenge.toml", config_text(challenge))
        ledger = Ledger.open(root, create=True)
        with ledger.write():
            ledger.append_event("board_created", None, {"name": name,
                                                         "config": challenge.digest(),
                                                         "text": config_text(challenge)})
        board = cls(root, challenge, ledger)
        board._sync_phases()
        return board

    def _sync_phases(self) -> None:
        """Give every phase of ``challenge.toml`` its ledger row: subject ids and reference
        hash. A phase's subjects may be edited until its first submission; after that a
        change is refused (it needs a re-evaluation)."""
        rows = {r["phase_id"]: r for r in self.ledger.query("SELECT * FROM phases")}
        reference = Path(self.config.reference)
        for phase in self.config.phases:
            row = rows.get(phase.name)
            if row is not None and row["reference_path"] == str(reference) and \
                    row["subjects_key"] == _subjects_key(phase.subjects):
                continue
            try:
                subjects = engine.reference_subjects(reference, phase.subjects)
            except (ValueError, OSError) as error:
                raise BoardUsageError(f"phase {phase.name}: {error}") from None
            if not subjects:
                raise BoardUsageError(f"phase {phase.name}: no reference subject matches "
                                      f"subjects = {phase.subjects!r}")
            ids = [s for s, _ in subjects]
            digest = engine.reference_digest(reference, ids)
            with self.ledger.write() as db:
                current = db.execute("SELECT * FROM phases WHERE phase_id = ?",
                                     (phase.name,)).fetchone()
                values = (str(reference), digest, json.dumps(ids),
                          _subjects_key(phase.subjects))
                if current is None:
                    db.execute("INSERT INTO phases (phase_id, reference_path, "
                               "reference_sha256, subject_ids_json, subjects_key, created_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (phase.name, *values, iso(now_utc())))
                    kind = "phase_added"
                else:
                    if current["frozen_at"]:
                        raise BoardUsageError(
                            f"phase {phase.name} is frozen: its subjects or reference cannot "
                            "change; restore them in challenge.toml")
                    db.execute("UPDATE phases SET reference_path = ?, reference_sha256 = ?, "
                               "subject_ids_json = ?, subjects_key = ? WHERE phase_id = ?",
                               (*values, phase.name))
                    kind = "phase_changed"
                self.ledger.append_event(kind, phase.name,
                                         {"subjects": len(ids), "reference_sha256": digest})

    # ------------------------------------------------------------ teams

    def add_team(self, name: str, baseline: bool = False) -> str:
        """Add a team (``baseline``: badged, out of the normalisation by default)."""
        name = _text_field(name, "team name", MAX_NAME)
        if not name.strip():
            raise BoardUsageError("team name: empty")
        team_id = "t" + hashlib.sha256(name.encode()).hexdigest()[:16]
        with self.ledger.write() as db:
            clash = db.execute("SELECT name FROM teams WHERE lower(name) = lower(?) OR "
                               "team_id = ?", (name, team_id)).fetchone()
            if clash:
                raise BoardUsageError(f"team {name!r} already exists (as {clash['name']!r})")
            db.execute("INSERT INTO teams (team_id, name, slug, is_baseline, created_at) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (team_id, name, team_slug(name), int(baseline), iso(now_utc())))
            self.ledger.append_event("team_added", team_id,
                                     {"name": name, "baseline": bool(baseline)})
        return team_id

    def team(self, name: str) -> sqlite3.Row:
        row = self.ledger.connection.execute("SELECT * FROM teams WHERE name = ?",
                                             (name,)).fetchone()
        if row is None:
            raise BoardUsageError(f"unknown team {name!r} (add it with 'wmheval board team "
                                  "add')")
        return row

    # ------------------------------------------------------------ quota

    def _quota(self, db: sqlite3.Connection, phase: Phase, team_id: str) -> tuple[int, str]:
        """(slots used in the current window, the quota line "n of N used; ...")."""
        seconds = phase.window_seconds
        now = now_utc()
        since = iso(now - timedelta(seconds=seconds)) if seconds else ""
        marks = ",".join("?" * len(COUNTED_STATES))
        rows = db.execute(
            f"SELECT received_at FROM submissions WHERE phase_id = ? AND team_id = ? AND "
            f"state IN ({marks}) AND received_at >= ? ORDER BY received_at",
            (phase.name, team_id, *COUNTED_STATES, since)).fetchall()
        used = len(rows)
        if phase.limit is None:
            return used, f"{used} used (no limit)"
        span = "in total" if seconds is None else f"in the last {phase.window}"
        line = f"{used} of {phase.limit} used {span}"
        if used >= phase.limit:
            if seconds is None:
                line += "; no further slot in this phase"
            else:
                oldest = parse_time(rows[used - phase.limit]["received_at"], "received_at")
                line += f"; next slot at {iso(oldest + timedelta(seconds=seconds))[:19]}Z"
        else:
            line += "; next slot: now"
        return used, line

    # ------------------------------------------------------------ submitting

    def submit(self, path: str | Path, team: str, phase: str | None = None, note: str = "",
               method_url: str = "") -> SubmitOutcome:
        """Store, queue (quota checked in the same transaction) and score a submission.

        The same archive bytes from the same team in the same phase return the existing
        submission without using quota. Raises :class:`OverLimit` (exit 1) when the team
        has no slot, :class:`SubmissionRejected` (exit 1) for a rejected archive or a
        failed scoring, :class:`BoardUsageError` (exit 2) for an unknown team or phase.
        """
        path = Path(path)
        chosen = self.config.phase(phase)
        team_row = self.team(team)
        note = _text_field(note or "", "--note", MAX_NOTE, multiline=True)
        method_url = _text_field(method_url or "", "--method-url", MAX_URL)
        if not path.exists():
            raise BoardUsageError(f"{path}: no such file or folder")
        try:
            sha, size, kind = store_blob(self.root, path, chosen.caps.max_archive_mb << 20)
        except ValueError as error:
            raise SubmissionRejected(str(error)) from None
        fault_point("after_blob")
        now = now_utc()
        duplicate = False
        with self.ledger.write() as db:
            existing = db.execute(
                "SELECT * FROM submissions WHERE phase_id = ? AND team_id = ? AND "
                "archive_sha256 = ?", (chosen.name, team_row["team_id"], sha)).fetchone()
            if existing is not None:
                duplicate = True
                submission_id = existing["submission_id"]
            else:
                self._check_open(chosen, now)
                if chosen.after:
                    passed = db.execute(
                        "SELECT 1 FROM submissions WHERE phase_id = ? AND team_id = ? AND "
                        "state = 'scored' LIMIT 1", (chosen.after, team_row["team_id"])
                    ).fetchone()
                    if passed is None:
                        raise BoardError(f"phase {chosen.name} needs a scored submission in "
                                         f"phase {chosen.after} first (team {team})")
                used, line = self._quota(db, chosen, team_row["team_id"])
                if chosen.limit is not None and used >= chosen.limit:
                    raise OverLimit(f"submission limit reached for team {team}: {line}")
                submission_id = new_submission_id(now, team_row["team_id"], chosen.name, sha)
                db.execute(
                    "INSERT INTO submissions (submission_id, phase_id, team_id, "
                    "archive_sha256, archive_bytes, archive_kind, received_at, state, note, "
                    "method_url, lease_owner, config_sha256) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (submission_id, chosen.name, team_row["team_id"], sha, size, kind,
                     iso(now), note, method_url, _owner(), self.config.digest()))
                self.ledger.append_event("submission_queued", submission_id, {
                    "team": team_row["team_id"], "phase": chosen.name, "archive_sha256": sha,
                    "bytes": size})
        fault_point("after_queue_commit")
        row = self._submission(submission_id)
        if row["state"] in ("queued", "scoring") and (
                not duplicate or not _owner_alive(row["lease_owner"])):
            self._score(submission_id)
            row = self._submission(submission_id)
        return self._outcome(row, duplicate)

    def _check_open(self, phase: Phase, now) -> None:
        opens, closes = parse_time(phase.opens, "opens"), parse_time(phase.closes, "closes")
        if opens and now < opens:
            raise BoardError(f"phase {phase.name} opens at {phase.opens}")
        if closes and now >= closes:
            raise BoardError(f"phase {phase.name} closed at {phase.closes}")
        frozen = self.ledger.connection.execute(
            "SELECT frozen_at FROM phases WHERE phase_id = ?", (phase.name,)).fetchone()
        if frozen and frozen["frozen_at"]:
            raise BoardError(f"phase {phase.name} is frozen")

    def _submission(self, submission_id: str) -> sqlite3.Row:
        return self.ledger.connection.execute(
            "SELECT s.*, t.name AS team_name FROM submissions s JOIN teams t USING (team_id) "
            "WHERE submission_id = ?", (submission_id,)).fetchone()

    def _outcome(self, row: sqlite3.Row, duplicate: bool) -> SubmitOutcome:
        phase = self.config.phase(row["phase_id"])
        _, line = self._quota(self.ledger.connection, phase, row["team_id"])
        means, position = {}, None
        if row["state"] == "scored":
            evaluation = self.ledger.connection.execute(
                "SELECT means_json FROM evaluations WHERE submission_id = ? AND active = 1",
                (row["submission_id"],)).fetchone()
            means = json.loads(evaluation["means_json"]) if evaluation else {}
            if duplicate:  # nothing changed: the last published board says where it stands
                return SubmitOutcome(row["submission_id"], row["state"], "", True, means,
                                     self._published_position(row), line)
            standings = self.standings(phase.name, bootstrap=0)
            for standing in standings.rows:
                if standing.submission_id == row["submission_id"]:
                    position = (f"{'=' if standing.tied else ''}{standing.position} of "
                                f"{sum(1 for s in standings.rows if s.position)}"
                                if standing.position else "baseline (not ranked)")
        return SubmitOutcome(row["submission_id"], row["state"], row["reason"] or "",
                             duplicate, means, position, line)

    def _published_position(self, row: sqlite3.Row) -> str:
        """The submission's position on the latest stored board of its phase (a resubmission
        changes nothing, so this answers without ranking again)."""
        snapshot = self.ledger.connection.execute(
            "SELECT board_json, created_at FROM snapshots WHERE phase_id = ? "
            "ORDER BY created_at DESC LIMIT 1", (row["phase_id"],)).fetchone()
        if snapshot is not None:
            entries = json.loads(snapshot["board_json"])["entries"]
            ranked = sum(1 for e in entries if e["position"])
            for entry in entries:
                if entry["submission_id"] == row["submission_id"]:
                    where = (f"{entry['position']} of {ranked}" if entry["position"]
                             else "baseline (not ranked)")
                    return f"{where} on the board built {snapshot['created_at'][:19]}Z"
        return "not on a built board yet (run 'wmheval board build')"

    # ------------------------------------------------------------ scoring

    def _score(self, submission_id: str, snapshot: bool = True) -> None:
        """Mark ``scoring``, run the child, publish the run folder, commit the result and
        (with ``snapshot``) record the phase's board; a caller that scores several
        submissions as one change (a promotion) records it once itself."""
        with self.ledger.write() as db:
            row = db.execute("SELECT * FROM submissions WHERE submission_id = ?",
                             (submission_id,)).fetchone()
            if row["state"] not in ("queued", "scoring"):
                return
            db.execute("UPDATE submissions SET state = 'scoring', lease_owner = ? WHERE "
                       "submission_id = ?", (_owner(), submission_id))
            self.ledger.append_event("scoring_started", submission_id, {})
        fault_point("after_scoring_mark")
        phase_row, options, evaluation_id = self._evaluation_plan(row)
        staging = None
        try:
            staging, result, final, run_sha = self._evaluate(row, options, evaluation_id)
            fault_point("after_run_folder")
            self._commit_result(submission_id, evaluation_id, phase_row, options, result,
                                final, run_sha)
            fault_point("after_result_commit")
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        if not snapshot:
            return
        from wmheval_leaderboard.life import record_snapshot

        team = self._submission(submission_id)["team_name"]
        record_snapshot(self, row["phase_id"], "submission", {
            "kind": "submission", "team": team, "submission": submission_id,
            "state": result["state"]})

    def _evaluation_plan(self, row) -> tuple[sqlite3.Row, dict, str]:
        """The phase row, the scoring options and the evaluation id of a submission under
        the phase's current reference (the id is a hash of submission, reference content,
        wmheval's version and the options: the same inputs give the same id)."""
        phase = self.config.phase(row["phase_id"])
        phase_row = self.ledger.connection.execute(
            "SELECT * FROM phases WHERE phase_id = ?", (phase.name,)).fetchone()
        options = {"missing": self.config.missing, "undefined": self.config.undefined,
                   "subjects": phase.subjects if isinstance(phase.subjects, str)
                   else list(phase.subjects), "rule": "official"}
        evaluation_id = "e" + hashlib.sha256(json.dumps(
            [row["submission_id"], phase_row["reference_sha256"], engine.wmheval_version(),
             options], sort_keys=True).encode()).hexdigest()[:20]
        return phase_row, options, evaluation_id

    def _evaluate(self, row, options: dict, evaluation_id: str):
        """Score a submission's archive in the child process (outside any transaction) and
        publish its run folder; returns (staging, result, run folder, its hash)."""
        phase = self.config.phase(row["phase_id"])
        runs = self.root / "runs"
        runs.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{row['submission_id']}-", dir=runs))
        result = self._run_child(staging, row, phase, options)
        final = runs / row["submission_id"] / evaluation_id
        run_sha = ""
        if result["state"] == "scored":
            run_sha = tree_sha256(staging / "run")
            publish_run(staging / "run", final)
        return staging, result, final, run_sha

    def _run_child(self, staging: Path, row: sqlite3.Row, phase: Phase,
                   options: dict) -> dict:
        job = {
            "staging": str(staging), "blob": str(blob_path(self.root, row["archive_sha256"])),
            "reference": self.config.reference, "subjects": options["subjects"],
            "missing": self.config.missing, "undefined": self.config.undefined,
            "caps": {k: getattr(phase.caps, k) for k in phase.caps.__dataclass_fields__},
            "cache": str(self.root / "cache"), "memory_mb": self.config.memory_limit_mb,
            "cpu_s": self.config.time_limit_s, "file_mb": max(phase.caps.max_member_mb, 64),
        }
        job_path = staging / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "wmheval_leaderboard.worker", str(job_path)],
                env=environment, capture_output=True, text=True,
                timeout=self.config.time_limit_s)
        except subprocess.TimeoutExpired:
            return {"state": "failed", "reason": "scoring exceeded the time limit "
                    f"({self.config.time_limit_s} s)"}
        result_path = staging / "result.json"
        if completed.returncode != 0 or not result_path.is_file():
            code = completed.returncode
            why = (f"ended by signal {-code} (memory or CPU limit)" if code < 0
                   else f"exited with status {code}")
            lines = [x for x in completed.stderr.splitlines() if x.strip()]
            last = f": {lines[-1][:200]}" if lines else ""
            return {"state": "failed", "reason": f"the scoring process {why}{last}"}
        return json.loads(result_path.read_text(encoding="utf-8"))

    def _commit_result(self, submission_id: str, evaluation_id: str, phase_row, options: dict,
                       result: dict, final: Path, run_sha: str) -> None:
        now = iso(now_utc())
        means, n_cases, n_missing = self._means(result)
        with self.ledger.write() as db:
            row = db.execute("SELECT state FROM submissions WHERE submission_id = ?",
                             (submission_id,)).fetchone()
            if row["state"] != "scoring":
                return
            if result["state"] == "scored":
                db.execute("UPDATE evaluations SET active = 0 WHERE submission_id = ?",
                           (submission_id,))
                self._insert_evaluation(db, submission_id, evaluation_id, phase_row, options,
                                        result, final, run_sha, means, n_cases, n_missing,
                                        active=True, now=now)
            db.execute("UPDATE submissions SET state = ?, reason = ?, finished_at = ?, "
                       "lease_owner = NULL WHERE submission_id = ?",
                       (result["state"], result.get("reason") or None, now, submission_id))
            self.ledger.append_event(f"submission_{result['state']}", submission_id, {
                "evaluation": evaluation_id if result["state"] == "scored" else None,
                "run_sha256": run_sha or None, "reason": result.get("reason") or None,
                "means": means})

    def _means(self, result: dict) -> tuple[dict, int, int]:
        if result["state"] != "scored":
            return {}, 0, 0
        import pandas as pd

        cases = pd.DataFrame(result["cases"])
        policy = engine.make_policy(self.config.missing, self.config.undefined)
        ranked = engine.rank_cases(cases.assign(team="_"), policy).table.iloc[0]
        means = {m: _finite(ranked[m]) for m in engine.metrics()}
        return means, int(ranked["n_cases"]), int(ranked["n_missing"])

    def _insert_evaluation(self, db, submission_id, evaluation_id, phase_row, options,
                           result, final, run_sha, means, n_cases, n_missing, *,
                           active: bool, now: str, reason: str | None = None) -> None:
        """Insert an evaluation and its per-case rows (replacing a row of the same id)."""
        db.execute("DELETE FROM case_results WHERE evaluation_id = ?", (evaluation_id,))
        db.execute("DELETE FROM evaluations WHERE evaluation_id = ?", (evaluation_id,))
        db.execute(
            "INSERT INTO evaluations (evaluation_id, submission_id, reference_sha256, "
            "wmheval_version, options_json, created_at, run_dir, run_sha256, n_cases, "
            "n_missing, means_json, active, switched_at, rescore_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (evaluation_id, submission_id, phase_row["reference_sha256"],
             engine.wmheval_version(), json.dumps(options, sort_keys=True), now,
             final.relative_to(self.root).as_posix(), run_sha, n_cases, n_missing,
             json.dumps(means, sort_keys=True), int(active), now if active else None,
             reason))
        db.executemany(
            "INSERT INTO case_results (evaluation_id, subject_id, scanner, split, "
            "seen_in_training, status, dice, h95, avd, recall, f1, "
            "reference_diagonal_mm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(evaluation_id, str(c["id"]), c.get("scanner"), c.get("split"),
              None if c.get("seen_in_training") is None
              else int(bool(c["seen_in_training"])), c["status"], c.get("dice"),
              c.get("h95"), c.get("avd"), c.get("recall"), c.get("f1"),
              c.get("reference_diagonal_mm")) for c in result["cases"]])

    # ------------------------------------------------------------ reading

    def status(self, team: str | None = None) -> list[dict]:
        """Every submission (of ``team``): id, team, phase, state, archive hash, times,
        reason, scores."""
        sql = ("SELECT s.*, t.name AS team_name, t.is_baseline, e.means_json, e.n_cases, "
               "e.n_missing, e.evaluation_id FROM submissions s JOIN teams t USING (team_id) "
               "LEFT JOIN evaluations e ON e.submission_id = s.submission_id AND e.active = 1")
        params: tuple = ()
        if team is not None:
            self.team(team)
            sql += " WHERE t.name = ?"
            params = (team,)
        rows = self.ledger.query(sql + " ORDER BY s.received_at, s.submission_id", params)
        from wmheval_leaderboard.lifecycle import stale_evaluations

        stale = stale_evaluations(self)
        return [{
            "stale": stale.get(r["evaluation_id"], "") if r["evaluation_id"] else "",
            "selected": bool(r["selected"]),
            "id": r["submission_id"], "team": r["team_name"], "baseline": bool(r["is_baseline"]),
            "phase": r["phase_id"], "state": r["state"], "reason": r["reason"] or "",
            "archive_sha256": r["archive_sha256"], "archive_bytes": r["archive_bytes"],
            "received_at": r["received_at"], "finished_at": r["finished_at"],
            "withdrawn_at": r["withdrawn_at"],
            "note": r["note"] or "", "method_url": r["method_url"] or "",
            "evaluation_id": r["evaluation_id"],
            "n_cases": r["n_cases"], "n_missing": r["n_missing"],
            "scores": json.loads(r["means_json"]) if r["means_json"] else None,
        } for r in rows]

    def quota_line(self, team: str, phase: str | None = None) -> str:
        chosen = self.config.phase(phase)
        return self._quota(self.ledger.connection, chosen, self.team(team)["team_id"])[1]

    def standings(self, phase: str | None = None, bootstrap: int = 0) -> Standings:
        """The board of a phase: one entry per team (its latest scored submission), ranked
        by the library under the challenge's policy; baselines badged (out of the
        normalisation unless ``baselines_in_normalisation``); every failed or rejected
        submission in ``not_ranked``; with ``bootstrap`` > 0, 95 % rank intervals over
        subjects, seeded from a hash of the inputs."""
        from wmheval_leaderboard.standings import compute_standings

        return compute_standings(self, self.config.phase(phase), bootstrap)

    # ------------------------------------------------------------ recovery and checks

    def recover(self) -> list[str]:
        """Finish what killed processes left: remove orphan uploads and run staging
        folders, and score again every row left ``queued`` or ``scoring`` by a process that
        is gone. Returns what was done, one line each."""
        done = [f"removed {p.relative_to(self.root)}" for p in clean_temporaries(self.root)]
        rows = self.ledger.query("SELECT submission_id, state, lease_owner FROM submissions "
                                 "WHERE state IN ('queued', 'scoring') ORDER BY received_at")
        for row in rows:
            if _owner_alive(row["lease_owner"]) and row["lease_owner"] != _owner():
                done.append(f"{row['submission_id']}: still being processed by "
                            f"{row['lease_owner']}; left alone")
                continue
            self._score(row["submission_id"])
            state = self._submission(row["submission_id"])["state"]
            done.append(f"{row['submission_id']}: was {row['state']}, now {state}")
        for path in sorted((self.root / "runs").glob("*/*")):
            known = self.ledger.connection.execute(
                "SELECT 1 FROM evaluations WHERE run_dir = ?",
                (path.relative_to(self.root).as_posix(),)).fetchone()
            if known is None and not path.name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"removed uncommitted run folder {path.relative_to(self.root)}")
        from wmheval_leaderboard.life import latest_is_current, record_snapshot

        for phase in self.config.phases:
            if not latest_is_current(self, phase.name):
                record_snapshot(self, phase.name, "recover", {"kind": "recover"})
                done.append(f"phase {phase.name}: board snapshot written (a process was "
                            "killed before writing it)")
        if done:
            with self.ledger.write():
                self.ledger.append_event("recovered", None, {"actions": len(done)})
        return done

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of the ledger (SQLite's online backup), written atomically;
        other processes may keep submitting meanwhile."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(handle)
        try:
            copy = sqlite3.connect(name)
            with copy:
                self.ledger.connection.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
            copy.close()
            with open(name, "rb") as written:
                os.fsync(written.fileno())
            os.replace(name, target)
        finally:
            if os.path.exists(name):
                os.unlink(name)
        return target


def _subjects_key(subjects) -> str:
    return subjects if isinstance(subjects, str) else json.dumps(sorted(subjects))


def _finite(value) -> float | None:
    import math

    value = float(value)
    return value if math.isfinite(value) else None


def verify(root: str | Path) -> list[str]:
    """Every problem of a board, one line each (empty: all is well): the ledger's SQLite
    integrity and foreign keys, the event chain, every stored archive against its hash,
    every run folder against the hash recorded at commit, unfinished rows and orphans."""
    root = Path(root)
    path = root / LEDGER_NAME
    if not path.is_file():
        return [f"{path}: the ledger is missing"]
    problems: list[str] = []
    try:
        connection = sqlite3.connect(path, timeout=60, isolation_level=None)
        connection.row_factory = sqlite3.Row
        checks = [r[0] for r in connection.execute("PRAGMA integrity_check").fetchall()]
        if checks != ["ok"]:
            problems += [f"ledger: integrity check: {c}" for c in checks[:10]]
        for r in connection.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"ledger: row {r[1]} of table {r[0]} points at a missing "
                            f"{r[2]} row")
        ledger = Ledger(connection, path)
        problems += ledger.check_chain()
        for r in connection.execute("SELECT submission_id, archive_sha256, state, "
                                    "lease_owner FROM submissions").fetchall():
            blob = blob_path(root, r["archive_sha256"])
            if not blob.is_file():
                problems.append(f"archive of submission {r['submission_id']}: missing "
                                f"({blob.relative_to(root)})")
            elif file_sha256(blob) != r["archive_sha256"]:
                problems.append(f"archive of submission {r['submission_id']}: altered (its "
                                f"content does not match its hash; {blob.relative_to(root)})")
            if r["state"] in ("queued", "scoring") and not _owner_alive(r["lease_owner"]):
                problems.append(f"submission {r['submission_id']}: left {r['state']} by a "
                                "process that is gone (run 'wmheval board recover')")
        for r in connection.execute("SELECT evaluation_id, run_dir, run_sha256 FROM "
                                    "evaluations").fetchall():
            run = root / r["run_dir"]
            if not run.is_dir():
                problems.append(f"run folder {r['run_dir']}: missing")
            elif tree_sha256(run) != r["run_sha256"]:
                problems.append(f"run folder {r['run_dir']}: altered since it was scored")
        connection.close()
    except sqlite3.DatabaseError as error:
        problems.append(f"ledger: cannot be read ({error})")
    leftovers = list((root / "blobs" / "tmp").glob("*")) + list((root / "runs").glob(".tmp-*"))
    for leftover in leftovers:
        problems.append(f"{leftover.relative_to(root)}: left by a killed process (run "
                        "'wmheval board recover')")
    return problems


__all__ = ["Board", "SubmitOutcome", "Standing", "Standings", "replace", "team_slug",
           "verify"]
