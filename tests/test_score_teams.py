"""`wmheval score --teams` and the next-step messages of common mistakes (issue 27, items
10 and 11): a folder of team folders, swapped arguments, leading zeros in ids, a stray
README.txt."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_image
from test_scoring_folder import TEST_IDS, tree_digest, write_submission
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.io.layouts import find_team_submissions, index_submission, team_folders_in
from wmheval.pipelines.score import score_teams_to_dir
from wmheval.scoring.folder import score_folder

runner = CliRunner()
METRICS = ["dice", "h95", "avd", "recall", "f1"]


def _zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out.write(path, path.relative_to(folder).as_posix())
    return archive


@pytest.fixture
def teams_dir(tmp_path) -> Path:
    """Three teams: ``alpha`` (a folder, every test subject), ``beta`` (a folder, subject 3
    missing and a blank prediction for 150), ``gamma`` (a zip of a flat-layout folder);
    plus the organisers' ``teams.csv`` beside them."""
    root = tmp_path / "teams"
    write_submission(root / "alpha")
    write_submission(root / "beta", ids=["1", "150", "160"])
    write_image(root / "beta" / "150" / "result.nii.gz", np.zeros((4, 16, 16), np.uint8))
    flat = write_submission(tmp_path / "gamma_src", layout="flat")
    _zip_folder(flat, root / "gamma.zip")
    (root / "teams.csv").write_text("team,method\nalpha,unet\n")
    return root


def test_teams_score_each_team_as_scoring_it_alone(release_tree, teams_dir, tmp_path):
    result = score_teams_to_dir(release_tree, teams_dir, tmp_path / "scores", jobs=2)
    assert list(result.results) == ["alpha", "beta", "gamma"]
    assert result.skipped == [(str(teams_dir / "teams.csv"), "a document, not a submission")]
    alone = {"alpha": score_folder(release_tree, teams_dir / "alpha", jobs=1),
             "beta": score_folder(release_tree, teams_dir / "beta", jobs=1),
             "gamma": score_folder(release_tree, tmp_path / "gamma_src", jobs=1)}
    for team, expected in alone.items():
        got = result.results[team]
        pd.testing.assert_frame_equal(got.cases[["id", "status", *METRICS]],
                                      expected.cases[["id", "status", *METRICS]])
        pd.testing.assert_frame_equal(got.summary, expected.summary)
        written = pd.read_csv(tmp_path / "scores" / team / "cases.csv", dtype={"id": str})
        np.testing.assert_allclose(written[METRICS].to_numpy(float),
                                   expected.cases[METRICS].to_numpy(float), rtol=1e-12)
    beta = result.results["beta"].cases.set_index("id")
    assert beta.loc["3", "status"] == "missing"
    assert not result.ok and result.n_problems == 1
    # The combined table holds every team's summary rows.
    combined = pd.read_csv(tmp_path / "scores" / "teams_summary.csv")
    assert sorted(set(combined["team"])) == ["alpha", "beta", "gamma"]
    for team, expected in alone.items():
        rows = combined[combined["team"] == team].drop(columns="team").reset_index(drop=True)
        np.testing.assert_allclose(rows["mean_ranked"].to_numpy(float),
                                   expected.summary["mean_ranked"].to_numpy(float))
    # The readable table: one row per team, the overall Dice as the summary states it.
    table = (tmp_path / "scores" / "teams_summary_table.md").read_text()
    for team, expected in alone.items():
        dice = expected.summary.set_index(["group", "metric"]).loc[("all", "dice"), "mean"]
        line = next(row for row in table.splitlines() if row.startswith(f"| {team} "))
        assert f"{dice:.3f} ±" in line


def test_each_team_folder_is_a_score_folder_with_its_manifest(release_tree, teams_dir,
                                                              tmp_path):
    score_teams_to_dir(release_tree, teams_dir, tmp_path / "scores", jobs=1)
    manifest = json.loads((tmp_path / "scores" / "alpha" / "wmheval_manifest.json")
                          .read_text())
    assert manifest["command"] == "score"
    assert manifest["inputs"]["submission"]["path"].endswith("teams/alpha")
    alone = tmp_path / "alpha_alone"
    assert runner.invoke(app, ["score", str(release_tree), str(teams_dir / "alpha"),
                               "--out", str(alone), "-q", "-j", "1"]).exit_code == 0
    single = json.loads((alone / "wmheval_manifest.json").read_text())
    assert manifest["inputs"]["reference"]["sha256"] == single["inputs"]["reference"]["sha256"]
    assert manifest["inputs"]["submission"]["sha256"] == \
        single["inputs"]["submission"]["sha256"]
    # The archive's predictions are named by archive and member, never a temporary folder.
    gamma = pd.read_csv(tmp_path / "scores" / "gamma" / "cases.csv", dtype={"id": str})
    assert gamma["prediction_path"].str.contains(r"gamma\.zip:").all()


def test_the_cli_scores_teams_and_rank_reads_the_output(release_tree, teams_dir, tmp_path):
    scores = tmp_path / "scores"
    result = runner.invoke(app, ["score", str(release_tree), str(teams_dir), "--teams",
                                 "--out", str(scores), "-j", "2"])
    assert result.exit_code == 1, result.output  # beta misses subject 3
    assert "problem(s) in 1 team(s): beta" in result.output
    assert "beta: missing 3: no prediction for subject 3" in result.output
    assert f"next: wmheval rank {scores} --out ranking/" in result.output
    ranked = runner.invoke(app, ["rank", str(scores), "--out", str(tmp_path / "rk")])
    assert ranked.exit_code == 0, ranked.output
    ranking = pd.read_csv(tmp_path / "rk" / "ranking.csv")
    assert sorted(ranking["team"]) == ["alpha", "beta", "gamma"]
    assert ranking.set_index("team").loc["beta", "position"] == 3  # worst: missing, blank


def test_without_the_option_a_teams_folder_says_to_use_it(release_tree, teams_dir):
    result = runner.invoke(app, ["score", str(release_tree), str(teams_dir), "-j", "1"])
    assert result.exit_code == 2
    assert "holds the submissions of 2 teams (alpha, beta)" in result.output
    assert "--teams" in result.output
    assert "several predictions" not in result.output  # the old message, once per case


@pytest.mark.parametrize("layout", ["wrapped", "id folders with one duplicate"])
def test_one_submission_with_sub_folders_is_not_taken_for_teams(release_tree, tmp_path,
                                                                layout):
    root = tmp_path / "sub"
    if layout == "wrapped":  # one team's folder inside a wrapper: scored as before
        write_submission(root / "my_team")
    else:  # <id>/result.nii.gz plus a second prediction of 1: a duplicate, not teams
        write_submission(root)
        write_submission(root, ids=["1"], layout="flat")
    index = index_submission(root)
    assert team_folders_in(index, root, set(TEST_IDS) | {"0"}) == []
    result = score_folder(release_tree, root, jobs=1)
    statuses = result.cases.set_index("id")["status"]
    if layout == "wrapped":
        assert result.ok
    else:
        assert statuses["1"] == "error" and (statuses.drop("1") == "ok").all()


def test_team_names_become_safe_folder_names(release_tree, tmp_path):
    root = tmp_path / "teams"
    hostile = ["-rf", "a b", "Ünïcode", "CON", "x" * 120]
    for name in hostile:
        write_submission(root / name, ids=["1"])
    out = tmp_path / "scores"
    result = score_teams_to_dir(release_tree, root, out, jobs=1, split="all")
    assert set(result.results) == set(hostile)
    folders = set(result.folders.values())
    assert len(folders) == len(hostile)
    for folder in folders:
        assert not folder.startswith(("-", ".")) and len(folder) <= 64
        assert (out / folder / "cases.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release", "scores", "teams"]


def test_two_entries_of_one_team_are_an_input_error(release_tree, tmp_path):
    root = tmp_path / "teams"
    write_submission(root / "alpha")
    _zip_folder(root / "alpha", root / "alpha.zip")
    result = runner.invoke(app, ["score", str(release_tree), str(root), "--teams", "--out",
                                 str(tmp_path / "scores")])
    assert result.exit_code == 2
    assert "two submissions for team 'alpha'" in result.output
    assert "alpha.zip" in result.output
    assert not (tmp_path / "scores").exists()


def test_a_hostile_team_archive_leaves_the_previous_output_as_it_was(release_tree, teams_dir,
                                                                     tmp_path):
    scores = tmp_path / "scores"
    score_teams_to_dir(release_tree, teams_dir, scores, jobs=1)
    before = tree_digest(scores)
    with zipfile.ZipFile(teams_dir / "evil.zip", "w") as out:
        out.writestr("../../escape/1/result.nii.gz", b"x" * 64)
    result = runner.invoke(app, ["score", str(release_tree), str(teams_dir), "--teams",
                                 "--out", str(scores), "-j", "1"])
    assert result.exit_code == 2
    assert "evil.zip" in result.output and "Traceback" not in result.output
    assert tree_digest(scores) == before
    assert not (tmp_path / "escape").exists()


def test_a_failure_while_writing_leaves_the_old_set(release_tree, teams_dir, tmp_path,
                                                    monkeypatch):
    scores = tmp_path / "scores"
    score_teams_to_dir(release_tree, teams_dir, scores, jobs=1)
    before = tree_digest(scores)
    shutil.rmtree(teams_dir / "beta")  # a new run would give another set
    import wmheval.pipelines.score as pipeline

    calls = []

    def failing(folder, **kwargs):  # the fault hook: the second team's manifest fails
        calls.append(folder)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(folder, **kwargs)

    real = pipeline.write_manifest
    monkeypatch.setattr(pipeline, "write_manifest", failing)
    with pytest.raises(OSError):
        score_teams_to_dir(release_tree, teams_dir, scores, jobs=1)
    assert tree_digest(scores) == before
    monkeypatch.setattr(pipeline, "write_manifest", real)
    score_teams_to_dir(release_tree, teams_dir, scores, jobs=1)
    assert sorted(p.name for p in scores.iterdir() if p.is_dir()) == ["alpha", "gamma"]


def test_teams_reuse_the_case_cache(release_tree, teams_dir, tmp_path, monkeypatch):
    import wmheval.scoring.folder as folder_module

    cache = tmp_path / "cache"
    first = score_teams_to_dir(release_tree, teams_dir, None, jobs=1, cache=cache)
    scored = []
    real = folder_module.safe_score_case
    monkeypatch.setattr(folder_module, "safe_score_case",
                        lambda task: scored.append(task.id) or real(task))
    second = score_teams_to_dir(release_tree, teams_dir, None, jobs=1, cache=cache)
    # Every case with a prediction came from the cache (jobs=1 runs in this process); only
    # beta's missing subject 3, which has no file to key a cache entry on, is made again.
    assert scored == ["3"]
    for team in first.results:
        pd.testing.assert_frame_equal(first.results[team].summary,
                                      second.results[team].summary)


def test_find_team_submissions_lists_what_it_skips(tmp_path):
    root = tmp_path / "teams"
    (root / "alpha").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "README.md").write_text("x")
    (root / "stray.bin").write_bytes(b"\0")
    (root / "beta.tar.gz").write_bytes(b"\0")
    found = find_team_submissions(root)
    assert list(found.submissions) == ["alpha", "beta"]
    assert dict((p.name, why) for p, why in found.skipped) == {
        "README.md": "a document, not a submission",
        "stray.bin": "not a team submission: expected a folder or a .zip, .tar or .tar.gz "
                     "archive"}
    (root / "alpha").rmdir()
    (root / "beta.tar.gz").unlink()
    with pytest.raises(Exception, match="no team submissions inside"):
        find_team_submissions(root)


# ---------------------------------------------------------------- item 11: next steps


def test_swapped_arguments_say_so(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    result = runner.invoke(app, ["score", str(submission), str(release_tree)])
    assert result.exit_code == 2
    assert "the arguments look swapped" in result.output
    assert f"wmheval score {release_tree} {submission}" in result.output


def test_a_reference_without_labels_is_not_called_swapped(tmp_path):
    (tmp_path / "empty").mkdir()
    submission = write_submission(tmp_path / "sub")
    result = runner.invoke(app, ["score", str(tmp_path / "empty"), str(submission)])
    assert result.exit_code == 2
    assert "no <id>/wmh.nii.gz files found" in result.output
    assert "swapped" not in result.output


@pytest.mark.parametrize("name, meant", [("001", "1"), ("sub-003", "3"), ("0150", "150")])
def test_leading_zeros_get_a_did_you_mean(release_tree, tmp_path, name, meant):
    submission = write_submission(tmp_path / "sub")
    (submission / meant).rename(submission / name)
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-j", "1"])
    assert result.exit_code == 1
    assert (f"no reference subject with id '{name}' (did you mean {meant}? name the "
            f"prediction after the reference id: {meant}/result.nii.gz") in result.output


def test_an_unknown_id_without_a_likely_match_gets_no_guess(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    write_image(submission / "999" / "result.nii.gz", np.zeros((4, 16, 16), np.uint8))
    result = score_folder(release_tree, submission, jobs=1)
    problem = result.unmatched.set_index("path")["problem"]
    assert problem.str.fullmatch("no reference subject with id '999'").all()


def test_a_stray_readme_is_no_problem_but_a_stray_image_is(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    (submission / "README.txt").write_text("our method")
    (submission / "LICENSE").write_text("MIT")
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "2 document(s) beside the predictions, not scored and no problem" in result.output
    write_image(submission / "1_flair.nii.gz", np.zeros((4, 16, 16), np.uint8))
    result = runner.invoke(app, ["score", str(release_tree), str(submission), "-j", "1"])
    assert result.exit_code == 1
    assert "1_flair.nii.gz: no reference subject with id '1_flair' (did you mean 1?" in \
        result.output


def test_an_out_folder_inside_the_teams_folder_is_not_a_team(release_tree, teams_dir):
    """Scoring again with ``--out`` inside the teams folder: the earlier output set is
    skipped with the reason, not scored as a team called ``scores`` with every case
    missing."""
    out = teams_dir / "scores"
    first = score_teams_to_dir(release_tree, teams_dir, out, jobs=1)
    second = score_teams_to_dir(release_tree, teams_dir, out, jobs=1)
    assert list(first.results) == list(second.results) == ["alpha", "beta", "gamma"]
    assert (str(out), "a wmheval output folder (e.g. an earlier --out), not a submission") \
        in second.skipped
