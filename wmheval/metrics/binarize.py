"""Turning a prediction image into a binary mask: the official rule and documented alternatives.

The official rule (the challenge's ``evaluation.py``) depends on the pixel type:

* integer types: foreground iff ``1 <= v <= U`` where ``U`` is 1000 converted to the pixel
  type the way ITK converts it: 232 for uint8 (so 233..255 are background and a 0/255 mask
  scores as empty), -24 for int8 (the official script raises an error), 1000 otherwise;
* float types: foreground iff ``0.5 <= v <= 1000`` (NaN and inf are background).

Alternatives, for users who do not want those quirks:

* ``"nonzero"``: every finite non-zero value is foreground;
* ``"threshold:T"``: every value ``>= T`` (finite) is foreground, e.g. ``threshold:0.5``
  for probability maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wmheval.errors import InputError

OFFICIAL = "official"
NONZERO = "nonzero"
RULES_HELP = "official (default), nonzero, or threshold:T (foreground iff value >= T)"


class BinarizationError(InputError):
    """The prediction cannot be binarised under the requested rule."""


@dataclass(frozen=True)
class BinarizeReport:
    """What binarisation did to values a user may not expect.

    ``n_unusual`` voxels hold values other than 0/1 (integers) or outside [0, 1] (floats,
    NaN and inf included); ``n_unusual_background`` of them were counted as background.
    """

    n_unusual: int
    n_unusual_background: int
    example_values: tuple[float, ...]

    def warning(self, rule: str) -> str | None:
        """A one-line warning, or None when every value was ordinary."""
        if self.n_unusual == 0:
            return None
        examples = ", ".join(f"{v:g}" for v in self.example_values)
        return (
            f"{self.n_unusual} voxels have values other than 0/1 (e.g. {examples}); "
            f"the {rule} rule counted {self.n_unusual_background} of them as background"
        )


def official_upper_threshold(dtype: np.dtype) -> float:
    """1000 converted to ``dtype`` as ITK converts it (wrap-around for 8-bit integers)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1000.0
    if dtype.kind == "b":
        return 1.0
    info = np.iinfo(dtype)
    if info.max >= 1000:
        return 1000.0
    return float(np.array(1000).astype(np.int64).astype(dtype))


def parse_rule(rule: str) -> tuple[str, float | None]:
    """Validate a rule string and return (name, threshold or None)."""
    if rule in (OFFICIAL, NONZERO):
        return rule, None
    if rule.startswith("threshold:"):
        try:
            value = float(rule.split(":", 1)[1])
        except ValueError:
            raise BinarizationError(f"bad rule {rule!r}: expected {RULES_HELP}") from None
        if not np.isfinite(value):
            raise BinarizationError(f"bad rule {rule!r}: the threshold must be finite")
        return "threshold", value
    raise BinarizationError(f"unknown binarisation rule {rule!r}: expected {RULES_HELP}")


def _foreground(values: np.ndarray, rule: str) -> np.ndarray:
    """Which of ``values`` (any shape; the dtype is the image's pixel type) are foreground."""
    name, threshold = parse_rule(rule)
    is_float = values.dtype.kind == "f"
    if name == OFFICIAL:
        if is_float:
            return (values >= 0.5) & (values <= 1000.0)
        upper = official_upper_threshold(values.dtype)
        if upper < 1:
            raise BinarizationError(
                f"{values.dtype} prediction: the official rule's upper threshold 1000 "
                f"becomes {upper:g} in this pixel type, below the lower threshold 1, and "
                "the official evaluation raises an error; save the mask as uint8 or use "
                "--binarize nonzero"
            )
        return (values >= 1) & (values <= upper)
    if name == NONZERO:
        return (values != 0) & np.isfinite(values) if is_float else values != 0
    return values >= threshold


def _report(values: np.ndarray, foreground: np.ndarray) -> BinarizeReport:
    """Count values other than 0/1 (integers) or outside [0, 1] (floats) and their fate."""
    if values.dtype.kind == "b":
        return BinarizeReport(0, 0, ())
    if values.dtype.kind == "f":
        unusual = ~((values >= 0) & (values <= 1))
    else:
        unusual = (values != 0) & (values != 1)
    n_unusual = int(np.count_nonzero(unusual))
    if n_unusual == 0:
        return BinarizeReport(0, 0, ())
    examples = tuple(float(v) for v in np.unique(values[unusual])[:3])
    return BinarizeReport(n_unusual, int(np.count_nonzero(~foreground[unusual])), examples)


def _check_type(values: np.ndarray) -> None:
    if values.dtype.kind not in "biuf":
        raise BinarizationError(f"pixel type {values.dtype} is not a real scalar type")


def binarize_prediction(
    prediction: np.ndarray, rule: str = OFFICIAL
) -> tuple[np.ndarray, BinarizeReport]:
    """Binarise a prediction array and report unusual values.

    The numpy dtype stands for the image's pixel type: the official rule reads the same
    values differently in uint8, int8 and wider types (see module docstring).
    Raises :class:`BinarizationError` for int8 under the official rule, as the official
    script does.
    """
    values = np.asarray(prediction)
    _check_type(values)
    foreground = _foreground(values, rule)
    return foreground, _report(values, foreground)


def foreground_indices(
    prediction: np.ndarray, rule: str = OFFICIAL
) -> tuple[np.ndarray, BinarizeReport]:
    """Sorted flat indices of the foreground voxels, as :func:`binarize_prediction` finds them.

    Faster on sparse predictions: when the rule counts 0 as background (always, except a
    threshold at or below 0), only the non-zero voxels are classified.
    """
    values = np.asarray(prediction)
    _check_type(values)
    flat_values = values.reshape(-1)
    if _foreground(np.zeros(1, dtype=values.dtype), rule)[0]:
        foreground = _foreground(values, rule)
        return np.flatnonzero(foreground), _report(values, foreground)
    nonzero = np.flatnonzero(flat_values != 0)
    selected = flat_values[nonzero]
    foreground = _foreground(selected, rule)
    return nonzero[foreground], _report(selected, foreground)
