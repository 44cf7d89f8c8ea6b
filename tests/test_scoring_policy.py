"""The missing/undefined policy: fixed values per case, worst of the field, exclusion."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wmheval.scoring.policy import (
    DEFAULT_POLICY,
    MissingPolicy,
    UndefinedPolicy,
    apply_policy,
    describe_policy,
    diagonal_mm,
    make_policy,
)

NAN = math.nan
METRICS = ["dice", "h95", "avd", "recall", "f1"]


def _cases(rows):
    """rows: (id, status, dice, h95, avd, recall, f1, n_ref, n_pred, diagonal)."""
    return pd.DataFrame(rows, columns=["id", "status", *METRICS, "n_reference_voxels",
                                       "n_prediction_voxels", "reference_diagonal_mm"])


def test_default_policy_values_by_hand():
    cases = _cases([
        ("1", "ok", 0.5, 3.0, 10.0, 0.5, 0.5, 10, 5, 300.0),      # fully scored
        ("1", "missing", NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN),  # missing: empty mask
        ("2", "ok", NAN, NAN, NAN, 1.0, 1.0, 0, 0, 200.0),         # two empty masks
        ("2", "ok", 0.0, NAN, NAN, 1.0, 0.0, 0, 7, 200.0),         # FP on empty reference
        ("3", "ok", 0.0, NAN, 100.0, 0.0, 0.0, 9, 0, 250.0),       # empty prediction
    ])
    result = apply_policy(cases)
    expected = np.array([
        [0.5, 3.0, 10.0, 0.5, 0.5],
        [0.0, 300.0, 100.0, 0.0, 0.0],  # diagonal taken from the other row of subject 1
        [1.0, 0.0, 0.0, 1.0, 1.0],
        [0.0, 200.0, 100.0, 1.0, 0.0],
        [0.0, 250.0, 100.0, 0.0, 0.0],
    ])
    np.testing.assert_allclose(result.values, expected)
    assert result.missing.tolist() == [False, True, False, False, False]
    assert result.imputed.sum() == 5 + 3 + 2 + 1
    assert result.notes == ()


def test_fixed_policy_infers_emptiness_without_counts():
    # an older cases.csv: no voxel counts, no diagonal -> Dice NaN means both empty
    cases = pd.DataFrame({"id": ["a", "b"], "status": ["ok", "ok"], "dice": [NAN, 0.0],
                          "h95": [NAN, NAN], "avd": [NAN, 100.0], "recall": [1.0, 0.0],
                          "f1": [1.0, 0.0]})
    result = apply_policy(cases)
    np.testing.assert_allclose(result.values, [[1, 0, 0, 1, 1],
                                               [0, DEFAULT_POLICY.fallback_diagonal_mm, 100,
                                                0, 0]])
    assert "reference_diagonal_mm" in result.notes[0]


def test_worst_and_exclude_options():
    cases = _cases([
        ("1", "ok", 0.8, 2.0, 10.0, 0.9, 0.9, 10, 10, 300.0),
        ("1", "error", NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN),
        ("2", "ok", 0.4, 9.0, 50.0, 0.5, 0.4, 10, 10, 300.0),
        ("2", "ok", 0.0, NAN, 100.0, 0.0, 0.0, 10, 0, 300.0),
    ])
    worst = apply_policy(cases, make_policy("worst", "worst"))
    np.testing.assert_allclose(worst.values[1], [0.0, 9.0, 100.0, 0.0, 0.0])
    assert worst.values[3, 1] == 9.0
    excluded = apply_policy(cases, make_policy("exclude", "exclude"))
    assert np.isnan(excluded.values[1]).all() and np.isnan(excluded.values[3, 1])
    assert make_policy("worst", "worst").field_dependent
    assert not DEFAULT_POLICY.field_dependent


def test_policy_names_and_errors():
    assert DEFAULT_POLICY.missing is MissingPolicy.EMPTY
    assert DEFAULT_POLICY.undefined is UndefinedPolicy.FIXED
    assert make_policy("exclude").name == "missing=exclude, undefined=fixed"
    with pytest.raises(ValueError, match="empty, worst, exclude"):
        make_policy("zero")
    text = describe_policy()
    assert "empty mask" in text and "diagonal" in text and "the default" in text
    assert "field-dependent" in describe_policy(make_policy(undefined="worst"))
    assert diagonal_mm((240, 240, 48), (0.96, 0.96, 3.0)) == pytest.approx(
        math.sqrt(230.4**2 * 2 + 144**2))


finite = st.floats(0, 1, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite, st.booleans()), min_size=2, max_size=6),
       st.integers(0, 5))
def test_default_imputation_does_not_depend_on_other_teams(rows, pick):
    """Adding other teams' rows (any values) never changes a team's imputed values."""
    mine = _cases([("s", "missing", NAN, NAN, NAN, NAN, NAN, 10, NAN, 321.0),
                   ("t", "ok", 0.0, NAN, 100.0, 0.0, 0.0, 10, 0, 123.0)])
    alone = apply_policy(mine).values
    others = _cases([("s" if empty else "t", "ok", d, 100 * h, 100 * a, d, d, 10, 5, 321.0)
                     for d, h, a, empty in rows])
    together = apply_policy(pd.concat([mine, others.iloc[: pick + 1]], ignore_index=True))
    np.testing.assert_allclose(together.values[:2], alone)
