"""A small report built once per session: the synthetic challenge, four simulated teams
scored per scanner, the HTML report with overlays and one extra figure set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import synth_fixtures

_CACHE: dict[str, object] = {}
small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions
REPORT_TEAMS = ("precise", "greedy", "brittle", "incomplete")


def extra_figure_set(folder: Path) -> Path:
    """A figure set as another analysis writes it (contract 3): one figure, one table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(folder / "line.png", dpi=50)
    fig.savefig(folder / "line.svg")
    plt.close(fig)
    (folder / "numbers.csv").write_text("a,b\n1,2\n")
    (folder / "figures.json").write_text(json.dumps({
        "figures": [{"title": "A straight line", "explanation": "Read it left to right.",
                     "png": "line.png", "svg": "line.svg"}],
        "tables": [{"title": "Some numbers", "csv": "numbers.csv"}]}))
    return folder


@pytest.fixture(scope="session")
def small_report(small_challenge, small_submissions, tmp_path_factory):
    """(report folder, field, provenance) of the four teams on the small challenge."""
    if "report" not in _CACHE:
        from wmheval.pipelines.report import write_field_report
        from wmheval.pipelines.score import score_to_dir
        from wmheval.ranking import load_field
        from wmheval.report import make_provenance

        root, _ = small_challenge
        subs, _ = small_submissions
        base = tmp_path_factory.mktemp("report")
        scores = base / "scores"
        for team in REPORT_TEAMS:
            score_to_dir(root, subs / team, scores / team, jobs=1, split="test")
        field = load_field(scores)
        extra = extra_figure_set(base / "agreement")
        provenance = make_provenance("wmheval report scores", {"scores": scores})
        out = base / "report"
        write_field_report(field, out, reference=root, extra_sets=[extra],
                           provenance=provenance, bootstrap=50, samples=500, title="Small report")
        _CACHE["report"] = (out, field, provenance)
    return _CACHE["report"]
