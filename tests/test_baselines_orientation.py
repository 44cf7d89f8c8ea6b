"""Baselines: inputs in any storage orientation (flipped, permuted, oblique) are reoriented
for the networks and predictions come back on the reference grid, scoring like the original."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
from baselines_fixtures import make_tiny_release, set_test_threads
from wmheval_baselines.data import from_canonical, to_canonical
from wmheval_baselines.predict import predict_folder
from wmheval_baselines.threshold import threshold_baseline
from wmheval_baselines.train import TrainConfig, train

from wmheval.scoring import score_folder

set_test_threads()
SUBJECT = "test/Utrecht/1"
FILES = ("pre/FLAIR.nii.gz", "pre/T1.nii.gz", "wmh.nii.gz", "synth/wm_mask.nii.gz")


def flipped_x(image: sitk.Image) -> sitk.Image:
    """Same world content stored with the x axis reversed (direction sign flipped)."""
    array = sitk.GetArrayFromImage(image)[..., ::-1]
    out = sitk.GetImageFromArray(np.ascontiguousarray(array))
    out.SetSpacing(image.GetSpacing())
    direction = np.array(image.GetDirection()).reshape(3, 3)
    last = image.TransformIndexToPhysicalPoint((image.GetSize()[0] - 1, 0, 0))
    direction[:, 0] *= -1
    out.SetDirection(tuple(direction.ravel()))
    out.SetOrigin(last)
    return out


def permuted_xy(image: sitk.Image) -> sitk.Image:
    """Same world content stored with the x and y axes swapped."""
    array = np.swapaxes(sitk.GetArrayFromImage(image), 1, 2)
    out = sitk.GetImageFromArray(np.ascontiguousarray(array))
    spacing = image.GetSpacing()
    out.SetSpacing((spacing[1], spacing[0], spacing[2]))
    direction = np.array(image.GetDirection()).reshape(3, 3)[:, [1, 0, 2]]
    out.SetDirection(tuple(direction.ravel()))
    out.SetOrigin(image.GetOrigin())
    return out


def oblique(image: sitk.Image, degrees: float = 20.0) -> sitk.Image:
    """The same voxels acquired obliquely: the direction rotated about z."""
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                         [0, 0, 1]])
    out = sitk.Image(image)
    out.SetDirection(tuple((rotation @ np.array(image.GetDirection()).reshape(3, 3)).ravel()))
    return out


def to_world_order(kind: str, array: np.ndarray) -> np.ndarray:
    """Undo the storage change on a (z, y, x) array."""
    if kind == "flipped":
        return array[..., ::-1]
    if kind == "permuted":
        return np.swapaxes(array, 1, 2)
    return array


TRANSFORMS = {"flipped": flipped_x, "permuted": permuted_xy, "oblique": oblique}


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("orientation")
    original = make_tiny_release(root / "original")
    copies = {}
    for kind, transform in TRANSFORMS.items():
        copy = root / kind
        shutil.copytree(original, copy)
        for name in FILES:
            path = copy / SUBJECT / name
            sitk.WriteImage(transform(sitk.ReadImage(str(path))), str(path))
        copies[kind] = copy
    return original, copies


@pytest.fixture(scope="module")
def run(releases, tmp_path_factory):
    original, _ = releases
    config = TrainConfig(model="resunet", data=str(original), samples=96, wm_samples=24,
                         base_channels=4, wm_base_channels=4, batch_size=4, beta=0.8,
                         learning_rate=1e-2, device="cpu")
    return train(config, tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def reference(releases, run, tmp_path_factory):
    original, _ = releases
    return predict_folder(run, original, tmp_path_factory.mktemp("ref") / "ref", device="cpu",
                          ids=["1"])


def test_canonical_round_trip_is_exact():
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.random((3, 4, 5)).astype(np.float32))
    image.SetDirection((0, 0, -1, -1, 0, 0, 0, 1, 0))  # stored sagittally, flipped
    image.SetSpacing((1.0, 2.0, 3.0))
    canonical = to_canonical(image)
    assert canonical.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    back = from_canonical(sitk.GetArrayFromImage(canonical), image)
    assert np.array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))
    assert back.GetDirection() == image.GetDirection()


@pytest.mark.parametrize("kind", sorted(TRANSFORMS))
def test_network_prediction_in_reference_geometry_scores_like_original(releases, run,
                                                                      reference, tmp_path,
                                                                      kind):
    original, copies = releases
    moved = predict_folder(run, copies[kind], tmp_path / kind, device="cpu", ids=["1"])
    ref_image = sitk.ReadImage(str(reference / "1" / "result.nii.gz"))
    result = sitk.ReadImage(str(moved / "1" / "result.nii.gz"))
    flair = sitk.ReadImage(str(copies[kind] / SUBJECT / "pre" / "FLAIR.nii.gz"))
    assert result.GetSize() == flair.GetSize()
    assert result.GetDirection() == pytest.approx(flair.GetDirection())
    assert result.GetOrigin() == pytest.approx(flair.GetOrigin())
    assert result.GetSpacing() == pytest.approx(flair.GetSpacing())
    predicted = sitk.GetArrayFromImage(ref_image)
    assert predicted.any()  # a non-trivial prediction to compare
    assert np.array_equal(to_world_order(kind, sitk.GetArrayFromImage(result)), predicted)
    scores = {}
    for name, data, submission in (("ref", original, reference),
                                   (kind, copies[kind], moved)):
        cases = score_folder(data, submission).cases
        scores[name] = cases.set_index("id").loc["1", ["dice", "avd", "recall", "f1"]]
    assert np.allclose(scores["ref"].astype(float), scores[kind].astype(float),
                       equal_nan=True)


@pytest.mark.parametrize("kind", sorted(TRANSFORMS))
def test_threshold_baseline_in_reference_geometry(releases, tmp_path, kind):
    original, copies = releases
    threshold_baseline(original, tmp_path / "ref")
    threshold_baseline(copies[kind], tmp_path / kind)
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "ref/1/result.nii.gz")))
    moved = sitk.ReadImage(str(tmp_path / kind / "1/result.nii.gz"))
    assert ref.any()
    assert np.array_equal(to_world_order(kind, sitk.GetArrayFromImage(moved)), ref)
