"""Figures of the challenge board (printed; nothing is asserted):

    python benchmarks/bench_board.py CHALLENGE TEAMS --work DIR [--entries 500] [--bootstrap 1000]

CHALLENGE is a synthetic challenge (``wmheval synth``) and TEAMS its simulated teams
(``wmheval synth-submissions``). Measures, each as a separate process where a user would
run one:

1. ``wmheval board submit`` of one team's test predictions as a zip (time to scored) beside
   ``wmheval score`` of the same folder (no cache, one job: what the scoring child runs);
2. resubmitting the same bytes (deduplicated: no scoring, no quota);
3. rejecting each archive of a small hostile set (time and the scoring child's peak RSS);
4. ``wmheval board build`` of a board of ``--entries`` submissions over the challenge's test
   subjects with ``--bootstrap`` resamples (the ledger is filled directly with per-case
   rows drawn around the real teams' values, since scoring 500 archives takes hours).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "baselines"),
                                         str(REPO / "leaderboard"), env.get("PYTHONPATH", "")])
    return env


def run(*args) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "wmheval.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=_env())
    return time.perf_counter() - start, done


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def hostile_archives(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    path = folder / "slip.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("../../evil.txt", "x")
    out["zip slip"] = path
    path = folder / "symlink.tar"
    with tarfile.open(path, "w") as t:
        info = tarfile.TarInfo("1/result.nii.gz")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(info)
    out["tar symlink"] = path
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("1/result.nii", b"\0" * (200 << 20))
    out["200 MB of zeros in one member (cap 64 MB)"] = path
    path = folder / "many.zip"
    with zipfile.ZipFile(path, "w") as z:
        for k in range(5000):
            z.writestr(f"f{k}", b"")
    out["5,000 empty members"] = path
    path = folder / "page.zip"
    path.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    out["an HTML page saved as .zip"] = path
    return out


def fill_ledger(root: Path, entries: int, seed: int = 0) -> None:
    """Add ``entries`` teams with one scored submission each, per-case values drawn around
    the scored team's (the ranking and the bootstrap see a realistic field)."""
    sys.path[:0] = [str(REPO), str(REPO / "leaderboard")]
    from wmheval_leaderboard.board import Board
    from wmheval_leaderboard.config import iso, now_utc

    rng = np.random.default_rng(seed)
    with Board.open(root) as board:
        (first,) = board.ledger.query("SELECT * FROM evaluations LIMIT 1")
        template = [dict(r) for r in board.ledger.query(
            "SELECT * FROM case_results WHERE evaluation_id = ?", (first["evaluation_id"],))]
        submission = board.ledger.query("SELECT * FROM submissions LIMIT 1")[0]
        with board.ledger.write() as db:
            for k in range(entries):
                team_id, sid, eid = f"tbench{k:05d}", f"sbench{k:05d}", f"ebench{k:05d}"
                db.execute("INSERT INTO teams VALUES (?, ?, ?, 0, ?)",
                           (team_id, f"team {k:04d}", f"team-bench{k:05d}", iso(now_utc())))
                db.execute("INSERT INTO submissions (submission_id, phase_id, team_id, "
                           "archive_sha256, archive_bytes, archive_kind, received_at, state, "
                           "config_sha256) VALUES (?, ?, ?, ?, 1, 'file', ?, 'scored', ?)",
                           (sid, submission["phase_id"], team_id, f"{k:064x}",
                            iso(now_utc()), submission["config_sha256"]))
                db.execute("INSERT INTO evaluations (evaluation_id, submission_id, "
                           "reference_sha256, wmheval_version, options_json, created_at, "
                           "run_dir, run_sha256, n_cases, n_missing, means_json) VALUES "
                           "(?, ?, '', '', '{}', '', '', '', ?, 0, '{}')",
                           (eid, sid, len(template)))
                scale = rng.uniform(0.5, 1.5)
                rows = []
                for case in template:
                    row = dict(case, evaluation_id=eid)
                    row["dice"] = float(np.clip(case["dice"] * scale * rng.uniform(.9, 1.1),
                                                0, 1))
                    row["h95"] = float(case["h95"] * (2 - scale) * rng.uniform(.8, 1.2))
                    row["avd"] = float(case["avd"] * (2 - scale) * rng.uniform(.8, 1.2))
                    row["recall"] = float(np.clip(case["recall"] * scale, 0, 1))
                    row["f1"] = float(np.clip(case["f1"] * scale, 0, 1))
                    rows.append(tuple(row.values()))
                marks = ",".join("?" * len(rows[0]))
                db.executemany(f"INSERT INTO case_results VALUES ({marks})", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("challenge", type=Path)
    parser.add_argument("teams", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--team", default="precise")
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    root = work / "challenge"
    _, done = run("board", "init", root, "--reference", args.challenge, "--limit", "0")
    assert done.returncode == 0, done.stderr
    config = (root / "challenge.toml").read_text()
    (root / "challenge.toml").write_text(config.replace('subjects = "all"', 'subjects = "test"'))
    run("board", "team", "add", root, args.team)
    folder = args.teams / args.team
    n_subjects = sum(1 for _ in folder.glob("*/result.nii.gz"))
    archive = zip_folder(folder, work / f"{args.team}.zip")
    print(f"1. one submission: {n_subjects} subjects, zip of {archive.stat().st_size / 1e6:.1f} "
          "MB")
    seconds, done = run("score", args.challenge, folder, "--out", work / "score", "--no-cache",
                        "-j", "1", "-q", "--split", "test")
    print(f"   wmheval score (no cache, 1 job): {seconds:.2f} s (exit {done.returncode})")
    seconds, done = run("board", "submit", root, archive, "--team", args.team)
    assert done.returncode == 0, done.stderr
    print(f"   wmheval board submit, to scored: {seconds:.2f} s")
    seconds, done = run("board", "submit", root, archive, "--team", args.team)
    print(f"2. resubmitting the same bytes: {seconds:.2f} s "
          f"({'deduplicated' if 'no quota used' in done.stdout else 'NOT deduplicated'})")
    print("3. hostile archives (time of the submit process; peak RSS of its scoring child):")
    for label, path in hostile_archives(work / "hostile").items():
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        seconds, done = run("board", "submit", root, path, "--team", args.team)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        line = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        print(f"   {label}: exit {done.returncode} in {seconds:.2f} s, max RSS of any child "
              f"so far {max(peak, before) / 1024:.0f} MB; {line[:110]}")
    fill_ledger(root, args.entries)
    seconds, done = run("board", "build", root, "--out", work / "site", "--bootstrap",
                        args.bootstrap)
    assert done.returncode == 0, done.stderr
    size = (work / "site" / "index.html").stat().st_size
    print(f"4. build: {args.entries + 1} entries x {n_subjects} subjects, B = "
          f"{args.bootstrap}: {seconds:.2f} s; index.html {size / 1e6:.2f} MB, "
          f"{sum(1 for _ in (work / 'site').rglob('*.html'))} pages")


if __name__ == "__main__":
    main()
