"""``wmheval demo``: the whole toolkit on the bundled synthetic challenge, in one output folder.

Generates the small synthetic challenge and several simulated teams, scores every team per
scanner, optionally trains a small CPU baseline and scores it too, ranks the field with the
sensitivity analyses, ranks against the published leaderboard, draws overlays, and writes
``index.md`` and ``index.html`` that say what each file is.
"""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wmheval.io.atomic import write_text_atomic
from wmheval.io.names import safe_file_name
from wmheval.io.tables import write_table_formats
from wmheval.pipelines.baselines import torch_available
from wmheval.vocabulary import STATUS_OK

Note = Callable[[str], None]
THRESHOLD_TEAM = "baseline-threshold"
"""Team name of the threshold baseline (the floor the learned baseline must beat)."""


def learned_team(model: str) -> str:
    """Team name of the demo's learned baseline, e.g. ``baseline-resunet-cpu``."""
    return f"baseline-{model}-cpu"


@dataclass
class DemoOutput:
    """The files a demo run wrote, by section, each with a one-line description."""

    out: Path
    sections: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reports: list[tuple[Path, str]] = field(default_factory=list)
    overview: pd.DataFrame | None = None
    """Every team's mean metrics on all, seen and unseen test subjects (``overview.csv``)."""
    leaderboard: pd.DataFrame | None = None
    """The official ranking of the simulated teams (shown on the index page)."""

    def add(self, section: str, path: Path, description: str) -> None:
        self.sections.setdefault(section, []).append((Path(path), description))

    @property
    def index(self) -> Path:
        return self.out / "index.html"


@contextlib.contextmanager
def _step(output: DemoOutput, name: str, note: Note) -> Iterator[None]:
    """Announce a demo step and record how long it took."""
    note(f"{name} ...")
    start = time.perf_counter()
    yield
    output.timings[name] = time.perf_counter() - start


def _score_team(challenge: Path, submission: Path, out: Path, jobs: int | None) -> None:
    from wmheval.pipelines.score import score_to_dir

    score_to_dir(challenge, submission, out, jobs=jobs, split="test")


def _overview(scores_root: Path, teams: list[str]) -> pd.DataFrame:
    """Mean per team on all, seen and unseen test subjects (one row per team).

    The means are the ones the ranking uses (``mean_ranked``: missing and undefined values
    imputed under the scoring policy), so that the overview and the ranking agree;
    ``imputed`` counts the values the policy filled in over all subjects.
    """
    rows = []
    for team in teams:
        summary = pd.read_csv(scores_root / team / "summary.csv")
        row = {"team": team}
        column = "mean_ranked" if "mean_ranked" in summary.columns else "mean"
        for group in ("all", "seen", "unseen"):
            block = summary[(summary["group_type"] == group) & (summary["group"] == group)]
            for _, entry in block.iterrows():
                row[f"{entry['metric']}_{group}"] = entry[column]
        overall = summary[(summary["group_type"] == "all")]
        cases = overall.iloc[0]
        row["missing_or_failed"] = int(cases["n_missing"] + cases["n_failed"])
        if "n_imputed" in overall.columns:
            row["imputed"] = int(overall["n_imputed"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _threshold_baseline(challenge: Path, out: Path, scores: Path, jobs: int | None,
                        output: DemoOutput, teams: list[str]) -> None:
    """Fit and score the threshold baseline (FLAIR z-score inside the white matter)."""
    from wmheval.pipelines.baselines import threshold_baseline, threshold_fit_path

    submission = out / "baseline_threshold" / "submission"
    fit = threshold_baseline(challenge, submission)
    _score_team(challenge, submission, scores / THRESHOLD_TEAM, jobs)
    teams.append(THRESHOLD_TEAM)
    for ext in ("md", "html", "tex"):
        output.add("Scores per team", scores / THRESHOLD_TEAM / f"summary_table.{ext}",
                   f"{THRESHOLD_TEAM}: FLAIR z >= {fit.threshold:g} inside the white-matter "
                   f"mask (dilated {fit.dilation_mm:g} mm), fitted on the training subjects: "
                   "the floor")
    output.add("Baseline", threshold_fit_path(submission), "the threshold baseline's fit "
               "(threshold, dilation, training Dice curve)")


def _learned_baseline(challenge: Path, out: Path, scores: Path, jobs: int | None,
                      output: DemoOutput, teams: list[str], *, model: str, samples: int | None,
                      seconds: float | None, seed: int) -> None:
    """Train the small CPU baseline with the ``demo`` recipe, predict and score it."""
    from wmheval.pipelines.baselines import train_and_predict

    name = learned_team(model)
    overrides = {} if samples is None else {"samples": samples}
    folder = out / f"baseline_{model}"
    submission = train_and_predict(challenge, folder, model=model, recipe="demo",
                                   seconds=seconds, seed=seed, **overrides)
    _score_team(challenge, submission, scores / name, jobs)
    teams.append(name)
    for ext in ("md", "html", "tex"):
        output.add("Scores per team", scores / name / f"summary_table.{ext}",
                   f"{name}: a small {model} trained here on the CPU (recipe 'demo') on every "
                   "training subject (3 scanners), scored on all 5")
    output.add("Baseline", folder / "run" / "metadata.json",
               f"the {model} run: config, schedule, seed, weights' hash, training log with "
               "loader and step times")


def _bundled_baseline(challenge: Path, out: Path, scores: Path, jobs: int | None,
                      output: DemoOutput, teams: list[str], *, model: str) -> None:
    """Predict the test subjects with the bundled demo model ``demo:<model>`` and score it."""
    import json

    from wmheval.pipelines.baselines import bundled_provenance, predict_baseline

    name, bundle = learned_team(model), f"demo:{model}"
    folder = out / f"baseline_{model}"
    provenance = bundled_provenance(bundle)
    submission = predict_baseline(bundle, challenge, folder / "submission", device="cpu")
    write_text_atomic(folder / "provenance.json",
                      json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    _score_team(challenge, submission, scores / name, jobs)
    teams.append(name)
    for ext in ("md", "html", "tex"):
        output.add("Scores per team", scores / name / f"summary_table.{ext}",
                   f"{name}: the bundled model {bundle}, a small {model} trained on the CPU "
                   "(recipe 'demo') on the synthetic challenge's 60 training subjects, scored "
                   "on all 5 scanners (synthetic data only: no use on real scans)")
    output.add("Baseline", folder / "provenance.json",
               f"where {bundle} comes from: training command, recipe, data seed, wmheval "
               "version, git commit, training time, sha256 (verified on loading)")


DEMO_MODELS = ("resunet", "fcn-vgg")
"""The learned baselines of the demo: bundled (``demo:resunet``, ``demo:fcn-vgg``) or, with
``train``, trained from scratch."""


def learned_models(baseline_models: tuple[str, ...] | None, train: bool) -> tuple[str, ...]:
    """The learned baselines the demo shows: ``baseline_models`` if given, else the bundled
    demo models (``resunet``, ``fcn-vgg``), or those two when training (``train``).
    ValueError for a model that has no bundled version unless ``train``."""
    from wmheval.pipelines.baselines import bundled_models

    available = tuple(name.removeprefix("demo:") for name in bundled_models())
    if baseline_models is None:
        return DEMO_MODELS if train else tuple(m for m in DEMO_MODELS if m in available)
    if not train:
        missing = [m for m in baseline_models if m not in available]
        if missing:
            raise ValueError(f"no bundled demo model for {', '.join(missing)} (bundled: "
                             f"{', '.join(available) or 'none'}); train it with --train")
    return tuple(dict.fromkeys(baseline_models))


def run_demo(out: str | Path, *, seed: int = 0, baseline: bool | None = None,
             train: bool = False, baseline_models: tuple[str, ...] | None = None,
             baseline_samples: int | None = None, baseline_seconds: float | None = 3600.0,
             bootstrap: int = 1000, samples: int = 100_000, jobs: int | None = None,
             note: Note | None = None, command: str = "wmheval demo") -> DemoOutput:
    """Run the demo into ``out`` and return what it wrote (``out/index.html`` lists it all).

    ``baseline=None`` runs the baselines only when torch is installed; ``True`` requires
    it: the threshold baseline (``baseline-threshold``, fitted on the training subjects
    written) and the learned baselines (``baseline-<model>-cpu``, :func:`learned_models`).
    By default these are the **bundled** demo models, which only predict: the demo then
    writes only the subjects it scores and the threshold's training subjects (the small
    selection, 27). ``train`` trains them from scratch instead with the ``demo`` recipe
    on all 60 training subjects (ResU-Net about 16 min, FCN/VGG about 25-30 min on 2 idle
    cores; ``baseline_samples`` overrides the recipe's sample count, ``baseline_seconds``
    caps each training, a run stopped by it is marked incomplete and says so).
    Deterministic from ``seed``. ``command`` is recorded in the reports' provenance.
    """
    from wmheval.pipelines.rank import write_ranking
    from wmheval.plots.overlay import show_case
    from wmheval.ranking import add_team, load_field, rank_field
    from wmheval.synth import generate_challenge
    from wmheval.synth.submissions import generate_submissions

    note = note or (lambda message: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    output = DemoOutput(out)
    challenge, submissions, scores = out / "challenge", out / "submissions", out / "scores"
    if baseline is None:
        baseline = torch_available()
    elif baseline and not torch_available():
        raise RuntimeError("the baseline needs torch: pip install torch==2.13.0 && "
                           "pip install 'wmheval[baselines]' (or run with --no-baseline)")
    models = learned_models(baseline_models, train) if baseline else ()

    with _step(output, "synthetic challenge", note):
        # Training needs the 60 training subjects (on 12 it overfits); the bundled models
        # and the threshold baseline need only the small selection.
        subjects = generate_challenge(challenge, small=True, seed=seed,
                                      all_training=bool(baseline and train), jobs=jobs)
    output.add("Data", challenge / "synth_manifest.csv",
               f"the small synthetic challenge: {len(subjects)} subjects in the release "
               "layout (training/ and test/, five scanners)")
    with _step(output, "simulated teams", note):
        teams_table = generate_submissions(challenge, submissions, seed=seed, jobs=jobs)
    teams = [str(t) for t in teams_table["team"]]
    output.add("Data", submissions / "teams.md",
               "the simulated teams and their error profiles")

    with _step(output, "scoring", note):
        for team in teams:
            _score_team(challenge, submissions / team, scores / team, jobs)
            for ext in ("md", "html", "tex"):
                output.add("Scores per team", scores / team / f"summary_table.{ext}",
                           f"{team}: metrics per scanner, seen/unseen, overall "
                           f"(cases.csv and summary.csv beside it)")
    if baseline:
        with _step(output, "baseline threshold", note):
            _threshold_baseline(challenge, out, scores, jobs, output, teams)
        for model in models:
            if train:
                with _step(output, f"baseline {model} (CPU training)", note):
                    _learned_baseline(challenge, out, scores, jobs, output, teams,
                                      model=model, samples=baseline_samples,
                                      seconds=baseline_seconds, seed=seed)
            else:
                with _step(output, f"baseline {model} (bundled demo model)", note):
                    _bundled_baseline(challenge, out, scores, jobs, output, teams,
                                      model=model)
        if not models:
            output.notes.append("no bundled demo model found: learned baselines skipped "
                                "(train them with --train)")
    else:
        output.notes.append("baseline skipped (torch not installed or --no-baseline)")

    overview = _overview(scores, teams)
    output.overview = overview
    for path in write_table_formats(overview, out / "overview",
                                    caption="Mean metrics per team: all, seen, unseen"):
        output.add("Overview", path, "every team's mean metrics on all, seen and unseen "
                                     "scanners, as ranked: missing and undefined values "
                                     "imputed under the scoring policy")

    _agreement_step(output, scores, teams, seed, note)
    agreement = out / "agreement"
    extra_sets = [agreement] if (agreement / "figures.json").is_file() else []

    with _step(output, "ranking, sensitivity and report (simulated teams)", note):
        team_field = load_field(scores)
        output.leaderboard = rank_field(team_field)
        _report(output, team_field, out / "ranking_teams", "Ranking of the simulated teams",
                command, {"scores": scores, "reference": challenge}, reference=challenge,
                extra_sets=extra_sets,
                bootstrap=bootstrap, seed=seed, samples=samples,
                title="Simulated teams on the synthetic challenge")
        unseen_ranking = rank_field(load_field(scores, split="unseen"))
        for path in write_ranking(unseen_ranking, out / "ranking_teams_unseen",
                                  caption="Ranking on the unseen scanners only"):
            output.add("Ranking of the simulated teams", path,
                       "the official ranking on the two unseen scanners only "
                       "(compare with ranking_teams/ranking)")
    with _step(output, "ranking and sensitivity (published leaderboard)", note):
        from wmheval._resources import published_leaderboard_path

        published = load_field(published_leaderboard_path())
        _report(output, published, out / "ranking_published", "The published 2017 leaderboard",
                command, {"leaderboard": published_leaderboard_path()}, bootstrap=0, seed=seed,
                samples=samples, title="The published MICCAI 2017 WMH leaderboard")
        best = rank_field(team_field).iloc[0]["team"]
        with_best = add_team(published, scores / best, f"{best} (synthetic)")
        output.notes.extend(with_best.notes)
        inserted = rank_field(with_best)
        for path in write_ranking(inserted, out / "ranking_published_plus_team",
                                  caption=f"Published leaderboard with {best} inserted"):
            output.add("The published 2017 leaderboard", path,
                       f"the best simulated team ({best}) inserted into the published "
                       "field (synthetic scores: illustrates the mechanics only)")


    with _step(output, "challenge board", note):
        _board_step(output, challenge, submissions, teams, out, bootstrap)

    with _step(output, "overlay figures", note):
        cases = pd.read_csv(scores / teams[0] / "cases.csv", dtype={"id": str})
        picks = [cases[cases["seen_in_training"] == flag].iloc[0] for flag in (True, False)
                 if (cases["seen_in_training"] == flag).any()]
        manifest = subjects.set_index(subjects["id"].astype(str))
        for team in teams:
            team_cases = pd.read_csv(scores / team / "cases.csv", dtype={"id": str})
            for pick in picks:
                row = team_cases.set_index("id").loc[pick["id"]]
                if row["status"] != STATUS_OK:
                    continue
                figure = out / "figures" / safe_file_name(f"overlay_{team}_{pick['id']}.png")
                show_case(manifest.loc[pick["id"], "path"],  # relative to the score folder
                          scores / team / row["prediction_path"], figure,
                          title=f"{team}, subject {pick['id']} ({pick['scanner']})")
                output.add("Overlays", figure, f"{team} on subject {pick['id']} "
                           f"({pick['scanner']}, {'seen' if pick['seen_in_training'] else 'unseen'}"
                           " scanner): TP, FP, FN in colour")
    write_index(output)
    return output


def _zip_folder(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A team's predictions folder as the zip a participant would upload. Members carry a
    fixed date and mode, so the same folder gives the same bytes on every run (the board
    names submissions by their archive's hash)."""
    import zipfile

    def member(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.writestr(member(path.relative_to(folder).as_posix()),
                                 path.read_bytes())
        for name, data in (extra or {}).items():
            archive.writestr(member(name), data)
    return target


BOARD_START = (2026, 6, 1, 9)
"""When the demo's challenge board opens (UTC, simulated): its pages show these days."""


def _board_step(output: DemoOutput, challenge: Path, submissions: Path, teams: list[str],
                out: Path, bootstrap: int) -> None:
    """Run the simulated teams through a challenge board (``wmheval board``) over three
    simulated days and two phases: a ``test`` phase over the test subjects (two uploads per
    team per 24 h) that half the teams enter on day 1 and the rest on day 2 (moving the
    bounds of the first: "field" moves in the history), a third upload in a day refused, a
    hostile archive rejected, a withdrawal on day 3; then a ``final`` phase that takes
    every team's entry by promotion. Writes the public site (``board_site/``, each team's
    page with its timeline) and the test phase's history (``board_history.txt``)."""
    from datetime import UTC, datetime, timedelta

    from wmheval.pipelines.board import (
        board_life,
        build_board_site,
        init_board,
        lifecycle,
        simulated_board_clock,
        submission_refusals,
    )

    over_limit, _rejected = submission_refusals()
    life, cycle = board_life(), lifecycle()
    simulated = [t for t in teams if (submissions / t).is_dir()]  # not the baselines
    archives = out / "board_uploads"
    start = datetime(*BOARD_START, tzinfo=UTC)
    entries: dict[str, str] = {}

    def upload(board, team: str, archive: Path, note: str) -> None:
        outcome = board.submit(archive, team, note=note)
        if outcome.state == "scored":
            entries[team] = outcome.submission_id
        else:
            output.notes.append(f"board: {team}'s upload {outcome.state}: {outcome.reason}")

    with simulated_board_clock(start) as clock, init_board(
            out / "board", challenge, name="Synthetic WMH demo", limit=2, window="24h",
            subjects="test") as board:
        for team in [*simulated, "mallory"]:
            board.add_team(team)
        half = max(1, len(simulated) // 2)
        for team in simulated[:half]:  # day 1
            upload(board, team, _zip_folder(submissions / team, archives / f"{team}.zip"),
                   "day 1")
            clock.advance(timedelta(hours=1))
        first = simulated[0]
        for k in (2, 3):  # day 1 again: a second upload of the first team, a third refused
            again = _zip_folder(submissions / first, archives / f"{first}_v{k}.zip",
                                extra={"README.txt": f"upload {k}".encode()})
            try:
                upload(board, first, again, f"upload {k}")
            except over_limit as error:
                output.notes.append(f"board: {first}'s upload {k} on day 1 refused: {error}")
        hostile = _zip_folder(submissions / simulated[0], archives / "mallory.zip",
                              extra={"../escape.txt": b"outside the staging folder"})
        outcome = board.submit(hostile, "mallory", note="a hostile archive")
        output.notes.append(f"board: mallory's archive {outcome.state} as expected: "
                            f"{outcome.reason}")
        clock.set(start + timedelta(days=1))
        for team in simulated[half:]:  # day 2: the others enter and move the bounds
            upload(board, team, _zip_folder(submissions / team, archives / f"{team}.zip"),
                   "day 2")
            clock.advance(timedelta(hours=1))
        clock.set(start + timedelta(days=2))
        leaving = next((t for t in ("incomplete", *reversed(simulated)) if t in entries), None)
        if leaving is not None and len(entries) > 2:  # day 3: one team withdraws
            cycle.withdraw(board, entries.pop(leaving), "withdrawn by the team: a truncated "
                           "file in the upload")
        cycle.add_phase(board, "final", subjects="test", limit=1, window="total",
                        per_case="hidden", visibility="public", after="test")
        clock.set(start + timedelta(days=3))
        cycle.promote(board, "test", "final")
        report = build_board_site(board, out / "board_site", view="public",
                                  bootstrap=bootstrap or None)
        history = life.history_lines(life.history(board, "test"))
        slug = board.team(first)["slug"]
    (out / "board_history.txt").write_text("\n".join(history) + "\n", encoding="utf-8")
    output.add("Challenge board", out / "board_site" / "index.html",
               f"the simulated teams submitted as zip archives to a local challenge board "
               f"(wmheval board) over three simulated days: {report.n_ranked} entries ranked "
               f"with 95 % rank intervals in two phases, {report.n_not_ranked} not ranked "
               "(a hostile archive, a withdrawal); a third upload in a day refused")
    output.add("Challenge board", out / "board_site" / "teams" / f"{slug}.html",
               f"{first}'s page: its uploads and its score and position over the days "
               "(hollow marks: moves caused by other teams entering)")
    output.add("Challenge board", out / "board_history.txt",
               "the test phase's history (wmheval board history): each change and, per "
               "team, its cause (its own entry, a withdrawal, or which team moved which "
               "metric's bound)")
    output.add("Challenge board", out / "board_site" / "board.csv",
               "the board as a table: position, score, metric means, rank interval")


def demo_to_dir(out: str | Path, *, command: str = "wmheval demo", **options) -> DemoOutput:
    """What ``wmheval demo`` does: :func:`run_demo` written as one output set ``out``
    (replaced whole, with a ``wmheval_manifest.json``; untouched when the run fails).
    ``options`` are :func:`run_demo`'s; the returned paths name ``out``, not the staging
    folder."""
    from wmheval.io.outputs import output_set

    out = Path(out)
    recorded = {k: options.get(k) for k in ("seed", "baseline", "train", "baseline_models",
                                            "baseline_samples", "baseline_seconds",
                                            "bootstrap", "samples")}
    with output_set(out, command="demo", inputs=None, options=recorded) as staging:
        output = run_demo(staging, command=command, **options)
    output.out = out
    return output


def _report(output: DemoOutput, field, folder: Path, section: str, command: str,
            inputs: dict[str, Path], **options) -> None:
    """The ranking analysis and HTML report of ``field`` in ``folder``, indexed first."""
    from wmheval.pipelines.report import write_field_report
    from wmheval.pipelines.sensitivity import write_ranking_report
    from wmheval.report import make_provenance

    analysis = {k: options.pop(k) for k in ("bootstrap", "seed", "samples")}
    provenance = make_provenance(command, inputs, analysis)
    for path, description in write_ranking_report(field, folder, **analysis):
        output.add(section, path, description)
    write_field_report(field, folder, provenance=provenance, analysis=False, **options)
    output.reports.append((folder / "index.html", options.get("title") or section))


def _policy_html(text: str) -> str:
    """The policy paragraph (Markdown: a paragraph, then ``- `` items) as HTML."""
    import re

    def inline(line: str) -> str:
        escaped = html.escape(line)
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        escaped = re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
        return re.sub(r"\*(.+?)\*", r"<em>\1</em>", escaped)

    paragraphs = [inline(line) for line in text.splitlines()
                  if line.strip() and not line.startswith("- ")]
    items = [inline(line[2:]) for line in text.splitlines() if line.startswith("- ")]
    return ("".join(f"<p>{p}</p>" for p in paragraphs)
            + "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")


DEMO_GRADING = ((5.0, 15.0), ("low", "moderate", "high"))
"""The demo's volume grading (the synthetic challenge has no visual ratings): grades of the
reference volume at 5 and 15 mL, to show the grade figures and tables."""


def _agreement_step(output: DemoOutput, scores: Path, teams: list[str], seed: int,
                    note: Note) -> None:
    """Volumetric agreement of every team with the reference (``agreement/``)."""
    from wmheval.pipelines.agreement import agreement_to_dir

    with _step(output, "volumetric agreement", note):
        result, written = agreement_to_dir(
            [scores / team for team in teams], output.out / "agreement", scales=("ml", "log"),
            grading=DEMO_GRADING, seed=seed)
    for path, description in written:
        if path.suffix in (".csv", ".md", ".png", ".svg") and path.name != "volumes.csv" \
                or path.name == "figures.json":
            output.add("Volumetric agreement", path, description)
    output.notes += [f"agreement: {n}" for n in result.problems]


FORMAT_ORDER = (".md", ".html", ".csv", ".tex", ".png", ".svg", ".json")


def _grouped(entries: list[tuple[Path, str]]) -> list[tuple[list[Path], str]]:
    """Merge the formats of one table or figure (same stem) into a single index entry."""
    groups: dict[Path, tuple[list[Path], str]] = {}
    for path, description in entries:
        stem = path.with_suffix("")
        base = description
        if base.endswith(")") and " (" in base:
            label = base[base.rindex(" (") + 2:-1]
            if label in ("CSV", "Markdown", "LaTeX", "HTML", "PNG", "SVG"):
                base = base[: base.rindex(" (")]
        paths, _ = groups.setdefault(stem, ([], base))
        paths.append(path)
    return [(sorted(paths, key=lambda p: FORMAT_ORDER.index(p.suffix)
                    if p.suffix in FORMAT_ORDER else 99), description)
            for paths, description in groups.values()]


def _leaderboard_block(output: DemoOutput) -> tuple[list[str], list[str]]:
    """The leaderboard of the simulated teams for the index page (Markdown, HTML): position,
    team, score and the five metrics, with a link to the full report."""
    if output.leaderboard is None:
        return [], []
    from wmheval.io.tables import html_table, render_table
    from wmheval.ranking.leaderboard import PAPER_COLUMNS

    board = output.leaderboard[[c for c in PAPER_COLUMNS if c in output.leaderboard]]
    caption = ("Official ranking of the simulated teams (MICCAI 2017 rule; lower score is "
               "better)")
    link = "ranking_teams/index.html"
    md = ["## Leaderboard", "", render_table(board, "md"),
          f"Full report: [{link}]({link})", ""]
    page_html = ["<h2 id='leaderboard'>Leaderboard</h2><div class='tablewrap'>"
                 + html_table(board, caption, table_id="leaderboard-table") + "</div>"
                 f"<p class='links'>Full report: <a href='{link}'>per-scanner and per-team "
                 "pages, figures</a></p>"]
    return md, page_html


def write_index(output: DemoOutput) -> None:
    """Write ``index.md`` and ``index.html``: the reports first, then every file with its
    description."""
    from wmheval.io.htmlpage import page
    from wmheval.scoring.policy import describe_policy

    policy = describe_policy()
    lines = ["# wmheval demo", "",
             "Everything below was produced by `wmheval demo` on the synthetic challenge.", "",
             "## Scoring policy", "", policy, ""]
    parts = ["<h1>wmheval demo</h1><p class='lead'>Everything below was produced by "
             "<code>wmheval demo</code> on the synthetic challenge.</p>"]
    lines_board, parts_board = _leaderboard_block(output)
    lines += lines_board
    parts += parts_board
    if output.reports:
        lines += ["## Reports", ""]
        parts.append("<h2>Reports</h2><ul>")
        for path, title in output.reports:
            relative = path.relative_to(output.out).as_posix()
            lines.append(f"- [{title}]({relative})")
            parts.append(f"<li><a href='{html.escape(relative)}'><b>{html.escape(title)}</b>"
                         "</a>: leaderboard, per-scanner and per-team pages, figures with "
                         "how to read them, provenance</li>")
        lines.append("")
        parts.append("</ul>")
    parts += ["<h2>Scoring policy</h2>", _policy_html(policy)]
    for section, entries in output.sections.items():
        lines += [f"## {section}", ""]
        parts.append(f"<h2>{html.escape(section)}</h2><ul>")
        for paths, description in _grouped(entries):
            relative = [p.relative_to(output.out).as_posix() for p in paths]
            links_md = " · ".join(f"[{r.rsplit('.', 1)[-1]}]({r.replace(' ', '%20')})"
                                  for r in relative)
            name = relative[0].rsplit(".", 1)[0]
            lines.append(f"- `{name}` {links_md}: {description}")
            links_html = " · ".join(
                f"<a href='{html.escape(r.replace(' ', '%20'))}'>"
                f"{html.escape(r.rsplit('.', 1)[-1])}</a>" for r in relative)
            item = (f"<li><code>{html.escape(name)}</code> {links_html}: "
                    f"{html.escape(description)}")
            images = [r for r in relative if r.endswith(".png")]
            if images:
                item += (f"<br><img src='{html.escape(images[0].replace(' ', '%20'))}' "
                         f"alt='{html.escape(description)}' loading='lazy' "
                         "style='max-width:100%;max-height:28em'>")
            parts.append(item + "</li>")
        lines.append("")
        parts.append("</ul>")
    lines += ["## Timings", ""] + [f"- {k}: {v:.1f} s" for k, v in output.timings.items()]
    parts.append("<h2>Timings</h2><ul>" + "".join(
        f"<li>{html.escape(k)}: {v:.1f} s</li>" for k, v in output.timings.items()) + "</ul>")
    if output.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in output.notes]
        parts.append("<h2>Notes</h2><ul>" + "".join(
            f"<li>{html.escape(n)}</li>" for n in output.notes) + "</ul>")
    write_text_atomic(output.out / "index.md", "\n".join(lines) + "\n")
    write_text_atomic(output.out / "index.html", page("wmheval demo", "\n".join(parts)))
