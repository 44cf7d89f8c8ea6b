"""Probability maps scaled 0-255 or 0-100 and 0/255 masks (issue 27 item 4): each such case
fails with the file and the fix, unless the user chose a rule; the fix scores it as meant."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_image
from test_scoring_folder import TEST_IDS, good_prediction, write_submission
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.scoring import score_folder
from wmheval.scoring.encodings import detect_encoding

runner = CliRunner()


def probability(case_id: str, scale: float, dtype) -> np.ndarray:
    """A smooth map: the good mask at 0.9, a noisy background below 0.3, times ``scale``."""
    rng = np.random.default_rng(len(case_id))
    mask = good_prediction(case_id).astype(float)
    values = np.where(mask > 0, 0.9, rng.uniform(0.0, 0.3, mask.shape))
    return np.round(values * scale).astype(dtype) if np.dtype(dtype).kind in "iu" \
        else (values * scale).astype(dtype)


def write_encoded(root, encode) -> object:
    for case_id in TEST_IDS:
        write_image(root / case_id / "result.nii.gz", encode(case_id))
    return root


ENCODINGS = {
    "float_0_255": (lambda c: probability(c, 255, np.float32), "0-255", "threshold:128"),
    "uint8_0_255": (lambda c: probability(c, 255, np.uint8), "0-255", "threshold:128"),
    "float_0_100": (lambda c: probability(c, 100, np.float32), "0-100", "threshold:50"),
    "uint8_0_100": (lambda c: probability(c, 100, np.uint8), "0-100", "threshold:50"),
    "mask_0_255": (lambda c: (good_prediction(c) * 255).astype(np.uint8), "0/255 mask",
                   "nonzero"),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_a_misread_encoding_fails_each_case_with_the_file_and_the_fix(release_tree,
                                                                     tmp_path, name):
    encode, what, fix = ENCODINGS[name]
    submission = write_encoded(tmp_path / "sub", encode)
    good = score_folder(release_tree, write_submission(tmp_path / "good"), jobs=1,
                        cache=None).cases.set_index("id")
    result = score_folder(release_tree, submission, jobs=1, cache=None)
    cases = result.cases.set_index("id")
    assert (cases["status"] == "error").all(), cases[["status", "dice"]]
    for case_id in TEST_IDS:
        error = cases.loc[case_id, "error"]
        assert str(submission / case_id / "result.nii.gz") in error
        assert what in error and f"--binarize {fix}" in error
    assert any("4 of 4 predictions" in n and f"--binarize {fix}" in n for n in result.notes)
    # The fix scores them as the good masks.
    fixed = score_folder(release_tree, submission, jobs=1, cache=None,
                         rule=fix).cases.set_index("id")
    np.testing.assert_allclose(fixed.loc[TEST_IDS, "dice"], good.loc[TEST_IDS, "dice"])
    np.testing.assert_allclose(fixed.loc[TEST_IDS, "avd"], good.loc[TEST_IDS, "avd"])


def test_an_explicit_rule_scores_the_values_as_that_rule_reads_them(release_tree, tmp_path):
    submission = write_encoded(tmp_path / "sub", ENCODINGS["mask_0_255"][0])
    cases = score_folder(release_tree, submission, jobs=1, cache=None,
                         rule="official").cases.set_index("id")
    assert (cases["status"] == "ok").all()
    assert (cases["dice"] == 0).all()  # the official quirk: 255 is background in uint8


def test_the_cli_fails_with_the_fix_and_scores_with_it(release_tree, tmp_path):
    submission = write_encoded(tmp_path / "sub", ENCODINGS["uint8_0_255"][0])
    common = ["score", str(release_tree), str(submission), "-j", "1", "--no-cache"]
    result = runner.invoke(app, [*common, "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--binarize threshold:128" in result.output
    fixed = runner.invoke(app, [*common, "-o", str(tmp_path / "fixed"), "--binarize",
                                "threshold:128"])
    assert fixed.exit_code == 0, fixed.output


@pytest.mark.parametrize("values, expected", [
    (np.array([0, 1, 1, 0], np.uint8), None),
    (np.array([0.0, 0.2, 0.7, 1.0], np.float32), None),  # a 0-1 map: the official rule fits
    (np.array([0, 255, 255], np.int16), None),  # 255 is foreground in int16
    (np.array([0, 255, 255], np.float32), None),  # and in floats
    (np.array([0, 255, 255], np.uint8), "mask_0_255"),
    (np.arange(0, 40, dtype=np.uint8), None),  # lesion labels 1..39
    (np.arange(0, 256, 3).astype(np.uint8), "probability_0_255"),
    (np.linspace(0, 97, 50).astype(np.float32), "probability_0_100"),
    (np.array([0, 2, 2, 5], np.uint8), None),  # a few labels
    (np.array([-3.0, 0.5, 200.0, 100.0] * 5 + list(range(10)), np.float32), None),
    (np.linspace(0, 900, 50), None),  # 0-1000: all foreground to the official rule too
])
def test_detect_encoding(values, expected):
    found = detect_encoding(values.reshape(1, 1, -1))
    assert (found.kind if found else None) == expected
