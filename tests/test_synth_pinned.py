"""The synthetic challenge's volumes are pinned: speed work must not change a voxel.

The digests below were recorded with the generator as it was before the speed work of
issue 29 (commit 19a437a), on the development machine (x86-64, numpy 2 / scipy as
installed). They cover every file of two subjects on the tiny grid: 150 (Amsterdam GE
1.5T, with other pathology, so the label-2 paths run) and 160 (Amsterdam Philips 3T,
without). A failure means the generated data changed: either the change is intended
(document it in docs/synthetic.md and re-record the digests) or an optimisation is not
exact. A different platform may round differently: check the old commit there first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import SimpleITK as sitk

from wmheval.synth import SUBJECT_FILES, generate_challenge
from wmheval.synth.brain import has_other_pathology

PINNED = {
    "150": "ba3d1ac2a43f9c470b1d9ffcda38de783ea2c37fe3d735eb8b7d9a6f1d459ccf",
    "160": "58f330aa03109f2509a996de63ab2114302696b9e68ccd18728f0c6925b643df",
}


def subject_digest(folder: Path) -> str:
    """sha256 over every file's decoded voxels, dtype and geometry (not the gzip bytes)."""
    digest = hashlib.sha256()
    for relative in SUBJECT_FILES:
        image = sitk.ReadImage(str(folder / relative))
        array = sitk.GetArrayFromImage(image)
        digest.update(array.tobytes() + str(array.dtype).encode() + repr(
            (image.GetSpacing(), image.GetOrigin(), image.GetDirection())).encode())
    return digest.hexdigest()


def test_generated_volumes_are_the_pinned_ones(tmp_path):
    assert has_other_pathology(0, "150") and not has_other_pathology(0, "160")
    table = generate_challenge(tmp_path, small=True, tiny=True, seed=0, ids=list(PINNED),
                               jobs=1)
    got = {str(row["id"]): subject_digest(Path(row["path"])) for _, row in table.iterrows()}
    assert got == PINNED
