"""Hand-computed cases, one or more for every rule of the metric spec."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_image

from wmheval.metrics import (
    BinarizationError,
    Geometry,
    binarize_prediction,
    evaluate_arrays,
    evaluate_masks,
    h95,
    in_plane_edges,
    lesion_counts,
    official_upper_threshold,
    reference_masks,
)


def row_image(*intervals: tuple[int, int], length: int = 20) -> np.ndarray:
    """A (1, 1, length) boolean mask with the half-open x intervals set."""
    mask = np.zeros((1, 1, length), dtype=bool)
    for start, stop in intervals:
        mask[0, 0, start:stop] = True
    return mask


# --- labels -------------------------------------------------------------------------------

def test_reference_labels_are_read_by_value_with_inclusive_thresholds():
    values = np.array([0, 0.49, 0.5, 1, 1.5, 2, 2.5, 2.51, 3], dtype=np.float32).reshape(1, 1, -1)
    wmh, ignored = reference_masks(values)
    assert wmh.ravel().tolist() == [False, False, True, True, True, False, False, False, False]
    assert ignored.ravel().tolist() == [False, False, False, False, True, True, True, False,
                                        False]


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.uint16])
def test_integer_reference_is_read_by_value(dtype):
    wmh, ignored = reference_masks(np.array([[[0, 1, 2, 3]]], dtype=dtype))
    assert wmh.ravel().tolist() == [False, True, False, False]
    assert ignored.ravel().tolist() == [False, False, True, False]


# --- binarisation -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, upper", [
    (np.uint8, 232), (np.int8, -24), (np.int16, 1000), (np.uint16, 1000), (np.int32, 1000),
    (np.uint32, 1000), (np.int64, 1000), (np.uint64, 1000), (np.float32, 1000),
    (np.float64, 1000)])
def test_official_upper_threshold_converts_1000_like_itk(dtype, upper):
    assert official_upper_threshold(np.dtype(dtype)) == upper


def test_uint8_values_above_232_are_background_and_warned():
    mask, report = binarize_prediction(np.array([[[0, 1, 2, 232, 233, 255]]], np.uint8))
    assert mask.ravel().tolist() == [False, True, True, True, False, False]
    assert (report.n_unusual, report.n_unusual_background) == (4, 2)
    assert "counted 2 of them as background" in report.warning("official")


def test_a_0_255_mask_scores_as_empty_under_the_official_rule():
    reference = np.zeros((1, 4, 4), np.float32)
    reference[0, 1:3, 1:3] = 1
    metrics = evaluate_arrays(reference, (reference * 255).astype(np.uint8))
    assert metrics.dice == 0.0 and metrics.n_prediction_voxels == 0
    assert "4 voxels" in metrics.warnings[0]
    assert evaluate_arrays(reference, (reference * 255).astype(np.uint8), rule="nonzero").dice == 1


def test_wide_integers_count_1_to_1000_and_not_negatives():
    values = np.array([[[-3, 0, 1, 999, 1000, 1001]]], np.int16)
    mask, report = binarize_prediction(values)
    assert mask.ravel().tolist() == [False, False, True, True, True, False]
    assert (report.n_unusual, report.n_unusual_background) == (4, 2)


def test_floats_count_half_to_1000_and_nan_inf_are_background():
    values = np.array([[[0, 0.4999, 0.5, 1, 7.5, 1000, 1000.5, np.nan, np.inf, -np.inf]]],
                      np.float32)
    mask, report = binarize_prediction(values)
    assert mask.ravel().tolist() == [False, False, True, True, True, True, False, False, False,
                                     False]
    # Outside [0, 1]: 7.5, 1000, 1000.5, nan, inf, -inf; four of them are background.
    assert (report.n_unusual, report.n_unusual_background) == (6, 4)


def test_probabilities_in_0_1_give_no_warning():
    mask, report = binarize_prediction(np.array([[[0.0, 0.2, 0.6, 1.0]]], np.float32))
    assert mask.ravel().tolist() == [False, False, True, True]
    assert report.warning("official") is None


def test_int8_is_an_error_under_the_official_rule_only():
    values = np.array([[[0, 1, -1]]], np.int8)
    with pytest.raises(BinarizationError, match="-24"):
        binarize_prediction(values)
    assert binarize_prediction(values, rule="nonzero")[0].ravel().tolist() == [False, True, True]


def test_alternative_rules():
    values = np.array([[[0, 0.3, 0.5, 255, np.nan, -2]]], np.float64)
    assert binarize_prediction(values, rule="nonzero")[0].ravel().tolist() == [
        False, True, True, True, False, True]
    assert binarize_prediction(values, rule="threshold:0.3")[0].ravel().tolist() == [
        False, True, True, True, False, False]
    with pytest.raises(BinarizationError, match="unknown"):
        binarize_prediction(values, rule="otsu")
    with pytest.raises(BinarizationError, match="bad rule"):
        binarize_prediction(values, rule="threshold:abc")


def test_prediction_inside_the_ignored_label_is_background():
    reference = np.array([[[1, 1, 2, 2, 0]]], np.float32)
    prediction = np.array([[[1, 0, 1, 1, 0]]], np.uint8)
    metrics = evaluate_arrays(reference, prediction)
    assert metrics.n_prediction_voxels == 1
    # The engine uses the official arithmetic, 1 - (FP + FN) / (2TP + FP + FN): 1 ulp off.
    assert metrics.dice == pytest.approx(2 * 1 / (2 + 1), abs=1e-15)


def test_a_voxel_of_value_1_5_is_wmh_and_masks_the_prediction():
    reference = np.array([[[1.5, 1.0]]], np.float32)
    metrics = evaluate_arrays(reference, np.array([[[1, 1]]], np.uint8))
    assert metrics.n_reference_voxels == 2 and metrics.n_prediction_voxels == 1


# --- Dice and AVD -------------------------------------------------------------------------

def test_dice_and_avd_by_hand():
    reference = row_image((0, 4))            # 4 voxels
    prediction = row_image((2, 8))           # 6 voxels, 2 shared
    metrics = evaluate_masks(reference, prediction)
    assert metrics.dice == 2 * 2 / (4 + 6)
    assert metrics.avd == 50.0


def test_both_empty_gives_nan_dice_and_perfect_detection():
    empty = np.zeros((2, 3, 3), bool)
    metrics = evaluate_masks(empty, empty)
    assert math.isnan(metrics.dice) and math.isnan(metrics.h95) and math.isnan(metrics.avd)
    assert metrics.recall == 1.0 and metrics.f1 == 1.0


def test_empty_prediction():
    metrics = evaluate_masks(row_image((0, 4)), row_image())
    assert metrics.dice == 0.0 and metrics.avd == 100.0
    assert math.isnan(metrics.h95)
    assert metrics.recall == 0.0 and metrics.precision == 1.0 and metrics.f1 == 0.0


def test_empty_reference_is_defined_and_flagged():
    metrics = evaluate_masks(row_image(), row_image((3, 5)))
    assert metrics.dice == 0.0
    assert math.isnan(metrics.avd) and math.isnan(metrics.h95)
    assert metrics.recall == 1.0 and metrics.precision == 0.0 and metrics.f1 == 0.0
    assert "empty reference" in metrics.warnings[0]


# --- H95 ----------------------------------------------------------------------------------

def test_edges_use_in_plane_erosion_with_outside_as_foreground():
    mask = np.zeros((5, 5, 5), bool)
    mask[1:4, 1:4, 1:4] = True
    edges = in_plane_edges(mask)
    # Each of the 3 slices keeps its ring of 8; the centre of the top slice is not an edge.
    assert edges.sum() == 24 and not edges[1, 2, 2] and not edges[3, 2, 2]
    full = np.ones((2, 4, 4), bool)
    assert in_plane_edges(full).sum() == 0  # outside the image counts as foreground
    corner = np.zeros((1, 4, 4), bool)
    corner[0, :2, :2] = True
    # (0, 0) has only foreground in-image neighbours; the other three touch background.
    assert in_plane_edges(corner).sum() == 3


def test_h95_by_hand_with_linear_percentiles_and_no_pooling():
    # x spacing 0.5 mm. Reference 0..4: only x=4 is an edge (x=0 sees the outside as
    # foreground). Prediction 10..12: edges x=10 and x=12.
    reference, prediction = row_image((0, 5)), row_image((10, 13))
    geometry = Geometry(spacing=(0.5, 1.0, 1.0))
    # d(P->T) = [6, 8] voxels -> p95 = 6 + 0.95 * 2 = 7.9; d(T->P) = [6] -> 6.
    assert h95(reference, prediction, geometry=geometry) == pytest.approx(7.9 * 0.5, abs=1e-12)
    metrics = evaluate_masks(reference, prediction, geometry=geometry)
    assert metrics.h95 == pytest.approx(3.95, abs=1e-12)


def test_h95_is_invariant_to_origin_and_rotation_but_not_to_spacing():
    rng = np.random.default_rng(1)
    reference = rng.random((3, 8, 8)) < 0.3
    prediction = rng.random((3, 8, 8)) < 0.3
    base = h95(reference, prediction, geometry=Geometry(spacing=(0.9, 1.2, 3.0)))
    rotated = Geometry(spacing=(0.9, 1.2, 3.0), origin=(5, -3, 100),
                       direction=(0, -1, 0, 1, 0, 0, 0, 0, 1))
    assert h95(reference, prediction, geometry=rotated) == pytest.approx(base, abs=1e-9)
    assert h95(reference, prediction, geometry=Geometry(spacing=(1.8, 2.4, 6.0))) == pytest.approx(
        2 * base, abs=1e-9)


def test_index_to_physical_matches_itk():
    direction = (0.0, 0.6, 0.8, 1.0, 0.0, 0.0, 0.0, 0.8, -0.6)
    image = make_image(np.zeros((4, 5, 6), np.uint8), spacing=(0.5, 1.5, 3.0),
                       origin=(10, -20, 30), direction=direction)
    geometry = Geometry.from_image(image)
    for index in ([0, 0, 0], [5, 4, 3], [2, 1, 3]):
        expected = image.TransformIndexToPhysicalPoint(index)
        assert geometry.index_to_physical(np.array([index]))[0] == pytest.approx(expected)


# --- lesions ------------------------------------------------------------------------------

def test_corner_connected_voxels_are_one_lesion():
    reference = np.zeros((2, 2, 2), bool)
    reference[0, 0, 0] = reference[1, 1, 1] = True
    prediction = np.zeros((2, 2, 2), bool)
    prediction[1, 1, 1] = True
    counts = lesion_counts(reference, prediction)
    assert counts.n_reference == 1 and counts.recall == 1.0


def test_recall_precision_f1_by_hand():
    reference = row_image((0, 2), (4, 6), (8, 10), length=30)      # 3 lesions
    prediction = row_image((1, 2), (5, 7), (12, 13), (15, 16), length=30)  # 4, 2 touching
    counts = lesion_counts(reference, prediction)
    assert (counts.n_reference, counts.n_reference_detected) == (3, 2)
    assert (counts.n_prediction, counts.n_prediction_true) == (4, 2)
    assert counts.recall == 2 / 3 and counts.precision == 2 / 4
    assert counts.f1 == pytest.approx(2 * (0.5 * 2 / 3) / (0.5 + 2 / 3), abs=1e-15)


def test_one_shared_voxel_detects_a_lesion_without_size_threshold():
    reference = row_image((0, 10))
    prediction = row_image((9, 10))
    assert lesion_counts(reference, prediction).recall == 1.0


def test_f1_is_zero_when_nothing_overlaps():
    counts = lesion_counts(row_image((0, 2)), row_image((5, 7)))
    assert counts.recall == 0.0 and counts.precision == 0.0 and counts.f1 == 0.0
