"""The platform commands' options reach their pipelines with the values given (spies stand
in for the pipelines, which tests/test_platforms.py tests), and --reference-field changes
the frozen field for real."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from wmheval.cli.main import app

runner = CliRunner()


def _spy(monkeypatch, name: str, result) -> list:
    calls: list = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return result

    monkeypatch.setattr(f"wmheval.pipelines.platforms.{name}", fake)
    return calls


RUN = SimpleNamespace(problems=["missing 3: no prediction"], sentence="Scored 1 of 2.",
                      usable=True)


def test_platform_run_grand_challenge_options(monkeypatch, tmp_path):
    calls = _spy(monkeypatch, "run_grand_challenge", RUN)
    result = runner.invoke(app, ["platform-run", "grand-challenge", "--input", "in",
                                 "--ground-truth", "gt", "--output", "out", "--per-case",
                                 "admin", "--reference-field", "field.csv", "--jobs", "3"])
    assert result.exit_code == 0, result.output
    (args, kwargs), = calls
    assert args == (Path("in"), Path("gt"), Path("out"))
    assert kwargs == {"per_case": True, "reference_field": Path("field.csv"), "jobs": 3}
    assert result.output.strip().splitlines()[-1] == "Scored 1 of 2."


def test_platform_run_defaults_are_the_platform_paths(monkeypatch):
    calls = _spy(monkeypatch, "run_grand_challenge", SimpleNamespace(
        problems=[], sentence="No prediction matched.", usable=False))
    result = runner.invoke(app, ["platform-run", "grand-challenge", "-j", "0"])
    assert result.exit_code == 1  # nothing usable
    (args, kwargs), = calls
    assert args == (Path("/input"), Path("/opt/ml/input/data/ground_truth"), Path("/output"))
    assert kwargs == {"per_case": False, "reference_field": None, "jobs": None}


def test_platform_run_codabench_options(monkeypatch):
    calls = _spy(monkeypatch, "run_codabench", RUN)
    result = runner.invoke(app, ["platform-run", "codabench", "ref", "res", "out",
                                 "--per-case", "public", "--reference-field", "f.csv",
                                 "--jobs", "2"])
    assert result.exit_code == 0, result.output
    (args, kwargs), = calls
    assert args == (Path("ref"), Path("res"), Path("out"))
    assert kwargs == {"per_case": True, "reference_field": Path("f.csv"), "jobs": 2}


def test_export_options(monkeypatch):
    calls = _spy(monkeypatch, "export_grand_challenge", Path("gc"))
    result = runner.invoke(app, ["export", "grand-challenge", "gc", "--reference", "ref",
                                 "--kind", "algorithm", "--per-case", "admin", "--wheel",
                                 "w.whl"])
    assert result.exit_code == 0, result.output
    assert calls == [((Path("gc"), Path("ref")), {"kind": "algorithm",
                                                  "per_case_admin": True,
                                                  "wheel": Path("w.whl")})]
    calls = _spy(monkeypatch, "export_codabench", Path("cb"))
    result = runner.invoke(app, ["export", "codabench", "cb", "--reference", "ref",
                                 "--include-reference", "--docker-image", "reg/x:1",
                                 "--wheel", "w.whl"])
    assert result.exit_code == 0, result.output
    assert calls == [((Path("cb"), Path("ref")), {"include_reference": True,
                                                  "wheel": Path("w.whl"),
                                                  "docker_image": "reg/x:1"})]


def test_unexpected_errors_are_one_line(monkeypatch):
    def boom(*args, **kwargs):
        raise KeyError("secret reference detail")

    monkeypatch.setattr("wmheval.pipelines.platforms.run_grand_challenge", boom)
    result = runner.invoke(app, ["platform-run", "grand-challenge"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: wmheval failed unexpectedly (KeyError); the organisers have the log")
    assert "secret" not in result.output


def test_reference_field_option_changes_the_field(tmp_path, release_tree):
    submission = tmp_path / "sub"
    from conftest import blob_labels, write_image

    write_image(submission / "1" / "result.nii.gz",
                (blob_labels(seed=1) == 1).astype("uint8"), spacing=(0.96, 0.96, 3.0))
    field = tmp_path / "field.csv"
    field.write_text("team,dice,h95,avd,recall,f1\na,0.9,2,5,0.9,0.9\nb,0.1,40,90,0.1,0.1\n")
    result = runner.invoke(app, ["platform-run", "grand-challenge", "--input",
                                 str(submission), "--ground-truth", str(release_tree),
                                 "--output", str(tmp_path / "out"), "--reference-field",
                                 str(field), "-j", "1"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert document["aggregates"]["wmh2017"]["field_size"] == 3
    assert "the 2 teams of field.csv" in document["wmheval"]["primary_score"]


def test_board_import_phase_option(tmp_path):
    result = runner.invoke(app, ["board", "import", "codabench", str(tmp_path / "none"),
                                 str(tmp_path / "x.csv"), "--phase", "test"])
    assert result.exit_code == 2  # no board here
    assert "Traceback" not in result.output
