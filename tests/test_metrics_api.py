"""The metrics API: one grid check for every public metric, validated flat indices,
keyword-only options.

Regressions (issue 26): ``h95`` returned 0.0 for a 3x8x8 and a 3x9x9 mask where
``evaluate_masks`` raised; ``evaluate_indices`` raised ``IndexError`` (or returned wrong
numbers) on unsorted input.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wmheval import metrics
from wmheval.errors import InputError, WmhevalError
from wmheval.metrics import (
    evaluate_arrays,
    evaluate_indices,
    evaluate_masks,
    h95,
    in_plane_edges,
    lesion_counts,
)


def square(shape: tuple[int, int, int], corner: int = 1, size: int = 3) -> np.ndarray:
    """A mask with one size x size square in every slice, from (corner, corner)."""
    mask = np.zeros(shape, dtype=bool)
    mask[:, corner:corner + size, corner:corner + size] = True
    return mask


PAIR_METRICS = {
    "evaluate_masks": evaluate_masks,
    "evaluate_arrays": lambda t, p: evaluate_arrays(t.astype(np.float32), p.astype(np.uint8)),
    "h95": h95,
    "lesion_counts": lesion_counts,
}


def test_h95_raises_on_a_shape_mismatch():
    """The issue's reproduction: a 3x8x8 and a 3x9x9 mask gave H95 = 0.0."""
    with pytest.raises(InputError, match=r"size mismatch: reference \(8, 8, 3\) vs "
                                         r"prediction \(9, 9, 3\) \(x, y, z\)"):
        h95(square((3, 8, 8)), square((3, 9, 9)))


@pytest.mark.parametrize("name", sorted(PAIR_METRICS))
@pytest.mark.parametrize(("reference_shape", "prediction_shape"), [
    ((3, 8, 8), (3, 9, 9)), ((3, 8, 8), (4, 8, 8)), ((3, 8, 8), (3, 8, 9)),
])
def test_every_pair_metric_rejects_masks_on_different_grids(name, reference_shape,
                                                            prediction_shape):
    with pytest.raises(InputError, match="size mismatch") as raised:
        PAIR_METRICS[name](square(reference_shape), square(prediction_shape))
    # Still a ValueError (callers catch those) and a WmhevalError (exit code 2).
    assert isinstance(raised.value, ValueError) and raised.value.exit_code == 2


@pytest.mark.parametrize("name", sorted(PAIR_METRICS))
@pytest.mark.parametrize("shape", [(8, 8), (2, 3, 8, 8), (8,)])
def test_every_pair_metric_rejects_arrays_that_are_not_3d(name, shape):
    mask = np.zeros(shape, dtype=bool)
    mask[(0,) * len(shape)] = True
    with pytest.raises(InputError, match=r"must be a 3D array indexed \(z, y, x\)"):
        PAIR_METRICS[name](mask, mask)


def test_in_plane_edges_rejects_a_2d_mask():
    with pytest.raises(InputError, match="3D"):
        in_plane_edges(np.ones((4, 4), dtype=bool))


# --- evaluate_indices ---------------------------------------------------------------------

SHAPE = (2, 6, 6)


@pytest.mark.parametrize(("reference", "prediction", "message"), [
    ([9, 7, 8], [7], "reference_flat must be sorted"),
    ([7, 8], [14, 2], "prediction_flat must be sorted"),
    ([7, 7, 8], [7], "reference_flat holds repeated indices"),
    ([7, 8], [71, 72], r"prediction_flat holds indices outside the grid \(2, 6, 6\) "
                       r"\(0\.\.71\): 71\.\.72"),
    ([-1, 7], [7], "reference_flat holds indices outside the grid"),
    ([7.0, 8.0], [7], "reference_flat must be a 1D array of integer flat indices"),
    ([[7, 8]], [7], "reference_flat must be a 1D array of integer flat indices"),
])
def test_evaluate_indices_rejects_indices_np_flatnonzero_cannot_give(reference, prediction,
                                                                     message):
    """Before: IndexError for an unsorted array (or a result for the wrong masks)."""
    with pytest.raises(InputError, match=message):
        evaluate_indices(np.array(reference), np.array(prediction), SHAPE)


@pytest.mark.parametrize("shape", [(6, 6), (2, 0, 6), ("a", 6, 6), None])
def test_evaluate_indices_rejects_a_shape_that_is_not_three_positive_ints(shape):
    with pytest.raises(InputError, match="shape must be three positive integers"):
        evaluate_indices(np.array([1]), np.array([1]), shape)


def test_evaluate_indices_accepts_empty_masks_of_any_dtype():
    result = evaluate_indices(np.array([]), [], SHAPE)
    assert result.n_reference_voxels == result.n_prediction_voxels == 0
    assert np.isnan(result.dice)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.02, 0.6))
def test_evaluate_indices_on_valid_indices_equals_evaluate_masks(seed, density):
    """Both paths (sparse and dense, chosen by density) through the public, validated
    entry point give exactly what the mask entry point gives."""
    rng = np.random.default_rng(seed)
    reference = rng.random(SHAPE) < density
    prediction = rng.random(SHAPE) < density
    from_indices = evaluate_indices(np.flatnonzero(reference), np.flatnonzero(prediction),
                                    SHAPE).as_dict()
    from_masks = evaluate_masks(reference, prediction).as_dict()
    assert from_indices.keys() == from_masks.keys()
    for key, value in from_masks.items():
        if isinstance(value, float) and np.isnan(value):
            assert np.isnan(from_indices[key]), key
        else:
            assert from_indices[key] == value, key


# --- keyword-only options -----------------------------------------------------------------

PUBLIC_FUNCTIONS = sorted(name for name in metrics.__all__
                          if inspect.isfunction(getattr(metrics, name)))


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_every_option_of_a_public_metric_is_keyword_only(name):
    """Inputs are positional, options (everything with a default) keyword-only, as in
    scikit-image: ``h95(t, p, geometry=g)``; ``h95(t, p, g)`` is a TypeError."""
    parameters = inspect.signature(getattr(metrics, name)).parameters.values()
    for parameter in parameters:
        if parameter.default is not inspect.Parameter.empty:
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (name, parameter.name)


def test_a_positional_option_is_refused():
    with pytest.raises(TypeError):
        h95(square((1, 5, 5)), square((1, 5, 5)), metrics.Geometry())  # type: ignore[misc]


def test_metric_errors_are_wmheval_errors():
    assert issubclass(metrics.BinarizationError, WmhevalError)
    with pytest.raises(InputError, match="spacing must be positive"):
        metrics.Geometry(spacing=(1.0, 0.0, 1.0))
