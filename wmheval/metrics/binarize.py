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

OFFICIAL = "official"
NONZERO = "nonzero"
RULES_HELP = "official (default), nonzero, or threshold:T (foreground iff value >= T)"


class BinarizationError(ValueError):
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
    if values.dtype.kind not in "biuf":
        raise BinarizationError(f"pixel type {values.dtype} is not a real scalar type")
    name, threshold = parse_rule(rule)
    is_float = values.dtype.kind == "f"
    if name == OFFICIAL:
        if is_float:
            mask = (values >= 0.5) & (values <= 1000.0)
        else:
            upper = official_upper_threshold(values.dtype)
            if upper < 1:
                raise BinarizationError(
                    f"{values.dtype} prediction: the official rule's upper threshold 1000 "
                    f"becomes {upper:g} in this pixel type, below the lower threshold 1, and "
                    "the official evaluation raises an error; save the mask as uint8 or use "
                    "--binarize nonzero"
                )
            mask = (values >= 1) & (values <= upper)
    elif name == NONZERO:
        mask = (values != 0) & np.isfinite(values) if is_float else values != 0
    else:
        mask = values >= threshold
    if values.dtype.kind == "b":
        return mask, BinarizeReport(0, 0, ())
    unusual = ~((values >= 0) & (values <= 1)) if is_float else (values != 0) & (values != 1)
    n_unusual = int(np.count_nonzero(unusual))
    if n_unusual == 0:
        return mask, BinarizeReport(0, 0, ())
    unusual_values = values[unusual]
    examples = tuple(float(v) for v in np.unique(unusual_values)[:3])
    n_background = int(np.count_nonzero(~mask[unusual]))
    return mask, BinarizeReport(n_unusual, n_background, examples)
