"""Overlays show what the scorer scored, and image arrays own their memory (issue 9).

The overlays used to be drawn from a view of SimpleITK's buffer that was freed with the
image ("TP 0, FP 13" for a case of Dice 0.903); these tests fail on that code.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
import synth_fixtures

from wmheval.io.images import read_image
from wmheval.plots.overlay import show_case
from wmheval.scoring.case import evaluate_files

small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions


def _scorer_counts(reference_path, prediction_path) -> dict[str, int]:
    """TP, FP, FN voxels from the scorer's own numbers: Dice = 2 TP / (|R| + |P|)."""
    metrics = evaluate_files(reference_path, prediction_path)
    n_ref, n_pred = metrics.n_reference_voxels, metrics.n_prediction_voxels
    tp = round(metrics.dice * (n_ref + n_pred) / 2) if n_ref + n_pred else 0
    return {"tp": tp, "fp": n_pred - tp, "fn": n_ref - tp}


def test_image_arrays_are_owned_and_survive_their_image(small_challenge):
    _, table = small_challenge
    path = table.iloc[0]["path"] + "/pre/FLAIR.nii.gz"
    loaded = read_image(path)
    array = loaded.array
    expected = array.copy()
    del loaded
    gc.collect()
    # Allocate and fill memory that a freed ITK buffer would be handed out for.
    junk = [np.full(expected.shape, 12345, dtype=expected.dtype) for _ in range(8)]
    gc.collect()
    np.testing.assert_array_equal(array, expected)
    del junk


def test_every_overlay_counts_what_the_scorer_counts(small_challenge, small_submissions,
                                                     tmp_path):
    _, table = small_challenge
    subs, teams = small_submissions
    tests = table[table["split"] == "test"]
    checked = 0
    for team in teams["team"]:
        for _, subject in tests.iterrows():
            prediction = subs / team / subject["id"] / "result.nii.gz"
            if not prediction.is_file():
                continue
            try:
                expected = _scorer_counts(subject["path"] + "/wmh.nii.gz", prediction)
            except ValueError:  # a deliberately malformed submission: not drawable either
                with pytest.raises(ValueError):
                    show_case(subject["path"], prediction, tmp_path / "x.png", dpi=20)
                continue
            figure = show_case(subject["path"], prediction,
                               tmp_path / f"{team}_{subject['id']}.png", dpi=20, n_slices=1)
            got = {k: figure.counts[k] for k in ("tp", "fp", "fn")}
            assert got == expected, (team, subject["id"])
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("width", [3.0, 4.4, 6.6])
def test_a_long_overlay_title_stays_inside_the_figure(width):
    """The demo's overlays cut `baseline-resunet-cpu, subject 151 (amsterdam_ge_1p5t,
    unseen): Dice 0.086` at both edges."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wmheval.plots.overlay import fit_suptitle

    figure = plt.figure(figsize=(width, 3))
    text = ("baseline-resunet-cpu, subject 151 (amsterdam_ge_1p5t, unseen): Dice 0.086 "
            "WWWWMMMM_very_long_team_name_without_any_spaces_at_all")
    fit_suptitle(figure, text, fontsize=9)
    figure.canvas.draw()
    box = figure._suptitle.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= figure.bbox.width, (box, figure.bbox)
    assert "".join(figure._suptitle.get_text().split()) == "".join(text.split())
    plt.close(figure)
