"""Shared fixtures: small images written to disk in the release and submission layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk


def make_image(array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
               direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)) -> sitk.Image:
    """A SimpleITK image from a (z, y, x) array with the given geometry."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(o) for o in origin])
    image.SetDirection([float(d) for d in direction])
    return image


def write_image(path: Path, array: np.ndarray, **geometry) -> Path:
    """Write ``array`` as a NIfTI file (parents created), keeping its dtype."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(make_image(array, **geometry), str(path), useCompression=path.suffix == ".gz")
    return path


def blob_labels(shape=(4, 16, 16), seed: int = 0, n_blobs: int = 4,
                with_ignored: bool = True) -> np.ndarray:
    """A float32 reference: a few box lesions (label 1) and, optionally, one label-2 box."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.float32)
    for _ in range(n_blobs):
        z = rng.integers(0, shape[0])
        y, x = rng.integers(0, shape[1] - 3), rng.integers(0, shape[2] - 3)
        labels[z:z + 2, y:y + rng.integers(1, 4), x:x + rng.integers(1, 4)] = 1
    if with_ignored:
        labels[0, :2, -2:] = 2
    return labels


@pytest.fixture
def release_tree(tmp_path: Path) -> Path:
    """A miniature data release: 0 (training/Utrecht), 1 and 3 (test/Utrecht), 150
    (test/Amsterdam/GE1T5, unseen) and 160 (the Philips folder with a space and a dot).

    Its 16x16x4 grids are not the release's, so the bundled manifest would not apply to
    them: the tree carries its own ``data_manifest.csv`` (the bundled rows of its ids)."""
    root = tmp_path / "release"
    folders = {"0": "training/Utrecht/0", "1": "test/Utrecht/1", "3": "test/Utrecht/3",
               "150": "test/Amsterdam/GE1T5/150",
               "160": "test/Amsterdam/Philips_VU .PETMR_01./160"}
    for seed, folder in enumerate(folders.values()):
        write_image(root / folder / "wmh.nii.gz", blob_labels(seed=seed),
                    spacing=(0.96, 0.96, 3.0))
    from wmheval.io.manifest import load_manifest

    load_manifest().loc[list(folders)].to_csv(root / "data_manifest.csv", index=False)
    return root
