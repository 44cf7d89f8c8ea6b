"""What a missing prediction or an undefined metric counts as: one named policy, used everywhere.

A *missing* case is a subject without a usable prediction (no file, a file that failed, or
no row in a team's ``cases.csv``). An *undefined* value is a NaN metric of a scored case
(H95 of an empty prediction, Dice of two empty masks, AVD on an empty reference). The
policy says, per metric, what each counts as. The default is field-independent: a team's
imputed values depend only on the case itself (the reference), never on other teams.

``summary.csv``, the readable tables, the demo overview, ``wmheval rank`` and every
sensitivity analysis apply the same :class:`ScoringPolicy` through :func:`apply_policy`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from wmheval.vocabulary import MISSING_STATUSES, STATUS_OK

if TYPE_CHECKING:  # numpy, pandas and the metrics load only when a policy is applied,
    import numpy as np  # so that the CLI can offer the enums without them
    import pandas as pd


class MissingPolicy(StrEnum):
    """What a missing or failed prediction counts as."""

    EMPTY = "empty"
    """Scored as an empty mask (as challenges do): field-independent. The default."""
    WORST = "worst"
    """The worst value of the metric over every team and subject of the field."""
    EXCLUDE = "exclude"
    """Left out of the team's mean (flatters a team that skips hard cases)."""


class UndefinedPolicy(StrEnum):
    """What an undefined (NaN) metric of a scored case counts as."""

    FIXED = "fixed"
    """A fixed value that depends only on the case (see :data:`FIXED_RULES`). The default."""
    WORST = "worst"
    """The worst value of the metric over every team and subject of the field."""
    EXCLUDE = "exclude"
    """Left out of the team's mean."""


FALLBACK_DIAGONAL_MM = 500.0
"""H95 stand-in when a case's reference extent is unknown (a ``cases.csv`` without the
``reference_diagonal_mm`` column): larger than any FLAIR field of view of the 2017 release
(356-468 mm)."""

REFERENCE_COLUMNS = ("n_reference_voxels", "n_reference_lesions", "reference_diagonal_mm")
"""Facts about a subject's reference that the policy needs; the same for every team."""

@dataclass(frozen=True)
class MetricRule:
    """The rule for one metric, in words: value of a missing case, of an undefined value."""

    metric: str
    missing: str
    undefined: str


FIXED_RULES = (
    MetricRule("dice", "0 (1 if the reference is empty too)",
               "two empty masks agree perfectly: 1"),
    MetricRule("h95", "the diagonal of the reference image's extent in mm (0 if the "
                      "reference is empty too)",
               "two empty masks: 0 mm; one mask empty or without in-plane edges: the "
                      "diagonal of the reference image's extent in mm"),
    MetricRule("avd", "100 % (0 % if the reference is empty too)",
               "empty reference: 0 % for an empty prediction, 100 % for a non-empty one"),
    MetricRule("recall", "0 (1 if the reference has no lesion)",
               "1 for two empty masks, else 0 (never undefined in practice)"),
    MetricRule("f1", "0 (1 if the reference has no lesion)",
               "1 for two empty masks, else 0 (never undefined in practice)"),
)
"""The field-independent values of the default policy, per metric."""


@dataclass(frozen=True)
class ScoringPolicy:
    """How missing cases and undefined values count, for every metric.

    ``missing``: :class:`MissingPolicy`; ``undefined``: :class:`UndefinedPolicy`;
    ``fallback_diagonal_mm``: the H95 stand-in when a reference's extent is unknown.
    """

    missing: MissingPolicy = MissingPolicy.EMPTY
    undefined: UndefinedPolicy = UndefinedPolicy.FIXED
    fallback_diagonal_mm: float = FALLBACK_DIAGONAL_MM

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing", MissingPolicy(self.missing))
        object.__setattr__(self, "undefined", UndefinedPolicy(self.undefined))

    @property
    def name(self) -> str:
        """Short label, e.g. ``missing=empty, undefined=fixed``."""
        return f"missing={self.missing.value}, undefined={self.undefined.value}"

    @property
    def field_dependent(self) -> bool:
        """True when another team's results can change a team's imputed values."""
        return (self.missing is MissingPolicy.WORST
                or self.undefined is UndefinedPolicy.WORST)

    def rules(self) -> tuple[MetricRule, ...]:
        """Per metric, what a missing case and an undefined value count as, in words."""
        texts = {
            "worst": "the worst value of the metric in the field (all teams and subjects)",
            "exclude": "left out of the team's mean",
        }
        rules = []
        for fixed in FIXED_RULES:
            missing = fixed.missing if self.missing is MissingPolicy.EMPTY \
                else texts[self.missing.value]
            undefined = fixed.undefined if self.undefined is UndefinedPolicy.FIXED \
                else texts[self.undefined.value]
            rules.append(MetricRule(fixed.metric, missing, undefined))
        return tuple(rules)


DEFAULT_POLICY = ScoringPolicy()
"""The default: missing cases scored as empty masks, undefined values fixed per case."""


def make_policy(missing: str | MissingPolicy | None = None,
                undefined: str | UndefinedPolicy | None = None,
                base: ScoringPolicy = DEFAULT_POLICY) -> ScoringPolicy:
    """A policy from option values (None keeps ``base``'s); raises ValueError naming the
    accepted values for an unknown one."""
    changes: dict[str, object] = {}
    for key, value, kind in (("missing", missing, MissingPolicy),
                             ("undefined", undefined, UndefinedPolicy)):
        if value is None:
            continue
        try:
            changes[key] = kind(value)
        except ValueError:
            accepted = ", ".join(k.value for k in kind)
            raise ValueError(f"{key} policy must be one of {accepted}, got {value!r}") from None
    return replace(base, **changes)


def describe_policy(policy: ScoringPolicy = DEFAULT_POLICY) -> str:
    """A short Markdown paragraph stating the policy, for reports to print verbatim."""
    lines = [f"**Missing and undefined values** (policy `{policy.name}`"
             f"{', the default' if policy == DEFAULT_POLICY else ''}). "
             "A *missing* case is a subject without a usable prediction (no file, a file "
             "that could not be scored, or no row for the team); an *undefined* value is a "
             "NaN metric of a scored case (e.g. H95 of an empty prediction).", ""]
    if policy.missing is MissingPolicy.EMPTY:
        lines.append("- Missing cases are scored as an empty mask: Dice 0, H95 = the diagonal "
                     "of the reference image's extent (mm), AVD 100 %, lesion recall 0, "
                     "lesion F1 0 (1, 0, 0, 1, 1 when the reference is empty too).")
    elif policy.missing is MissingPolicy.WORST:
        lines.append("- Missing cases count, per metric, as the worst value over all teams "
                     "and subjects of the field (field-dependent).")
    else:
        lines.append("- Missing cases are left out of the team's means.")
    if policy.undefined is UndefinedPolicy.FIXED:
        lines.append("- Undefined values get fixed values that depend only on the case: two "
                     "empty masks agree perfectly (Dice 1, H95 0 mm, AVD 0 %); H95 against "
                     "an empty mask (or one without in-plane edges) is the reference "
                     "extent's diagonal; AVD of a non-empty prediction on an empty reference "
                     "is 100 %.")
    elif policy.undefined is UndefinedPolicy.WORST:
        lines.append("- Undefined values count, per metric, as the worst value over all "
                     "teams and subjects of the field (field-dependent).")
    else:
        lines.append("- Undefined values are left out of the team's means.")
    if policy.field_dependent:
        lines.append("- With `worst`, adding or removing a team can change every imputed "
                     "value; a (subject, metric) with no value for any team is left out.")
    else:
        lines.append("- No team's results can change another team's imputed values.")
    lines.append("- Tables give the mean over scored values and, where it differs, the mean "
                 "used for ranking (with the imputed values), and count what was imputed.")
    return "\n".join(lines)


# ---------------------------------------------------------------- applying a policy


@dataclass(frozen=True)
class PolicyResult:
    """Values of a long per-case table under a policy, row by row.

    ``values`` (rows, metrics): the values used for means and rankings (NaN: left out);
    ``scored`` (rows, metrics): the values as scored (NaN for missing rows and undefined
    values); ``missing`` (rows,): rows without a usable prediction; ``undefined`` (rows,
    metrics): NaN metrics of scored rows; ``imputed`` (rows, metrics): cells given a value
    by the policy; ``notes``: what the policy had to assume.
    """

    metrics: tuple[str, ...]
    values: np.ndarray
    scored: np.ndarray
    missing: np.ndarray
    undefined: np.ndarray
    imputed: np.ndarray
    notes: tuple[str, ...] = ()


def _column(cases: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if name not in cases.columns:
        return np.full(len(cases), np.nan)
    return pd.to_numeric(cases[name], errors="coerce").to_numpy(dtype=float)


def reference_facts(cases: pd.DataFrame) -> pd.DataFrame:
    """Per row, the reference facts (:data:`REFERENCE_COLUMNS`), completed across rows of
    the same ``id`` (the reference is the same for every team)."""
    import pandas as pd

    facts = pd.DataFrame({c: _column(cases, c) for c in REFERENCE_COLUMNS},
                         index=cases.index)
    if "id" in cases.columns and len(cases):
        ids = cases["id"].astype(str)
        known = facts.groupby(ids.to_numpy()).transform("first")
        facts = facts.fillna(known)
    return facts


def _fixed_values(ref_empty: np.ndarray, pred_empty: np.ndarray, no_ref_lesions: np.ndarray,
                  diagonal: np.ndarray, metrics: Sequence[str]) -> np.ndarray:
    """(rows, metrics) values of the fixed rules for the given emptiness of T and P."""
    import numpy as np

    both = ref_empty & pred_empty
    columns = {
        "dice": np.where(both, 1.0, 0.0),
        "h95": np.where(both, 0.0, diagonal),
        "avd": np.where(pred_empty, np.where(ref_empty, 0.0, 100.0), 100.0),
        "recall": np.where(both | (pred_empty & no_ref_lesions), 1.0, 0.0),
        "f1": np.where(both | (pred_empty & no_ref_lesions), 1.0, 0.0),
    }
    return np.stack([columns[m] for m in metrics], axis=1)


def _worst(values: np.ndarray, usable: np.ndarray, metrics: Sequence[str]) -> np.ndarray:
    """Per metric, the worst defined value among ``usable`` rows (NaN if none)."""
    import numpy as np

    from wmheval.metrics import HIGHER_IS_BETTER

    higher = np.array([HIGHER_IS_BETTER[m] for m in metrics])
    worst = np.full(len(metrics), np.nan)
    for k in range(len(metrics)):
        column = values[usable, k]
        column = column[np.isfinite(column)]
        if column.size:
            worst[k] = column.min() if higher[k] else column.max()
    return worst


def apply_policy(cases: pd.DataFrame, policy: ScoringPolicy = DEFAULT_POLICY,
                 metrics: Sequence[str] | None = None, *,
                 one_submission: bool = False) -> PolicyResult:
    """The values of every row of ``cases`` under ``policy``.

    ``cases`` has a ``status`` column (``missing``/``error`` rows are missing cases), the
    metric columns and, when known, the :data:`REFERENCE_COLUMNS` and
    ``n_prediction_voxels``. The "field" for ``worst`` is every row of ``cases``. With
    ``worst`` or ``exclude``, a (subject, metric) with no scored value in any row is left
    out for everyone (it says nothing about the teams). ``metrics``: default the five.
    ``one_submission``: the rows are one submission (``wmheval score``): its field is
    itself, so ``worst`` fills a missing or undefined value with the submission's own
    worst scored value of the metric (per subject, every missing case of one submission
    would be "uninformative" and ``worst`` would silently act as ``exclude``).
    """
    import numpy as np

    from wmheval.metrics import METRICS

    metrics = tuple(metrics or METRICS)
    status = cases["status"].astype(str).to_numpy() if "status" in cases.columns \
        else np.full(len(cases), STATUS_OK)
    missing = np.isin(status, list(MISSING_STATUSES))
    scored = np.stack([_column(cases, m) for m in metrics], axis=1) if len(cases) \
        else np.zeros((0, len(metrics)))
    scored[missing] = np.nan
    nan = np.isnan(scored)
    undefined = nan & ~missing[:, None]
    facts = reference_facts(cases)
    notes: list[str] = []

    diagonal = facts["reference_diagonal_mm"].to_numpy(dtype=float)
    n_ref = facts["n_reference_voxels"].to_numpy(dtype=float)
    n_ref_lesions = facts["n_reference_lesions"].to_numpy(dtype=float)
    n_pred = _column(cases, "n_prediction_voxels")
    dice_at = metrics.index("dice") if "dice" in metrics else None
    dice_nan = nan[:, dice_at] & ~missing if dice_at is not None else np.zeros(len(cases), bool)
    # Emptiness of T and P: from the voxel counts when known, else from which metrics are
    # NaN (Dice is NaN exactly when both masks are empty).
    ref_empty_scored = np.where(np.isnan(n_ref), dice_nan, n_ref == 0)
    pred_empty_scored = np.where(np.isnan(n_pred), dice_nan, n_pred == 0)
    if "avd" in metrics and "dice" in metrics:  # AVD NaN with Dice defined: empty reference
        avd_nan = nan[:, metrics.index("avd")] & ~dice_nan & ~missing
        ref_empty_scored = np.where(np.isnan(n_ref), ref_empty_scored | avd_nan,
                                    ref_empty_scored)
    ref_empty_missing = np.where(np.isnan(n_ref), False, n_ref == 0)
    no_lesions_missing = np.where(np.isnan(n_ref_lesions), ref_empty_missing,
                                  n_ref_lesions == 0)
    needs_diagonal = np.zeros(len(cases), dtype=bool)

    values = scored.copy()
    imputed = np.zeros_like(nan)
    if policy.missing is MissingPolicy.EMPTY and missing.any():
        fill = _fixed_values(ref_empty_missing, np.ones(len(cases), bool), no_lesions_missing,
                             np.where(np.isnan(diagonal), policy.fallback_diagonal_mm,
                                      diagonal), metrics)
        values[missing] = fill[missing]
        imputed[missing] = True
        needs_diagonal |= missing & ~ref_empty_missing
    if policy.undefined is UndefinedPolicy.FIXED and undefined.any():
        fill = _fixed_values(ref_empty_scored, pred_empty_scored,
                             ref_empty_scored, np.where(np.isnan(diagonal),
                                                        policy.fallback_diagonal_mm, diagonal),
                             metrics)
        values = np.where(undefined, fill, values)
        imputed |= undefined
        if "h95" in metrics:
            h95_filled = undefined[:, metrics.index("h95")] & ~(ref_empty_scored &
                                                                 pred_empty_scored)
            needs_diagonal |= h95_filled
    if policy.field_dependent:
        worst = _worst(scored, ~missing, metrics)
        uninformative = (np.zeros_like(nan) if one_submission
                         else _uninformative(cases, nan))
        worst_cells = np.zeros_like(nan)
        if policy.missing is MissingPolicy.WORST:
            worst_cells |= missing[:, None] & ~uninformative
        if policy.undefined is UndefinedPolicy.WORST:
            worst_cells |= undefined & ~uninformative
        values = np.where(worst_cells, np.broadcast_to(worst, values.shape), values)
        imputed |= worst_cells & np.isfinite(values)
    if policy.missing is MissingPolicy.EXCLUDE or policy.undefined is UndefinedPolicy.EXCLUDE:
        if policy.missing is MissingPolicy.EXCLUDE:
            values[missing] = np.nan
        if policy.undefined is UndefinedPolicy.EXCLUDE:
            values[undefined] = np.nan
    unknown = needs_diagonal & np.isnan(diagonal)
    if unknown.any() and "h95" in metrics:
        notes.append(f"{int(unknown.sum())} H95 value(s) imputed without a known reference "
                     f"extent (no reference_diagonal_mm column): "
                     f"{policy.fallback_diagonal_mm:g} mm used")
    return PolicyResult(metrics, values, scored, missing, undefined, imputed, tuple(notes))


def _uninformative(cases: pd.DataFrame, nan: np.ndarray) -> np.ndarray:
    """(rows, metrics): the row's subject has no defined value of the metric in any row."""
    import numpy as np
    import pandas as pd

    if "id" not in cases.columns or not len(cases):
        return np.zeros_like(nan)
    ids = cases["id"].astype(str).to_numpy()
    defined = pd.DataFrame(~nan).groupby(ids).transform("any").to_numpy(dtype=bool)
    return ~defined


def diagonal_mm(size_xyz: Sequence[int], spacing_xyz: Sequence[float]) -> float:
    """Diagonal of an image's extent in mm: ``sqrt(sum((size * spacing) ** 2))``."""
    return float(math.sqrt(sum((float(n) * float(s)) ** 2
                               for n, s in zip(size_xyz, spacing_xyz, strict=True))))
