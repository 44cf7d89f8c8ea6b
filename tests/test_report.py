"""The HTML report's content, the figure fixes of issue 9 and the tables people read.

Values are checked against the ranking computed independently (rank_field, hashlib), and
each figure defect listed in the issue has a check that fails on the old drawing code."""

from __future__ import annotations

import hashlib
import html
import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
import report_fixtures

from wmheval.io.tables import render_table
from wmheval.ranking import rank_field
from wmheval.report import FigureSetError, read_figure_set

matplotlib.use("Agg")

small_challenge = report_fixtures.small_challenge
small_submissions = report_fixtures.small_submissions
small_report = report_fixtures.small_report


def _leaderboard_rows(index_html: str) -> dict[str, dict[str, str]]:
    table = index_html.split("id='leaderboard-table'")[1].split("</table>")[0]
    heads = re.findall(r"<th [^>]*title='([^']+)'", table)
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1]):
        cells = re.findall(r"<td(?: class='num' data-value='([^']*)')?>(.*?)</td>", row)
        values = {h: (v if v else re.sub("<[^>]+>", "", text)) for h, (v, text)
                  in zip(heads, cells, strict=True)}
        rows[html.unescape(values["team"])] = values
    return rows


def test_leaderboard_shows_the_ranking_with_units_directions_and_policy(small_report):
    out, field, _ = small_report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<meta charset='utf-8'>" in page
    assert "http://" not in page and "https://" not in page  # no CDN, nothing fetched
    rows = _leaderboard_rows(page)
    ranking = rank_field(field)
    assert list(rows) == list(ranking["team"])
    for _, expected in ranking.iterrows():
        row = rows[expected["team"]]
        assert float(row["position"]) == expected["position"]
        for metric in ("score", "dice", "h95", "avd", "recall", "f1"):
            assert float(row[metric]) == pytest.approx(expected[metric], rel=1e-12)
    # Seen/unseen Dice from the per-case values, recomputed here.
    cases = field.cases
    for team, row in rows.items():
        mine = cases[(cases["team"] == team)]
        unseen = mine[~mine["seen_in_training"].astype(bool)]["dice"]
        if unseen.notna().all():
            assert float(row["dice_unseen"]) == pytest.approx(unseen.mean(), rel=1e-9)
    assert "(mm)" in page and "(%)" in page and "higher is better" in page
    assert "lower is better" in page
    assert "Missing and undefined values" in page and field.policy.name in page


def test_report_sections_team_pages_and_provenance(small_report):
    out, field, provenance = small_report
    page = (out / "index.html").read_text(encoding="utf-8")
    for scanner in set(field.cube.scanners):
        assert f"id='scanner-{scanner}'" in page
    assert "amsterdam_philips_3t<span class='tag unseen'>unseen</span>" in page
    figures = json.loads((out / "figures.json").read_text())["figures"]
    assert len(figures) >= 9
    for entry in figures:
        assert f"src='{entry['png']}'" in page and entry["explanation"][:40] in \
            html.unescape(page)
        assert (out / entry["png"]).read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (out / entry["svg"]).read_text()[:3000]
    # extra figure set (contract 3) copied in, so the folder stands alone
    assert "A straight line" in page and "extras/1_agreement/line.png" in page
    copied = (out / "extras" / "1_agreement" / "line.png").read_bytes()
    assert copied == (out.parent / "agreement" / "line.png").read_bytes()
    # provenance: the command, version and the input's content hash (recomputed here)
    digest = provenance.inputs["scores"][1]
    assert provenance.command in page and digest in page
    scores = next(iter(provenance.inputs.values()))[0]
    assert len(digest) == 64 and scores in page
    for team in report_fixtures.REPORT_TEAMS:
        team_page = (out / "teams" / f"{team}.html").read_text(encoding="utf-8")
        n_cases = int((field.cases["team"] == team).sum())
        assert team_page.count("<tr class=") == n_cases
        assert "best case" in team_page and "worst case" in team_page


def test_team_page_overlays_agree_with_cases_csv(small_report):
    out, field, _ = small_report
    team_page = (out / "teams" / "greedy.html").read_text(encoding="utf-8")
    shown = re.findall(r"Dice ([0-9.]+) in cases.csv, ([0-9.]+) from the drawn voxels",
                       team_page)
    dice = field.cases[field.cases["team"] == "greedy"]["dice"].dropna()
    assert len(shown) == 3
    assert float(shown[0][0]) == round(dice.max(), 3)
    assert float(shown[-1][0]) == round(dice.min(), 3)
    for recorded, drawn in shown:
        assert recorded == drawn


def test_figure_set_errors_name_the_file(tmp_path):
    with pytest.raises(FigureSetError, match="figures.json: not found"):
        read_figure_set(tmp_path)
    (tmp_path / "figures.json").write_text('[{"title": "x", "png": "missing.png"}]')
    with pytest.raises(FigureSetError, match="missing.png"):
        read_figure_set(tmp_path)
    (tmp_path / "figures.json").write_text("{not json")
    with pytest.raises(FigureSetError, match="cannot read JSON"):
        read_figure_set(tmp_path)
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "figures.json").write_text('[{"title": "A", "explanation": "e", "png": '
                                           '"a.png", "svg": ""}]')
    figure_set = read_figure_set(tmp_path, "Agreement")
    assert figure_set.title == "Agreement" and figure_set.figures[0]["png"].name == "a.png"


def test_a_figure_set_is_titled_from_its_json_or_a_readable_folder_name(tmp_path):
    """The demo's report showed the agreement section as `agreement` in its navigation."""
    folder = tmp_path / "load_groups"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG")
    (folder / "figures.json").write_text('[{"title": "A", "png": "a.png"}]')
    assert read_figure_set(folder).title == "Load groups"
    (folder / "figures.json").write_text('{"title": "Volumes", "figures": '
                                         '[{"title": "A", "png": "a.png"}]}')
    assert read_figure_set(folder).title == "Volumes"


def test_report_cli_writes_an_output_set_and_drops_stale_files(tmp_path):
    from typer.testing import CliRunner

    from wmheval._resources import published_leaderboard_path
    from wmheval.cli.main import app
    from wmheval.io.outputs import MANIFEST_NAME

    source = published_leaderboard_path()
    out = tmp_path / "report"
    args = ["report", str(source), "sysu_media_2", "sysu_media", "pgs", "-o", str(out),
            "--samples", "200", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (out / "stale.txt").write_text("from an earlier run")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not (out / "stale.txt").exists()
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["command"] == "report"
    sha = manifest["inputs"]["input"]["sha256"]
    assert sha == hashlib.sha256(source.read_bytes()).hexdigest()
    listed = {entry["path"] for entry in manifest["files"]}
    assert {"index.html", "ranking.csv", "figures.json"} <= listed
    index = (out / "index.html").read_text()
    assert "wmheval report" in index and sha in index
    data = (out / "ranking.csv").read_bytes()
    entry = next(e for e in manifest["files"] if e["path"] == "ranking.csv")
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------ tables


def test_latex_is_booktabs_with_aligned_numbers_caption_label_and_packages():
    table = pd.DataFrame({"team": ["a_b", "c"], "dice": [0.91234, 0.5],
                          "h95": [3.14159, 12.0], "avd": [123.456, np.nan]})
    tex = render_table(table, "tex", caption="Ranking 100%", label="tab:ranking")
    assert "\\usepackage{booktabs}" in tex.splitlines()[0]
    assert "\\begin{tabular}{lrrr}" in tex
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in tex
    assert "\\caption{Ranking 100\\%}" in tex and "\\label{tab:ranking}" in tex
    body = [line for line in tex.splitlines() if line.endswith("\\\\")][1:]
    assert body[0] == "a\\_b & 0.912 & 3.14 & 123.5 \\\\"
    assert body[1] == "c & 0.500 & 12.00 & n/a \\\\"
    # same decimals in every row of a column: the decimal points line up
    for k in (1, 2):
        widths = {len(row.split(" & ")[k].split(".")[1]) for row in body}
        assert len(widths) == 1
    assert "H95 (mm) $\\downarrow$" in tex and "Dice $\\uparrow$" in tex


def test_markdown_and_html_tables_keep_units_and_full_precision():
    table = pd.DataFrame({"team": ["x"], "avd": [12.3456789]})
    md = render_table(table, "md", caption="c")
    assert "AVD (%) ↓" in md and "12.3" in md and "12.35" not in md
    page = render_table(table, "html", caption="Cap")
    assert "<caption>Cap</caption>" in page and "data-value='12.3456789'" in page
    assert "<meta charset='utf-8'>" in page and "table.sortable" in page


# ------------------------------------------------------------------------ figure fixes


@pytest.fixture
def captured(monkeypatch):
    """Keep the figure a plotting function would save (and close)."""
    import wmheval.plots.challenger as challenger
    import wmheval.plots.ranking as ranking

    figures = []

    def keep(figure, stem, dpi=300):
        figure.canvas.draw()
        figures.append(figure)
        return []

    monkeypatch.setattr(ranking, "save_figure", keep)
    monkeypatch.setattr(challenger, "save_figure", keep)
    yield figures
    import matplotlib.pyplot as plt

    for figure in figures:
        plt.close(figure)


def _texts(figure) -> list:
    return [t for ax in figure.axes for t in ax.texts if t.get_text()]


def test_scheme_lines_tied_labels_never_overprint(captured, tmp_path):
    from wmheval.plots.ranking import plot_scheme_ranks

    schemes = pd.DataFrame({"team": ["greedy", "tedious", "alpha", "beta"],
                            "official": [1, 1, 3, 4], "other": [2, 2, 1, 4]})
    plot_scheme_ranks(schemes, ["official", "other"], tmp_path / "s")
    texts = _texts(captured[0])
    renderer = captured[0].canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
    labels = {t.get_text() for t in texts}
    assert "greedy, tedious" in labels and "greedy" not in labels


def test_blob_key_sits_outside_the_blobs(captured, tmp_path):
    from wmheval.analysis.bootstrap import bootstrap_ranking
    from wmheval.plots.ranking import plot_bootstrap_blobs

    values = np.random.default_rng(1).uniform(0, 1, (6, 10, 5))
    boot = bootstrap_ranking(values, list("abcdef"), 200, 0)
    plot_bootstrap_blobs(boot.distribution, boot.full_positions, tmp_path / "b")
    figure = captured[0]
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0].get_window_extent(renderer)
    legends = figure.legends + [a.get_legend() for a in figure.axes if a.get_legend()]
    assert legends
    for legend in legends:
        assert not legend.get_window_extent(renderer).overlaps(axes)
        labels = [t.get_text() for t in legend.get_texts()]
        assert any("100%" in label for label in labels)  # the size key


def test_avd_outlier_does_not_flatten_the_boxes(captured, tmp_path):
    from wmheval.plots.challenger import plot_dots_boxes

    values = np.random.default_rng(2).uniform(0.5, 0.9, (3, 4, 5))
    values[:, :, 2] = [[10, 12, 15, 11], [20, 25, 30, 22], [15, 18, 5000, 16]]
    plot_dots_boxes(values, ["a", "b", "c"], tmp_path / "d")
    axes = captured[0].axes
    assert axes[2].get_yscale() == "log"  # AVD
    assert axes[1].get_yscale() == "log"  # H95 (a missing case scored empty is far off)
    # the box spans a visible part of the axis despite the 5000 % outlier
    low, high = axes[2].get_ylim()
    assert np.log10(30) - np.log10(10) > 0.1 * (np.log10(high) - np.log10(low))
    # every case is a dot: 3 teams x 4 cases on each panel
    for ax in axes:
        dots = sum(len(c.get_offsets()) for c in ax.collections)
        assert dots == 12


def test_scanner_boxes_show_dots_and_mark_unseen(captured, tmp_path):
    from wmheval.plots.ranking import plot_scanner_boxes

    rows = []
    for team in ("a", "b"):
        for k, (scanner, seen) in enumerate([("utrecht_philips_3t", True)] * 3
                                            + [("amsterdam_ge_1p5t", False)] * 3):
            rows.append({"team": team, "id": str(k), "scanner": scanner,
                         "seen_in_training": seen, "dice": 0.5 + 0.1 * k, "h95": 3.0 + k,
                         "avd": 10.0 * (k + 1), "recall": 0.8, "f1": 0.7})
    plot_scanner_boxes(pd.DataFrame(rows), tmp_path / "s", teams=["a", "b"])
    figure = captured[0]
    for ax in figure.axes:
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert "amsterdam_ge_1p5t\n(unseen)" in labels
        assert "utrecht_philips_3t" in labels
        dots = sum(len(c.get_offsets()) for c in ax.collections)
        assert dots == 12  # 2 teams x 6 cases, each a dot
    assert [ax.get_yscale() for ax in figure.axes[:5]] == ["linear", "log", "log", "linear",
                                                           "linear"]


def test_weight_heatmap_discloses_every_weight(captured, tmp_path):
    from wmheval.analysis.weights import named_weightings, weight_sensitivity
    from wmheval.plots.ranking import plot_weight_heatmap

    rel = np.random.default_rng(3).uniform(0, 1, (4, 5))
    sweep = weight_sensitivity(rel, list("abcd"), n_samples=100, seed=7)
    expected = named_weightings(n_random=5, seed=8)  # the sweep draws them with seed + 1
    for name, weights in expected.items():
        np.testing.assert_allclose(sweep.named_weights[name].to_numpy(), weights)
    plot_weight_heatmap(sweep.named, tmp_path / "w", weights=sweep.named_weights)
    strip = captured[0].axes[0]
    shown = [t.get_text() for t in strip.texts]
    random_3 = expected["random_3"]
    for value in random_3:
        text = f"{value:.2f}".lstrip("0") if value < 1 else "1"
        assert text in shown
    assert len(shown) == 5 * len(expected)
