"""The report finds a team's predictions when run from another folder and after the score
folder moved with its submissions (issue 27 item 8): ``cases.csv`` records
``prediction_path`` relative to the score folder; when the predictions cannot be found the
team page names the option that fixes it instead of blaming a --reference that was given."""

import os
import shutil

import pandas as pd
import pytest
import synth_fixtures

from wmheval.pipelines.report import report_to_dir
from wmheval.pipelines.score import score_to_dir

TEAM = "precise"
small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions


@pytest.fixture
def project(small_challenge, small_submissions, tmp_path, monkeypatch):
    """``project/subs/precise`` scored from inside ``project`` (relative arguments) into
    ``project/scores/precise``; returns (project, reference root)."""
    root, _ = small_challenge
    subs, _ = small_submissions
    project = tmp_path / "project"
    shutil.copytree(subs / TEAM, project / "subs" / TEAM)
    monkeypatch.chdir(project)
    score_to_dir(root, os.path.join("subs", TEAM), os.path.join("scores", TEAM), jobs=1,
                 split="test", cache=None)
    return project, root


def _report(scores, out, root, **options):
    report_to_dir(scores, out, reference=root, figures=False, bootstrap=5, samples=50,
                  **options)
    return (out / "teams" / f"{TEAM}.html").read_text(encoding="utf-8")


def test_prediction_paths_are_relative_to_the_score_folder(project):
    folder, _ = project
    cases = pd.read_csv(folder / "scores" / TEAM / "cases.csv", dtype={"id": str})
    ok = cases[cases["status"] == "ok"]
    assert len(ok) == 15
    for case_id, recorded in zip(ok["id"], ok["prediction_path"], strict=True):
        assert recorded == f"../../subs/{TEAM}/{case_id}/result.nii.gz"


def test_report_from_another_folder_draws_the_overlays(project, tmp_path, monkeypatch):
    folder, root = project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    page = _report(folder / "scores", tmp_path / "report", root)
    assert page.count("<img src='overlays/") == 3
    assert "not drawn" not in page and "pass --reference" not in page


def test_moved_score_folder_and_whole_project(project, tmp_path, monkeypatch):
    folder, root = project
    monkeypatch.chdir(tmp_path)
    # The whole project moved: score folder and submissions keep their relative place.
    moved = tmp_path / "moved_project"
    shutil.move(folder, moved)
    page = _report(moved / "scores", tmp_path / "r1", root)
    assert page.count("<img src='overlays/") == 3
    # Only the score folder moved: the page says which option fixes it.
    shutil.move(moved / "scores", tmp_path / "scores_alone")
    page = _report(tmp_path / "scores_alone", tmp_path / "r2", root)
    assert page.count("<img src='overlays/") == 0
    assert "3 overlay(s) not drawn" in page and "Pass --predictions FOLDER" in page
    assert "pass --reference" not in page
    page = _report(tmp_path / "scores_alone", tmp_path / "r3", root,
                   predictions=moved / "subs")
    assert page.count("<img src='overlays/") == 3
