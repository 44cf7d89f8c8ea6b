"""A scripted challenge (issue 30, "Done when"): three phases, eight teams, forty
submissions over a week of simulated days and one reference fix, run end to end.

Checked against the script's own log and a field computed by hand:
- after every change, the site published then is rebuilt byte for byte with ``--as-of``;
- every validation board equals the hand ranking (entries by the entry rule, means from the
  ledger's per-case values of the evaluation active then, the min-max rule written out);
- every change of score or position in ``history`` names its true cause: the team's own
  entry, its withdrawal, the re-evaluation (with the reason), or another team moving a
  metric's best or worst bound (the team and the metrics, compared with the hand bounds).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import board_fixtures
import numpy as np
import pytest
from board_fixtures import literal_minmax, new_board, wmheval

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_folders = board_fixtures.team_folders

METRICS = ("dice", "h95", "avd", "recall", "f1")
TEAMS = [f"T{k}" for k in range(1, 9)]
STYLES = ("precise", "greedy", "cautious", "noisy")
START = datetime(2017, 3, 1, 9, 0, tzinfo=UTC)
VALIDATION = "1,3,70,117"
FINAL = "3,5,117,118"


def variant(source: Path, target: Path, seed: int) -> Path:
    """A distinct submission: ``source``'s masks with a seeded share (5-35 %) of their
    lesion voxels removed (never all of them), so every variant has other metrics."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    share = 0.05 + 0.3 * rng.random()
    for path in sorted(source.rglob("result.nii.gz")):
        image = nib.load(path)
        mask = np.asarray(image.dataobj).copy()
        voxels = np.argwhere(mask > 0)
        drop = rng.random(len(voxels)) < share
        drop[rng.integers(len(voxels))] = False
        mask[tuple(voxels[drop].T)] = 0
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(mask, image.affine, image.header), out)
    return target


def tree_digest(root: Path) -> dict[str, str]:
    """Every file of a site by relative path, with its SHA-256."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(p for p in root.rglob("*") if p.is_file())}


@pytest.mark.slow
def test_a_scripted_challenge_of_three_phases(tmp_path, mini_reference, team_folders):
    from wmheval_leaderboard.board import Board, OverLimit
    from wmheval_leaderboard.config import simulated_clock
    from wmheval_leaderboard.life import history, snapshots
    from wmheval_leaderboard.lifecycle import add_phase, freeze, rescore, select, withdraw
    from wmheval_leaderboard.site import build_site

    root, site = tmp_path / "challenge", tmp_path / "site"
    log: list[dict] = []  # the script's own record: who did what, when
    published: list[tuple[str, dict[str, str]]] = []  # (moment, digest of the private site)
    made = 0

    def make(team: str) -> Path:
        nonlocal made
        made += 1
        style = STYLES[TEAMS.index(team) % len(STYLES)]
        return variant(team_folders[style], tmp_path / "subs" / f"{team}_{made}", made)

    with simulated_clock(START) as clock:
        board = new_board(root, mini_reference, teams=TEAMS, limit=2, bootstrap=0)

        def publish():
            build_site(board, site, view="private")
            if os.environ.get("KEEP_SITES"):
                shutil.copytree(site, tmp_path / f"published_{len(published)}")
            published.append((clock.read().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              tree_digest(site)))

        def submit(team: str, phase: str | None = None) -> str:
            outcome = board.submit(make(team), team, phase=phase)
            assert outcome.state == "scored", outcome
            log.append({"kind": "submission", "team": team, "phase": phase or "test",
                        "submission": outcome.submission_id})
            publish()
            clock.advance(timedelta(minutes=30))
            return outcome.submission_id

        # Day 0: the sanity phase (the board's first phase, every subject).
        for team in TEAMS:
            submit(team)
        add_phase(board, "validation", subjects=VALIDATION, limit=2, window="24h",
                  per_case="own", visibility="public", after="test")
        add_phase(board, "final", subjects=FINAL, limit=2, window="total",
                  per_case="hidden", visibility="after_close", after="validation",
                  entry="selected", closes="2017-03-10T00:00:00Z")
        log.append({"kind": "config"})
        publish()
        # Day 1: every team enters validation.
        clock.set(START + timedelta(days=1))
        for team in TEAMS:
            submit(team, "validation")
        # Day 2: four teams improve; T2 uses its two slots and is refused a third.
        clock.set(START + timedelta(days=2))
        for team in ("T1", "T3", "T5", "T7", "T2", "T2"):
            submit(team, "validation")
        with pytest.raises(OverLimit, match="submission limit reached for team T2"):
            board.submit(make("T2"), "T2", phase="validation")
        # Day 3: the reference of subject 70 is fixed and validation rescored; T3
        # withdraws its day-2 entry; three teams submit.
        clock.set(START + timedelta(days=3))
        fixed = board_fixtures.fixed_reference(mini_reference, tmp_path / "reference-v2",
                                               share=1 / 3)
        rescore(board, "subject 70 mask fixed", phase="validation", reference=fixed)
        log.append({"kind": "rescore", "phase": "validation",
                    "moment": clock.read().strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        publish()
        day2_t3 = [e for e in log if e.get("team") == "T3" and e.get("phase") == "validation"]
        withdraw(board, day2_t3[-1]["submission"], "wrong files uploaded")
        log.append({"kind": "withdrawal", "team": "T3", "phase": "validation",
                    "submission": day2_t3[-1]["submission"]})
        publish()
        for team in ("T4", "T6", "T8"):
            submit(team, "validation")
        # Day 4: five teams submit again.
        clock.set(START + timedelta(days=4))
        for team in ("T1", "T2", "T3", "T5", "T7"):
            submit(team, "validation")
        # Days 5-6: the final phase; T1 and T2 use both entries, T1 selects its first.
        clock.set(START + timedelta(days=5))
        for team in TEAMS:
            submit(team, "final")
        clock.set(START + timedelta(days=6))
        first_final_t1 = submit("T1", "final")
        submit("T2", "final")
        select(board, [e for e in log if e.get("team") == "T1" and e.get("phase") == "final"
                       ][0]["submission"])
        publish()
        assert first_final_t1 != log[-1]["submission"]
        # The final board stays hidden in the public view until the phase closes.
        build_site(board, tmp_path / "public_before", view="public")
        clock.set(datetime(2017, 3, 10, 1, 0, tzinfo=UTC))
        build_site(board, tmp_path / "public_after", view="public")
        summary = freeze(board, "final")
        board.close()

    submissions = [e for e in log if e["kind"] == "submission"]
    assert len(submissions) == 40
    assert {e["team"] for e in submissions} == set(TEAMS)
    assert [sum(e["phase"] == p for e in submissions) for p in ("test", "validation",
                                                               "final")] == [8, 22, 10]
    # The final board (after_close) is in no public page before the phase closes, and in
    # the public site after it.
    final_ids = {e["submission"] for e in submissions if e["phase"] == "final"}

    def public_text(folder: Path) -> str:
        return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*"))
                       if p.is_file())

    assert not any(sid in public_text(tmp_path / "public_before") for sid in final_ids)
    shown_after = public_text(tmp_path / "public_after")
    assert any(sid in shown_after for sid in final_ids)
    assert len(summary["snapshot"]) == 64

    board = Board.open(root)
    try:
        # Every past site comes back byte for byte from the ledger.
        for moment, digest in published:
            rebuilt = tmp_path / "asof"
            build_site(board, rebuilt, view="private", as_of=moment)
            now = tree_digest(rebuilt)
            assert now == digest, (moment, sorted(k for k in set(now) | set(digest)
                                                 if now.get(k) != digest.get(k)))
        # Every validation board is the hand ranking of the entries of that moment.
        snaps = snapshots(board, "validation")
        assert len(snaps) >= 24  # the phase's creation, 22 entries, rescore, withdrawal...
        db = board.ledger.connection
        withdrawn_at = {e["submission"]: None for e in log if e["kind"] == "withdrawal"}
        for snap in snaps:
            entries = _hand_entries(db, snap.created_at, withdrawn_at)
            means = {team: _hand_means(db, sub, snap.created_at)
                     for team, sub in entries.items()}
            board_entries = {e["team"]: e for e in snap.payload["board"]["entries"]}
            assert {t: e["submission_id"] for t, e in board_entries.items()} == entries
            if not means:
                continue
            _, scores, positions = literal_minmax(means)
            for team, entry in board_entries.items():
                assert entry["position"] == positions[team], (snap.seq, team)
                assert entry["score"] == pytest.approx(scores[team], abs=1e-12)
        # Every change in history names its true cause.
        items = history(board, "validation")
        by_seq = {s.seq: s for s in snaps}
        seen_causes: dict[str, int] = {}
        for item in items:
            if item["from"] is None:
                continue
            old, new = by_seq[item["from"]], by_seq[item["seq"]]
            old_entries = _hand_entries(db, old.created_at, withdrawn_at)
            new_entries = _hand_entries(db, new.created_at, withdrawn_at)
            old_means = {t: _hand_means(db, s, old.created_at) for t, s in old_entries.items()}
            new_means = {t: _hand_means(db, s, new.created_at) for t, s in new_entries.items()}
            empty = {m: (None, None) for m in METRICS}  # no entry yet: no bounds
            old_bounds = literal_minmax(old_means)[0] if old_means else empty
            new_bounds = literal_minmax(new_means)[0] if new_means else empty
            actor = new.cause.get("team")
            for change in item["changes"]:
                team = change["team"]
                if new.cause.get("kind") == "rescore":
                    expected = "re-evaluated"
                    assert "subject 70 mask fixed" in change["detail"]
                elif new.cause.get("kind") == "withdrawal" and team == actor:
                    expected = "withdrawn"
                elif team == actor or old_entries.get(team) != new_entries.get(team):
                    expected = "own entry"
                else:
                    expected = "field"
                    moved = {(m, bound) for m in METRICS
                             for k, bound in enumerate(("best", "worst"))
                             if old_bounds[m][k] != new_bounds[m][k]}
                    assert {(m["metric"], m["bound"]) for m in change["metrics"]} == moved
                    if moved:
                        assert change["teams"] == [actor], (item["seq"], change)
                assert change["cause"] == expected, (item["seq"], change)
                seen_causes[expected] = seen_causes.get(expected, 0) + 1
        assert set(seen_causes) == {"own entry", "field", "re-evaluated", "withdrawn"}
        assert seen_causes["field"] >= 20 and seen_causes["own entry"] >= 15, seen_causes
    finally:
        board.close()
    # The same causes through the command line, for a pair of snapshots days apart.
    first, last = snaps[1].seq, snaps[-1].seq
    shown = wmheval("board", "history", root, "--phase", "validation", "--diff", str(first),
                    str(last), "--json")
    assert shown.returncode == 0, shown.stderr
    (pair,) = json.loads(shown.stdout)
    positions_then = {e["team"]: e["position"] for e in snaps[1].payload["board"]["entries"]}
    positions_now = {e["team"]: e["position"] for e in snaps[-1].payload["board"]["entries"]}
    for change in pair["changes"]:
        assert change["position_before"] == positions_then.get(change["team"])
        assert change["position_after"] == positions_now.get(change["team"])


def _hand_entries(db, moment: str, withdrawn: dict) -> dict[str, str]:
    """Per team, its latest submission scored in validation by ``moment`` and not withdrawn
    by then (the entry rule ``latest``), from the submissions table."""
    rows = db.execute(
        "SELECT s.submission_id, s.received_at, s.withdrawn_at, t.name FROM submissions s "
        "JOIN teams t USING (team_id) WHERE s.phase_id = 'validation' AND s.received_at <= ? "
        "ORDER BY s.received_at", (moment,)).fetchall()
    entries = {}
    for row in rows:
        if row["withdrawn_at"] and row["withdrawn_at"] <= moment:
            continue
        entries[row["name"]] = row["submission_id"]
    return entries


def _hand_means(db, submission: str, moment: str) -> dict[str, float]:
    """The mean of each metric over the cases of ``submission``'s evaluation that was the
    newest by ``moment`` (every case scored and defined in this script)."""
    evaluation = db.execute(
        "SELECT evaluation_id FROM evaluations WHERE submission_id = ? AND created_at <= ? "
        "ORDER BY created_at DESC LIMIT 1", (submission, moment)).fetchone()[0]
    rows = db.execute(f"SELECT status, {', '.join(METRICS)} FROM case_results WHERE "
                      "evaluation_id = ?", (evaluation,)).fetchall()
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    means = {}
    for metric in METRICS:
        values = [float(r[metric]) for r in rows]
        assert all(np.isfinite(values))
        means[metric] = sum(values) / len(values)
    return means
