"""``wmheval board build``: the static site of a board, written as one set, leak-checked.

Pages (Jinja2 with autoescape and StrictUndefined; templates ship in ``templates/``):
``index.html`` (the board of the first phase; ``phase-<name>.html`` for the others),
``teams/team-<hash>.html`` per team, ``rules.html``, and ``board.csv`` / ``board.json``.
No CDN, no fetch: every page works from ``file://``. Participant text (team names, notes,
URLs) is escaped everywhere; only ``http(s)`` URLs become links; file names never come from
team names.

The site is built in a staging folder beside ``--out``; the leak check scans every file in
it; only then does it replace ``--out`` (the previous site is kept on any failure).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from wmheval_leaderboard import engine
from wmheval_leaderboard.config import Phase, now_utc, parse_time
from wmheval_leaderboard.errors import BoardUsageError, LeakFound

BOARD_COLUMNS = ("team", "position", "score", "dice", "h95", "avd", "recall", "f1",
                 "n_cases", "n_missing", "rank_lo", "rank_hi", "baseline", "submission_id")
"""The columns of ``board.csv`` and the keys of each entry of ``board.json``."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class BuildReport:
    out: Path
    n_files: int
    n_ranked: int
    n_not_ranked: int
    bootstrap: int
    inputs_sha256: str


def safe_url(url: str) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host, else None (shown as text)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc and \
            not any(c.isspace() for c in url.strip()):
        return url.strip()
    return None


MEMBER = re.compile(r"member '(?:[^'\\]|\\.)*': ")


def public_reason(reason: str) -> str:
    """A rejection reason for the public view: the rule without the archive member's name
    (names can hold subject ids; the submitter saw the full reason when submitting)."""
    return MEMBER.sub("a member: ", reason or "")


def csv_cell(value) -> str:
    """A CSV cell that a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) gets a leading apostrophe. Numbers are written as numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "" if isinstance(value, float) and not math.isfinite(value) else repr(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("wmheval_leaderboard", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["safe_url"] = safe_url
    env.filters["public_reason"] = public_reason
    env.filters["num"] = lambda v, digits=4: "" if v is None or not math.isfinite(v) \
        else f"{v:.{digits}f}"
    env.filters["day"] = lambda text: text[:16].replace("T", " ") + " UTC" if text else ""
    return env


def check_view(view: str) -> str:
    """``public``, ``private`` or ``team:<name>``."""
    if view in ("public", "private") or (view.startswith("team:") and len(view) > 5):
        return view
    raise BoardUsageError(f"--view must be public, private or team:<name>, got {view!r}")


def view_sees_board(phase: Phase, view: str, now: datetime | None = None) -> tuple[bool, str]:
    return _visible(phase, view, now or now_utc())


def _visible(phase: Phase, view: str, now: datetime) -> tuple[bool, str]:
    """Whether the view may show the phase's board, and why not."""
    if view == "private" or phase.board == "public":
        return True, ""
    if phase.board == "private":
        return False, "The organisers keep this phase's board private."
    closes = parse_time(phase.closes, "closes")
    if closes is None or now < closes:
        return False, ("This phase's board is published after the phase closes"
                       + (f" ({phase.closes})." if phase.closes else "."))
    return True, ""


def _entry_dict(standing) -> dict:
    return {
        "team": standing.team, "position": standing.position, "score": _finite(standing.score),
        **{m: _finite(standing.means[m]) for m in engine.metrics()},
        "n_cases": standing.n_cases, "n_missing": standing.n_missing,
        "rank_lo": standing.rank_lo, "rank_hi": standing.rank_hi,
        "baseline": standing.baseline, "submission_id": standing.submission_id,
    }


def _finite(value):
    return float(value) if value is not None and math.isfinite(value) else None


def board_dict(standings) -> dict:
    """The board of a phase as ``board.json`` holds it, with every reason in full (the
    organisers' form; :func:`render_board_files` shortens reasons for other views)."""
    return {"phase": standings.phase, "policy": standings.policy_name,
            "bootstrap": standings.bootstrap, "inputs_sha256": standings.inputs_sha256,
            "columns": list(BOARD_COLUMNS), "entries": [_entry_dict(s) for s in standings.rows],
            "not_ranked": [{"team": r["team"], "submission_id": r["submission_id"],
                            "state": r["state"], "submitted_at": r["submitted_at"],
                            "reason": r["reason"]} for r in standings.not_ranked]}


def render_board_files(payload: dict, view: str = "public") -> tuple[str, str]:
    """``board.csv`` and ``board.json`` text of a :func:`board_dict` payload for ``view``
    (the same payload gives the same bytes: a stored snapshot rebuilds its board)."""
    payload = dict(payload)
    if view != "private":
        payload["not_ranked"] = [{**r, "reason": public_reason(r["reason"])}
                                 for r in payload["not_ranked"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BOARD_COLUMNS)
    for entry in payload["entries"]:
        writer.writerow([csv_cell(entry[c]) for c in BOARD_COLUMNS])
    return buffer.getvalue(), json.dumps(payload, indent=1, ensure_ascii=False,
                                         allow_nan=False) + "\n"


def _board_files(standings, view: str = "public") -> tuple[str, str]:
    return render_board_files(board_dict(standings), view)


def build_site(board, out: str | Path, *, view: str = "public",
               bootstrap: int | None = None, as_of: str | None = None) -> BuildReport:
    """Build the site of every phase into ``out`` (see the module docstring). With
    ``as_of`` (an ISO-8601 time), every phase's board is the one its last snapshot at or
    before that time holds (byte for byte the board published then)."""
    check_view(view)
    if as_of is not None:
        from wmheval_leaderboard.config import iso, parse_time

        as_of = iso(parse_time(as_of, "--as-of"))
        if bootstrap is not None and bootstrap != board.config.bootstrap:
            raise BoardUsageError("--as-of rebuilds stored boards (their bootstrap is "
                                  "challenge.toml's); leave --bootstrap out")
    n_resamples = board.config.bootstrap if bootstrap is None else bootstrap
    if n_resamples < 0:
        raise BoardUsageError("--bootstrap must be 0 or more")
    out = Path(os.path.abspath(out))
    if out == board.root or board.root in out.parents:
        pass  # a site inside the challenge folder is fine (e.g. DIR/site/public)
    _restore_interrupted(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        report = _write_site(board, staging, view, n_resamples, as_of)
        report.out = out
        from wmheval_leaderboard.store import fault_point

        fault_point("mid_build")
        snapshot = json.loads((staging / "board.json").read_text(encoding="utf-8"))
        _swap(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if as_of is None:
        record_snapshot(board, snapshot, view)
    return report


def record_snapshot(board, snapshot: dict, view: str) -> str:
    """Store the published board (``board.json``) in the ledger, named by its content's
    hash, with an event when it is new: the history the phases issue builds on."""
    import hashlib

    from wmheval_leaderboard.config import iso, now_utc

    text = json.dumps(snapshot, sort_keys=True, ensure_ascii=True)
    snapshot_id = hashlib.sha256(text.encode()).hexdigest()
    with board.ledger.write() as db:
        known = db.execute("SELECT 1 FROM snapshots WHERE snapshot_id = ?",
                           (snapshot_id,)).fetchone()
        if known is None:
            db.execute("INSERT INTO snapshots (snapshot_id, phase_id, created_at, trigger, "
                       "inputs_sha256, board_json) VALUES (?, ?, ?, ?, ?, ?)",
                       (snapshot_id, snapshot["phase"], iso(now_utc()), f"build:{view}",
                        snapshot.get("inputs_sha256", ""), text))
            board.ledger.append_event("snapshot", snapshot_id, {"phase": snapshot["phase"],
                                                                "view": view})
    return snapshot_id


def _write_site(board, folder: Path, view: str, n_resamples: int,
                as_of: str | None = None) -> BuildReport:
    from wmheval_leaderboard import life
    from wmheval_leaderboard.config import parse_time

    env = _environment()
    css, sort_js = engine.page_assets()
    now = now_utc() if as_of is None else parse_time(as_of, "--as-of")
    own_team = view.split(":", 1)[1] if view.startswith("team:") else None
    if own_team is not None:
        board.team(own_team)
    config = board.config if as_of is None else life.config_at(board, as_of)
    pages: dict[str, str] = {}
    phases = []
    hidden_ids: set[str] = set()
    hidden_values: list[float] = []
    shown_ids: set[str] = set()  # what a team view shows of its own (own per-case phases)
    shown_values: set[float] = set()
    n_ranked = n_not_ranked = 0
    digests = []
    for k, phase in enumerate(config.phases):
        if as_of is None:
            standings = board.standings(phase.name, bootstrap=n_resamples)
        else:
            standings = life.standings_from(
                board, life.snapshot_at(board, phase.name, as_of), phase.name)
        visible, why = _visible(phase, view, now)
        per_case = view == "private" or phase.per_case == "public"
        own_cases = own_team is not None and phase.per_case == "own"
        if own_cases:
            own = next((s for s in standings.rows if s.team == own_team), None)
            if own is not None:
                shown_ids.update(standings.subject_ids)
                shown_values.update(_evaluation_values(board, own.evaluation_id))
            hidden_values.extend(standings.case_values)
        elif not per_case:
            hidden_ids.update(standings.subject_ids)
            hidden_values.extend(standings.case_values)
        page = "index.html" if k == 0 else f"phase-{phase.name}.html"
        phases.append({"phase": phase, "standings": standings, "visible": visible,
                       "why": why, "page": page, "per_case": per_case,
                       "own_cases": own_cases,
                       "timelines": life.timelines(board, phase.name, as_of)
                       if visible else {}})
        n_ranked += sum(1 for s in standings.rows if s.position) if visible else 0
        n_not_ranked += len(standings.not_ranked) if visible else 0
        digests.append(standings.inputs_sha256)
    common = {"challenge": config, "css": css, "sort_js": sort_js, "phases": phases,
              "view": view, "metrics": [(m, *engine.METRIC_UNITS[m]) for m in engine.metrics()],
              "policy_html": engine.policy_markdown_to_html(engine.describe_policy(
                  engine.make_policy(config.missing, config.undefined)))}
    for item in phases:
        pages[item["page"]] = env.get_template("board.html").render(
            **common, current=item, root="", title=f"{config.name}: {item['phase'].name}")
    pages["rules.html"] = env.get_template("rules.html").render(
        **common, root="", title=f"{config.name}: rules")
    for team in board.ledger.query("SELECT * FROM teams WHERE created_at <= ? ORDER BY name",
                                   (as_of or "9999",)):
        team_phases = []
        for item in phases:
            if not item["visible"]:
                continue
            entry = next((s for s in item["standings"].rows if s.team == team["name"]), None)
            submissions = [_submission_at(s, as_of) for s in board.status(team["name"])
                           if s["phase"] == item["phase"].name
                           and (as_of is None or s["received_at"] <= as_of)]
            shows = item["per_case"] or (item["own_cases"] and team["name"] == own_team)
            cases = _team_cases(board, entry) if entry is not None and shows else None
            from markupsafe import Markup

            svg = life.timeline_svg(item["timelines"].get(team["name"], []),
                                    len(item["standings"].rows))
            team_phases.append({"item": item, "entry": entry, "submissions": submissions,
                                "cases": cases, "timeline": Markup(svg)})
        pages[f"teams/{team['slug']}.html"] = env.get_template("team.html").render(
            **common, team=team, team_phases=team_phases, root="../",
            title=f"{config.name}: {team['name']}")
    first = phases[0]
    if first["visible"]:
        board_csv, board_json = _board_files(first["standings"], view)
    else:
        board_csv, board_json = ",".join(BOARD_COLUMNS) + "\n", json.dumps(
            {"phase": first["phase"].name, "entries": [], "not_ranked": [],
             "columns": list(BOARD_COLUMNS), "note": first["why"]}, indent=1) + "\n"
    pages["board.csv"], pages["board.json"] = board_csv, board_json
    for name, text in pages.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if view != "private":
        hits = leak_check(folder, hidden_ids - shown_ids,
                          [v for v in hidden_values if v not in shown_values],
                          [config.reference, str(Path(config.reference).resolve())])
        if hits:
            raise LeakFound(f"leak check failed, previous site kept: {hits[0]}"
                            + (f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""))
    return BuildReport(folder, len(pages), n_ranked, n_not_ranked, n_resamples,
                       "".join(digests))


def _submission_at(row: dict, as_of: str | None) -> dict:
    """A submission's row as it stood at ``as_of`` (a past site): still being scored when
    it finished later, still scored when it was withdrawn later."""
    if as_of is None:
        return row
    if row.get("withdrawn_at") and row["withdrawn_at"] > as_of:
        row = {**row, "state": "scored", "reason": ""}
    if row.get("finished_at") and row["finished_at"] > as_of:
        row = {**row, "state": "scoring", "reason": ""}
    return row


def _evaluation_values(board, evaluation_id: str) -> list[float]:
    return [float(v) for r in board.ledger.query(
        "SELECT dice, h95, avd, recall, f1 FROM case_results WHERE evaluation_id = ?",
        (evaluation_id,)) for v in r if v is not None and math.isfinite(v)]


def _team_cases(board, entry) -> list[dict]:
    rows = board.ledger.query(
        "SELECT * FROM case_results WHERE evaluation_id = ?", (entry.evaluation_id,))
    out = [dict(r) for r in rows]
    return sorted(out, key=lambda r: (0, int(r["subject_id"])) if r["subject_id"].isdigit()
                  else (1, r["subject_id"]))


# ---------------------------------------------------------------- the leak check

NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?")


def _id_patterns(subject_ids) -> list[re.Pattern]:
    """Where a subject id would show (one alternation per context, group ``id``): anywhere
    for ids that cannot be confused with other text (not all digits, or 4+ characters); for
    short numeric ids, in id-like contexts: ``subject 3``, ``case 3``, ``"id": "3"``, a JSON
    key ``"3":``, a path ``/3/``, ``3/result``, ``3.nii``, a bare table cell ``<td>3</td>``
    (the board's own numeric cells always carry attributes) and a CSV line starting ``3,``."""
    ids = sorted(set(subject_ids), key=lambda i: (-len(i), i))
    plain = [re.escape(i) for i in ids if not i.isdigit() or len(i) >= 4]
    short = [re.escape(i) for i in ids if i.isdigit() and len(i) < 4]
    patterns = []
    if plain:
        patterns.append(re.compile(rf"(?<![\w])(?P<id>{'|'.join(plain)})(?![\w])"))
    if short:
        group = f"(?P<id>{'|'.join(short)})"
        patterns += [
            re.compile(rf"(?i)(?<![a-z])(?:subject|case|id)[\s\"':=_#-]{{0,4}}{group}"
                       rf"(?![\w.])"),
            re.compile(rf"(?<![\w.]){group}(?:/|\.nii)"),
            re.compile(rf"/{group}(?![\w.])"),
            re.compile(rf"\"{group}\"\s*:"),
            re.compile(rf"<t[dh]>\s*{group}\s*</t[dh]>"),
            re.compile(rf"(?m)^{group},")]
    return patterns


def _digits(token: str) -> int:
    """Significant digits written in a number token (``0.0012340`` has 5)."""
    mantissa = re.split(r"[eE]", token.lstrip("-"))[0].replace(".", "")
    return len(mantissa.lstrip("0"))


def leak_check(folder: Path, subject_ids, case_values, paths) -> list[str]:
    """Every hit of a hidden subject id, a per-case value or the reference's path in any
    file below ``folder``, one line each.

    A number written with k >= 6 significant digits is a hit when a per-case value rounds
    to it at k digits (so a value printed at 6 digits is found, and a full-precision team
    mean is compared at full precision, which keeps a field of hundreds of teams free of
    chance collisions). Values with fewer than 4 significant digits (0, 1, 0.5) are too
    common to test."""
    patterns = _id_patterns(subject_ids)
    values = [v for v in case_values
              if len(re.sub(r"[^0-9]", "", f"{v:.6g}".split("e")[0]).strip("0")) >= 4]
    rounded: dict[int, set[str]] = {}

    def known(k: int) -> set[str]:
        if k not in rounded:
            rounded[k] = {f"{v:.{k}g}" for v in values}
        return rounded[k]

    hits = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = file.read_text(encoding="utf-8", errors="replace")
        name = file.relative_to(folder).as_posix()
        for path in paths:
            if path and path in text:
                hits.append(f"{name}: the reference's path")
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                hits.append(f"{name}: hidden subject id {match.group('id')!r}")
                break
        for match in NUMBER.finditer(text):
            k = min(_digits(match.group()), 17)
            if k >= 6 and f"{float(match.group()):.{k}g}" in known(k):
                hits.append(f"{name}: a per-case value ({match.group()})")
                break
    return hits


# ---------------------------------------------------------------- replacing the site


def _old(out: Path) -> Path:
    return out.with_name(f".{out.name}.previous")


def _restore_interrupted(out: Path) -> None:
    """A build killed between its two renames left the old site as ``.previous``."""
    old = _old(out)
    if old.exists():
        if not out.exists():
            os.replace(old, out)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in out.parent.glob(f".{out.name}.staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _swap(staging: Path, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BoardUsageError(f"{out}: exists and is not a folder")
    if out.exists():
        if not (out / "board.json").is_file() and any(out.iterdir()):
            raise BoardUsageError(f"{out}: holds files that are not a board site; choose "
                                  "another --out")
        os.replace(out, _old(out))
    os.replace(staging, out)
    shutil.rmtree(_old(out), ignore_errors=True)
