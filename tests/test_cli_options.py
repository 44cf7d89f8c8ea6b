"""The command line as a whole (issue 26): every command's help has an ``Example:``, every
choice list is a domain tuple of :mod:`wmheval.vocabulary`, every option of every command
is named in some test's invocation of that command, and each option reaches its pipeline
with the value given (a spy stands in for the pipeline: these tests check the CLI layer,
the pipelines have their own)."""

from __future__ import annotations

import ast
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from wmheval import vocabulary as vocab
from wmheval.cli.main import app
from wmheval.scoring.policy import MissingPolicy, UndefinedPolicy

TESTS = Path(__file__).parent
runner = CliRunner()


def _commands() -> list[tuple[tuple[str, ...], object]]:
    """(path, click command) of the application, every group and every command."""
    found = []

    def walk(command, path):
        found.append((tuple(path), command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()
LEAVES = [(path, c) for path, c in COMMANDS if not getattr(c, "commands", None)]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "app")
def test_every_help_has_an_example(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    example = result.output.split("Example:", 1)[1].strip().splitlines()[0]
    assert example.startswith("wmheval " + " ".join(path[:1])), example


# --- Choice lists are the vocabulary's ------------------------------------------------------

def _baseline_tuples():
    pytest.importorskip("torch")  # the baselines extra: its tuples live in wmheval_baselines
    from wmheval_baselines.models.fcn_vgg import CONVENTIONS
    from wmheval_baselines.operating_point import OPERATING_POINTS
    from wmheval_baselines.recipes import RECIPE_NAMES
    from wmheval_baselines.train import LR_SCHEDULES, MODELS, WM_SOURCES

    return {"model": MODELS, "--baseline-model": MODELS, "--recipe": RECIPE_NAMES,
            "--lr-schedule": LR_SCHEDULES, "--wm-source": WM_SOURCES,
            "--operating-point": OPERATING_POINTS, "--vgg-convention": ("auto", *CONVENTIONS)}


def _board_choices() -> dict:
    """The board's closed choices (``wmheval_leaderboard.config`` and ``.life``)."""
    from wmheval_leaderboard.config import BOARD_VISIBILITY, ENTRY_RULES, PER_CASE, WINDOWS
    from wmheval_leaderboard.life import EXPORT_FORMATS

    return {("init", "--window"): WINDOWS, ("add", "--window"): WINDOWS,
            ("add", "--per-case"): PER_CASE, ("add", "--board"): BOARD_VISIBILITY,
            ("add", "--entry"): ENTRY_RULES, ("export", "--format"): EXPORT_FORMATS}


DOMAIN_CHOICES = {
    ("score", "--split"): vocab.SCORE_SPLITS,
    ("synth-submissions", "--split"): vocab.SYNTH_SPLITS,
    ("sensitivity", "--ties"): vocab.TIES,
    ("sensitivity", "--p-adjust"): vocab.P_ADJUST,
    ("agreement", "--scale"): (*vocab.VOLUME_SCALES, "both"),
    ("synth", "--phantom"): vocab.PHANTOMS,
    ("grand-challenge", "--per-case"): vocab.GRAND_CHALLENGE_PER_CASE,
    ("grand-challenge", "--kind"): vocab.GRAND_CHALLENGE_KINDS,
    ("codabench", "--per-case"): vocab.CODABENCH_PER_CASE,
    ("import", "platform"): vocab.PLATFORMS,
    **_board_choices(),
}
"""Every closed choice of the CLI and the domain tuple it must equal (the missing/undefined
policies are the domain's own enums; the baselines' come from wmheval_baselines)."""


def _choices(param) -> tuple[str, ...] | None:
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(member.value for member in annotation)
    return None


def test_every_cli_choice_list_is_a_domain_tuple():
    baseline = None
    checked = 0
    for path, command in LEAVES:
        for param in command.params:
            choices = _choices(param)
            if choices is None:
                continue
            option = param.opts[0] if param.param_type_name == "option" else param.name
            if option in ("--missing", "--undefined"):
                enum = MissingPolicy if option == "--missing" else UndefinedPolicy
                assert param.type_descriptor.annotation is enum
                expected = tuple(m.value for m in enum)
            elif (path[-1], option) in DOMAIN_CHOICES:
                expected = DOMAIN_CHOICES[(path[-1], option)]
            else:
                baseline = baseline or _baseline_tuples()
                assert option in baseline, f"{' '.join(path)} {option}: choices {choices} " \
                    "tied to no domain tuple; add it to DOMAIN_CHOICES"
                expected = tuple(baseline[option])
            assert choices == tuple(expected), (path, option)
            checked += 1
    assert checked >= 15


def test_the_synthetic_challenge_accepts_the_phantoms_of_the_vocabulary():
    from wmheval.synth.challenge import PHANTOMS

    assert PHANTOMS == vocab.PHANTOMS


# --- Every option is exercised --------------------------------------------------------------

def _invocations() -> dict[tuple[str, ...], set[str]]:
    """Per command: the option strings named in a list or tuple literal, or in the positional
    arguments of a call, of some test that starts with the command's words (``["rank",
    ...]``, ``["baseline", "train", ...]``, ``wmheval("board", "submit", ...)``)."""
    paths = [p for p, _ in LEAVES]
    used: dict[tuple[str, ...], set[str]] = {}
    for source in TESTS.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.List | ast.Tuple):
                elements = node.elts
            elif isinstance(node, ast.Call):  # wmheval("board", "init", ...) helpers
                elements = node.args
            else:
                continue
            words = [e.value if isinstance(e, ast.Constant) and isinstance(e.value, str)
                     else None for e in elements]
            for path in paths:
                if tuple(words[:len(path)]) == path:
                    used.setdefault(path, set()).update(
                        w.split("=")[0] for w in words if w and w.startswith("-"))
    return used


INVOKED = _invocations()


@pytest.mark.parametrize(("path", "names"), [
    (path, tuple(p.opts + p.secondary_opts)) for path, command in LEAVES
    for p in command.params if p.param_type_name == "option" and p.name != "help"],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
def test_every_option_is_exercised_by_a_test(path, names):
    assert set(names) & INVOKED.get(path, set()), \
        f"no test invokes `wmheval {' '.join(path)}` with {'/'.join(names)}"


def test_the_option_scan_sees_invocations():
    """The scan reads this file's literals: it must find options used below (a scan that
    finds nothing would make the test above vacuous... and fail it, but check directly)."""
    assert {"--ties", "--p-adjust", "--grid-steps"} <= INVOKED[("sensitivity",)]
    assert "--vgg-convention" in INVOKED[("baseline", "train")]


# --- Each option reaches its pipeline -------------------------------------------------------

class Spy:
    """Stands in for a pipeline function: records its arguments, returns ``result``."""

    def __init__(self, result=None):
        self.result, self.calls = result, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.result

    @property
    def kwargs(self) -> dict:
        assert len(self.calls) == 1, self.calls
        return self.calls[0][1]

    @property
    def args(self) -> tuple:
        return self.calls[0][0]


def _invoke(argv: list[str]):
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def teams_file(tmp_path):
    path = tmp_path / "teams.txt"
    path.write_text("# kept\nalpha\nbeta\n", encoding="utf-8")
    return path


def test_sensitivity_options_reach_the_pipeline(monkeypatch, tmp_path, teams_file):
    import wmheval.pipelines.report as pipeline

    spy = Spy([])
    monkeypatch.setattr(pipeline, "report_to_dir", spy)
    _invoke(["sensitivity", str(tmp_path / "in"), "gamma", "--out", str(tmp_path / "o"),
             "--teams", str(teams_file), "--add", str(tmp_path / "x"), "--name", "ex",
             "--split", "unseen", "--bootstrap", "20", "--samples", "50", "--grid-steps",
             "4", "--seed", "7", "--alpha", "0.1", "--missing", "worst", "--undefined",
             "exclude", "--manifest", str(tmp_path / "m.csv"), "--ties", "average",
             "--p-adjust", "none", "--no-figures", "--quiet"])
    kwargs = spy.kwargs
    assert spy.args == (tmp_path / "in", tmp_path / "o")
    assert kwargs["command"] == "sensitivity"
    assert kwargs["teams"] == ["gamma", "alpha", "beta"]
    assert kwargs["add"] == [(tmp_path / "x", "ex")]
    assert (kwargs["split"], kwargs["missing"], kwargs["undefined"]) == \
        ("unseen", "worst", "exclude")
    assert kwargs["manifest"] == tmp_path / "m.csv"
    assert {k: kwargs[k] for k in ("bootstrap", "samples", "grid_steps", "seed", "alpha",
                                   "ties", "p_adjust", "figures")} == {
        "bootstrap": 20, "samples": 50, "grid_steps": 4, "seed": 7, "alpha": 0.1,
        "ties": "average", "p_adjust": "none", "figures": False}


def test_report_options_reach_the_pipeline(monkeypatch, tmp_path, teams_file):
    import wmheval.pipelines.report as pipeline

    spy = Spy([])
    monkeypatch.setattr(pipeline, "report_to_dir", spy)
    _invoke(["report", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--reference",
             str(tmp_path / "ref"), "--predictions", str(tmp_path / "pred"), "--extra",
             str(tmp_path / "e1"), "--extra", str(tmp_path / "e2"), "--title", "T <b>",
             "--teams", str(teams_file), "--add", str(tmp_path / "x"), "--name", "ex",
             "--split", "seen", "--bootstrap", "11", "--samples", "12", "--seed", "3",
             "--alpha", "0.2", "--missing", "exclude", "--undefined", "worst",
             "--manifest", str(tmp_path / "m.csv"), "-q"])
    kwargs = spy.kwargs
    assert kwargs["command"] == "report"
    assert (kwargs["reference"], kwargs["predictions"]) == (tmp_path / "ref",
                                                            tmp_path / "pred")
    assert kwargs["extra_sets"] == [tmp_path / "e1", tmp_path / "e2"]
    assert kwargs["title"] == "T <b>" and kwargs["teams"] == ["alpha", "beta"]
    assert kwargs["add"] == [(tmp_path / "x", "ex")] and kwargs["split"] == "seen"
    assert (kwargs["missing"], kwargs["undefined"]) == ("exclude", "worst")
    assert {k: kwargs[k] for k in ("bootstrap", "samples", "seed", "alpha")} == {
        "bootstrap": 11, "samples": 12, "seed": 3, "alpha": 0.2}
    assert kwargs["manifest"] == tmp_path / "m.csv"


def test_rank_policy_manifest_and_ranks_options(tmp_path):
    """A real ranking of two teams whose cases.csv lacks the split columns: the manifest
    gives them, --missing/--undefined reach the notes, --ranks prints relative ranks."""
    from ranking_fixtures import cases_frame, write_team

    for team, dice in (("alpha", 0.8), ("beta", 0.6)):
        frame = cases_frame([(dice, 3.0, 10.0, 0.7, 0.7)] * 3, ids=("1", "3", "150"))
        write_team(tmp_path / "teams", team, frame.drop(columns=["scanner", "split",
                                                                 "seen_in_training"]))
    manifest = tmp_path / "manifest.csv"
    from wmheval.io.manifest import load_manifest

    load_manifest().loc[["1", "3", "150"]].to_csv(manifest, index=False)
    result = _invoke(["rank", str(tmp_path / "teams"), "--out", str(tmp_path / "o"),
                      "--split", "unseen", "--manifest", str(manifest), "--missing",
                      "worst", "--undefined", "worst", "--ranks"])
    ranking = pd.read_csv(tmp_path / "o" / "ranking.csv")
    assert list(ranking["team"]) == ["alpha", "beta"] and list(ranking["n_cases"]) == [1, 1]
    assert "worst/worst" in result.output and "Relative rank" in result.output
    notes = (tmp_path / "o" / "notes.md").read_text(encoding="utf-8")
    assert "worst" in notes


def test_agreement_options_reach_the_pipeline(monkeypatch, tmp_path):
    import wmheval.pipelines.agreement as pipeline

    spy = Spy((SimpleNamespace(problems=[], notes=[], statistics=pd.DataFrame()), []))
    monkeypatch.setattr(pipeline, "agreement_to_dir", spy)
    _invoke(["agreement", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--reference",
             str(tmp_path / "ref"), "--ratings", str(tmp_path / "r.csv"), "--folds", "5",
             "--seed", "3", "--manifest", str(tmp_path / "m.csv"), "--binarize",
             "threshold:0.25", "--jobs", "2", "--scale", "both", "--quiet"])
    kwargs = spy.kwargs
    assert kwargs["ratings"] == tmp_path / "r.csv" and kwargs["reference"] == tmp_path / "ref"
    assert (kwargs["folds"], kwargs["seed"], kwargs["jobs"]) == (5, 3, 2)
    assert kwargs["manifest"] == tmp_path / "m.csv" and kwargs["rule"] == "threshold:0.25"
    assert kwargs["scales"] == ("ml", "log")


@pytest.mark.parametrize("rule", ["otsu", "threshold:x", "threshold:inf"])
def test_a_bad_binarisation_rule_is_a_usage_error(tmp_path, rule):
    for argv in (["score", str(tmp_path), str(tmp_path), "--binarize", rule],
                 ["agreement", str(tmp_path), "--out", str(tmp_path / "o"), "--binarize",
                  rule]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2
        assert "--binarize" in result.output and "threshold:T" in result.output
    assert not (tmp_path / "o").exists()


def test_a_bad_weight_string_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["rank", str(tmp_path), "--out", str(tmp_path / "o"),
                                 "--weights", "dice=x"])
    assert result.exit_code == 2 and "cannot read weights 'dice=x'" in result.output


def test_demo_options_reach_the_pipeline(monkeypatch, tmp_path):
    import wmheval.pipelines.demo as pipeline

    columns = ["team", "dice_all", "h95_all", "avd_all", "recall_all", "f1_all",
               "dice_seen", "dice_unseen", "missing_or_failed"]
    overview = pd.DataFrame([["t", 0.5, 1.0, 2.0, 0.5, 0.5, 0.6, 0.4, 0]], columns=columns)
    spy = Spy(SimpleNamespace(overview=overview, timings={"scoring": 1.0}))
    monkeypatch.setattr(pipeline, "demo_to_dir", spy)
    result = _invoke(["demo", "--out", str(tmp_path / "d"), "--seed", "5", "--no-baseline",
                      "--train", "--baseline-samples", "100", "--baseline-seconds", "60",
                      "--baseline-model", "flair-fcn", "--baseline-model", "resunet",
                      "--bootstrap", "9", "--samples", "8", "--jobs", "1"])
    kwargs = spy.kwargs
    assert spy.args == (tmp_path / "d",)
    assert {k: kwargs[k] for k in ("seed", "baseline", "train", "baseline_samples",
                                   "baseline_seconds", "baseline_models", "bootstrap",
                                   "samples", "jobs")} == {
        "seed": 5, "baseline": False, "train": True, "baseline_samples": 100,
        "baseline_seconds": 60.0, "baseline_models": ("flair-fcn", "resunet"),
        "bootstrap": 9, "samples": 8, "jobs": 1}
    assert "scoring: 1.0 s" in result.output


def test_score_manifest_and_std_options(release_tree, tmp_path):
    """A real run: --manifest maps the ids, --std prints the standard deviations."""
    from test_scoring_folder import write_submission

    submission = write_submission(tmp_path / "sub")
    manifest = release_tree / "data_manifest.csv"
    plain = _invoke(["score", str(release_tree), str(submission), "--manifest",
                     str(manifest), "--no-cache", "--jobs", "1", "--split", "test"])
    with_std = _invoke(["score", str(release_tree), str(submission), "--manifest",
                        str(manifest), "--no-cache", "--jobs", "1", "--std"])
    assert "Standard deviation" not in plain.output
    assert "Standard deviation" in with_std.output
    assert "amsterdam_ge_1p5t" in plain.output


def test_synth_options_reach_the_generator(monkeypatch, tmp_path):
    import wmheval.synth as synth

    spy = Spy(pd.DataFrame({"wmh_ml": [1.0, 2.5]}))
    monkeypatch.setattr(synth, "generate_challenge", spy)
    result = _invoke(["synth", str(tmp_path / "c"), "--seed", "4", "--manifest",
                      str(tmp_path / "m.csv"), "--jobs", "2", "--phantom", "geometric",
                      "--id", "1"])
    kwargs = spy.kwargs
    assert (kwargs["seed"], kwargs["manifest"], kwargs["jobs"], kwargs["phantom"],
            kwargs["ids"]) == (4, tmp_path / "m.csv", 2, "geometric", ["1"])
    assert "wrote 2 subjects" in result.output


@pytest.mark.parametrize(("split", "passed"), [("training", "training"), ("all", None)])
def test_synth_submissions_options_reach_the_generator(monkeypatch, tmp_path, split, passed):
    import wmheval.synth.submissions as submissions

    table = pd.DataFrame([{"team": "precise", "n_cases": 3, "n_missing": 0,
                           "n_malformed": 0, "missing_ids": "", "malformed_ids": ""}])
    spy = Spy(table)
    monkeypatch.setattr(submissions, "generate_submissions", spy)
    result = _invoke(["synth-submissions", str(tmp_path / "c"), str(tmp_path / "t"),
                      "--seed", "9", "--split", split, "--jobs", "2", "--team", "precise"])
    kwargs = spy.kwargs
    assert (kwargs["seed"], kwargs["split"], kwargs["jobs"]) == (9, passed, 2)
    assert [t.name for t in kwargs["teams"]] == ["precise"]
    assert "precise: 3 cases" in result.output


def test_show_options_reach_the_figure(monkeypatch, tmp_path):
    import wmheval.plots.overlay as overlay

    figure = SimpleNamespace(path=tmp_path / "f.png", counts={"tp": 1, "fp": 2, "fn": 3},
                             dice=0.4)
    spy = Spy(figure)
    monkeypatch.setattr(overlay, "show_case", spy)
    result = _invoke(["show", str(tmp_path / "s"), str(tmp_path / "p.nii.gz"), "--out",
                      str(tmp_path / "f.png"), "--title", "case 1", "--contour", "--no-t1",
                      "--slice", "2"])
    kwargs = spy.kwargs
    assert (kwargs["title"], kwargs["style"], kwargs["with_t1"], kwargs["slices"]) == \
        ("case 1", "contour", False, [2])
    assert "Dice 0.400" in result.output


def test_baseline_options_reach_the_library(monkeypatch, tmp_path):
    from wmheval.cli import baseline

    train, predict, threshold = Spy(tmp_path / "run"), Spy(tmp_path / "s"), Spy(None)
    monkeypatch.setattr(baseline, "train_baseline", train)
    monkeypatch.setattr(baseline, "predict_baseline", predict)
    monkeypatch.setattr(baseline, "threshold_baseline", threshold)
    _invoke(["baseline", "train", "fcn-vgg", str(tmp_path / "d"), "--out",
             str(tmp_path / "run"), "--split", "loso:utrecht_philips_3t", "--weight-decay",
             "0.001", "--dilation-mm", "2.5", "--seed", "3", "--vgg-convention", "caffe",
             "--wm-masks", str(tmp_path / "wm"), "--vgg-width", "16", "--jobs", "2",
             "--max-seconds", "30", "--device", "cpu"])
    kwargs = train.kwargs
    assert train.args == ("fcn-vgg", tmp_path / "d", tmp_path / "run")
    assert {k: kwargs[k] for k in ("split", "weight_decay", "dilation_mm", "seed",
                                   "vgg_convention", "wm_masks", "vgg_width", "jobs",
                                   "max_seconds", "device")} == {
        "split": "loso:utrecht_philips_3t", "weight_decay": 0.001, "dilation_mm": 2.5,
        "seed": 3, "vgg_convention": "caffe", "wm_masks": tmp_path / "wm", "vgg_width": 16,
        "jobs": 2, "max_seconds": 30.0, "device": "cpu"}
    _invoke(["baseline", "predict", str(tmp_path / "run"), str(tmp_path / "d"), "--out",
             str(tmp_path / "s"), "--allow-incomplete", "--device", "cpu"])
    assert predict.kwargs["allow_incomplete"] is True and predict.kwargs["device"] == "cpu"
    _invoke(["baseline", "threshold", str(tmp_path / "d"), "--out", str(tmp_path / "s"),
             "--split", "loso:amsterdam_ge_3t", "--wm-masks", str(tmp_path / "wm")])
    assert threshold.kwargs["split"] == "loso:amsterdam_ge_3t"
    assert threshold.kwargs["wm_masks"] == tmp_path / "wm"
