"""score under pressure (issue 33 item 7): extra dimensions refused from the header."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from nifti_factory import write_nifti
from test_scoring_folder import write_submission

from wmheval.io.images import ImageError, read_image
from wmheval.scoring import score_folder


@pytest.mark.parametrize("shape, expected", [
    ((64, 1, 16, 64, 64), "vector image with 64 components per voxel"),
    ((1, 8, 16, 64, 64), "4D image of size (64, 64, 16, 8) (8 volumes)"),
    ((2, 2, 16, 64, 64), "image of dim [64, 64, 16, 2, 2]"),
    ((12, 16, 64, 64), "4D image of size (64, 64, 16, 12)"),
])
def test_extra_dimensions_are_refused_before_any_voxel_is_inflated(tmp_path, shape,
                                                                   expected):
    path = write_nifti(tmp_path / "p.nii.gz", np.zeros(shape, np.float64))
    data_bytes = int(np.prod(shape)) * 8  # up to 32 MB, which used to be inflated
    tracemalloc.start()
    try:
        with pytest.raises(ImageError) as error:
            read_image(path, expected_size=(64, 64, 16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert expected in str(error.value) and "refused from the header" in str(error.value)
    # The inflater's buffers only (about 1 MB), not the voxels the header declares.
    assert peak < 2_000_000 < data_bytes


def test_score_fails_only_that_case(release_tree, tmp_path):
    submission = write_submission(tmp_path / "sub")
    target = submission / "1" / "result.nii.gz"
    write_nifti(target, np.zeros((64, 1, 4, 16, 16), np.uint8))
    cases = score_folder(release_tree, submission, jobs=1, cache=None).cases.set_index("id")
    assert cases.loc["1", "status"] == "error"
    assert str(target) in cases.loc["1", "error"]
    assert "64 components" in cases.loc["1", "error"]
    assert (cases.drop(index="1")["status"] == "ok").all()
