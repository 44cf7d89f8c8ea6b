"""A phase's board from the ledger: entries, the official ranking (by the library), rank
intervals by the subject bootstrap, the not-ranked list."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

from wmheval_leaderboard import engine
from wmheval_leaderboard.config import Phase

SEPARABLE = 0.95
"""Adjacent entries are separable when one is ahead of the other in at least this share of
the bootstrap resamples."""


def _entries(board, phase: Phase) -> list:
    """Per team, the submission that stands for it: its latest scored submission with an
    active evaluation (entry rule ``latest``), or its latest *selected* one of those, else
    its latest (rule ``selected``). Withdrawn submissions are never entries."""
    rows = board.ledger.query(
        "SELECT s.submission_id, s.received_at, s.note, s.method_url, s.selected, t.name, "
        "t.slug, t.is_baseline, e.evaluation_id FROM submissions s JOIN teams t "
        "USING (team_id) JOIN evaluations e ON e.submission_id = s.submission_id AND "
        "e.active = 1 WHERE s.phase_id = ? AND s.state = 'scored' "
        "ORDER BY t.name, s.received_at DESC, s.submission_id DESC", (phase.name,))
    latest: dict = {}
    selected: dict = {}
    for row in rows:
        latest.setdefault(row["name"], row)
        if row["selected"]:
            selected.setdefault(row["name"], row)
    if phase.entry == "selected":
        latest.update(selected)
    return [latest[name] for name in sorted(latest)]


def _cases(board, entries) -> pd.DataFrame:
    frames = []
    for entry in entries:
        rows = board.ledger.query(
            "SELECT subject_id AS id, scanner, split, seen_in_training, status, dice, h95, "
            "avd, recall, f1, reference_diagonal_mm FROM case_results WHERE "
            "evaluation_id = ? ORDER BY subject_id", (entry["evaluation_id"],))
        frame = pd.DataFrame([dict(r) for r in rows])
        frame["team"] = entry["name"]
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(engine.LONG_COLUMNS))
    cases = pd.concat(frames, ignore_index=True)
    cases["seen_in_training"] = cases["seen_in_training"].map(
        lambda v: pd.NA if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v))
    for metric in engine.metrics():
        cases[metric] = cases[metric].astype(float)
    return cases


def inputs_digest(cases: pd.DataFrame, policy_name: str, n_resamples: int) -> str:
    """SHA-256 over what a board is computed from: the entries' per-case values (exact
    float bits), the policy and the resample count; the bootstrap seed derives from it, so a
    rebuild of the same inputs is identical."""
    digest = hashlib.sha256(f"{policy_name}\0{n_resamples}\n".encode())
    if len(cases):
        ordered = cases.sort_values(["team", "id"])
        for row in ordered.itertuples(index=False):
            values = [float(getattr(row, m)) for m in engine.metrics()]
            digest.update(json.dumps([row.team, row.id, row.status,
                                      [v.hex() for v in values]]).encode())
    return digest.hexdigest()


def compute_standings(board, phase: Phase, n_resamples: int):
    from wmheval_leaderboard.board import Standing, Standings

    config = board.config
    policy = engine.make_policy(config.missing, config.undefined)
    entries = _entries(board, phase)
    cases = _cases(board, entries)
    baseline_names = {e["name"] for e in entries if e["is_baseline"]}
    in_field = (cases if config.baselines_in_normalisation
                else cases[~cases["team"].isin(baseline_names)])
    digest = inputs_digest(cases, policy.name, n_resamples)
    by_name = {e["name"]: e for e in entries}
    rows: list[Standing] = []
    ranked = None
    if len(in_field):
        ranked = engine.rank_cases(in_field, policy)
        table = ranked.table
        counts = table["position"].value_counts()
        field_means = table[list(engine.metrics())].to_numpy(dtype=float)
        for record in table.to_dict("records"):
            entry = by_name[record["team"]]
            rows.append(_standing(Standing, entry, record, int(record["position"]),
                                  counts[record["position"]] > 1, float(record["score"])))
    else:
        field_means = None
    if not config.baselines_in_normalisation:
        for name in sorted(baseline_names):
            own = engine.rank_cases(cases[cases["team"] == name], policy).table.iloc[0]
            record = own.to_dict()
            means = np.array([record[m] for m in engine.metrics()], dtype=float)
            score = (engine.relative_score(means, field_means) if field_means is not None
                     else float("nan"))
            rows.append(_standing(Standing, by_name[name], record, None, False, score))
    rows.sort(key=lambda s: (s.score if math.isfinite(s.score) else math.inf,
                             s.position is None, s.team))
    seed = None
    if n_resamples > 0 and ranked is not None and len(ranked.table) >= 2:
        seed = int(digest[:15], 16)
        result = engine.bootstrap(ranked.field, n_resamples, seed)
        order = list(result.teams)
        positions = result.positions
        index = {team: k for k, team in enumerate(order)}
        for standing in rows:
            if standing.team in index:
                column = positions[:, index[standing.team]]
                standing.rank_lo = int(np.quantile(column, 0.025, method="lower"))
                standing.rank_hi = int(np.quantile(column, 0.975, method="higher"))
                standing.top_group = standing.rank_lo == 1
        ranked_rows = [s for s in rows if s.team in index]
        for first, second in zip(ranked_rows, ranked_rows[1:], strict=False):
            a, b = positions[:, index[first.team]], positions[:, index[second.team]]
            share = float(np.mean(a < b))
            first.separable_from_next = share >= SEPARABLE
    elif n_resamples > 0 and ranked is not None and len(ranked.table) == 1:
        # One ranked entry: every resample ranks it first, so its interval is 1-1.
        only = ranked.table["team"].iloc[0]
        for standing in rows:
            if standing.team == only:
                standing.rank_lo = standing.rank_hi = 1
                standing.top_group = True
    not_ranked = [{
        "submission_id": r["submission_id"], "team": r["name"], "slug": r["slug"],
        "state": r["state"], "reason": r["reason"] or "", "submitted_at": r["received_at"],
        "baseline": bool(r["is_baseline"]),
    } for r in board.ledger.query(
        "SELECT s.*, t.name, t.slug, t.is_baseline FROM submissions s JOIN teams t "
        "USING (team_id) WHERE s.phase_id = ? AND s.state IN ('failed', 'rejected') "
        "ORDER BY s.received_at, s.submission_id", (phase.name,))]
    values = cases[list(engine.metrics())].to_numpy(dtype=float).ravel() if len(cases) else []
    subject_ids = json.loads(board.ledger.connection.execute(
        "SELECT subject_ids_json FROM phases WHERE phase_id = ?",
        (phase.name,)).fetchone()[0])
    return Standings(phase.name, rows, not_ranked, policy.name,
                     engine.missing_wording(policy), n_resamples, seed, digest,
                     [float(v) for v in values if math.isfinite(v)], subject_ids)


def _standing(cls, entry, record: dict, position, tied: bool, score: float):
    return cls(
        team=entry["name"], slug=entry["slug"], baseline=bool(entry["is_baseline"]),
        position=position, tied=tied, score=score,
        means={m: float(record[m]) for m in engine.metrics()},
        n_cases=int(record["n_cases"]), n_missing=int(record["n_missing"]),
        submission_id=entry["submission_id"], submitted_at=entry["received_at"],
        note=entry["note"] or "", method_url=entry["method_url"] or "",
        evaluation_id=entry["evaluation_id"])
