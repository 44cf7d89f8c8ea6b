"""Scoring folders: layouts, manifest mapping, outputs, aggregates and every bad input."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from conftest import blob_labels, write_image
from oracle import oracle_metrics

from wmheval.pipelines.score import score_to_dir
from wmheval.scoring import score_folder
from wmheval.scoring.aggregate import SUMMARY_COLUMNS
from wmheval.scoring.folder import CASE_COLUMNS

SUBJECT_SEEDS = {"0": 0, "1": 1, "3": 2, "150": 3, "160": 4}
TEST_IDS = ["1", "3", "150", "160"]


def reference_array(case_id: str) -> np.ndarray:
    return blob_labels(seed=SUBJECT_SEEDS[case_id])


def good_prediction(case_id: str) -> np.ndarray:
    """The reference's WMH with one voxel flipped, as uint8 0/1."""
    prediction = (reference_array(case_id) == 1).astype(np.uint8)
    prediction[1, 5, 5] = 1 - prediction[1, 5, 5]
    return prediction


def write_submission(root: Path, ids=TEST_IDS, layout: str = "challenge") -> Path:
    for case_id in ids:
        target = (root / case_id / "result.nii.gz" if layout == "challenge"
                  else root / f"{case_id}.nii.gz")
        write_image(target, good_prediction(case_id))
    return root


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_release_layout_is_scored_per_case_equal_to_the_oracle(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    result = score_to_dir(release_tree, submission, tmp_path / "out", jobs=1)
    cases = result.cases.set_index("id")
    # auto split: the submission holds only test subjects, so training subject 0 is left out.
    assert list(cases.index) == TEST_IDS
    assert result.ok and any("split auto" in note for note in result.notes)
    assert cases.loc["160", "scanner"] == "amsterdam_philips_3t"
    assert cases.loc["150", "seen_in_training"] == False  # noqa: E712
    assert set(cases["split"]) == {"test"}
    for case_id in TEST_IDS:
        reference_file = next(release_tree.rglob(f"{case_id}/wmh.nii.gz"))
        expected = oracle_metrics(sitk.ReadImage(str(reference_file)),
                                  sitk.ReadImage(str(submission / case_id / "result.nii.gz")))
        for metric, value in expected.items():
            tolerance = 1e-6 if metric == "h95" else 0
            assert cases.loc[case_id, metric] == pytest.approx(value, abs=tolerance), metric


def test_output_tables_have_the_stable_columns(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    out = tmp_path / "out"
    score_to_dir(release_tree, submission, out, jobs=1, write_json=True)
    cases = pd.read_csv(out / "cases.csv", dtype={"id": str})
    assert list(cases.columns) == list(CASE_COLUMNS)
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    groups = set(zip(summary["group_type"], summary["group"], strict=True))
    assert {("all", "all"), ("seen", "seen"), ("unseen", "unseen"),
            ("scanner", "utrecht_philips_3t"), ("scanner", "amsterdam_ge_1p5t"),
            ("scanner", "amsterdam_philips_3t")} <= groups
    unseen_dice = summary.query("group == 'unseen' and metric == 'dice'").iloc[0]
    assert unseen_dice["n"] == 2
    expected = cases[cases["id"].isin(["150", "160"])]["dice"].mean()
    assert unseen_dice["mean"] == pytest.approx(expected)
    for suffix in ("md", "tex", "html"):
        assert (out / f"summary_table.{suffix}").stat().st_size > 0
    # scores.json holds the same rows as the CSV tables, and the policy they were made
    # under (the default: missing cases score worst, undefined values get the worst value).
    scores = json.loads((out / "scores.json").read_text())
    assert [row["id"] for row in scores["cases"]] == cases["id"].tolist()
    assert [row["dice"] for row in scores["cases"]] == pytest.approx(cases["dice"].tolist())
    json_unseen = [row for row in scores["summary"]
                   if row["group"] == "unseen" and row["metric"] == "dice"]
    assert [(row["n"], row["mean"]) for row in json_unseen] == [(2, pytest.approx(expected))]
    assert scores["unmatched"] == [] and set(scores["policy"]) == {"name", "missing",
                                                                   "undefined"}
    assert not list(out.glob(".*")), "temporary files left behind"


def test_flat_layout_and_nii_files_are_accepted(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub", layout="flat")
    (submission / "3.nii.gz").unlink()
    write_image(submission / "3.nii", good_prediction("3"))
    result = score_folder(release_tree, submission, jobs=1)
    assert result.ok, result.cases[["id", "status", "error"]]
    assert (result.cases["dice"] > 0.8).all()


def test_any_tree_of_id_folders_and_a_user_manifest(tmp_path):
    reference = tmp_path / "ref"
    for index, name in enumerate(["subA", "subB"]):
        write_image(reference / "cohort" / name / "wmh.nii.gz", blob_labels(seed=index))
    submission = tmp_path / "sub"
    for index, name in enumerate(["subA", "subB"]):
        write_image(submission / f"{name}.nii.gz",
                    (blob_labels(seed=index) == 1).astype(np.uint8))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("id,split,scanner,seen_in_training\nsubA,test,siteX,true\n"
                        "subB,test,siteY,false\n")
    result = score_folder(reference, submission, manifest=manifest, jobs=1)
    assert result.ok
    assert dict(zip(result.cases["id"], result.cases["scanner"], strict=True)) == {
        "subA": "siteX", "subB": "siteY"}
    assert (result.cases["dice"] == 1.0).all()
    # Without a manifest entry, subjects are still scored, under scanner 'unknown'.
    unknown = score_folder(reference, submission, jobs=1)
    assert set(unknown.cases["scanner"]) == {"unknown"} and unknown.ok
    assert any("not in the manifest" in note for note in unknown.notes)


def test_parallel_and_serial_scoring_agree(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    serial = score_folder(release_tree, submission, jobs=1).cases
    parallel = score_folder(release_tree, submission, jobs=2).cases
    pd.testing.assert_frame_equal(serial, parallel)


# --- bad input ----------------------------------------------------------------------------

def bad_submission(tmp_path: Path) -> Path:
    """Test subjects 1 ok, 3 missing, 150 truncated gzip, 160 wrong size; plus stray files."""
    submission = write_submission(tmp_path / "sub", ids=["1", "150", "160"])
    data = (submission / "150" / "result.nii.gz").read_bytes()
    (submission / "150" / "result.nii.gz").write_bytes(data[: len(data) // 2])
    write_image(submission / "160" / "result.nii.gz", np.zeros((4, 16, 15), np.uint8))
    (submission / "README.txt").write_text("our method")
    write_image(submission / "999" / "result.nii.gz", np.zeros((4, 16, 16), np.uint8))
    (submission / ".DS_Store").write_bytes(b"\0")
    return submission


def test_bad_cases_get_a_status_and_the_batch_goes_on(release_tree, tmp_path):
    submission = bad_submission(tmp_path)
    before = tree_digest(submission), tree_digest(release_tree)
    result = score_to_dir(release_tree, submission, tmp_path / "out", jobs=2)
    cases = result.cases.set_index("id")
    assert cases.loc["1", "status"] == "ok" and cases.loc["1", "dice"] > 0.8
    assert cases.loc["3", "status"] == "missing"
    assert "no prediction for subject 3" in cases.loc["3", "error"]
    assert cases.loc["150", "status"] == "error"
    assert "150/result.nii.gz" in cases.loc["150", "error"]
    assert "truncated" in cases.loc["150", "error"]
    assert cases.loc["160", "status"] == "error"
    assert "size (15, 16, 4) differs from the reference's (16, 16, 4)" in cases.loc["160",
                                                                                    "error"]
    problems = dict(zip(result.unmatched["path"].map(lambda p: Path(p).name),
                        result.unmatched["problem"], strict=True))
    # A document beside the predictions is listed in a note and is no problem (issue 27).
    assert "README.txt" not in problems
    assert any("1 document(s) beside the predictions" in note and "README.txt" in note
               for note in result.notes)
    assert "no reference subject with id '999'" in problems["result.nii.gz"]
    assert ".DS_Store" not in problems
    assert not result.ok and result.n_problems == 4
    written = pd.read_csv(tmp_path / "out" / "unmatched.csv")
    assert sorted(written["path"].map(lambda p: Path(p).name)) == ["result.nii.gz"]
    assert written["problem"].tolist() == result.unmatched["problem"].tolist()
    # Missing and failed cases stay visible in every aggregate they affect.
    summary = result.summary.set_index(["group", "metric"])
    assert summary.loc[("all", "dice"), "n"] == 1
    assert summary.loc[("all", "dice"), "n_missing"] == 1
    assert summary.loc[("all", "dice"), "n_failed"] == 2
    assert summary.loc[("unseen", "dice"), "n_failed"] == 2
    assert summary.loc[("all", "dice"), "n_cases"] == 4
    # Inputs are never modified.
    assert (tree_digest(submission), tree_digest(release_tree)) == before


def test_missing_predictions_count_as_empty_masks_in_the_ranked_mean(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub", ids=["1", "150", "160"])
    result = score_folder(release_tree, submission, jobs=1)
    row = result.cases.set_index("id").loc["3"]
    assert row["status"] == "missing" and math.isnan(row["dice"])
    # the reference facts the policy needs are recorded for the missing case too
    labels = reference_array("3")
    assert row["n_reference_voxels"] == np.count_nonzero(labels == 1)
    expected_diagonal = math.sqrt((16 * 0.96) ** 2 * 2 + (4 * 3.0) ** 2)
    assert row["reference_diagonal_mm"] == pytest.approx(expected_diagonal)
    summary = result.summary.set_index(["group", "metric"])
    scored = result.cases.set_index("id").loc[["1", "150", "160"]]
    assert summary.loc[("all", "dice"), "n"] == 3
    assert summary.loc[("all", "dice"), "mean"] == pytest.approx(scored["dice"].mean())
    # ranked mean: the missing case as an empty mask (Dice 0, H95 = diagonal, AVD 100)
    assert summary.loc[("all", "dice"), "mean_ranked"] == pytest.approx(
        scored["dice"].sum() / 4)
    assert summary.loc[("all", "h95"), "mean_ranked"] == pytest.approx(
        (scored["h95"].sum() + expected_diagonal) / 4)
    assert summary.loc[("all", "avd"), "mean_ranked"] == pytest.approx(
        (scored["avd"].sum() + 100) / 4)
    assert summary.loc[("all", "dice"), "n_imputed"] == 1
    assert set(summary["policy"]) == {"missing=empty, undefined=fixed"}
    assert "[" in result.readable_summary().set_index("group").loc["all", "dice"]
    assert not result.ok  # a missing prediction is still a problem found in the data


def test_empty_prediction_never_improves_the_ranked_h95(release_tree, tmp_path):
    """Regression (defect 5): an empty prediction on the worst case improved the mean."""
    submission = write_submission(tmp_path / "sub", ids=["1", "3", "150", "160"])
    empty = np.zeros_like(good_prediction("3"))
    write_image(submission / "3" / "result.nii.gz", empty)
    result = score_folder(release_tree, submission, jobs=1)
    summary = result.summary.set_index(["group", "metric"])
    h95 = summary.loc[("all", "h95")]
    assert h95["n_undefined"] == 1 and h95["n_imputed"] == 1
    cases = result.cases.set_index("id")
    assert h95["mean_ranked"] == pytest.approx(
        (cases["h95"].sum() + cases.loc["3", "reference_diagonal_mm"]) / 4)
    assert h95["mean_ranked"] > h95["mean"]


def _small_tree(root: Path, ids, shape=(4, 16, 16), spacing=(0.96, 0.96, 3.0)) -> Path:
    for seed, case_id in enumerate(ids):
        write_image(root / str(case_id) / "wmh.nii.gz", blob_labels(shape, seed=seed),
                    spacing=spacing)
    return root


def test_bundled_manifest_applies_only_to_its_grids(tmp_path):
    """Regression (defect 3): a private cohort with numeric ids got 2017 scanners."""
    reference = _small_tree(tmp_path / "ref", ["1", "2", "140"])
    submission = tmp_path / "sub"
    for seed, case_id in enumerate(["1", "2", "140"]):
        write_image(submission / f"{case_id}.nii.gz",
                    (blob_labels(seed=seed) == 1).astype(np.uint8))
    result = score_folder(reference, submission, jobs=1)
    assert set(result.cases["scanner"]) == {"unknown"}
    assert result.cases["seen_in_training"].isna().all()
    assert set(result.cases["split"]) == {"unknown"}
    grid_notes = [n for n in result.notes if "image grid" in n]
    assert len(grid_notes) == 1 and "3 subject(s)" in grid_notes[0]
    groups = set(result.summary["group"])
    assert "seen" not in groups and "unseen" not in groups
    # the same ids on the grid the manifest records (subject 1: 240x240x48, 0.96 mm) match
    real = tmp_path / "real"
    labels = np.zeros((48, 240, 240), np.float32)
    labels[20:22, 100:104, 100:104] = 1
    write_image(real / "1" / "wmh.nii.gz", labels, spacing=(0.9583, 0.9583, 3.0))
    write_image(tmp_path / "realsub" / "1.nii.gz", (labels == 1).astype(np.uint8))
    matched = score_folder(real, tmp_path / "realsub", jobs=1)
    row = matched.cases.iloc[0]
    assert row["scanner"] == "utrecht_philips_3t" and row["split"] == "test"
    assert bool(row["seen_in_training"]) is True
    assert row["reference_diagonal_mm"] == pytest.approx(
        math.sqrt((240 * 0.9583) ** 2 * 2 + (48 * 3.0) ** 2))


def test_a_split_without_subjects_is_a_clear_error(release_tree, tmp_path):
    """Regression (defect 8): --split training without training subjects: KeyError."""
    reference = _small_tree(tmp_path / "ref", ["a", "b"])
    with pytest.raises(ValueError, match="no training subjects"):
        score_folder(reference, tmp_path, split="training", jobs=1)


@pytest.mark.parametrize("problem, expected", [
    ("vector", "vector image with 3 components"),
    ("4d", "4D image"),
    ("int8", "int8"),
    ("garbage", "cannot read image"),
])
def test_unusable_predictions_fail_with_a_message_naming_the_file(release_tree, tmp_path,
                                                                 problem, expected):
    submission = write_submission(tmp_path / "sub")
    target = submission / "1" / "result.nii.gz"
    if problem == "vector":
        image = sitk.GetImageFromArray(np.zeros((4, 16, 16, 3), np.uint8), isVector=True)
        sitk.WriteImage(image, str(target))
    elif problem == "4d":
        image = sitk.GetImageFromArray(np.zeros((2, 4, 16, 16), np.uint8), isVector=False)
        sitk.WriteImage(image, str(target))
    elif problem == "int8":
        write_image(target, good_prediction("1").astype(np.int8))
    else:
        target.write_bytes(b"not an image at all")
    row = score_folder(release_tree, submission, jobs=1).cases.set_index("id").loc["1"]
    assert row["status"] == "error"
    assert str(target) in row["error"] and expected in row["error"]


def test_nan_inf_values_are_background_with_a_warning(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    prediction = good_prediction("1").astype(np.float32)
    prediction[0, 0, :3] = [np.nan, np.inf, -np.inf]
    prediction[0, 0, 3] = 7.0
    write_image(submission / "1" / "result.nii.gz", prediction, spacing=(0.96, 0.96, 3.0))
    row = score_folder(release_tree, submission, jobs=1).cases.set_index("id").loc["1"]
    assert row["status"] == "ok"
    # ITK's NIfTI reader turns NaN and inf into 0, as in the official evaluation: the
    # warning comes from the raw file. 7.0 is read and counted as foreground.
    assert "3 voxels are NaN or inf in the file" in row["warnings"]
    assert "1 voxels have values other than 0/1" in row["warnings"]
    assert "counted 0 of them as background" in row["warnings"]


def test_a_different_geometry_is_scored_on_the_reference_grid_with_a_warning(release_tree,
                                                                             tmp_path):
    submission = write_submission(tmp_path / "sub")
    write_image(submission / "1" / "result.nii.gz", good_prediction("1"),
                spacing=(1.0, 1.0, 1.0), direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1))
    result = score_folder(release_tree, submission, jobs=1)
    row = result.cases.set_index("id").loc["1"]
    assert row["status"] == "ok" and row["dice"] > 0.8
    assert "geometry differs" in row["warnings"] and "spacing" in row["warnings"]
    assert "direction" in row["warnings"]


def test_empty_reference_is_flagged_not_crashed(tmp_path):
    reference = tmp_path / "ref"
    write_image(reference / "a" / "wmh.nii.gz", np.zeros((2, 8, 8), np.float32))
    submission = tmp_path / "sub"
    prediction = np.zeros((2, 8, 8), np.uint8)
    prediction[0, 2:4, 2:4] = 1
    write_image(submission / "a.nii.gz", prediction)
    row = score_folder(reference, submission, jobs=1).cases.iloc[0]
    assert row["status"] == "empty_reference"
    assert math.isnan(row["avd"]) and math.isnan(row["h95"])
    assert "empty reference" in row["warnings"]


def test_unreadable_reference_fails_that_case_only(release_tree, tmp_path):
    (release_tree / "test" / "Utrecht" / "3" / "wmh.nii.gz").write_bytes(b"broken")
    result = score_folder(release_tree, write_submission(tmp_path / "sub"), jobs=1)
    cases = result.cases.set_index("id")
    assert cases.loc["3", "status"] == "error" and "reference" in cases.loc["3", "error"]
    assert (cases.drop(index="3")["status"] == "ok").all()


def test_two_predictions_for_one_subject_is_an_error(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    write_image(submission / "1.nii.gz", good_prediction("1"))
    row = score_folder(release_tree, submission, jobs=1).cases.set_index("id").loc["1"]
    assert row["status"] == "error" and "several predictions" in row["error"]


def test_missing_folders_raise_clear_errors(tmp_path, release_tree):
    with pytest.raises(ValueError, match="submission folder not found"):
        score_folder(release_tree, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no <id>/wmh.nii.gz"):
        score_folder(tmp_path / "empty", tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown binarisation rule"):
        score_folder(release_tree, tmp_path / "empty", rule="otsu")


def test_evaluate_files_on_one_subject(release_tree, tmp_path):
    from wmheval.io.images import ImageError
    from wmheval.scoring import evaluate_files

    reference = release_tree / "test" / "Utrecht" / "1" / "wmh.nii.gz"
    prediction = write_image(tmp_path / "p.nii.gz", good_prediction("1"),
                             spacing=(0.96, 0.96, 3.0))
    metrics = evaluate_files(reference, prediction)
    expected = oracle_metrics(sitk.ReadImage(str(reference)), sitk.ReadImage(str(prediction)))
    assert metrics.dice == expected["dice"] and metrics.f1 == expected["f1"]
    assert metrics.h95 == pytest.approx(expected["h95"], abs=1e-6)
    assert metrics.warnings == []
    empty = evaluate_files(reference, None)
    assert empty.dice == 0.0 and "scored as an empty mask" in empty.warnings[0]
    small = write_image(tmp_path / "small.nii.gz", np.zeros((4, 16, 15), np.uint8))
    with pytest.raises(ImageError, match="small.nii.gz: size"):
        evaluate_files(reference, small)


def test_release_folders_map_to_the_five_scanners():
    from wmheval.io.manifest import release_folder_scanners

    assert release_folder_scanners() == {
        ("Utrecht",): "utrecht_philips_3t", ("Singapore",): "singapore_siemens_3t",
        ("Amsterdam", "GE3T"): "amsterdam_ge_3t", ("Amsterdam", "GE1T5"): "amsterdam_ge_1p5t",
        ("Amsterdam", "Philips_VU .PETMR_01."): "amsterdam_philips_3t"}
