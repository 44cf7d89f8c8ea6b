"""The anatomical synthetic challenge: determinism, scanner geometry, label rules, volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from synth_fixtures import read_array

from wmheval.io.manifest import SCANNER_ORDER, load_manifest
from wmheval.synth import SUBJECT_FILES, generate_challenge, grid_for, synthesize_subject
from wmheval.synth.acquisition import PROFILES, label_from_fractions
from wmheval.synth.brain import (
    LESION_LOAD,
    OTHER_PATHOLOGY_PROBABILITY,
    WHITE,
    has_other_pathology,
    sample_load,
)
from wmheval.synth.challenge import anatomical_parts
from wmheval.synth.fields import subject_rng

REAL_VOLUMES = Path(__file__).resolve().parents[1] / "leaderboard" / \
    "nnunet_resencm_per_case_test110.csv"
GRID = ((64, 64, 24), (3.0, 3.0, 6.0))  # a coarse grid: fast, still anatomy
_CACHE: dict[str, object] = {}


def _one_per_scanner() -> list[str]:
    manifest = load_manifest()
    return [str(manifest[(manifest["scanner"] == s) & (manifest["split"] == "test")].iloc[0]
                ["id"]) for s in SCANNER_ORDER]


@pytest.fixture(scope="module")
def anatomical(tmp_path_factory):
    """(root, table): one test subject per scanner of the small anatomical challenge."""
    if "small" not in _CACHE:
        root = tmp_path_factory.mktemp("anatomical")
        _CACHE["small"] = (root, generate_challenge(root, small=True, seed=0,
                                                    ids=_one_per_scanner(), jobs=1))
    return _CACHE["small"]


@pytest.fixture(scope="module")
def per_scanner():
    """The same subject (id 7, seed 0) drawn on every scanner, on one coarse grid."""
    if "per_scanner" not in _CACHE:
        size, spacing = GRID
        _CACHE["per_scanner"] = {s: anatomical_parts("7", s, size, spacing, seed=0)
                                 for s in SCANNER_ORDER}
    return _CACHE["per_scanner"]


def test_small_grid_is_at_most_2_by_2_by_3_mm_and_keeps_the_field_of_view():
    manifest = load_manifest()
    for _, row in manifest.iterrows():
        size, spacing = grid_for(row, small=True)
        full = row[["shape_x", "shape_y", "shape_z"]].to_numpy(float)
        full_spacing = row[["spacing_x", "spacing_y", "spacing_z"]].to_numpy(float)
        assert spacing[0] <= 2.0 + 1e-9 and spacing[1] <= 2.0 + 1e-9
        assert spacing[2] == pytest.approx(full_spacing[2]) and size[2] == full[2]
        assert np.allclose(np.array(size) * spacing, full * full_spacing, rtol=1e-3)


def test_written_layout_geometry_and_types(anatomical):
    root, table = anatomical
    manifest = load_manifest()
    directions = set()
    for _, row in table.iterrows():
        folder = root / row["release_path"]
        size, spacing = grid_for(manifest.loc[row["id"]], small=True)
        for relative in SUBJECT_FILES:
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(folder / relative))
            reader.ReadImageInformation()
            assert reader.GetSize() == size
            assert np.allclose(reader.GetSpacing(), spacing)
            assert np.allclose(reader.GetDirection(), PROFILES[row["scanner"]].direction,
                               atol=1e-6)
            kind = sitk.GetPixelIDValueAsString(reader.GetPixelID())
            expected = ("8-bit unsigned integer" if relative.startswith("synth/") else
                        "16-bit unsigned integer" if relative.startswith("orig/") else
                        "32-bit float")
            assert kind == expected, relative
        directions.add(tuple(np.round(reader.GetDirection(), 4)))
    # Real orientations differ between scanners (flips and oblique tilts), none is identity.
    assert len(directions) == len(SCANNER_ORDER)


def test_same_seed_same_bytes_other_seed_other_subject(per_scanner):
    size, spacing = GRID
    first = per_scanner["singapore_siemens_3t"].subject  # id 7, seed 0
    again = synthesize_subject("7", "singapore_siemens_3t", size, spacing, seed=0)
    other = synthesize_subject("7", "singapore_siemens_3t", size, spacing, seed=1)
    for name in ("labels", "flair", "t1", "tissue", "flair_orig", "t1_orig"):
        assert getattr(first, name).tobytes() == getattr(again, name).tobytes(), name
    assert first.flair.tobytes() != other.flair.tobytes()
    assert first.labels.tobytes() != other.labels.tobytes()


def test_subset_reproduces_the_same_subject(anatomical, tmp_path):
    root, table = anatomical
    row = table.iloc[-1]
    generate_challenge(tmp_path, small=True, seed=0, ids=[row["id"]])
    for relative in SUBJECT_FILES:
        first = read_array(root / row["release_path"] / relative)
        second = read_array(tmp_path / row["release_path"] / relative)
        assert first.tobytes() == second.tobytes(), relative


def _physical_image(subject, array):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(subject.geometry.spacing)
    image.SetOrigin(subject.geometry.origin)
    image.SetDirection(subject.geometry.direction)
    return image


def _dice(a, b):
    return 2.0 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


def test_each_scanner_resamples_the_same_anatomy_into_its_own_orientation(per_scanner):
    """Same subject on every scanner: the white matter agrees in physical space (resampled
    through the headers) and not in array space, so the arrays were really resampled."""
    subjects = {s: parts.subject for s, parts in per_scanner.items()}
    reference = subjects[SCANNER_ORDER[0]]
    reference_wm = reference.tissue == WHITE
    target = _physical_image(reference, reference_wm.astype(np.uint8))
    for scanner, subject in subjects.items():
        wm = (subject.tissue == WHITE).astype(np.uint8)
        moved = sitk.Resample(_physical_image(subject, wm), target, sitk.Transform(),
                              sitk.sitkNearestNeighbor, 0)
        physical = _dice(sitk.GetArrayFromImage(moved).astype(bool), reference_wm)
        raw = _dice(wm.astype(bool), reference_wm)
        assert physical > 0.8, scanner
        if scanner != SCANNER_ORDER[0]:
            assert raw < physical - 0.15, scanner


def test_grid_geometry_matches_the_template_mapping(per_scanner):
    """The Jacobian used for the sub-samples is the step between neighbouring voxel centres
    (up to the smooth deformation), for every scanner orientation."""
    for scanner, parts in per_scanner.items():
        coords = parts.coords.astype(np.float64)
        steps = [np.diff(coords, axis=axis) for axis in (3, 2, 1)]  # x, y, z
        for column, step in enumerate(steps):
            median = np.median(step.reshape(3, -1), axis=1)
            assert np.allclose(median, parts.matrix[:, column], atol=0.15), scanner


def _literal_trilinear(volume, point):
    """Trilinear interpolation at one (z, y, x) point, zero outside (slow oracle)."""
    base = np.floor(point).astype(int)
    total = 0.0
    for corner in np.ndindex(2, 2, 2):
        index = base + np.array(corner)
        if np.any(index < 0) or np.any(index >= volume.shape):
            continue
        weight = np.prod(1.0 - np.abs(point - index))
        total += weight * float(volume[tuple(index)])
    return total


def test_partial_volume_labelling_against_a_literal_oracle():
    """A voxel is WMH when the mean 1 mm lesion fraction over its footprint exceeds 0.5."""
    size, spacing = (80, 80, 24), (2.0, 2.0, 3.0)
    parts = anatomical_parts("3", "utrecht_philips_3t", size, spacing, seed=2)
    labels = parts.subject.labels
    assert (labels == 1).sum() > 20
    rng = np.random.default_rng(0)
    lesion_voxels = np.argwhere(labels == 1)
    border = np.argwhere((labels == 0) & (parts.lesion_fraction > 0.05))
    picks = np.concatenate([lesion_voxels[rng.choice(len(lesion_voxels), 40)],
                            border[rng.choice(len(border), min(40, len(border)))]])
    counts = [int(np.ceil(s - 0.05)) for s in spacing]
    for z, y, x in picks:
        centre = parts.coords[:, z, y, x].astype(np.float64)
        samples = []
        for w in range(counts[2]):
            for v in range(counts[1]):
                for u in range(counts[0]):
                    step = np.array([(u + 0.5) / counts[0] - 0.5, (v + 0.5) / counts[1] - 0.5,
                                     (w + 0.5) / counts[2] - 0.5])
                    samples.append(_literal_trilinear(parts.maps.lesion,
                                                      centre + parts.matrix @ step))
        fraction = float(np.mean(samples))
        assert fraction == pytest.approx(parts.lesion_fraction[z, y, x], abs=1e-4)
        if abs(fraction - 0.5) > 1e-3:
            assert (labels[z, y, x] == 1) == (fraction > 0.5)


def _literal_labels(lesion, other, tissue):
    wmh = lesion > 0.5
    seed = other > 0.5
    region = np.zeros_like(seed)
    for z, y, x in np.argwhere(seed):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                yy, xx = y + dy, x + dx
                if 0 <= yy < seed.shape[1] and 0 <= xx < seed.shape[2]:
                    region[z, yy, xx] = True
    labels = np.zeros(lesion.shape, dtype=np.uint8)
    labels[region & (tissue >= 2)] = 2
    labels[wmh] = 1
    return labels


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (3, 6, 7), elements=st.sampled_from([0.0, 0.3, 0.5, 0.51, 0.9])),
       arrays(np.float32, (3, 6, 7), elements=st.sampled_from([0.0, 0.2, 0.5, 0.6, 1.0])),
       arrays(np.uint8, (3, 6, 7), elements=st.integers(0, 4)))
def test_label_rules_match_the_literal_rule(lesion, other, tissue):
    """> 0.5 inside; label 2 dilated 3 x 3 in-plane (not across slices) within the brain;
    label 1 wins where both apply."""
    assert np.array_equal(label_from_fractions(lesion, other, tissue),
                          _literal_labels(lesion, other, tissue))


def test_label_two_dilation_on_a_generated_subject():
    size, spacing = (80, 80, 24), (2.0, 2.0, 3.0)
    subject_id = next(i for i in map(str, range(200)) if has_other_pathology(0, i))
    parts = anatomical_parts(subject_id, "singapore_siemens_3t", size, spacing, seed=0)
    labels = parts.subject.labels
    expected = _literal_labels(parts.lesion_fraction, parts.other_fraction,
                               parts.subject.tissue)
    assert (labels == 2).any()
    assert np.array_equal(labels, expected)
    # The dilation really adds in-plane rims and never a slice above or below.
    core = parts.other_fraction > 0.5
    assert np.count_nonzero(labels == 2) > np.count_nonzero(core & (labels != 1))
    slices = np.flatnonzero((labels == 2).any(axis=(1, 2)))
    assert set(slices) <= set(np.flatnonzero(core.any(axis=(1, 2))))


def test_other_pathology_in_about_40_percent_of_subjects():
    manifest = load_manifest()
    share = np.mean([has_other_pathology(0, i) for i in manifest["id"]])
    n = len(manifest)
    spread = 3 * np.sqrt(OTHER_PATHOLOGY_PROBABILITY * (1 - OTHER_PATHOLOGY_PROBABILITY) / n)
    assert abs(share - OTHER_PATHOLOGY_PROBABILITY) < spread
    assert abs(OTHER_PATHOLOGY_PROBABILITY - 0.4) < 1e-9  # the "about 40 %"


@pytest.mark.skipif(not REAL_VOLUMES.is_file(), reason="reference volumes not shipped")
def test_lesion_load_fits_the_real_volumes_per_scanner():
    from scipy import stats

    real = pd.read_csv(REAL_VOLUMES)
    for scanner, group in real.groupby("scanner"):
        logs = np.log(group["true_ml"].to_numpy())
        centre, spread = LESION_LOAD[scanner]
        assert np.log(centre) == pytest.approx(logs.mean(), abs=0.01)
        assert spread == pytest.approx(logs.std(ddof=1), abs=0.01)
        draws = sample_load(scanner, subject_rng(0, "load", scanner), 4000)
        # The sampler matches its parameters, and the real volumes are a plausible sample.
        assert np.median(draws) == pytest.approx(centre, rel=0.08)
        assert stats.ks_2samp(draws, group["true_ml"]).pvalue > 0.05


def test_labelled_volume_follows_the_drawn_target(anatomical):
    _, table = anatomical
    for _, row in table.iterrows():
        voxel_ml = np.prod(row["spacing"]) / 1000.0
        assert abs(row["wmh_ml"] - row["target_ml"]) <= max(0.1 * row["target_ml"],
                                                            3 * voxel_ml), row["id"]


def test_anatomy_tissue_and_lesions(anatomical):
    root, table = anatomical
    for _, row in table.iterrows():
        folder = root / row["release_path"]
        labels = read_array(folder / "wmh.nii.gz")
        tissue = read_array(folder / "synth" / "tissue.nii.gz")
        wm = read_array(folder / "synth" / "wm_mask.nii.gz")
        ml = np.bincount(tissue.ravel(), minlength=5) * np.prod(row["spacing"]) / 1000.0
        assert ml[3] > ml[4] > 350 and ml[2] > 80 and ml[1] > 300  # GM > WM as in adults
        assert np.array_equal(wm.astype(bool), tissue == WHITE)
        assert np.all(wm[labels == 1] == 1) and np.all(tissue[labels > 0] >= 2)


def test_pre_is_bias_corrected_and_orig_is_as_acquired(anatomical):
    root, table = anatomical
    for _, row in table.iterrows():
        folder = root / row["release_path"]
        pre = read_array(folder / "pre" / "FLAIR.nii.gz")
        orig = read_array(folder / "orig" / "FLAIR.nii.gz").astype(np.float64)
        core = read_array(folder / "synth" / "wm_mask.nii.gz").astype(bool) & (
            read_array(folder / "wmh.nii.gz") == 0)

        def spread(image, core=core):
            values = image[core]
            return np.subtract(*np.percentile(values, [90, 10])) / np.median(values)

        assert spread(pre) < spread(orig), row["scanner"]


def _flair_statistics(parts) -> dict:
    subject = parts.subject
    scanner = next(s for s, p in PROFILES.items() if p.direction == subject.geometry.direction)
    from scipy import ndimage

    core_wm = ndimage.binary_erosion(subject.tissue == WHITE) & (parts.lesion_fraction < 0.01)
    lesion = parts.lesion_fraction > 0.8
    assert np.count_nonzero(lesion) >= 5
    wm = subject.flair[core_wm]
    corner = subject.flair_orig[:, :4, :4].astype(np.float64) / PROFILES[scanner].orig_scale
    orig = subject.flair_orig[core_wm].astype(np.float64)
    return {"contrast": float(np.median(subject.flair[lesion]) / np.median(wm)),
            "orig_spread": float(np.subtract(*np.percentile(orig, [95, 5])) / np.median(orig)),
            "noise": float(np.sqrt(np.mean(corner ** 2) / 2.0)),
            "wm_level": float(np.median(wm))}


def test_unseen_scanners_are_measurably_different(per_scanner):
    stats = pd.DataFrame({s: _flair_statistics(p) for s, p in per_scanner.items()}).T
    seen = list(SCANNER_ORDER[:3])
    unseen = ["amsterdam_ge_1p5t", "amsterdam_philips_3t"]
    assert (stats["contrast"] > 1.1).all()
    # Lesions stand out less on both unseen scanners than on any training scanner; the
    # 1.5 T has the most noise.
    assert stats.loc[unseen, "contrast"].max() < stats.loc[seen, "contrast"].min()
    assert stats["noise"].idxmax() == "amsterdam_ge_1p5t"
    # Both unseen scanners: a wider white-matter spread as acquired (bias field, noise).
    assert stats.loc[unseen, "orig_spread"].min() > 1.5 * stats.loc[seen, "orig_spread"].max()
    levels = stats["wm_level"] / pd.Series({s: PROFILES[s].flair_scale for s in SCANNER_ORDER})
    assert np.allclose(levels, 1.0, rtol=0.2)


def _literal_box(mask, margin):
    """The bounding box as first written: every true voxel listed by argwhere."""
    if not mask.any():
        return None
    where = np.argwhere(mask)
    lo = np.maximum(where.min(axis=0) - margin, 0)
    hi = np.minimum(where.max(axis=0) + 1 + margin, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 4), st.floats(0.0, 0.2))
def test_box_from_projections_matches_the_argwhere_box(seed, margin, density):
    from wmheval.synth.brain import _box

    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 12, 3))
    mask = rng.random(shape) < density
    assert _box(mask, margin) == _literal_box(mask, margin)
