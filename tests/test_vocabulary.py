"""One home for each vocabulary (wmheval/vocabulary.py): the older per-package constants and
every CLI choice list are tied to it."""

import pandas as pd
import pytest

from wmheval import vocabulary as vocab
from wmheval.io.manifest import SCANNER_ORDER, load_manifest
from wmheval.metrics import HIGHER_IS_BETTER, METRICS
from wmheval.scoring import case, policy
from wmheval.scoring.folder import SPLIT_CHOICES


def test_metric_specs_are_the_metrics_in_the_challenges_order_and_direction():
    assert vocab.METRIC_NAMES == tuple(METRICS) == ("dice", "h95", "avd", "recall", "f1")
    assert {m: s.higher_is_better for m, s in vocab.METRIC_SPECS.items()} == HIGHER_IS_BETTER
    assert [vocab.METRIC_SPECS[m].axis_label for m in ("h95", "avd", "recall")] == \
        ["H95 (mm)", "AVD (%)", "Lesion recall"]


def test_the_packages_use_the_one_vocabulary():
    from wmheval.cli.terminal import DECIMALS, SHORT
    from wmheval.io.tables import column_format
    from wmheval.plots.ranking import METRIC_LABELS

    assert case.SCORED_STATUSES is vocab.SCORED_STATUSES
    assert policy.MISSING_STATUSES is vocab.MISSING_STATUSES
    assert SCANNER_ORDER is vocab.SCANNER_ORDER
    assert SPLIT_CHOICES is vocab.SCORE_SPLITS
    for name, spec in vocab.METRIC_SPECS.items():
        shown = column_format(name)
        assert (shown.label, shown.unit, shown.decimals, shown.arrow) == \
            (spec.label, spec.unit, spec.decimals, spec.arrow)
        assert METRIC_LABELS[name] == spec.axis_label
        assert (SHORT[name][0], DECIMALS[name]) == (spec.short, spec.decimals)
    assert set(load_manifest()["scanner"]) == set(vocab.SCANNER_ORDER)


@pytest.mark.parametrize(("text", "flag"), [
    ("True", True), ("true", True), (" YES ", True), ("1", True), (True, True),
    ("False", False), ("0", False), ("no", False), (False, False),
    ("", None), ("unknown", None), ("nan", None), (None, None), ("maybe", None),
])
def test_one_reading_of_the_seen_flag(text, flag):
    assert vocab.parse_seen(text) is flag
    series = vocab.seen_flags(pd.Series([text], dtype=object))
    assert (None if pd.isna(series.iloc[0]) else bool(series.iloc[0])) is flag


def test_scanners_are_ordered_as_the_release_then_by_name():
    assert vocab.ordered_scanners(["b_other", "amsterdam_ge_1p5t", "a_other",
                                   "utrecht_philips_3t", "b_other"]) == \
        ["utrecht_philips_3t", "amsterdam_ge_1p5t", "a_other", "b_other"]


@pytest.mark.parametrize("rule", ["official", "nonzero", "threshold:0.5", "threshold:128"])
def test_binarisation_rules_accepted(rule):
    from wmheval.metrics.binarize import parse_rule

    assert vocab.check_binarize_rule(rule) == rule
    parse_rule(rule)  # the metrics accept every rule the vocabulary accepts


@pytest.mark.parametrize("rule", ["otsu", "threshold:", "threshold:x", "threshold:nan",
                                  "Official"])
def test_binarisation_rules_refused_with_the_choices(rule):
    from wmheval.metrics.binarize import parse_rule

    with pytest.raises(ValueError, match="threshold:"):
        vocab.check_binarize_rule(rule)
    with pytest.raises(ValueError):
        parse_rule(rule)  # the metrics refuse it too
