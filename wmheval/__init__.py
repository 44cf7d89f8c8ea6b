"""wmheval: evaluate and rank WMH segmentations as the MICCAI 2017 WMH Challenge does.

The metrics core (:mod:`wmheval.metrics`) works on numpy arrays; :mod:`wmheval.scoring`
scores folders of files. Heavy dependencies (matplotlib, torch) are imported only by the
modules that need them, so importing :mod:`wmheval` stays fast.
"""

__version__ = "0.1.0"
