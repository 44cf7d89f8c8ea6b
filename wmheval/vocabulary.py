"""One home for each of wmheval's vocabularies: case statuses, data splits and ranking
splits, the seen/unseen flag, scanner order, binarisation rules and metric specs.

A light module (standard library only; pandas is imported inside :func:`seen_flags`), so
the command line can build its choice enums from it without loading the science stack.
Every other module takes these names from here; ``tests/test_vocabulary.py`` ties the CLI's
choices and the older per-package constants (``wmheval.metrics.METRICS``,
``HIGHER_IS_BETTER``) to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# --- Case statuses (cases.csv's ``status`` column) ------------------------------------------

STATUS_OK = "ok"
"""Scored."""
STATUS_EMPTY_REFERENCE = "empty_reference"
"""Scored; the reference has no lesion (some metrics are undefined)."""
STATUS_MISSING = "missing"
"""No prediction for the subject."""
STATUS_MISSING_AS_EMPTY = "missing_as_empty"
"""No prediction, scored as an empty mask (the ``empty`` missing policy)."""
STATUS_ERROR = "error"
"""The prediction (or the reference) could not be used: the case failed."""

STATUSES = (STATUS_OK, STATUS_EMPTY_REFERENCE, STATUS_MISSING, STATUS_MISSING_AS_EMPTY,
            STATUS_ERROR)
SCORED_STATUSES = (STATUS_OK, STATUS_EMPTY_REFERENCE, STATUS_MISSING_AS_EMPTY)
"""Statuses whose metrics were computed."""
MISSING_STATUSES = frozenset({STATUS_MISSING, STATUS_ERROR})
"""Statuses the missing policy applies to (no usable prediction)."""

# --- Splits ---------------------------------------------------------------------------------

TRAINING = "training"
TEST = "test"
DATA_SPLITS = (TRAINING, TEST)
"""The release's two halves (the manifest's ``split`` column)."""
SCORE_SPLITS = ("auto", "all", *DATA_SPLITS)
"""Which reference subjects ``wmheval score`` reads: auto (the splits the submission
predicts), all, training, test."""
SYNTH_SPLITS = (TEST, TRAINING, "all")
"""Which subjects ``wmheval synth-submissions`` predicts."""
SEEN = "seen"
UNSEEN = "unseen"
SEEN_GROUPS = (SEEN, UNSEEN)
RANK_SPLITS = ("all", SEEN, UNSEEN, TEST, TRAINING)
"""The named subject sets a ranking can be restricted to; a scanner key
(:data:`SCANNER_ORDER`, or any scanner of a user's manifest) is accepted too."""

# --- The seen/unseen flag -------------------------------------------------------------------

SEEN_TRUE = ("true", "1", "yes")
SEEN_FALSE = ("false", "0", "no")
"""How ``seen_in_training`` is written (case-insensitive); anything else (a blank cell,
``unknown``, ``nan``) means unknown."""


def parse_seen(value: object) -> bool | None:
    """One ``seen_in_training`` value as True, False, or None when unknown.

    >>> parse_seen("True"), parse_seen(0), parse_seen(""), parse_seen(None)
    (True, False, None, None)
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in SEEN_TRUE:
        return True
    if text in SEEN_FALSE:
        return False
    return None


def seen_flags(column: pd.Series) -> pd.Series:
    """``seen_in_training`` as a nullable boolean Series: True, False, or NA when unknown
    (:func:`parse_seen` per value); unknown subjects are in neither the seen nor the
    unseen group, in every table, ranking and report."""
    import pandas as pd

    text = column.astype("string").str.strip().str.lower()
    flags = pd.Series(pd.NA, index=column.index, dtype="boolean")
    flags[text.isin(list(SEEN_TRUE)).fillna(False).to_numpy(dtype=bool)] = True
    flags[text.isin(list(SEEN_FALSE)).fillna(False).to_numpy(dtype=bool)] = False
    return flags


# --- Scanners -------------------------------------------------------------------------------

SCANNER_ORDER = (
    "utrecht_philips_3t",
    "singapore_siemens_3t",
    "amsterdam_ge_3t",
    "amsterdam_ge_1p5t",
    "amsterdam_philips_3t",
)
"""The 2017 release's five scanners in the order tables and figures list them (the three
seen in training first)."""


def scanner_sort_key(scanner: str) -> tuple[int, str]:
    """Sort key: the release's scanners in :data:`SCANNER_ORDER`, then others by name."""
    return (SCANNER_ORDER.index(scanner) if scanner in SCANNER_ORDER else len(SCANNER_ORDER),
            scanner)


def ordered_scanners(scanners) -> list[str]:
    """The distinct scanner names of ``scanners`` in table order (:func:`scanner_sort_key`).

    >>> ordered_scanners(["zz", "amsterdam_ge_3t", "utrecht_philips_3t", "zz"])
    ['utrecht_philips_3t', 'amsterdam_ge_3t', 'zz']
    """
    return sorted({str(s) for s in scanners}, key=scanner_sort_key)


# --- Binarisation rules ---------------------------------------------------------------------

BINARIZE_RULES = ("official", "nonzero")
"""The closed binarisation rules; ``threshold:T`` (foreground iff value >= T) is open."""
THRESHOLD_PREFIX = "threshold:"
BINARIZE_HELP = ("official (default), nonzero, or threshold:T (foreground iff value >= T)")


def check_binarize_rule(text: str) -> str:
    """``text`` if it names a binarisation rule, else a ValueError that says which exist.

    >>> check_binarize_rule("threshold:0.5")
    'threshold:0.5'
    """
    if text in BINARIZE_RULES:
        return text
    if text.startswith(THRESHOLD_PREFIX):
        value = text[len(THRESHOLD_PREFIX):]
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if number == number and abs(number) != float("inf"):
            return text
        raise ValueError(f"binarisation rule {text!r}: T in threshold:T must be a finite "
                         "number, e.g. threshold:0.5")
    raise ValueError(f"unknown binarisation rule {text!r}; expected official, nonzero or "
                     "threshold:T (e.g. threshold:0.5)")


# --- Metrics --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricSpec:
    """How a metric is named, shown and ranked."""

    name: str
    """Column name (``dice``)."""
    label: str
    """Label in tables and figures (``Lesion recall``)."""
    short: str
    """Label where space is short (terminal tables: ``Recall``)."""
    unit: str
    """Unit (``mm``, ``%``) or empty."""
    decimals: int
    """Decimals shown."""
    higher_is_better: bool
    """Direction: True if a higher value is better."""

    @property
    def arrow(self) -> str:
        """↑ when higher is better, ↓ otherwise."""
        return "↑" if self.higher_is_better else "↓"

    @property
    def axis_label(self) -> str:
        """Label with the unit, e.g. ``H95 (mm)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


METRIC_SPECS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("dice", "Dice", "Dice", "", 3, True),
    MetricSpec("h95", "H95", "H95", "mm", 2, False),
    MetricSpec("avd", "AVD", "AVD", "%", 1, False),
    MetricSpec("recall", "Lesion recall", "Recall", "", 3, True),
    MetricSpec("f1", "Lesion F1", "F1", "", 3, True),
)}
"""The challenge's five metrics, in its order (Kuijf et al. 2019)."""
METRIC_NAMES = tuple(METRIC_SPECS)
HIGHER_IS_BETTER = {name: spec.higher_is_better for name, spec in METRIC_SPECS.items()}
"""For each metric, whether a larger value is a better segmentation."""
SCORE_SPEC = MetricSpec("score", "Score", "Score", "", 4, False)
"""The ranking score (mean relative rank: lower is better)."""


# --- Ranking schemes and tests --------------------------------------------------------------

MEANS_SCHEMES = ("official", "mean_rank")
"""Ranking schemes that need only each team's means."""
CASE_SCHEMES = ("median_rank", "rank_then_aggregate", "test_based")
"""Ranking schemes that need per-case results."""
ALL_SCHEMES = MEANS_SCHEMES + CASE_SCHEMES
TIES = ("min", "average")
"""Ties in the rank-based schemes: ``min`` (challengeR's default) or ``average``."""
P_ADJUST = ("holm", "none")
"""Multiple-testing adjustment of the test-based scheme's Wilcoxon tests."""

# --- Volumetric agreement and the synthetic challenge ---------------------------------------

VOLUME_SCALES = ("ml", "log")
"""Scales of the volume statistics: millilitres, or log volume (zero volumes left out)."""
PHANTOMS = ("anatomical", "geometric")
"""Synthetic subjects: the MNI ICBM152 template with lesions, or the fast ellipsoid
phantom."""

# --- The challenge board ---------------------------------------------------------------------

BOARD_WINDOWS = ("24h", "7d", "total")
"""Quota windows of a board phase: per 24 hours, per 7 days, or in total."""
BOARD_PER_CASE = ("public", "own", "hidden")
"""Who sees a phase's per-case results: everyone, each team its own, or nobody."""
BOARD_VISIBILITY = ("public", "private", "after_close")
"""When a phase's board is public: always, never (organisers only), after it closes."""
BOARD_ENTRY_RULES = ("latest", "selected")
"""Which submission stands for a team: its latest scored one, or the one it selected."""
BOARD_EXPORT_FORMATS = ("csv", "json", "challenger")
"""What ``wmheval board export`` writes: the board as CSV or JSON, or challengeR's long
per-case table."""

# --- Hosted platforms -----------------------------------------------------------------------

PLATFORMS = ("grand-challenge", "codabench")
"""Hosted platforms wmheval exports to and imports from (docs/platforms.md)."""
GRAND_CHALLENGE_KINDS = ("predictions", "algorithm")
"""A grand-challenge phase's submission kind: a zip of predictions, or an algorithm."""
GRAND_CHALLENGE_PER_CASE = ("admin", "off")
"""Per-case values in metrics.json: ``admin`` (written; display_all_metrics false) or off."""
CODABENCH_PER_CASE = ("public", "off")
"""Per-subject rows in Codabench's detailed_results.html (participants read it) or none."""
