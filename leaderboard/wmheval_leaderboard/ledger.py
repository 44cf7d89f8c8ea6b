"""The ledger: one SQLite file (stdlib ``sqlite3``) that never lies.

* WAL journal, ``synchronous=FULL`` (an acknowledged submission survives a power cut),
  foreign keys, and a ``busy_timeout`` long enough that a writer waits for another instead
  of failing with "database is locked".
* Autocommit connections (``isolation_level=None``); every write is one short
  :meth:`Ledger.write` block that starts with ``BEGIN IMMEDIATE`` (a deferred transaction
  that reads then writes can fail with SQLITE_BUSY that no timeout can wait out). Nothing
  slow (extraction, scoring, site building) ever runs inside one.
* Numbered migrations (:data:`MIGRATIONS`); the schema version is ``PRAGMA user_version``
  in the file. A ledger newer than the code is refused.
* Every state change appends a row to ``events`` in the same transaction; each event's
  ``hash`` is SHA-256 over the previous hash and the event's canonical JSON, so editing,
  removing or reordering an event breaks the chain (:meth:`Ledger.check_chain`).

All SQL of the board lives in this module and ``board.py``; it stays portable (text keys,
ISO-8601 UTC text times, no SQLite-only functions in queries) so a PostgreSQL backend can be
added later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from wmheval_leaderboard.config import iso, now_utc
from wmheval_leaderboard.errors import BoardUsageError

LEDGER_NAME = "ledger.sqlite"
BUSY_TIMEOUT_MS = 60_000
GENESIS = "0" * 64

MIGRATIONS: tuple[str, ...] = (
    # 1: teams, phases, submissions, evaluations, per-case results, snapshots, events.
    """
    CREATE TABLE teams (
        team_id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        slug TEXT NOT NULL UNIQUE,
        is_baseline INTEGER NOT NULL DEFAULT 0 CHECK (is_baseline IN (0, 1)),
        created_at TEXT NOT NULL
    );
    CREATE TABLE phases (
        phase_id TEXT PRIMARY KEY,
        parent_id TEXT REFERENCES phases (phase_id),
        reference_path TEXT NOT NULL,
        reference_sha256 TEXT NOT NULL,
        subject_ids_json TEXT NOT NULL,
        subjects_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        frozen_at TEXT
    );
    CREATE TABLE submissions (
        submission_id TEXT PRIMARY KEY,
        phase_id TEXT NOT NULL REFERENCES phases (phase_id),
        team_id TEXT NOT NULL REFERENCES teams (team_id),
        archive_sha256 TEXT NOT NULL,
        archive_bytes INTEGER NOT NULL,
        archive_kind TEXT NOT NULL,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN
            ('queued', 'scoring', 'scored', 'failed', 'rejected', 'withdrawn')),
        reason TEXT,
        note TEXT,
        method_url TEXT,
        selected INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        finished_at TEXT,
        config_sha256 TEXT NOT NULL,
        UNIQUE (phase_id, team_id, archive_sha256)
    );
    CREATE INDEX submissions_quota ON submissions (phase_id, team_id, received_at);
    CREATE TABLE evaluations (
        evaluation_id TEXT PRIMARY KEY,
        submission_id TEXT NOT NULL REFERENCES submissions (submission_id),
        reference_sha256 TEXT NOT NULL,
        wmheval_version TEXT NOT NULL,
        options_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        run_dir TEXT NOT NULL,
        run_sha256 TEXT NOT NULL,
        n_cases INTEGER NOT NULL,
        n_missing INTEGER NOT NULL,
        means_json TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
    );
    CREATE UNIQUE INDEX one_active_evaluation ON evaluations (submission_id)
        WHERE active = 1;
    CREATE TABLE case_results (
        evaluation_id TEXT NOT NULL REFERENCES evaluations (evaluation_id),
        subject_id TEXT NOT NULL,
        scanner TEXT,
        split TEXT,
        seen_in_training INTEGER,
        status TEXT NOT NULL,
        dice REAL, h95 REAL, avd REAL, recall REAL, f1 REAL,
        reference_diagonal_mm REAL,
        PRIMARY KEY (evaluation_id, subject_id)
    );
    CREATE TABLE snapshots (
        snapshot_id TEXT PRIMARY KEY,
        phase_id TEXT NOT NULL REFERENCES phases (phase_id),
        created_at TEXT NOT NULL,
        trigger TEXT NOT NULL,
        inputs_sha256 TEXT NOT NULL,
        board_json TEXT NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref_id TEXT,
        payload_json TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
    );
    """,
    # 2: the board's history (one row per change that can move a phase's board, in order,
    # with its cause), withdrawal and selection times, evaluation switch times and reasons.
    """
    CREATE TABLE board_snapshots (
        seq INTEGER PRIMARY KEY,
        phase_id TEXT NOT NULL REFERENCES phases (phase_id),
        created_at TEXT NOT NULL,
        trigger TEXT NOT NULL,
        cause_json TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        payload_json TEXT NOT NULL
    );
    CREATE INDEX board_snapshots_time ON board_snapshots (phase_id, created_at);
    ALTER TABLE submissions ADD COLUMN withdrawn_at TEXT;
    ALTER TABLE submissions ADD COLUMN promoted_from TEXT;
    ALTER TABLE evaluations ADD COLUMN switched_at TEXT;
    ALTER TABLE evaluations ADD COLUMN rescore_reason TEXT
    """,
)
"""Schema migrations: entry k brings a ledger from version k to k + 1."""

SCHEMA_VERSION = len(MIGRATIONS)


def new_submission_id(now, team_id: str, phase: str, archive_sha256: str) -> str:
    """A submission's id: ``s`` + the receiving time in milliseconds (hex, so ids sort by
    time) + a hash of time, team, phase and archive: unique (the same team, phase and archive
    is the same submission) and the same on a replay under a simulated clock. Used for
    submitted archives and for imported platform results alike."""
    key = f"{iso(now)}\0{team_id}\0{phase}\0{archive_sha256}".encode()
    return f"s{int(now.timestamp() * 1000):011x}{hashlib.sha256(key).hexdigest()[:8]}"


def event_hash(prev_hash: str, seq: int, at: str, kind: str, ref_id: str | None,
               payload_json: str) -> str:
    """SHA-256 of the previous hash and the event's canonical JSON."""
    body = json.dumps([seq, at, kind, ref_id, payload_json], ensure_ascii=True,
                      separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class Ledger:
    """An open ledger. Use :meth:`open` (runs pending migrations, refuses newer files)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    # ------------------------------------------------------------ opening

    @staticmethod
    def connect(path: Path) -> sqlite3.Connection:
        """A connection with the board's settings (WAL, FULL sync, foreign keys, timeout)."""
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            connection.close()
            raise BoardUsageError(f"{path}: the ledger cannot use WAL journaling ({mode}); "
                                  "keep the board on a local file system")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection

    @classmethod
    def open(cls, folder: Path, create: bool = False) -> Ledger:
        """Open ``folder/ledger.sqlite``; with ``create``, make it. Applies migrations."""
        path = Path(folder) / LEDGER_NAME
        if not create and not path.is_file():
            raise BoardUsageError(f"{folder}: no ledger ({LEDGER_NAME}); run "
                                  "'wmheval board init' first")
        try:
            connection = cls.connect(path)
            ledger = cls(connection, path)
            ledger._migrate()
        except sqlite3.DatabaseError as error:
            raise BoardUsageError(f"{path}: the ledger cannot be read ({error}); run "
                                  "'wmheval board verify' and restore a backup") from None
        return ledger

    def version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.version()
        if version > SCHEMA_VERSION:
            raise BoardUsageError(f"{self.path}: ledger schema version {version} is newer "
                                  f"than this wmheval understands ({SCHEMA_VERSION}); "
                                  "upgrade wmheval")
        if version == SCHEMA_VERSION:
            return
        self.connection.execute("BEGIN EXCLUSIVE")
        try:
            version = self.version()  # another process may have migrated meanwhile
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self.connection.execute(statement)
                self.connection.execute(f"PRAGMA user_version = {step + 1}")
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.connection.close()

    # ------------------------------------------------------------ writing

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on
        any error). The immediate lock is taken first, so the reads inside see the latest
        committed state and no other writer can interleave."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def append_event(self, kind: str, ref_id: str | None, payload: dict) -> str:
        """Append an event (call inside :meth:`write`); returns its hash."""
        last = self.connection.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq = (last["seq"] + 1) if last else 1
        prev = last["hash"] if last else GENESIS
        at = iso(now_utc())
        payload_json = json.dumps(payload, sort_keys=True, ensure_ascii=True)
        digest = event_hash(prev, seq, at, kind, ref_id, payload_json)
        self.connection.execute(
            "INSERT INTO events (seq, at, kind, ref_id, payload_json, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (seq, at, kind, ref_id, payload_json, prev, digest))
        return digest

    # ------------------------------------------------------------ reading

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.connection.execute(sql, params).fetchall()

    def check_chain(self) -> list[str]:
        """Problems of the event chain (empty: every hash and link checks out)."""
        problems = []
        prev, expected_seq = GENESIS, 1
        for row in self.query("SELECT * FROM events ORDER BY seq"):
            if row["seq"] != expected_seq:
                problems.append(f"event chain: event {expected_seq} is missing (next is "
                                f"{row['seq']})")
            if row["prev_hash"] != prev:
                problems.append(f"event chain: event {row['seq']} does not link to the one "
                                "before it")
            digest = event_hash(row["prev_hash"], row["seq"], row["at"], row["kind"],
                                row["ref_id"], row["payload_json"])
            if digest != row["hash"]:
                problems.append(f"event chain: event {row['seq']} ({row['kind']}) was "
                                "altered (its hash does not match its content)")
            prev, expected_seq = row["hash"], row["seq"] + 1
        return problems

    def head(self) -> str:
        row = self.connection.execute(
            "SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return row["hash"] if row else GENESIS
