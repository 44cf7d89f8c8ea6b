"""A synthetic multi-scanner WMH challenge: phantom subjects and simulated team submissions.

``generate_challenge`` writes the phantom release, ``generate_submissions`` the teams'
prediction folders; see ``docs/synthetic.md``.
"""

from wmheval.synth.challenge import (
    SUBJECT_FILES,
    SYNTH_MANIFEST,
    SyntheticSubject,
    generate_challenge,
    grid_for,
    read_synth_manifest,
    select_subjects,
    synthesize_subject,
)
from wmheval.synth.scanners import SCANNERS, ScannerProfile, get_profile

__all__ = [
    "SCANNERS",
    "SUBJECT_FILES",
    "SYNTH_MANIFEST",
    "ScannerProfile",
    "SyntheticSubject",
    "generate_challenge",
    "get_profile",
    "grid_for",
    "read_synth_manifest",
    "select_subjects",
    "synthesize_subject",
]
