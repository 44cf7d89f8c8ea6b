"""The fast engine against the literal oracle on many random cases (property-based)."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import make_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import OracleBinarizationError, oracle_metrics

from wmheval.metrics import BinarizationError, Geometry, evaluate_arrays
from wmheval.metrics import evaluate as evaluate_module

# The engine has a sparse path (voxel indices) and a dense one (scipy.ndimage on the bounding
# box); forcing the share limit to 1.0 or -1 takes one or the other.
PATH_LIMITS = {"sparse": 1.0, "dense": -1.0}

# Values per pixel type that exercise the official rule's edges and quirks.
INTERESTING_VALUES = {
    np.uint8: [0, 1, 1, 2, 232, 233, 255],
    np.int16: [-1, 0, 1, 1, 2, 999, 1000, 1001],
    np.uint16: [0, 1, 1, 7, 1000, 1001, 65535],
    np.int32: [-5, 0, 1, 1, 1000, 1001],
    np.uint32: [0, 1, 1, 1000, 1001],
    np.int64: [-1, 0, 1, 1, 1000, 1001],
    np.uint64: [0, 1, 1, 1000, 1001],
    np.float32: [0.0, 0.25, 0.4999, 0.5, 0.75, 1.0, 1.0, 2.0, 1000.0, 1000.5, np.nan, np.inf,
                 -np.inf, -1.0],
    np.float64: [0.0, 0.5, 1.0, 1.0, 0.49999999, 1000.0, 1000.0001, np.nan, -0.5],
}
REFERENCE_TYPES = [np.float32, np.float64, np.uint8, np.int16, np.uint16]
EXACT = ("dice", "avd", "recall", "f1")


def random_direction(rng: np.random.Generator, kind: str) -> tuple[float, ...]:
    if kind == "identity":
        return tuple(np.eye(3).ravel())
    if kind == "flipped":
        permutation = np.eye(3)[rng.permutation(3)] * rng.choice([-1, 1], size=(3, 1))
        return tuple(permutation.ravel())
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return tuple((q * np.sign(np.diag(r))).ravel())


def random_case(seed: int, shape: tuple[int, int, int], pred_type, ref_type, density: float,
                direction_kind: str, ignored_share: float):
    rng = np.random.default_rng(seed)
    # Reference: smoothed noise thresholded into blobs, some label 2, some odd values.
    field = rng.random(shape)
    reference = (field < density).astype(np.float64)
    reference[(field > 1 - ignored_share)] = 2.0
    if ref_type in (np.float32, np.float64):
        odd = rng.random(shape) < 0.03
        reference[odd] = rng.choice([0.49, 0.5, 1.5, 2.5, 2.51, 3.0], size=int(odd.sum()))
    reference = reference.astype(ref_type)
    # Prediction: the reference's WMH perturbed, values from the type's interesting set.
    values = np.asarray(INTERESTING_VALUES[pred_type], dtype=np.float64)
    prediction = np.where(rng.random(shape) < 0.7, (reference == 1).astype(np.float64),
                          rng.choice(values, size=shape))
    with np.errstate(invalid="ignore"):
        prediction = prediction.astype(pred_type)
    geometry = dict(spacing=tuple(rng.uniform(0.3, 3.5, size=3)),
                    origin=tuple(rng.uniform(-100, 100, size=3)),
                    direction=random_direction(rng, direction_kind))
    return reference, prediction, geometry


def assert_agree(engine: dict, oracle: dict) -> None:
    for name in EXACT:
        a, b = engine[name], oracle[name]
        assert (math.isnan(a) and math.isnan(b)) or a == b, (name, a, b)
    a, b = engine["h95"], oracle["h95"]
    assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6, ("h95", a, b)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 5), st.integers(1, 12), st.integers(1, 12)),
    pred_type=st.sampled_from(list(INTERESTING_VALUES)),
    ref_type=st.sampled_from(REFERENCE_TYPES),
    density=st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.95, 1.0]),
    direction_kind=st.sampled_from(["identity", "flipped", "oblique"]),
    ignored_share=st.sampled_from([0.0, 0.1]),
    path=st.sampled_from(list(PATH_LIMITS)),
)
def test_engine_equals_oracle_on_random_cases(seed, shape, pred_type, ref_type, density,
                                              direction_kind, ignored_share, path):
    reference, prediction, geometry = random_case(seed, shape, pred_type, ref_type, density,
                                                  direction_kind, ignored_share)
    ref_image = make_image(reference, **geometry)
    # The prediction carries a different geometry: both must use the reference's.
    pred_image = make_image(prediction, spacing=(1, 1, 1))
    with mock.patch.object(evaluate_module, "SPARSE_MAX_SHARE", PATH_LIMITS[path]):
        engine = evaluate_arrays(sitk.GetArrayFromImage(ref_image),
                                 sitk.GetArrayFromImage(pred_image),
                                 geometry=Geometry.from_image(ref_image)).as_dict()
    assert_agree(engine, oracle_metrics(ref_image, pred_image))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), border=st.sampled_from(["x0", "x1", "y0", "y1", "z"]),
       path=st.sampled_from(list(PATH_LIMITS)))
def test_engine_equals_oracle_for_lesions_on_the_border(seed, border, path):
    rng = np.random.default_rng(seed)
    shape = (3, 9, 10)
    reference = np.zeros(shape, np.float32)
    prediction = np.zeros(shape, np.uint8)
    for target in (reference, prediction):
        y, x = rng.integers(0, 6, size=2)
        target[:, y:y + 3, x:x + 3] = 1
        index = {"x0": (slice(None), slice(None), 0), "x1": (slice(None), slice(None), -1),
                 "y0": (slice(None), 0, slice(None)), "y1": (slice(None), -1, slice(None)),
                 "z": (0, slice(2, 6), slice(2, 6))}[border]
        target[index] = 1
    ref_image = make_image(reference, spacing=(0.7, 1.3, 3.0))
    pred_image = make_image(prediction, spacing=(0.7, 1.3, 3.0))
    with mock.patch.object(evaluate_module, "SPARSE_MAX_SHARE", PATH_LIMITS[path]):
        engine = evaluate_arrays(reference, prediction,
                                 geometry=Geometry.from_image(ref_image)).as_dict()
    assert_agree(engine, oracle_metrics(ref_image, pred_image))


@pytest.mark.parametrize("path", list(PATH_LIMITS))
@pytest.mark.parametrize("seed", range(2))
def test_engine_equals_oracle_on_a_realistic_grid(seed, path):
    """A 240x240x48 Utrecht-like grid with dozens of lesions, oblique direction."""
    rng = np.random.default_rng(seed)
    from scipy import ndimage

    noise = ndimage.gaussian_filter(rng.random((48, 240, 240)), sigma=(0.6, 2, 2))
    reference = (noise > np.quantile(noise, 0.995)).astype(np.float32)
    reference[20:22, 100:110, 100:110] = 2
    prediction = ndimage.binary_dilation(noise > np.quantile(noise, 0.9955)).astype(np.uint8)
    geometry = dict(spacing=(0.96, 0.96, 3.0), origin=(-115.0, -120.0, -70.0),
                    direction=random_direction(rng, "oblique"))
    ref_image, pred_image = make_image(reference, **geometry), make_image(prediction)
    with mock.patch.object(evaluate_module, "SPARSE_MAX_SHARE", PATH_LIMITS[path]):
        engine = evaluate_arrays(reference, prediction,
                                 geometry=Geometry.from_image(ref_image)).as_dict()
    assert engine["n_reference_lesions"] > 20
    assert_agree(engine, oracle_metrics(ref_image, pred_image))


def test_int8_fails_in_both():
    reference = np.ones((1, 3, 3), np.float32)
    prediction = np.ones((1, 3, 3), np.int8)
    with pytest.raises(OracleBinarizationError):
        oracle_metrics(make_image(reference), make_image(prediction))
    with pytest.raises(BinarizationError, match="int8"):
        evaluate_arrays(reference, prediction)


def test_binary_search_fallback_equals_oracle():
    """Very large grids look neighbours up by binary search instead of a lookup table."""
    from wmheval.metrics import sparse

    reference, prediction, geometry = random_case(7, (4, 12, 12), np.uint8, np.float32, 0.2,
                                                  "oblique", 0.1)
    ref_image, pred_image = make_image(reference, **geometry), make_image(prediction)
    with mock.patch.object(sparse, "MAX_LOOKUP_SPAN", 0), \
            mock.patch.object(evaluate_module, "SPARSE_MAX_SHARE", 1.0):
        engine = evaluate_arrays(reference, prediction,
                                 geometry=Geometry.from_image(ref_image)).as_dict()
    assert engine["n_reference_lesions"] > 1
    assert_agree(engine, oracle_metrics(ref_image, pred_image))
