"""The synthetic challenge: layout against the manifest, determinism, anatomy, scanners."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import synth_fixtures
from synth_fixtures import full_size_ids, read_array

from wmheval.io.manifest import SCANNER_ORDER, load_manifest
from wmheval.synth import (
    SCANNERS,
    SUBJECT_FILES,
    generate_challenge,
    read_synth_manifest,
    synthesize_subject,
)
from wmheval.synth.anatomy import WHITE
from wmheval.synth.fields import subject_rng
from wmheval.synth.lesions import sample_lesion_load

full_challenge = synth_fixtures.full_challenge
small_challenge = synth_fixtures.small_challenge


def _files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_small_selection_follows_manifest_order(small_challenge):
    root, table = small_challenge
    manifest = load_manifest()
    expected = []
    for (split, _), group in manifest.groupby(["split", "scanner"], sort=False):
        expected += group["id"].tolist()[: 4 if split == "training" else 3]
    assert sorted(table["id"]) == sorted(expected)
    assert len(table) == 27
    counts = table.groupby(["split", "scanner"]).size()
    assert set(counts.loc["training"].index) == {s for s in SCANNER_ORDER[:3]}
    assert (counts.loc["training"] == 4).all() and (counts.loc["test"] == 3).all()
    assert len(counts.loc["test"]) == 5


def test_layout_matches_release(small_challenge):
    root, table = small_challenge
    manifest = load_manifest()
    assert (root / "test" / "Amsterdam" / "Philips_VU .PETMR_01.").is_dir()
    for _, row in table.iterrows():
        folder = root / manifest.loc[row["id"], "release_path"]
        assert row["path"] == str(folder.resolve())
        assert _files_under(folder) == sorted(SUBJECT_FILES)
    # Nothing else besides the split folders and the synthetic manifest.
    assert sorted(p.name for p in root.iterdir()) == ["synth_manifest.csv", "test", "training"]
    written = read_synth_manifest(root)
    assert written["id"].tolist() == table["id"].tolist()


def test_full_size_grids_match_manifest(full_challenge):
    root, table = full_challenge
    manifest = load_manifest()
    assert set(table["scanner"]) == set(SCANNER_ORDER)
    for _, row in table.iterrows():
        expected = manifest.loc[row["id"]]
        folder = root / expected["release_path"]
        for relative in SUBJECT_FILES:
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(folder / relative))
            reader.ReadImageInformation()
            assert reader.GetSize() == (expected["shape_x"], expected["shape_y"],
                                        expected["shape_z"])
            assert np.allclose(reader.GetSpacing(), (expected["spacing_x"],
                                                     expected["spacing_y"],
                                                     expected["spacing_z"]))
            kind = sitk.GetPixelIDValueAsString(reader.GetPixelID())
            assert kind == ("8-bit unsigned integer" if relative.startswith("synth/")
                            else "32-bit float")


def test_small_grid_keeps_physical_size(small_challenge):
    _, table = small_challenge
    manifest = load_manifest()
    for _, row in table.iterrows():
        full = manifest.loc[row["id"]]
        size = np.array(row["shape"])
        extent = size * np.array(row["spacing"])
        full_size = full[["shape_x", "shape_y", "shape_z"]].to_numpy(float)
        full_extent = full_size * full[["spacing_x", "spacing_y", "spacing_z"]].to_numpy(float)
        assert np.allclose(extent, full_extent, rtol=1e-3)
        assert np.all(np.abs(size - full_size / [4, 4, 3]) <= 1)


def test_same_seed_same_arrays_and_subsets_reproduce(small_challenge, tmp_path):
    root, table = small_challenge
    row = table.set_index("id").loc["160"]
    again = generate_challenge(tmp_path, small=True, tiny=True, seed=0, ids=["160"],
                               phantom="geometric")
    assert again["n_lesions"].tolist() == [row["n_lesions"]]
    for relative in SUBJECT_FILES:
        first = read_array(root / row["release_path"] / relative)
        second = read_array(tmp_path / row["release_path"] / relative)
        assert first.dtype == second.dtype and first.tobytes() == second.tobytes()


def test_different_seed_different_subject():
    args = ("3", "utrecht_philips_3t", (60, 60, 16), (3.84, 3.84, 9.0))
    first = synthesize_subject(*args, seed=0, phantom="geometric")
    again = synthesize_subject(*args, seed=0, phantom="geometric")
    other = synthesize_subject(*args, seed=1, phantom="geometric")
    assert first.flair.tobytes() == again.flair.tobytes()
    assert first.labels.tobytes() == again.labels.tobytes()
    assert first.flair.tobytes() != other.flair.tobytes()
    assert first.tissue.tobytes() != other.tissue.tobytes()


@pytest.mark.parametrize("which", ["small", "full"])
def test_lesions_lie_in_white_matter(which, request):
    root, table = request.getfixturevalue(f"{which}_challenge")
    for _, row in table.iterrows():
        folder = root / row["release_path"]
        labels = read_array(folder / "wmh.nii.gz")
        tissue = read_array(folder / "synth" / "tissue.nii.gz")
        wm = read_array(folder / "synth" / "wm_mask.nii.gz")
        assert set(np.unique(labels)) <= {0.0, 1.0, 2.0}
        assert set(np.unique(tissue)) <= {0, 1, 2, 3, 4}
        assert np.array_equal(wm.astype(bool), tissue == WHITE)
        lesion = labels == 1
        assert lesion.any()
        assert np.all(wm[lesion] == 1)
        assert np.all(tissue[labels > 0] >= 2)  # label 2 too lies inside the brain
        # Table volume = voxel count x voxel volume.
        voxel_ml = np.prod(row["spacing"]) / 1000.0
        assert row["wmh_ml"] == pytest.approx(lesion.sum() * voxel_ml)


def test_tissue_classes_present_with_plausible_volumes(full_challenge):
    root, table = full_challenge
    for _, row in table.iterrows():
        tissue = read_array(root / row["release_path"] / "synth" / "tissue.nii.gz")
        ml = np.bincount(tissue.ravel(), minlength=5) * np.prod(row["spacing"]) / 1000.0
        assert 250 < ml[3] < 900 and 300 < ml[4] < 1000, ml  # grey, white matter
        assert ml[2] > 50 and ml[1] > 200


def test_other_pathology_in_some_subjects(small_challenge):
    root, table = small_challenge
    has_two = [bool((read_array(root / r / "wmh.nii.gz") == 2).any())
               for r in table["release_path"]]
    assert 0 < sum(has_two) < len(has_two)


def test_lesion_volume_spread():
    draws = sample_lesion_load(subject_rng(0, "spread"), 4000)
    assert np.quantile(draws, 0.1) < 1.0 and np.quantile(draws, 0.9) > 10.0
    assert draws.max() > 30.0 and draws.min() >= 0.2


def test_small_challenge_volume_range(small_challenge):
    _, table = small_challenge
    assert table["wmh_ml"].min() < 1.0 and table["wmh_ml"].max() > 10.0
    assert (table["n_lesions"] >= 1).all()


def _scanner_statistics(scanner: str) -> dict:
    """The same subject imaged on ``scanner`` (same grid), statistics of its FLAIR."""
    subject = synthesize_subject("2", scanner, (120, 120, 32), (1.92, 1.92, 4.5), seed=3,
                                 phantom="geometric")
    flair, labels, tissue = subject.flair, subject.labels, subject.tissue
    from scipy import ndimage

    core_wm = ndimage.binary_erosion(tissue == WHITE, iterations=1) & (labels == 0)
    lesion = ndimage.binary_erosion(labels == 1)
    assert lesion.sum() > 50
    wm = flair[core_wm]
    background = flair[:, :3, :3]
    return {"wm_median": float(np.median(wm)),
            "contrast": float(np.median(flair[lesion]) / np.median(wm)),
            "noise": float(np.sqrt(np.mean(background ** 2) / 2.0) / np.median(wm)),
            "wm_spread": float(np.subtract(*np.percentile(wm, [90, 10])) / np.median(wm))}


def test_scanner_profiles_really_differ():
    stats = pd.DataFrame({s: _scanner_statistics(s) for s in SCANNER_ORDER}).T
    # Intensity scale: white matter level follows each profile's scale (within 15%).
    scales = pd.Series({s: SCANNERS[s].flair_scale for s in SCANNER_ORDER})
    assert np.allclose(stats["wm_median"] / scales, 1.0, rtol=0.15)
    # Background noise (Rayleigh: sqrt(E[m^2]/2) = sigma) follows the profile's noise.
    noise = pd.Series({s: SCANNERS[s].noise for s in SCANNER_ORDER})
    assert np.allclose(stats["noise"] / noise, 1.0, rtol=0.3)
    # Lesions are brighter than white matter everywhere; least so at 1.5 T.
    assert (stats["contrast"] > 1.15).all()
    assert stats["contrast"].idxmin() == "amsterdam_ge_1p5t"
    # The PET-MR Philips has the strongest bias field: the widest white-matter spread.
    assert stats["wm_spread"].idxmax() in ("amsterdam_philips_3t", "amsterdam_ge_1p5t")
    assert stats["wm_spread"]["amsterdam_philips_3t"] > stats["wm_spread"][
        "singapore_siemens_3t"]


def test_unknown_ids_and_scanners_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="not in the manifest"):
        generate_challenge(tmp_path, ids=["no-such-id"])
    with pytest.raises(ValueError, match="no synthetic profile"):
        synthesize_subject("1", "mystery_scanner", (8, 8, 4), (4.0, 4.0, 9.0))


def test_full_size_ids_cover_scanners():
    manifest = load_manifest()
    assert {manifest.loc[i, "scanner"] for i in full_size_ids()} == set(SCANNER_ORDER)


def test_all_subjects_keeps_the_small_grid_but_writes_every_subject(tmp_path):
    """``all_subjects``: the release's split sizes on the small grid (the baselines' results
    table); without it ``small`` keeps its 4 training + 3 test per scanner."""
    from typer.testing import CliRunner

    from wmheval.cli.main import app

    manifest = load_manifest()
    utrecht = manifest[manifest["scanner"] == "utrecht_philips_3t"]
    table = pd.concat([utrecht[utrecht["split"] == "training"].head(5),
                       utrecht[utrecht["split"] == "test"].head(4)])
    kwargs = dict(small=True, tiny=True, seed=0, manifest=table, phantom="geometric", jobs=1)
    selected = generate_challenge(tmp_path / "small", **kwargs)
    every = generate_challenge(tmp_path / "all", all_subjects=True, **kwargs)
    assert len(selected) == 4 + 3
    assert every["id"].tolist() == table["id"].astype(str).tolist()
    shared = selected.set_index("id")
    for _, row in every.iterrows():  # same grid, same images as in the small selection
        if row["id"] in shared.index:
            assert row["spacing"] == shared.loc[row["id"], "spacing"]
            assert np.array_equal(read_array(Path(row["path"]) / "wmh.nii.gz"),
                                  read_array(Path(shared.loc[row["id"], "path"]) / "wmh.nii.gz"))
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "cli"), "--all-subjects"])
    assert result.exit_code == 2 and "--all-subjects only changes --small" in result.output
    assert not (tmp_path / "cli").exists()


def test_all_training_adds_every_training_subject_to_the_small_test_selection(tmp_path):
    """``all_training`` (the demo's data when its learned baseline runs): every training
    subject, the small selection's test subjects, the same images as the small selection."""
    from typer.testing import CliRunner

    from wmheval.cli.main import app

    manifest = load_manifest()
    utrecht = manifest[manifest["scanner"] == "utrecht_philips_3t"]
    training = utrecht[utrecht["split"] == "training"].head(6)
    test = utrecht[utrecht["split"] == "test"].head(5)
    table = pd.concat([training, test])
    kwargs = dict(small=True, tiny=True, seed=0, manifest=table, phantom="geometric", jobs=1)
    selected = generate_challenge(tmp_path / "small", **kwargs)
    widened = generate_challenge(tmp_path / "wide", all_training=True, **kwargs)
    expected = (training["id"].astype(str).tolist()
                + test["id"].astype(str).head(3).tolist())
    assert widened["id"].tolist() == expected
    assert set(selected["id"]) < set(widened["id"])
    written = pd.read_csv(tmp_path / "wide" / "synth_manifest.csv")
    assert written["id"].astype(str).tolist() == expected
    shared = selected.set_index("id")
    for _, row in widened.iterrows():
        if row["id"] in shared.index:
            assert np.array_equal(read_array(Path(row["path"]) / "pre" / "FLAIR.nii.gz"),
                                  read_array(Path(shared.loc[row["id"], "path"]) / "pre"
                                             / "FLAIR.nii.gz"))
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "cli"), "--all-training"])
    assert result.exit_code == 2 and "--all-training only changes --small" in result.output
    assert not (tmp_path / "cli").exists()
