"""The missing/undefined policy options shared by ``score``, ``rank`` and ``sensitivity``.

The enums come from :mod:`wmheval.scoring.policy`, which imports only numpy and pandas, so
the CLI's start-up stays light.
"""

from wmheval.scoring.policy import DEFAULT_POLICY, MissingPolicy, UndefinedPolicy

MISSING_HELP = ("Missing or failed predictions count as: empty (an empty mask, the default), "
                "worst (the field's worst value), exclude (left out).")
UNDEFINED_HELP = ("Undefined values (H95 of an empty prediction, Dice of two empty masks) "
                  "count as: fixed (per-case values, the default: two empty masks agree "
                  "perfectly, H95 = reference extent diagonal), worst, exclude.")

__all__ = ["DEFAULT_POLICY", "MISSING_HELP", "UNDEFINED_HELP", "MissingPolicy",
           "UndefinedPolicy"]
