"""Overlay figures and the synth / synth-submissions / show commands."""

from __future__ import annotations

import numpy as np
import pytest
import synth_fixtures
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.plots.overlay import (
    COLOURS,
    default_slices,
    overlay_classes,
    render_overlay,
    show_case,
)

runner = CliRunner()

small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions


def _case():
    """A hand-made case: per slice 4 TP, 2 FP, 3 FN voxels, one ignored voxel."""
    reference = np.zeros((4, 12, 12), dtype=np.float32)
    prediction = np.zeros((4, 12, 12), dtype=np.uint8)
    reference[1:3, 2:4, 2:5] = 1         # 6 voxels per slice
    prediction[1:3, 2:4, 2:4] = 1        # 4 of them found
    prediction[1:3, 8, 8:10] = 1         # 2 false positives per slice
    reference[1:3, 6, 6] = 1             # 1 more missed
    reference[1:3, 10, 1] = 2            # ignored ...
    prediction[1:3, 10, 1] = 1           # ... so predicting it is no false positive
    flair = np.random.default_rng(0).uniform(50, 100, reference.shape).astype(np.float32)
    return flair, reference, prediction


def test_overlay_classes_counts_by_hand():
    _, reference, prediction = _case()
    classes = overlay_classes(reference, prediction)
    counts = np.bincount(classes.ravel(), minlength=5)
    assert counts.tolist()[1:] == [8, 4, 6, 2]  # TP, FP, FN, ignored over two slices


def test_default_slices_prefer_lesion():
    _, reference, _ = _case()
    reference[2, 0, :] = 1
    assert default_slices(reference, count=1) == [2]
    assert default_slices(reference, count=2) == [1, 2]
    assert default_slices(np.zeros((5, 3, 3)), count=1) == [2]


OVERLAY_ALPHA = 0.85  # render_overlay's default
PNG_STEP = 1.5 / 255  # 8-bit rounding of the PNG, plus the 3-decimal colour constants


def _colour_present(image: np.ndarray, rgb: tuple[float, float, float]) -> bool:
    """Some pixel is ``rgb`` drawn at the overlay's opacity over a grey FLAIR pixel: the
    pixel minus ``alpha * rgb`` is the same in all three channels (a grey) within [0, 1 -
    alpha]. The legend's solid patches (``rgb`` itself) do not pass, so this finds the
    colour in the image panels only."""
    pixels = image[..., :3].reshape(-1, 3).astype(np.float64)
    grey = pixels - OVERLAY_ALPHA * np.asarray(rgb)
    is_grey = np.ptp(grey, axis=1) <= 2 * PNG_STEP
    level = grey.mean(axis=1)
    in_range = (level >= -PNG_STEP) & (level <= 1 - OVERLAY_ALPHA + PNG_STEP)
    return bool(np.any(is_grey & in_range))


def _legend_patch_present(image: np.ndarray, rgb: tuple[float, float, float]) -> bool:
    """Some pixel is ``rgb`` itself (a solid legend patch)."""
    pixels = image[..., :3].reshape(-1, 3).astype(np.float64)
    return bool(np.any(np.all(np.abs(pixels - np.asarray(rgb)) <= PNG_STEP, axis=1)))


def test_colour_checks_tell_panels_from_legend_patches():
    """The checks themselves: a blended pixel is found only by the panel check, a solid
    one only by the legend check, and another class's colour by neither."""
    yellow, blue = COLOURS["true positive"], COLOURS["false negative"]
    blended = OVERLAY_ALPHA * np.asarray(yellow) + (1 - OVERLAY_ALPHA) * 0.6
    image = np.array([[blended, yellow]], dtype=np.float32)
    assert _colour_present(image[:, :1], yellow) and not _colour_present(image[:, 1:], yellow)
    assert _legend_patch_present(image[:, 1:], yellow)
    assert not _legend_patch_present(image[:, :1], yellow)
    assert not _colour_present(image, blue) and not _legend_patch_present(image, blue)


def test_render_png_has_the_three_colours(tmp_path):
    import matplotlib.image

    flair, reference, prediction = _case()
    out = render_overlay(flair, reference, prediction, tmp_path / "case.png", t1=flair,
                         spacing=(1.0, 1.0, 3.0), title="hand-made", dpi=110)
    assert out.counts == {"tp": 8, "fp": 4, "fn": 6, "ignored": 2}
    assert out.dice == pytest.approx(16 / 26)
    image = matplotlib.image.imread(out.path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    for name in ("true positive", "false positive", "false negative"):
        assert _colour_present(image, COLOURS[name]), name


def test_render_svg_and_bad_input(tmp_path):
    flair, reference, prediction = _case()
    out = render_overlay(flair, reference, prediction, tmp_path / "case.svg", slices=[1],
                         style="contour")
    assert "<svg" in out.path.read_text()[:2000]
    assert out.slices == (1,) and out.slice_counts[0] == {"tp": 4, "fp": 2, "fn": 3,
                                                          "ignored": 1}
    with pytest.raises(ValueError, match="size mismatch"):
        render_overlay(flair, reference[:2], prediction, tmp_path / "x.png")
    with pytest.raises(ValueError, match="outside"):
        render_overlay(flair, reference, prediction, tmp_path / "x.png", slices=[9])
    with pytest.raises(ValueError, match=".png"):
        render_overlay(flair, reference, prediction, tmp_path / "x.jpg")


def test_show_case_reads_files(small_challenge, small_submissions, tmp_path):
    root, table = small_challenge
    out, _ = small_submissions
    subject = table[table["split"] == "test"].iloc[0]
    figure = show_case(subject["path"], out / "noisy" / subject["id"] / "result.nii.gz",
                       tmp_path / "show.png", dpi=100)
    assert figure.path.stat().st_size > 10_000
    with pytest.raises(FileNotFoundError, match="result.nii.gz"):
        show_case(subject["path"], tmp_path / "none" / "result.nii.gz", tmp_path / "s.png")


def test_cli_synth_and_submissions(tmp_path):
    challenge, subs = tmp_path / "challenge", tmp_path / "subs"
    result = runner.invoke(app, ["synth", str(challenge), "--small", "--id", "0",
                                 "--id", "160", "--id", "1"])
    assert result.exit_code == 0, result.output
    from synth_fixtures import read_array

    from wmheval.synth import read_synth_manifest

    manifest = read_synth_manifest(challenge)
    assert sorted(manifest["id"]) == ["0", "1", "160"]  # the three --id, nothing else
    assert manifest.loc["160", "split"] == "test" and bool(manifest.loc["160", "small"])
    labels = read_array(challenge / "test" / "Amsterdam" / "Philips_VU .PETMR_01." / "160"
                        / "wmh.nii.gz")
    assert set(np.unique(labels)) <= {0.0, 1.0, 2.0} and (labels == 1).any()
    assert labels.shape[::-1] == tuple(manifest.loc["160", ["shape_x", "shape_y",
                                                            "shape_z"]])
    result = runner.invoke(app, ["synth-submissions", str(challenge), str(subs),
                                 "--team", "precise", "--team", "greedy"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in subs.iterdir() if p.is_dir()) == ["greedy", "precise"]
    assert sorted(p.name for p in (subs / "greedy").iterdir()) == ["1", "160"]
    result = runner.invoke(app, ["synth-submissions", str(challenge), str(subs),
                                 "--team", "nobody"])
    assert result.exit_code == 2 and "unknown teams" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path / "bad"), "--id", "nope"])
    assert result.exit_code == 2 and "not in the manifest" in result.output


def test_cli_show(small_challenge, small_submissions, tmp_path):
    _, table = small_challenge
    out, _ = small_submissions
    subject = table[table["split"] == "test"].iloc[1]
    prediction = out / "greedy" / subject["id"] / "result.nii.gz"
    result = runner.invoke(app, ["show", subject["path"], str(prediction), "--out",
                                 str(tmp_path / "fig.png"), "--slice", "5", "--no-t1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fig.png").stat().st_size > 5_000
    result = runner.invoke(app, ["show", subject["path"], str(tmp_path / "missing.nii.gz"),
                                 "--out", str(tmp_path / "f.png")])
    assert result.exit_code == 2 and "file not found" in result.output


def test_ignored_region_drawn_and_in_the_legend_only_when_present(tmp_path):
    import matplotlib.image

    flair, reference, prediction = _case()
    purple = COLOURS["ignored (label 2)"]
    with_ignored = render_overlay(flair, reference, prediction, tmp_path / "a.png", dpi=80)
    assert _colour_present(matplotlib.image.imread(with_ignored.path), purple)
    assert _legend_patch_present(matplotlib.image.imread(with_ignored.path), purple)
    reference[reference == 2] = 0
    without = render_overlay(flair, reference, prediction, tmp_path / "b.png", dpi=80)
    assert without.counts["ignored"] == 0
    assert not _colour_present(matplotlib.image.imread(without.path), purple)
    assert not _legend_patch_present(matplotlib.image.imread(without.path), purple)
    for name in ("true positive", "false positive", "false negative"):
        assert _colour_present(matplotlib.image.imread(without.path), COLOURS[name]), name


def test_overlay_is_cropped_to_the_head():
    from wmheval.plots.overlay import brain_box

    head = np.zeros((4, 40, 40), dtype=np.float32)
    head[:, 10:25, 12:30] = 100.0
    box = brain_box(head, margin=2)
    assert (box[0].start, box[0].stop, box[1].start, box[1].stop) == (8, 27, 10, 32)
