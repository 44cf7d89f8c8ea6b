"""grand-challenge.org and Codabench: platform-run gives the metrics ``wmheval score`` gives
(zip layout, shuffled predictions.json of .mha outputs), the exports follow the
platforms' contracts (the schema fixture in tests/data/platforms, the dotted-path rule,
Codabench's column keys and limits), and the participant's stderr line is actionable."""

from __future__ import annotations

import json
import math
import random
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import SimpleITK as sitk
from conftest import blob_labels, make_image, write_image
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.metrics import METRICS
from wmheval.pipelines.platforms import (
    codabench_command,
    export_codabench,
    export_grand_challenge,
    run_codabench,
    run_grand_challenge,
)
from wmheval.ranking.frozen import frozen_field_score, load_frozen_field
from wmheval.report.platforms import (
    codabench_columns,
    detailed_results_html,
    to_yaml,
)
from wmheval.scoring.folder import score_folder

yaml = pytest.importorskip("yaml")

FIXTURES = Path(__file__).parent / "data" / "platforms"
ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = {"0": "training/Utrecht/0", "1": "test/Utrecht/1", "3": "test/Utrecht/3",
            "150": "test/Amsterdam/GE1T5/150",
            "160": "test/Amsterdam/Philips_VU .PETMR_01./160"}


def _prediction(seed: int) -> np.ndarray:
    """Part of the reference's lesions plus some false positives (uint8)."""
    reference = blob_labels(seed=seed) == 1
    extra = blob_labels(seed=seed + 50, with_ignored=False) == 1
    kept = reference.copy()
    kept[: kept.shape[0] // 2] = False
    return (kept | extra).astype(np.uint8)


@pytest.fixture
def submission(tmp_path, release_tree) -> Path:
    """Predictions for every subject but 3, in the challenge layout (NIfTI)."""
    root = tmp_path / "submission"
    for seed, case_id in enumerate(SUBJECTS):
        if case_id == "3":
            continue
        write_image(root / case_id / "result.nii.gz", _prediction(seed),
                    spacing=(0.96, 0.96, 3.0))
    return root


def _strict_json(path: Path):
    def refuse(name):
        raise AssertionError(f"{path} holds {name}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _keys(document, prefix=""):
    if isinstance(document, dict):
        for key, value in document.items():
            yield f"{prefix}{key}"
            yield from _keys(value, f"{prefix}{key}/")


def _numbers(document):
    if isinstance(document, dict):
        for value in document.values():
            yield from _numbers(value)
    elif isinstance(document, int | float) and not isinstance(document, bool):
        yield document


def gc_get_jsonpath(obj, jsonpath):
    """grand-challenge's rule, restated (templatetags/evaluation_extras.py get_jsonpath):
    split the path on '.', index the keys; a missing key gives ''."""
    try:
        value = obj
        for key in str(jsonpath).split("."):
            value = value[key]
        return value
    except (KeyError, TypeError):
        return ""


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)


def _assert_matches_score(document: dict, reference: Path, submission: Path) -> None:
    """metrics.json's aggregates against ``wmheval score``'s summary, value by value."""
    expected = score_folder(reference, submission, split="all", jobs=1)
    summary = expected.summary

    def stats(group_type, group):
        rows = summary[(summary["group_type"] == group_type) & (summary["group"] == group)]
        return {r["metric"]: r for _, r in rows.iterrows()}

    checks = [(document["aggregates"], stats("all", "all"))]
    for group in ("seen", "unseen"):
        checks.append((document["aggregates"][group], stats(group, group)))
    for scanner in summary[summary["group_type"] == "scanner"]["group"].unique():
        checks.append((document["aggregates"]["scanner"][scanner.replace(".", "_")],
                       stats("scanner", scanner)))
    for block, rows in checks:
        for metric in METRICS:
            for key in ("mean", "std", "median", "mean_ranked", "n", "n_undefined"):
                value = rows[metric][key]
                want = None if isinstance(value, float) and math.isnan(value) else value
                assert _close(block[metric][key], want), (metric, key)
    aggregates = document["aggregates"]
    status = expected.cases["status"]
    assert aggregates["n_cases"] == len(expected.cases)
    assert aggregates["n_missing"] == int((status == "missing").sum())
    assert aggregates["n_failed"] == int((status == "error").sum())


# ---------------------------------------------------------------- grand-challenge


def test_zip_phase_metrics_equal_wmheval_score(tmp_path, release_tree, submission):
    run = run_grand_challenge(submission, release_tree, tmp_path / "out", jobs=1)
    document = _strict_json(tmp_path / "out" / "metrics.json")
    _assert_matches_score(document, release_tree, submission)
    assert "case" not in document
    assert not [k for k in _keys(document) if "." in k.rsplit("/", 1)[-1]]
    assert all(math.isfinite(v) for v in _numbers(document))
    assert document["aggregates"]["n_missing"] == 1
    assert run.sentence.startswith("Scored 4 of 5 subjects; 1 had no prediction "
                                   "(first: subject 3;")


def test_per_case_admin_writes_every_case(tmp_path, release_tree, submission):
    run_grand_challenge(submission, release_tree, tmp_path / "out", per_case=True, jobs=1)
    document = _strict_json(tmp_path / "out" / "metrics.json")
    expected = score_folder(release_tree, submission, split="all", jobs=1).cases
    for metric in METRICS:
        assert set(document["case"][metric]) == set(SUBJECTS)
        for _, row in expected.iterrows():
            want = None if math.isnan(row[metric]) else row[metric]
            assert _close(document["case"][metric][row["id"]], want)
    assert document["case"]["dice"]["3"] is None


def test_frozen_field_score_against_a_literal_min_max(tmp_path):
    field, label = load_frozen_field()
    assert field.shape == (57, 5) and "57 teams" in label
    means = {"dice": 0.7, "h95": 7.5, "avd": 25.0, "recall": 0.75, "f1": 0.7}
    got = frozen_field_score(means, field)
    table = [list(row) for row in field] + [[means[m] for m in METRICS]]
    higher = {"dice": True, "h95": False, "avd": False, "recall": True, "f1": True}
    total = 0.0
    for j, metric in enumerate(METRICS):
        column = [row[j] for row in table]
        best = max(column) if higher[metric] else min(column)
        worst = min(column) if higher[metric] else max(column)
        total += (means[metric] - best) / (worst - best)
    assert got.rank_score == pytest.approx(total / 5, abs=1e-12)
    assert got.field_size == 58
    scores = []
    for row in table:
        s = 0.0
        for j, metric in enumerate(METRICS):
            column = [r[j] for r in table]
            best = max(column) if higher[metric] else min(column)
            worst = min(column) if higher[metric] else max(column)
            s += (row[j] - best) / (worst - best)
        scores.append(s / 5)
    assert got.position == 1 + sum(s < scores[-1] - 1e-9 for s in scores[:-1])


def test_a_published_teams_means_get_its_published_score():
    """A copy of a field team moves no bound: its proxy is that team's score in the field."""
    from wmheval._resources import published_leaderboard_path
    from wmheval.ranking.inputs import load_field
    from wmheval.ranking.leaderboard import rank_field

    field = load_field(published_leaderboard_path())
    ranking = rank_field(field).set_index("team")
    for team in ("pgs", "sysu_media", field.teams[-1]):
        means = dict(zip(METRICS, field.means.loc[team, list(METRICS)], strict=True))
        got = frozen_field_score(means, field.metric_means())
        assert got.rank_score == pytest.approx(ranking.loc[team, "score"], abs=1e-12)


def _mha(path: Path, array: np.ndarray, spacing=(0.96, 0.96, 3.0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(make_image(array, spacing=spacing), str(path), useCompression=True)
    return path


def _job(pk: str, input_name: str, output_name: str) -> dict:
    return {"pk": pk, "status": "Succeeded", "url": f"https://x/{pk}", "exec_duration": None,
            "inputs": [{"interface": {"slug": "brain-flair", "kind": "Image",
                                      "super_kind": "Image", "relative_path": "images/flair"},
                        "image": {"name": input_name}, "file": None, "value": None},
                       {"interface": {"slug": "age", "kind": "Integer", "super_kind": "Value",
                                      "relative_path": "age.json"},
                        "image": None, "file": None, "value": 70}],
            "outputs": [{"interface": {"slug": "white-matter-hyperintensities",
                                       "kind": "Segmentation", "super_kind": "Image",
                                       "relative_path": "images/wmh"},
                         "image": {"name": output_name}, "file": None, "value": None},
                        {"interface": {"slug": "volume", "kind": "Float",
                                       "super_kind": "Value", "relative_path": "volume.json"},
                         "image": None, "file": None, "value": 1.5}]}


def _algorithm_input(folder: Path, seed: int) -> Path:
    jobs = []
    for number, case_id in enumerate(SUBJECTS):
        if case_id == "3":
            continue
        pk = f"{number:08d}-aaaa-bbbb-cccc-{seed:012d}"
        _mha(folder / pk / "output" / "images" / "wmh" / f"out{number}.mha",
             _prediction(number))
        jobs.append(_job(pk, f"{case_id}_flair.mha", f"out{number}.mha"))
    random.Random(seed).shuffle(jobs)
    (folder / "predictions.json").write_text(json.dumps(jobs))
    return folder


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_algorithm_phase_shuffled_jobs_equal_wmheval_score(tmp_path, release_tree,
                                                           submission, seed):
    input_dir = _algorithm_input(tmp_path / f"input{seed}", seed)
    run_grand_challenge(input_dir, release_tree, tmp_path / "out", per_case=True, jobs=1)
    document = _strict_json(tmp_path / "out" / "metrics.json")
    _assert_matches_score(document, release_tree, submission)
    nifti = _strict_json_run(tmp_path, release_tree, submission)
    assert document["case"] == nifti["case"]
    assert document["aggregates"] == nifti["aggregates"]


def _strict_json_run(tmp_path, reference, submission):
    out = tmp_path / "nifti-out"
    run_grand_challenge(submission, reference, out, per_case=True, jobs=1)
    return _strict_json(out / "metrics.json")


def test_algorithm_phase_id_map_and_hostile_jobs(tmp_path, release_tree):
    input_dir = tmp_path / "input"
    _mha(input_dir / "good" / "output" / "images" / "wmh" / "a.mha", _prediction(0))
    _mha(input_dir / "dup" / "output" / "images" / "wmh" / "b.mha", _prediction(1))
    _mha(input_dir / "dup2" / "output" / "images" / "wmh" / "c.mha", _prediction(1))
    _mha(tmp_path / "outside.mha", _prediction(2))
    (input_dir / "escape" / "output").mkdir(parents=True)
    (input_dir / "escape" / "output" / "images").symlink_to(tmp_path)
    _mha(input_dir / "wronggrid" / "output" / "images" / "wmh" / "d.mha",
         np.zeros((3, 8, 8), np.uint8))
    jobs = [
        _job("good", "scan-A.mha", "a.mha"),  # through id_map
        _job("dup", "1.mha", "b.mha"), _job("dup2", "1_t1.mha", "c.mha"),
        _job("../../etc", "150.mha", "x.mha"),
        _job("escape", "150.mha", "outside.mha"),
        _job("nosuch", "unknown_subject.mha", "x.mha"),
        _job("wronggrid", "160.mha", "d.mha"),
        "not a job", {"pk": 5},
    ]
    jobs[4]["outputs"][0]["interface"]["relative_path"] = "images"
    traversal = _job("trav", "150.mha", "x.mha")
    traversal["outputs"][0]["interface"]["relative_path"] = "../good/output/images/wmh"
    jobs.append(traversal)
    (input_dir / "predictions.json").write_text(json.dumps(jobs))
    ground_truth = tmp_path / "gt"
    shutil.copytree(release_tree, ground_truth)
    (ground_truth / "id_map.json").write_text(json.dumps({"scan-A.mha": "0"}))
    run = run_grand_challenge(input_dir, ground_truth, tmp_path / "out", per_case=True,
                              jobs=1)
    cases = run.result.cases.set_index("id")
    assert cases.loc["0", "status"] == "ok"
    assert cases.loc["1", "status"] == "error" and "several predictions" in \
        cases.loc["1", "error"]
    assert cases.loc["150", "status"] == "missing"
    assert cases.loc["160", "status"] == "error" and "differs from the reference" in \
        cases.loc["160", "error"]
    problems = dict(zip(run.result.unmatched["path"], run.result.unmatched["problem"],
                        strict=True))
    assert "outside the input folder" in problems["predictions.json job escape"]
    assert "no usable pk" in problems["predictions.json job 3"]
    assert "name no reference subject" in problems["predictions.json job nosuch"]
    assert "not a plain relative path" in problems["predictions.json job trav"]
    assert problems["predictions.json job 7"] == "not a job object"
    # Nothing outside the input folder was read as a prediction.
    assert str(tmp_path / "outside.mha") not in set(run.result.cases["prediction_path"])


@pytest.mark.parametrize("content, message", [
    ("[{\"pk\": NaN}]", "not a readable JSON"), ("{}", "expected a list"),
    ("\xff\xfe", "not a readable JSON"), ("[" * 100000, "not a readable JSON"),
])
def test_unreadable_predictions_json_is_a_data_problem(tmp_path, release_tree, content,
                                                       message):
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "predictions.json").write_bytes(content.encode("latin-1"))
    result = CliRunner().invoke(app, ["platform-run", "grand-challenge", "--input",
                                      str(tmp_path / "input"), "--ground-truth",
                                      str(release_tree), "--output", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "metrics.json").exists()


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wmheval.cli.main", *args],
                          capture_output=True, text=True, check=False, cwd=ROOT)


def test_last_stderr_line_is_actionable_and_names_no_reference_value(tmp_path, release_tree,
                                                                      submission):
    # One prediction on the wrong grid, one unreadable reference, one stray file.
    write_image(submission / "1" / "result.nii.gz", np.zeros((4, 8, 8), np.uint8))
    (submission / "notes.bin").write_bytes(b"hello")  # a notes.txt is a document (no problem)
    broken = tmp_path / "gt"
    shutil.copytree(release_tree, broken)
    (broken / SUBJECTS["150"] / "wmh.nii.gz").write_bytes(b"\x1f\x8b broken")
    done = _run_cli("platform-run", "grand-challenge", "--input", str(submission),
                    "--ground-truth", str(broken), "--output", str(tmp_path / "out"), "-j", "1")
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Scored 2 of 5 subjects; 1 had no prediction (first: subject 3;")
    assert "2 could not be scored; subject 1:" in last
    assert "1 file(s) matched no subject" in last and last.endswith("fix these and resubmit.")
    assert "reference wmh" not in last and "150" not in last  # the reference's own problem
    assert str(broken) not in last  # nor the reference's path
    document = _strict_json(tmp_path / "out" / "metrics.json")
    assert document["aggregates"]["n_failed"] == 2


def test_nothing_usable_exits_1_without_metrics(tmp_path, release_tree):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    done = _run_cli("platform-run", "grand-challenge", "--input", str(tmp_path / "empty"),
                    "--ground-truth", str(release_tree), "--output", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "No prediction matched any of the 5 test subjects: name each file "
        "<id>/result.nii.gz or <id>.nii.gz, <id> the subject id.")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- Codabench


def test_codabench_scores_equal_wmheval_score_and_match_columns(tmp_path, release_tree,
                                                                submission):
    run_codabench(release_tree, submission, tmp_path / "out", jobs=1)
    scores = _strict_json(tmp_path / "out" / "scores.json")
    assert list(scores) == [c.key for c in codabench_columns()]
    expected = score_folder(release_tree, submission, split="all", jobs=1).summary
    overall = expected[expected["group_type"] == "all"].set_index("metric")
    for metric in METRICS:
        assert scores[metric] == pytest.approx(overall.loc[metric, "mean_ranked"], abs=1e-10)
    unseen = expected[expected["group_type"] == "unseen"].set_index("metric")
    assert scores["dice_unseen"] == pytest.approx(unseen.loc["dice", "mean_ranked"],
                                                  abs=1e-10)
    assert scores["n_failed"] == 1 and isinstance(scores["n_failed"], int)
    assert all(math.isfinite(v) and abs(v) < 1e10 for v in scores.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "detailed_results.html", "scores.json"]
    html = (tmp_path / "out" / "detailed_results.html").read_text()
    assert "Per subject" not in html and "<td>150</td>" not in html


def test_codabench_per_case_rows_only_when_public(tmp_path, release_tree, submission):
    run_codabench(release_tree, submission, tmp_path / "out", per_case=True, jobs=1)
    html = (tmp_path / "out" / "detailed_results.html").read_text()
    assert "Per subject" in html and "<td>150</td>" in html


def test_detailed_results_escape_what_came_from_files(tmp_path, release_tree, submission):
    result = score_folder(release_tree, submission, split="all", jobs=1)
    cases = result.cases.copy()
    cases["id"] = cases["id"].astype(str)
    cases.loc[0, "id"] = "<script>alert(1)</script>"
    frozen = frozen_field_score({m: 0.5 for m in METRICS}, load_frozen_field()[0])
    html = detailed_results_html(cases, result.summary, frozen, {"dice": 0.5},
                                 per_case=True, notes=["<img src=x onerror=alert(1)>"])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html


def test_codabench_without_unseen_subjects_leaves_the_column_out(tmp_path, release_tree,
                                                                 submission):
    reference = tmp_path / "seen-only"
    shutil.copytree(release_tree, reference)
    shutil.rmtree(reference / "test" / "Amsterdam")
    run = run_codabench(reference, submission, tmp_path / "out", jobs=1)
    scores = _strict_json(tmp_path / "out" / "scores.json")
    assert "dice_unseen" not in scores and "rank2017" in scores
    assert run.result.cases["status"].tolist().count("ok") == 2


# ---------------------------------------------------------------- exports


@pytest.fixture
def fake_wheel(tmp_path) -> Path:
    wheel = tmp_path / "wheels-in" / "wmheval-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("wmheval/__init__.py", "")
    return wheel


@pytest.mark.parametrize("kind, per_case", [("predictions", False), ("algorithm", True)])
def test_export_grand_challenge(tmp_path, release_tree, fake_wheel, kind, per_case):
    out = tmp_path / "gc"
    export_grand_challenge(out, release_tree, kind=kind, per_case_admin=per_case,
                           wheel=fake_wheel)
    settings = _strict_json(out / "phase-settings.json")
    schema = _strict_json(FIXTURES / "grand_challenge_extra_results_columns_schema.json")
    jsonschema.validate(settings["extra_results_columns"], schema)
    assert settings["score_jsonpath"] == "aggregates.wmh2017.rank_score"
    assert settings["score_default_sort"] == "asc"
    assert settings["display_all_metrics"] is (not per_case)
    assert "proxy" in settings["score_title"] and len(settings["score_title"]) <= 64
    expected = _strict_json(out / "test" / "expected_output" / "metrics.json")
    values = [settings["score_jsonpath"]] + [
        column["path"] for column in settings["extra_results_columns"]]
    errors = [column["error_path"] for column in settings["extra_results_columns"]
              if "error_path" in column]
    for path in values + errors:
        value = gc_get_jsonpath(expected, path)
        assert value != "", path  # the key exists ("" is the platform's missing key)
        if path in values:  # a ranked value is always a number; a spread may be null
            assert isinstance(value, int | float) and not isinstance(value, bool), path
        else:
            assert value is None or isinstance(value, int | float), path
    assert ("case" in expected) is per_case
    # The image: python:3.11-slim, the wheel beside it, a non-root user, the entrypoint.
    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1] == "FROM python:3.11-slim"
    assert (out / "wheels" / fake_wheel.name).read_bytes() == fake_wheel.read_bytes()
    assert f"/opt/wheels/{fake_wheel.name}" in dockerfile and "\nUSER user\n" in dockerfile
    entry = json.loads(dockerfile.split("ENTRYPOINT ", 1)[1].splitlines()[0])
    assert entry[:3] == ["wmheval", "platform-run", "grand-challenge"]
    assert ("--per-case" in entry) is per_case
    # The ground truth tarball: exactly the reference labels and the shipped manifest.
    with tarfile.open(out / "ground_truth.tar.gz") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}
        assert all(m.isfile() for m in archive.getmembers())
    want = {f"{i}/wmh.nii.gz": (release_tree / f / "wmh.nii.gz").read_bytes()
            for i, f in SUBJECTS.items()}
    want["data_manifest.csv"] = (release_tree / "data_manifest.csv").read_bytes()
    assert members == want
    # The test input, scored against the extracted tarball, gives the expected metrics.
    ground_truth = tmp_path / "extracted"
    ground_truth.mkdir()
    for name, data in members.items():
        (ground_truth / name).parent.mkdir(parents=True, exist_ok=True)
        (ground_truth / name).write_bytes(data)
    input_dir = out / "test" / "input"
    assert (input_dir / "predictions.json").exists() is (kind == "algorithm")
    run_grand_challenge(input_dir, ground_truth, tmp_path / "check", per_case=per_case,
                        jobs=1)
    again = _strict_json(tmp_path / "check" / "metrics.json")
    assert again["aggregates"] == expected["aggregates"]
    assert expected["aggregates"]["n_scored"] == 2
    assert expected["aggregates"]["dice"]["mean"] == 1.0  # the test predictions are exact


def test_export_codabench_bundle_and_metadata_command(tmp_path, release_tree, submission,
                                                      fake_wheel):
    out = tmp_path / "cb"
    export_codabench(out, release_tree, wheel=fake_wheel, docker_image="reg.example/wm:1")
    bundle = out / "bundle"
    competition = yaml.safe_load((bundle / "competition.yaml").read_text())
    assert competition["version"] == 2
    assert competition["docker_image"] == "reg.example/wm:1"
    assert [p["tasks"] for p in competition["phases"]] == [[0]]
    assert competition["tasks"][0]["scoring_program"] == "scoring_program"
    assert "reference_data" not in competition["tasks"][0]
    assert not (bundle / "reference_data").exists()
    for name in (competition["image"], competition["terms"],
                 *[p["file"] for p in competition["pages"]]):
        assert (bundle / name).is_file()
    (board,) = competition["leaderboards"]
    assert len(board["title"]) <= 64
    columns = board["columns"]
    assert [c["index"] for c in columns] == list(range(len(columns)))
    assert all(len(c["key"]) <= 36 and len(c["title"]) <= 36 for c in columns)
    assert all(c["sorting"] in ("asc", "desc") for c in columns)
    # The scoring program's command, with the platform's folders replaced by fixtures.
    metadata = yaml.safe_load((bundle / "scoring_program" / "metadata.yaml").read_text())
    assert metadata == {"command": codabench_command()}
    command = (metadata["command"].replace("/app/input/ref", str(release_tree))
               .replace("/app/input/res", str(submission))
               .replace("/app/output", str(tmp_path / "app-output")))
    argv = shlex.split(command)
    assert argv[0] == "wmheval"
    done = subprocess.run([sys.executable, "-m", "wmheval.cli.main", *argv[1:]],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    scores = _strict_json(tmp_path / "app-output" / "scores.json")
    assert list(scores) == [c["key"] for c in columns]  # every key is a column, and back
    # bundle.zip holds the bundle's files at its root.
    with zipfile.ZipFile(out / "bundle.zip") as archive:
        names = set(archive.namelist())
    assert {"competition.yaml", "scoring_program/metadata.yaml", "logo.png"} <= names
    assert (out / "docker" / "Dockerfile").read_text().count("FROM python:3.11-slim") == 1


def test_export_codabench_include_reference(tmp_path, release_tree, fake_wheel):
    export_codabench(tmp_path / "cb", release_tree, include_reference=True, wheel=fake_wheel)
    bundle = tmp_path / "cb" / "bundle"
    competition = yaml.safe_load((bundle / "competition.yaml").read_text())
    assert competition["tasks"][0]["reference_data"] == "reference_data"
    copied = sorted(p.relative_to(bundle / "reference_data").as_posix()
                    for p in (bundle / "reference_data").rglob("*") if p.is_file())
    assert copied == sorted([f"{i}/wmh.nii.gz" for i in SUBJECTS] + ["data_manifest.csv"])


@pytest.mark.parametrize("value", [
    "plain", "yes", "no", "null", "2026-01-01", "1e5", "a: b", "# not a comment", "- item",
    "quote \" and 'single'", "new\nline", "tab\there", "ünïcode", "", " padded ", "@at",
    "{braces}", "[list]", "*star", "&anchor", "!tag", "%percent", "`tick`", "0x10", "0o7",
    ".inf", "~",
])
def test_yaml_emitter_round_trips_strings(value):
    document = {"key": value, "list": [value, {"inner": value}], "n": 3, "f": 0.5, "b": True}
    assert yaml.safe_load(to_yaml(document)) == document


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_yaml_emitter_round_trips_any_text(value):
    assert yaml.safe_load(to_yaml({"k": [value, {"v": value}]})) == {"k": [value, {"v": value}]}


def test_export_cli_refuses_a_bad_wheel_and_reference(tmp_path, release_tree):
    runner = CliRunner()
    bad = tmp_path / "x.txt"
    bad.write_text("x")
    result = runner.invoke(app, ["export", "grand-challenge", str(tmp_path / "o"),
                                 "--reference", str(release_tree), "--wheel", str(bad)])
    assert result.exit_code == 2 and "not a wmheval wheel" in result.output
    result = runner.invoke(app, ["export", "codabench", str(tmp_path / "o2"), "--reference",
                                 str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "reference folder not found" in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False,
                          timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.skipif(not _docker_available(), reason="needs a running Docker daemon")
def test_grand_challenge_image_builds_and_scores_its_test_input(tmp_path, release_tree):
    out = tmp_path / "gc"
    export_grand_challenge(out, release_tree, kind="algorithm")  # builds a real wheel
    done = subprocess.run(["bash", str(out / "do_test_run.sh")], capture_output=True,
                          text=True, check=False, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "metrics.json as expected" in done.stdout

