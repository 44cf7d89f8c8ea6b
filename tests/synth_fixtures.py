"""Shared synthetic data for the synth tests: generated once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from wmheval.io.manifest import SCANNER_ORDER, load_manifest

_CACHE: dict[str, object] = {}


def full_size_ids() -> list[str]:
    """One subject per scanner (the Singapore one on the transposed 256x232 grid if any)."""
    manifest = load_manifest()
    chosen = []
    for scanner in SCANNER_ORDER:
        rows = manifest[manifest["scanner"] == scanner]
        odd = rows[(rows["shape_x"] != rows["shape_x"].mode()[0])]
        chosen.append(str((odd if len(odd) else rows).iloc[0]["id"]))
    return chosen


def read_array(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


@pytest.fixture(scope="session")
def small_challenge(tmp_path_factory):
    """(root, table) of the small selection of the geometric phantom on tiny grids, seed 0
    (fast; the anatomical challenge has its own fixtures)."""
    if "small" not in _CACHE:
        from wmheval.synth import generate_challenge

        root = tmp_path_factory.mktemp("synth_small")
        _CACHE["small"] = (root, generate_challenge(root, small=True, tiny=True, seed=0, jobs=1,
                                                    phantom="geometric"))
    return _CACHE["small"]


@pytest.fixture(scope="session")
def full_challenge(tmp_path_factory):
    """(root, table) of one full-size geometric-phantom subject per scanner, seed 0."""
    if "full" not in _CACHE:
        from wmheval.synth import generate_challenge

        root = tmp_path_factory.mktemp("synth_full")
        _CACHE["full"] = (root, generate_challenge(root, ids=full_size_ids(), seed=0, jobs=1,
                                                   phantom="geometric"))
    return _CACHE["full"]


@pytest.fixture(scope="session")
def small_submissions(small_challenge, tmp_path_factory):
    """(root, table) of the default teams' submissions on the small challenge's test split."""
    if "subs" not in _CACHE:
        from wmheval.synth.submissions import generate_submissions

        root = tmp_path_factory.mktemp("synth_subs")
        _CACHE["subs"] = (root, generate_submissions(small_challenge[0], root, seed=0,
                                                     jobs=1))
    return _CACHE["subs"]
