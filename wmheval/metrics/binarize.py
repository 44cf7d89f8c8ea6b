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
    """The prediction cannot be binarised under the requested rule (exit 2)."""


@dataclass(frozen=True)
class BinarizeReport:
    """What binarisation did to values a user may not expect.

    Attributes
    ----------
    n_unusual : int
        Voxels holding values other than 0/1 (integers) or outside [0, 1] (floats, NaN
        and inf included).
    n_unusual_background : int
        How many of them the rule counted as background.
    example_values : tuple of float
        Up to three of the unusual values, smallest first.

    Examples
    --------
    >>> report = BinarizeReport(n_unusual=2, n_unusual_background=1,
    ...                         example_values=(2.0, 255.0))
    >>> print(report.warning("official"))
    2 voxels have values other than 0/1 (e.g. 2, 255); the official rule counted 1 of them
    as background
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
    """The official rule's upper threshold, 1000, as the pixel type ``dtype`` holds it.

    Parameters
    ----------
    dtype : numpy dtype
        The prediction image's pixel type.

    Returns
    -------
    float
        1000 converted as ITK converts it: wrapped around for 8-bit integers (232 for
        uint8, -24 for int8), 1000 for wider integers and floats, 1 for bool.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    >>> import numpy as np
    >>> [official_upper_threshold(t) for t in (np.uint8, np.int8, np.int16, np.float32)]
    [232.0, -24.0, 1000.0, 1000.0]
    """
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
    """Validate a binarisation rule string.

    Parameters
    ----------
    rule : str
        ``"official"``, ``"nonzero"`` or ``"threshold:T"`` with a finite number T.

    Returns
    -------
    name : str
        ``"official"``, ``"nonzero"`` or ``"threshold"``.
    threshold : float or None
        T for a threshold rule, else None.

    Raises
    ------
    BinarizationError
        For an unknown rule or a threshold that is not a finite number.

    Examples
    --------
    >>> parse_rule("threshold:0.5")
    ('threshold', 0.5)
    >>> parse_rule("official")
    ('official', None)
    """
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
    prediction: np.ndarray, *, rule: str = OFFICIAL
) -> tuple[np.ndarray, BinarizeReport]:
    """Binarise a prediction array and report unusual values.

    Parameters
    ----------
    prediction : array_like
        The prediction's voxel values, any shape (the rule is voxel by voxel). The dtype
        stands for the image's pixel type: the official rule reads the same values
        differently in uint8, int8 and wider types (see the module docstring).
    rule : str, optional
        ``"official"`` (default), ``"nonzero"`` or ``"threshold:T"``.

    Returns
    -------
    mask : ndarray of bool
        The foreground, of the shape of ``prediction``.
    report : BinarizeReport
        How many voxels held values other than 0/1 and how many of them became background.

    Raises
    ------
    BinarizationError
        For int8 under the official rule (the official script raises an error: its upper
        threshold becomes -24), for an unknown rule, and for a non-real pixel type.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    The official rule on uint8 counts 1..232 as foreground, so a 0/255 mask is empty:

    >>> import numpy as np
    >>> values = np.array([0, 1, 2, 232, 233, 255], dtype=np.uint8)
    >>> mask, report = binarize_prediction(values)
    >>> mask.tolist()
    [False, True, True, True, False, False]
    >>> report.n_unusual, report.n_unusual_background
    (4, 2)
    >>> binarize_prediction(values, rule="nonzero")[0].tolist()
    [False, True, True, True, True, True]
    >>> probabilities = np.array([0.1, 0.5, 0.9], dtype=np.float32)
    >>> binarize_prediction(probabilities, rule="threshold:0.5")[0].tolist()
    [False, True, True]
    """
    values = np.asarray(prediction)
    _check_type(values)
    foreground = _foreground(values, rule)
    return foreground, _report(values, foreground)


def foreground_indices(
    prediction: np.ndarray, *, rule: str = OFFICIAL
) -> tuple[np.ndarray, BinarizeReport]:
    """Sorted flat indices of the foreground voxels, as :func:`binarize_prediction` finds them.

    Faster on sparse predictions: when the rule counts 0 as background (always, except a
    threshold at or below 0), only the non-zero voxels are classified.

    Parameters
    ----------
    prediction : array_like
        The prediction's voxel values, any shape; the dtype is the pixel type.
    rule : str, optional
        ``"official"`` (default), ``"nonzero"`` or ``"threshold:T"``.

    Returns
    -------
    indices : ndarray of int
        Flat (C-order) indices of the foreground, sorted (``np.flatnonzero`` of the mask
        :func:`binarize_prediction` returns).
    report : BinarizeReport
        As :func:`binarize_prediction` reports it.

    Raises
    ------
    BinarizationError
        As :func:`binarize_prediction`.

    References
    ----------
    .. [1] H. J. Kuijf et al., "Standardized Assessment of Automatic Segmentation of White
       Matter Hyperintensities and Results of the WMH Segmentation Challenge", IEEE
       Transactions on Medical Imaging 38(11):2556-2568, 2019.
    .. [2] The organisers' evaluation script ``evaluation.py``,
       https://github.com/hjkuijf/wmhchallenge

    Examples
    --------
    >>> import numpy as np
    >>> indices, report = foreground_indices(np.array([[0.0, 0.7], [1.0, 0.2]]))
    >>> indices.tolist()
    [1, 2]
    >>> report.n_unusual
    0
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
