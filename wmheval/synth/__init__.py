"""A synthetic multi-scanner WMH challenge: anatomical (MNI ICBM152 template) or geometric
phantom subjects, and simulated team submissions.

``generate_challenge`` writes the release, ``generate_submissions`` the teams' prediction
folders; see ``docs/synthetic.md``.
"""

from wmheval.synth.challenge import (
    PHANTOMS,
    SUBJECT_FILES,
    SYNTH_MANIFEST,
    SyntheticSubject,
    anatomical_parts,
    generate_challenge,
    grid_for,
    read_synth_manifest,
    select_subjects,
    synthesize_subject,
)
from wmheval.synth.scanners import SCANNERS, ScannerProfile, get_profile

__all__ = [
    "PHANTOMS",
    "SCANNERS",
    "SUBJECT_FILES",
    "SYNTH_MANIFEST",
    "ScannerProfile",
    "SyntheticSubject",
    "anatomical_parts",
    "generate_challenge",
    "get_profile",
    "grid_for",
    "read_synth_manifest",
    "select_subjects",
    "synthesize_subject",
]
