"""Figures a paper author can use as they are (issue 27 item 13): grades in clinical order,
legends off the data, one colour per team in every figure, readable log ticks, whole ranks
and counts, "no swaps" said, and CJK team names drawn without empty boxes or warnings."""

import warnings

import numpy as np
import pandas as pd
import pytest

from wmheval.analysis.fazekas import grade_order
from wmheval.plots.palette import REFERENCE_COLOUR, drawable, team_colours


@pytest.fixture
def captured(monkeypatch):
    """Keep the figure a plotting function would save (and close)."""
    import wmheval.plots.agreement as agreement
    import wmheval.plots.challenger as challenger
    import wmheval.plots.ranking as ranking

    figures = []

    def keep(figure, stem, dpi=300):
        figure.canvas.draw()
        figures.append(figure)
        return []

    monkeypatch.setattr(ranking, "save_figure", keep)
    monkeypatch.setattr(challenger, "save_figure", keep)
    monkeypatch.setattr(agreement, "_save", lambda figure, stem: keep(figure, stem))
    yield figures
    import matplotlib.pyplot as plt

    for figure in figures:
        plt.close(figure)


def test_grades_in_clinical_order():
    assert grade_order(["high", "low", "moderate", "low"]) == ["low", "moderate", "high"]
    assert grade_order(["severe", "mild", "none"]) == ["none", "mild", "severe"]
    assert grade_order(["3", "0-1", "2"]) == ["0-1", "2", "3"]


def test_one_colour_per_team_whatever_the_order():
    first = team_colours(["precise", "greedy", "brittle"])
    second = team_colours(["brittle", "precise", "greedy", "brittle"])
    assert first == second
    assert len(set(first.values())) == 3 and REFERENCE_COLOUR not in first.values()
    many = team_colours([f"t{k}" for k in range(18)])
    assert len(set(many.values())) == 18 and REFERENCE_COLOUR not in many.values()


def _hex(colour) -> str:
    from matplotlib.colors import to_hex

    return to_hex(colour)


def test_a_team_has_its_colour_in_every_figure(captured, tmp_path):
    from wmheval.plots.challenger import plot_dots_boxes, plot_podium
    from wmheval.plots.ranking import plot_scanner_boxes, plot_scheme_ranks

    teams = ["zeta", "alpha", "mid"]
    colours = team_colours(teams)
    values = np.random.default_rng(0).uniform(0.2, 0.9, (3, 6, 5))
    plot_dots_boxes(values, teams, tmp_path / "d")
    plot_podium(values, teams, tmp_path / "p")
    schemes = pd.DataFrame({"team": teams, "official": [1, 2, 3], "other": [2, 1, 3]})
    plot_scheme_ranks(schemes, ["official", "other"], tmp_path / "s")
    rows = [{"team": t, "id": str(k), "scanner": "utrecht_philips_3t", "dice": 0.5,
             "h95": 3.0, "avd": 10.0, "recall": 0.8, "f1": 0.7}
            for t in teams for k in range(3)]
    plot_scanner_boxes(pd.DataFrame(rows), tmp_path / "b", teams=teams)
    dots, podium, lines, boxes = captured
    for t, team in enumerate(teams):
        assert _hex(dots.axes[0].collections[t].get_facecolor()[0]) == colours[team].lower()
        assert _hex(podium.axes[0].collections[t].get_facecolor()[0]) == colours[team].lower()
        assert _hex(lines.axes[0].lines[t].get_color()) == colours[team].lower()
        assert _hex(boxes.axes[0].collections[t].get_facecolor()[0]) == colours[team].lower()


def test_log_axes_have_ticks_below_10_and_small_minor_ticks(captured, tmp_path):
    from wmheval.plots.challenger import plot_dots_boxes
    from wmheval.plots.ranking import plot_scanner_boxes

    values = np.random.default_rng(1).uniform(0.5, 0.9, (2, 8, 5))
    values[:, :, 1] = [[2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 30.0, 60.0]] * 2  # H95, mm
    plot_dots_boxes(values, ["a", "b"], tmp_path / "d")
    h95 = captured[0].axes[1]
    low, high = h95.get_ylim()
    shown = [t.get_text() for t, v in zip(h95.get_yticklabels(), h95.get_yticks(), strict=True)
             if low <= v <= high]
    assert {"2", "5", "10", "20", "50"} <= set(shown)
    rows = [{"team": t, "id": str(k), "scanner": "utrecht_philips_3t", "dice": 0.5,
             "h95": 2.0 + k, "avd": 5.0 * (k + 1), "recall": 0.8, "f1": 0.7}
            for t in ("a", "b") for k in range(4)]
    plot_scanner_boxes(pd.DataFrame(rows), tmp_path / "b", teams=["a", "b"])
    axis = captured[1].axes[1].yaxis
    major = axis.get_major_ticks()[0].tick1line.get_markersize()
    minor = axis.get_minor_ticks()[0].tick1line.get_markersize()
    assert minor < major
    assert all(not t.get_text() for t in axis.get_minorticklabels())
    dots = captured[1].axes[0].collections[-1]
    assert dots.get_sizes()[0] >= 12  # per-case dots visible at page width


def test_blobs_show_whole_ranks_and_the_whole_rank_1_blob(captured, tmp_path):
    from wmheval.plots.ranking import plot_bootstrap_blobs

    distribution = pd.DataFrame([[1.0, 0.0, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9]],
                                index=["a", "b", "c"], columns=["1", "2", "3"])
    plot_bootstrap_blobs(distribution, [1, 2, 3], tmp_path / "b")
    figure = captured[0]
    ax = figure.axes[0]
    assert list(ax.get_yticks()) == [1, 2, 3]
    renderer = figure.canvas.get_renderer()
    blobs = ax.collections[0]
    box = blobs.get_window_extent(renderer)
    frame = ax.get_window_extent(renderer)
    assert box.y1 <= frame.y1 + 0.5 and box.y0 >= frame.y0 - 0.5  # no blob cut


def test_podium_counts_are_whole_numbers(captured, tmp_path):
    from wmheval.plots.challenger import plot_podium

    values = np.random.default_rng(3).uniform(0, 1, (3, 7, 5))
    plot_podium(values, ["a", "b", "c"], tmp_path / "p")
    counts = captured[0].axes[1]
    low, high = counts.get_ylim()
    ticks = [v for v in counts.get_yticks() if low <= v <= high]
    assert ticks and all(float(v).is_integer() for v in ticks)


def test_field_dependence_says_no_swaps(captured, tmp_path):
    from wmheval.plots.ranking import plot_field_dependence

    summary = pd.DataFrame({"removed_team": ["a", "b", "c"], "removed_position": [1, 2, 3],
                            "n_swapped_pairs": [0, 0, 0], "n_teams_swapped": [0, 0, 0]})
    plot_field_dependence(summary, tmp_path / "f")
    texts = [t.get_text() for t in captured[0].axes[0].texts]
    assert any(text.startswith("no swaps") for text in texts)


def test_volumes_by_grade_legend_is_off_the_data_and_grades_ordered(captured, tmp_path):
    from types import SimpleNamespace

    from wmheval.plots.agreement import plot_volumes_by_grade

    ids = [str(k) for k in range(9)]
    grades = pd.DataFrame({"id": ids, "grade": ["high", "low", "moderate"] * 3})
    volumes = pd.DataFrame([{"team": t, "id": i, "reference_ml": 1.0 + k,
                             "prediction_ml": 1.5 + k} for t in ("a", "b")
                            for k, i in enumerate(ids)])
    result = SimpleNamespace(volumes=volumes, teams=["a", "b"], fazekas_mode="grading")
    plot_volumes_by_grade(result, grades, tmp_path / "v")
    figure = captured[0]
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["grade low", "grade moderate",
                                                            "grade high"]
    renderer = figure.canvas.get_renderer()
    assert figure.legends and not ax.get_legend()
    assert not figure.legends[0].get_window_extent(renderer).overlaps(
        ax.get_window_extent(renderer))
    colours = [_hex(h.get_facecolor()) for h in figure.legends[0].legend_handles]
    assert len(set(colours)) == 3 and colours[0] == REFERENCE_COLOUR


def test_cjk_names_draw_without_glyph_warnings(captured, tmp_path):
    from wmheval.plots.challenger import plot_podium

    name = "清华大学"
    label = drawable(name)
    assert label == name or label == "<U+6E05><U+534E><U+5927><U+5B66>"
    values = np.random.default_rng(4).uniform(0, 1, (2, 4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_podium(values, [name, "b"], tmp_path / "p")
    legend = captured[0].legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [label, "b"]
