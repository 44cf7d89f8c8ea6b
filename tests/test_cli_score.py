"""`wmheval score` from the command line: outputs, terminal summary, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from test_scoring_folder import bad_submission, write_submission
from typer.testing import CliRunner

from wmheval.cli.main import app

runner = CliRunner()


def test_score_writes_tables_and_prints_the_summary(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "--out", str(out),
                                 "--jobs", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert "amsterdam_philips_3t" in result.output and "unseen" in result.output
    cases = pd.read_csv(out / "cases.csv", dtype={"id": str})
    assert sorted(cases["id"]) == ["1", "150", "160", "3"]
    # The summary's mean over all subjects is the mean of the per-case values (no case is
    # missing or undefined here), and scores.json repeats the CSV tables.
    summary = pd.read_csv(out / "summary.csv").set_index(["group", "metric"])
    for metric in ("dice", "avd", "recall", "f1"):
        assert summary.loc[("all", metric), "mean"] == pytest.approx(cases[metric].mean())
        assert summary.loc[("all", metric), "n"] == 4
    scores = json.loads((out / "scores.json").read_text())
    assert sorted(row["id"] for row in scores["cases"]) == ["1", "150", "160", "3"]
    assert len(scores["summary"]) == len(summary)


def test_score_exits_1_and_lists_problems(release_tree, tmp_path):
    submission = bad_submission(tmp_path)
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-j", "1"])
    assert result.exit_code == 1
    assert "missing" in result.output and "truncated" in result.output
    assert "README.txt" in result.output


def test_score_usage_errors_exit_2(tmp_path, release_tree):
    result = runner.invoke(app, ["score", str(release_tree), str(tmp_path / "nope")])
    assert result.exit_code == 2 and "submission folder not found" in result.output
    result = runner.invoke(app, ["score", str(release_tree), str(tmp_path), "--missing", "zero"])
    assert result.exit_code == 2


def test_split_without_subjects_exits_2_without_a_traceback(tmp_path):
    """Regression (defect 8): ``--split training`` on a test-only reference."""
    from conftest import blob_labels, write_image

    write_image(tmp_path / "ref" / "test" / "a" / "wmh.nii.gz", blob_labels())
    (tmp_path / "sub").mkdir()
    result = runner.invoke(app, ["score", str(tmp_path / "ref"), str(tmp_path / "sub"),
                                 "--split", "training", "-q"])
    assert result.exit_code == 2, result.output
    assert "no training subjects" in result.output
    # Exit 2 through the error printer (a SystemExit), not an exception escaping.
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), result.exception


def test_policy_options_are_enums(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub", ids=["1", "150", "160"])
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-o", str(out),
                                 "-j", "1", "--missing", "exclude", "--undefined", "worst",
                                 "-q"])
    assert result.exit_code == 1  # subject 3 is missing
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["policy"]) == {"missing=exclude, undefined=worst"}
    row = summary[(summary["group"] == "all") & (summary["metric"] == "dice")].iloc[0]
    assert row["mean_ranked"] == row["mean"] and row["n_imputed"] == 0


def test_binarize_option_changes_the_rule(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub", ids=["1"])
    out = tmp_path / "out"
    common = ["score", str(release_tree), str(submission), "-j", "1", "-q"]
    result = runner.invoke(app, [*common, "-o", str(tmp_path / "official")])
    assert result.exit_code == 1, result.output  # subjects 3, 150 and 160 are missing
    official = pd.read_csv(tmp_path / "official" / "cases.csv", dtype={"id": str})
    assert official.set_index("id").loc["1", "dice"] > 0.5  # the 0/1 mask scores
    result = runner.invoke(app, [*common, "-o", str(out), "--binarize", "threshold:2"])
    assert result.exit_code == 1, result.output
    cases = pd.read_csv(out / "cases.csv", dtype={"id": str}).set_index("id")
    # No voxel reaches 2: an empty prediction, which the official rule did not give.
    assert cases.loc["1", "dice"] == 0.0 and cases.loc["1", "n_prediction_voxels"] == 0


def test_the_cli_starts_without_torch_matplotlib_or_scipy():
    code = ("import sys, wmheval.cli.main; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'scipy', 'SimpleITK') "
            "if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "[]"


def test_the_cli_help_lists_the_same_rules_as_the_engine():
    from wmheval import vocabulary
    from wmheval.cli import options
    from wmheval.metrics import binarize

    assert vocabulary.BINARIZE_HELP == binarize.RULES_HELP
    assert binarize.RULES_HELP in options.BINARIZE_HELP
