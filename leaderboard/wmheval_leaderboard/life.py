"""A board over a challenge's life: snapshots, history and its causes, exports.

Every change that can move a phase's board (a scored submission, a withdrawal, a selection,
a rescore, a promotion, a configuration change, a freeze) writes a row of
``board_snapshots``: the phase's whole board (the organisers' ``board.json`` and the
standings the site draws) as canonical JSON, named by its SHA-256, with the trigger and
its cause. ``build --as-of`` renders the board of the last snapshot at or before a time,
so a past board comes back byte for byte; ``history`` compares consecutive snapshots and
names, per team, why its score or position moved.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from wmheval import vocabulary as vocab
from wmheval_leaderboard import engine
from wmheval_leaderboard.errors import BoardUsageError

QUIET_KINDS = ("board_snapshot", "snapshot", "scoring_started")
"""Events that cannot move a board (a snapshot racing with one of these need not retry)."""
EXPORT_FORMATS = vocab.BOARD_EXPORT_FORMATS
"""What ``export`` writes: the board as CSV or JSON, or challengeR's per-case long table."""
CAUSE_KINDS = ("own entry", "withdrawn", "re-evaluated", "configuration", "field")


# ---------------------------------------------------------------- writing snapshots


def _last_change(board) -> int:
    marks = ",".join("?" * len(QUIET_KINDS))
    row = board.ledger.connection.execute(
        f"SELECT max(seq) FROM events WHERE kind NOT IN ({marks})", QUIET_KINDS).fetchone()
    return int(row[0] or 0)


def _nan_to_none(value):
    """JSON-ready: NaN and infinities as None, NumPy scalars as Python ones."""
    if hasattr(value, "item") and not isinstance(value, dict | list):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def snapshot_payload(board, standings) -> dict:
    """What a snapshot stores: the organisers' board.json (``board``), the standings the
    site draws (``rows``, ``not_ranked``), the evaluation behind each entry and which teams
    set the min-max bounds (``in_field``)."""
    from wmheval_leaderboard.site import board_dict

    rows = [_nan_to_none(asdict(s)) for s in standings.rows]
    in_field = [s.team for s in standings.rows
                if board.config.baselines_in_normalisation or not s.baseline]
    return {"board": board_dict(standings), "rows": rows,
            "not_ranked": standings.not_ranked, "policy_name": standings.policy_name,
            "missing_wording": standings.missing_wording, "seed": standings.seed,
            "in_field": in_field}


def _board_text(board, phase: str):
    """The phase's standings now and their snapshot text (canonical JSON)."""
    standings = board.standings(phase, bootstrap=board.config.bootstrap)
    return standings, json.dumps(snapshot_payload(board, standings), ensure_ascii=True,
                                 allow_nan=False, separators=(",", ":"))


def record_snapshot(board, phase: str, trigger: str, cause: dict) -> str:
    """Write the board of ``phase`` as a snapshot with its cause; returns its hash.

    The board is computed outside any transaction; the row is written only when no change
    reached the ledger meanwhile (else it is computed again, up to three times; after
    that the process whose change keeps arriving writes the snapshot, and ``recover``
    catches up with one a killed process missed), so the last snapshot of a phase is
    always the board of the ledger's latest state. Returns "" when it left the snapshot to
    another process."""
    from wmheval_leaderboard.config import iso, now_utc

    for _attempt in range(3):
        mark = _last_change(board)
        _, text = _board_text(board, phase)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with board.ledger.write() as db:
            if _last_change(board) != mark:
                continue
            cursor = db.execute(
                "INSERT INTO board_snapshots (phase_id, created_at, trigger, cause_json, "
                "sha256, payload_json) VALUES (?, ?, ?, ?, ?, ?)",
                (phase, iso(now_utc()), trigger, json.dumps(cause, sort_keys=True), digest,
                 text))
            board.ledger.append_event("board_snapshot", digest, {
                "phase": phase, "trigger": trigger, "seq": cursor.lastrowid})
        return digest
    return ""


def latest_is_current(board, phase: str) -> bool:
    """Whether the last snapshot of ``phase`` holds the board of the ledger as it is now
    (False after a process was killed between a change and its snapshot)."""
    row = board.ledger.connection.execute(
        "SELECT sha256 FROM board_snapshots WHERE phase_id = ? ORDER BY seq DESC LIMIT 1",
        (phase,)).fetchone()
    standings, text = _board_text(board, phase)
    if row is None:
        return not standings.rows and not standings.not_ranked
    return hashlib.sha256(text.encode()).hexdigest() == row["sha256"]


def record_all(board, trigger: str, cause: dict) -> dict[str, str]:
    return {p.name: record_snapshot(board, p.name, trigger, cause)
            for p in board.config.phases}


# ---------------------------------------------------------------- reading snapshots


@dataclass
class Snapshot:
    seq: int
    phase: str
    created_at: str
    trigger: str
    cause: dict
    sha256: str
    payload: dict = field(repr=False)


def _snapshot(row) -> Snapshot:
    return Snapshot(row["seq"], row["phase_id"], row["created_at"], row["trigger"],
                    json.loads(row["cause_json"]), row["sha256"], json.loads(row["payload_json"]))


def snapshots(board, phase: str) -> list[Snapshot]:
    board.config.phase(phase)
    return [_snapshot(r) for r in board.ledger.query(
        "SELECT * FROM board_snapshots WHERE phase_id = ? ORDER BY seq", (phase,))]


def snapshot_at(board, phase: str, moment: str) -> Snapshot | None:
    """The last snapshot of ``phase`` written at or before ``moment`` (ISO-8601 UTC text)."""
    row = board.ledger.connection.execute(
        "SELECT * FROM board_snapshots WHERE phase_id = ? AND created_at <= ? "
        "ORDER BY seq DESC LIMIT 1", (phase, moment)).fetchone()
    return _snapshot(row) if row is not None else None


def find_snapshot(board, phase: str, ref: str) -> Snapshot:
    """A snapshot by its number (``seq``) or a prefix of its hash (6+ hex digits)."""
    rows = board.ledger.query("SELECT * FROM board_snapshots WHERE phase_id = ? AND "
                              "(CAST(seq AS TEXT) = ? OR (length(?) >= 6 AND sha256 LIKE ?))",
                              (phase, ref, ref, ref.lower() + "%"))
    if len(rows) != 1:
        raise BoardUsageError(f"phase {phase}: no single snapshot {ref!r} (give its number "
                              "or 6+ hex digits of its hash; see 'wmheval board history')")
    return _snapshot(rows[0])


def standings_from(board, snap: Snapshot | None, phase: str):
    """The :class:`Standings` a snapshot holds (an empty board when ``snap`` is None)."""
    from wmheval_leaderboard.board import Standing, Standings

    subject_ids = json.loads(board.ledger.connection.execute(
        "SELECT subject_ids_json FROM phases WHERE phase_id = ?", (phase,)).fetchone()[0])
    if snap is None:
        policy = engine.make_policy(board.config.missing, board.config.undefined)
        return Standings(phase, [], [], policy.name, engine.missing_wording(policy),
                         board.config.bootstrap, None, "", [], subject_ids)
    payload = snap.payload
    rows = []
    for row in payload["rows"]:
        row = dict(row)
        row["score"] = math.nan if row["score"] is None else row["score"]
        row["means"] = {k: math.nan if v is None else v for k, v in row["means"].items()}
        rows.append(Standing(**row))
    values: list[float] = []
    for standing in rows:
        for r in board.ledger.query(
                "SELECT dice, h95, avd, recall, f1 FROM case_results WHERE evaluation_id = ?",
                (standing.evaluation_id,)):
            values += [float(v) for v in r if v is not None and math.isfinite(v)]
    board_json = payload["board"]
    return Standings(phase, rows, payload["not_ranked"], payload["policy_name"],
                     payload["missing_wording"], board_json["bootstrap"], payload["seed"],
                     board_json["inputs_sha256"], values, subject_ids)


def config_at(board, moment: str):
    """The challenge's settings in force at ``moment``: those the last ``board_created`` or
    ``config_changed`` event at or before it recorded (so a past site lists the phases and
    rules of its time); the current settings for a ledger that recorded no text (boards made
    before the text was kept)."""
    from wmheval_leaderboard.config import parse_config

    row = board.ledger.connection.execute(
        "SELECT payload_json FROM events WHERE kind IN ('board_created', 'config_changed') "
        "AND at <= ? ORDER BY seq DESC LIMIT 1", (moment,)).fetchone()
    text = json.loads(row[0]).get("text") if row is not None else None
    if not text:
        return board.config
    return parse_config(text, where="the settings recorded in the ledger",
                        default_name=board.config.name)


# ---------------------------------------------------------------- history and causes


def _bounds(entries: dict[str, dict], in_field) -> dict[str, tuple]:
    """Per metric, (best, worst) of the in-field entries' means (None when none)."""
    higher = {m: engine.METRIC_UNITS[m][2] for m in engine.metrics()}
    out = {}
    for metric in engine.metrics():
        values = [entries[t][metric] for t in in_field
                  if t in entries and entries[t][metric] is not None]
        if not values:
            out[metric] = (None, None)
        else:
            out[metric] = ((max(values), min(values)) if higher[metric]
                           else (min(values), max(values)))
    return out


def _holder(entries, in_field, metric, value) -> list[str]:
    return sorted(t for t in in_field if t in entries and entries[t][metric] == value)


def explain(before: Snapshot | None, after: Snapshot, between: list[Snapshot]) -> list[dict]:
    """Per team whose score or position differs between ``before`` and ``after``, the
    cause: ``own entry`` (its entry changed: a new submission, a selection, a promotion),
    ``withdrawn``, ``re-evaluated`` (its entry scored again; the reason), ``configuration``,
    or ``field`` (other teams' entries moved a metric's best or worst bound, or passed it;
    the teams and metrics are named). ``between`` are the snapshots after ``before`` up to
    ``after`` (their causes)."""
    old = {e["team"]: e for e in (before.payload["board"]["entries"] if before else [])}
    new = {e["team"]: e for e in after.payload["board"]["entries"]}
    old_eval = {r["team"]: r["evaluation_id"] for r in (before.payload["rows"] if before
                                                         else [])}
    new_eval = {r["team"]: r["evaluation_id"] for r in after.payload["rows"]}
    old_field = before.payload["in_field"] if before else []
    new_field = after.payload["in_field"]
    causes = [s.cause for s in between]
    reasons = [c.get("reason", "") for c in causes if c.get("kind") == "rescore"]
    configured = any(c.get("kind") == "config" for c in causes)
    withdrawn = {c.get("submission") for c in causes if c.get("kind") == "withdrawal"}
    changed_teams = sorted(t for t in set(old) | set(new)
                           if (old.get(t) or {}).get("submission_id")
                           != (new.get(t) or {}).get("submission_id")
                           or old_eval.get(t) != new_eval.get(t))
    bounds_old, bounds_new = _bounds(old, old_field), _bounds(new, new_field)
    out = []
    for team in sorted(set(old) | set(new)):
        a, b = old.get(team), new.get(team)
        position_a, position_b = (a or {}).get("position"), (b or {}).get("position")
        score_a, score_b = (a or {}).get("score"), (b or {}).get("score")
        if a is not None and b is not None and position_a == position_b and score_a == score_b:
            continue
        row = {"team": team, "position_before": position_a, "position_after": position_b,
               "score_before": score_a, "score_after": score_b, "teams": [], "metrics": []}
        if (a or {}).get("submission_id") != (b or {}).get("submission_id"):
            if a is not None and a["submission_id"] in withdrawn:
                row["cause"] = "withdrawn"
                row["detail"] = f"its entry {a['submission_id']} was withdrawn"
            else:
                row["cause"] = "own entry"
                row["detail"] = (f"its entry is now {b['submission_id']}" if b is not None
                                 else "it has no entry any more")
        elif old_eval.get(team) != new_eval.get(team):
            row["cause"] = "re-evaluated"
            row["detail"] = "its entry was scored again" + (
                f" (reason: {'; '.join(reasons)})" if reasons else "")
        elif configured:
            row["cause"] = "configuration"
            row["detail"] = "the challenge's settings changed"
        else:
            row["cause"] = "field"
            others = [t for t in changed_teams if t != team]
            moved = []
            for metric in engine.metrics():
                for k, bound in enumerate(("best", "worst")):
                    was, now = bounds_old[metric][k], bounds_new[metric][k]
                    if was != now:
                        holders = _holder(new, new_field, metric, now) if now is not None \
                            else []
                        by = [t for t in holders if t in others] or [
                            t for t in _holder(old, old_field, metric, was) if t in others
                        ] or others
                        moved.append({"metric": metric, "bound": bound, "before": was,
                                      "after": now, "teams": by})
            row["metrics"] = moved
            row["teams"] = sorted({t for m in moved for t in m["teams"]} or set(others))
            if moved:
                row["detail"] = "; ".join(
                    f"{', '.join(m['teams'])} moved the {m['bound']} bound of {m['metric']}"
                    for m in moved)
            else:
                row["detail"] = (f"{', '.join(row['teams'])} changed places with it"
                                 if row["teams"] else "the field changed")
        out.append(row)
    return out


def history(board, phase: str, diff: tuple[str, str] | None = None) -> list[dict]:
    """The history of a phase's board: per snapshot (or for one ``diff`` pair), its number,
    time, trigger, cause and the per-team changes (:func:`explain`)."""
    snaps = snapshots(board, phase)
    if diff is not None:
        first, second = (find_snapshot(board, phase, r) for r in diff)
        between = [s for s in snaps if first.seq < s.seq <= second.seq]
        return [{"seq": second.seq, "from": first.seq, "created_at": second.created_at,
                 "trigger": second.trigger, "cause": second.cause, "sha256": second.sha256,
                 "changes": explain(first, second, between)}]
    out = []
    previous = None
    for snap in snaps:
        out.append({"seq": snap.seq, "from": previous.seq if previous else None,
                    "created_at": snap.created_at, "trigger": snap.trigger,
                    "cause": snap.cause, "sha256": snap.sha256,
                    "changes": explain(previous, snap, [snap])})
        previous = snap
    return out


def score_text(value) -> str:
    """A board score as the command line prints it (4 decimals; ``-`` for none)."""
    return "-" if value is None else f"{value:.4f}"


def history_lines(items: list[dict]) -> list[str]:
    """:func:`history` as text (what ``wmheval board history`` prints): per snapshot its
    number, time, trigger, hash and cause, then per team ``position -> position, score ->
    score: cause: detail``. Names from participants are printable (escaped)."""
    from wmheval.io.paths import display_text

    lines = []
    for item in items:
        lines.append(f"#{item['seq']} {item['created_at'][:19]}Z {item['trigger']} "
                     f"{item['sha256'][:12]} {display_text(json.dumps(item['cause']))}")
        for change in item["changes"]:
            lines.append(f"  {display_text(change['team'])}: {change['position_before']} -> "
                         f"{change['position_after']}, {score_text(change['score_before'])} -> "
                         f"{score_text(change['score_after'])}: {change['cause']}: "
                         f"{display_text(change['detail'])}")
    return lines


def timelines(board, phase: str, as_of: str | None = None) -> dict[str, list[dict]]:
    """Per team, its score and position after each snapshot of ``phase`` (up to
    ``as_of``) where it has an entry, and the cause of each move (``field``: caused by
    others, drawn hollow)."""
    snaps = [s for s in snapshots(board, phase) if as_of is None or s.created_at <= as_of]
    out: dict[str, list[dict]] = {}
    previous = None
    for snap in snaps:
        changes = {c["team"]: c for c in explain(previous, snap, [snap])}
        for entry in snap.payload["board"]["entries"]:
            change = changes.get(entry["team"])
            points = out.setdefault(entry["team"], [])
            if change is None and points:
                continue  # nothing moved for this team
            points.append({"at": snap.created_at, "score": entry["score"],
                           "position": entry["position"],
                           "cause": change["cause"] if change else "own entry"})
        previous = snap
    return out


def timeline_svg(points: list[dict], n_teams: int) -> str:
    """A small inline SVG (integer coordinates; no text from participants): the score
    (top) and the position (bottom) after each change; a move caused by other teams is a
    hollow circle, one caused by the team's own entry, a re-evaluation or the settings is
    filled."""
    from datetime import datetime

    if not points:
        return ""
    width, height, pad = 560, 96, 44
    times = [datetime.fromisoformat(p["at"].replace("Z", "+00:00")).timestamp()
             for p in points]
    t0, t1 = min(times), max(times)

    def x(t: float) -> int:
        return pad if t1 == t0 else round(pad + (width - 2 * pad) * (t - t0) / (t1 - t0))

    def stamp(at: str) -> str:
        return at[:16].replace("T", " ") + " UTC"

    scores = [p["score"] for p in points if p["score"] is not None]
    top = max(scores + [1e-9])
    panels = []
    for k, (key, label, lo, hi) in enumerate((("score", "score (0 best)", 0.0, top),
                                              ("position", "position", 1, max(n_teams, 2)))):
        y0 = k * (height + 12)
        low_text = "0" if key == "score" else "1"
        high_text = f"{hi:.2f}" if key == "score" else str(int(hi))
        parts = [f'<text x="{pad}" y="{y0 + 10}" class="tl-label">{label}</text>',
                 f'<text x="{pad - 6}" y="{y0 + 22}" class="tl-tick">{low_text}</text>',
                 f'<text x="{pad - 6}" y="{y0 + height - 8}" class="tl-tick">{high_text}</text>',
                 f'<line x1="{pad}" y1="{y0 + 18}" x2="{pad}" y2="{y0 + height - 12}" '
                 'class="tl-axis"/>']
        coords = []
        for p, t in zip(points, times, strict=True):
            if p[key] is None:
                continue
            share = (p[key] - lo) / (hi - lo) if hi != lo else 0.0
            y = round(y0 + 18 + (height - 30) * share)
            coords.append((x(t), y, p["cause"] == "field"))
        if coords:
            path = " ".join(f"{cx},{cy}" for cx, cy, _ in coords)
            parts.append(f'<polyline points="{path}" class="tl-line"/>')
        for cx, cy, hollow in coords:
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="4" class="'
                         f'{"tl-field" if hollow else "tl-own"}"/>')
        panels.append("".join(parts))
    total = 2 * height + 28
    panels.append(f'<text x="{pad}" y="{total - 4}" class="tl-label">'
                  f'{stamp(points[0]["at"])}</text><text x="{width - 8}" y="{total - 4}" '
                  f'class="tl-tick">{stamp(points[-1]["at"])}</text>')
    return (f'<svg class="timeline" viewBox="0 0 {width} {total}" width="{width}" '
            f'height="{total}" role="img" aria-label="score and position over time">'
            "<style>.tl-label{font:11px sans-serif;fill:#555}.tl-axis{stroke:#bbb}"
            ".tl-tick{font:10px sans-serif;fill:#555;text-anchor:end}"
            ".tl-line{fill:none;stroke:#3366aa;stroke-width:1.5}.tl-own{fill:#3366aa}"
            ".tl-field{fill:#fff;stroke:#3366aa;stroke-width:1.5}</style>"
            + "".join(panels) + "</svg>")


# ---------------------------------------------------------------- exports


def export_rows(board, phase: str, view: str, fmt: str) -> str:
    """The board (``csv``, ``json``) or the per-case long table challengeR reads
    (``challenger``: ``algorithm, case, value, metric``) of ``phase`` for ``view``. A view
    never gets per-case values it may not see: ``public`` only where ``per_case = public``;
    ``team:T`` its own where ``per_case`` is ``own`` or ``public``; ``private`` all."""
    import csv
    import io

    from wmheval_leaderboard.site import check_view, render_board_files, view_sees_board

    check_view(view)
    if fmt not in EXPORT_FORMATS:
        raise BoardUsageError(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    if view.startswith("team:"):
        board.team(view.split(":", 1)[1])
    chosen = board.config.phase(phase)
    visible, why = view_sees_board(chosen, view)
    if not visible:
        raise BoardUsageError(f"phase {phase}: {why}")
    standings = board.standings(phase, bootstrap=board.config.bootstrap)
    if fmt in ("csv", "json"):
        from wmheval_leaderboard.site import board_dict

        text_csv, text_json = render_board_files(board_dict(standings), view)
        return text_csv if fmt == "csv" else text_json
    team = view.split(":", 1)[1] if view.startswith("team:") else None
    rows = [s for s in standings.rows]
    if view == "public" and chosen.per_case != "public":
        raise BoardUsageError(f"phase {phase}: per-case results are {chosen.per_case} in the "
                              "public view; export with --view private (organisers) or "
                              "--view team:T (a team's own, where per_case = own)")
    if team is not None:
        if chosen.per_case == "hidden":
            raise BoardUsageError(f"phase {phase}: per-case results are hidden from teams")
        if chosen.per_case == "own":
            rows = [s for s in rows if s.team == team]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["algorithm", "case", "value", "metric"])
    from wmheval_leaderboard.site import csv_cell

    for standing in rows:
        cases = board.ledger.query(
            "SELECT * FROM case_results WHERE evaluation_id = ? ORDER BY subject_id",
            (standing.evaluation_id,))
        for metric in engine.metrics():
            for case in cases:
                value = case[metric]
                writer.writerow([csv_cell(standing.team), csv_cell(case["subject_id"]),
                                 "NA" if value is None else repr(float(value)), metric])
    return buffer.getvalue()
