"""`wmheval demo`: one run (without the baseline, which has its own tests) and its outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.pipelines.demo import DemoOutput, _grouped


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--no-baseline",
                                      "--bootstrap", "50", "--samples", "2000", "-j", "2"])
    assert result.exit_code == 0, result.output
    assert "open" in result.output and "index.html" in result.output
    return out


def test_every_indexed_file_exists_and_the_index_covers_the_sections(demo_dir):
    index = (demo_dir / "index.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert len(links) > 40
    for link in links:
        assert (demo_dir / link.replace("%20", " ")).is_file(), link
    for section in ("Scores per team", "Ranking of the simulated teams",
                    "The published 2017 leaderboard", "Overlays"):
        assert f"## {section}" in index
    assert "<img src=" in (demo_dir / "index.html").read_text()
    assert "## Reports" in index and "(ranking_teams/index.html)" in index
    report = (demo_dir / "ranking_teams" / "index.html").read_text()
    assert "id='leaderboard-table'" in report and "teams/precise.html" in report
    assert (demo_dir / "ranking_published" / "index.html").is_file()
    assert (demo_dir / "wmheval_manifest.json").is_file()


def test_every_simulated_team_is_scored_per_scanner_and_drawn(demo_dir):
    teams = pd.read_csv(demo_dir / "submissions" / "teams.csv")["team"].tolist()
    assert len(teams) >= 5
    for team in teams:
        summary = pd.read_csv(demo_dir / "scores" / team / "summary.csv")
        assert {"all", "seen", "unseen"} <= set(summary["group"])
        assert {"amsterdam_ge_1p5t", "amsterdam_philips_3t"} <= set(summary["group"])
        figures = list((demo_dir / "figures").glob(f"overlay_{team}_*.png"))
        assert figures and all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)
    ranking = pd.read_csv(demo_dir / "ranking_teams" / "ranking.csv")
    assert sorted(ranking["team"]) == sorted(teams)
    unseen = pd.read_csv(demo_dir / "ranking_teams_unseen" / "ranking.csv").set_index("team")
    # The team built to degrade on unseen scanners loses the most Dice there and its rank
    # score (0 best, 1 worst) worsens; its position need not move in a field of six.
    overall = ranking.set_index("team")
    assert unseen.loc["brittle", "score"] > overall.loc["brittle", "score"] + 0.1
    assert unseen.loc["brittle", "position"] >= overall.loc["brittle", "position"]
    overview = pd.read_csv(demo_dir / "overview.csv").set_index("team")
    drop = overview["dice_seen"] - overview["dice_unseen"]
    assert drop.idxmax() == "brittle" and drop["brittle"] > 0.3


def test_published_leaderboard_rankings(demo_dir):
    published = pd.read_csv(demo_dir / "ranking_published" / "ranking.csv")
    assert len(published) == 57
    inserted = pd.read_csv(demo_dir / "ranking_published_plus_team" / "ranking.csv")
    assert len(inserted) == 58 and inserted["team"].str.contains("synthetic").any()
    synthetic = inserted[inserted["team"].str.contains("synthetic")].iloc[0]
    assert not synthetic["comparable"] and synthetic["n_cases"] < 110
    assert "not comparable" in (demo_dir / "index.md").read_text()


def test_the_report_states_the_policy_and_the_overview_uses_it(demo_dir):
    from wmheval.scoring.policy import describe_policy

    index = (demo_dir / "index.md").read_text()
    assert "## Scoring policy" in index and describe_policy() in index
    assert "empty mask" in (demo_dir / "index.html").read_text()
    overview = pd.read_csv(demo_dir / "overview.csv").set_index("team")
    summary = pd.read_csv(demo_dir / "scores" / "incomplete" / "summary.csv")
    dice = summary[(summary["group"] == "all") & (summary["metric"] == "dice")].iloc[0]
    assert dice["n_imputed"] >= 1 and dice["mean_ranked"] < dice["mean"]
    assert overview.loc["incomplete", "dice_all"] == dice["mean_ranked"]
    ranking = pd.read_csv(demo_dir / "ranking_teams" / "ranking.csv").set_index("team")
    assert abs(ranking.loc["incomplete", "dice"] - dice["mean_ranked"]) < 1e-9


def test_index_entries_merge_the_formats_of_one_table(tmp_path):
    output = DemoOutput(tmp_path)
    output.add("A", tmp_path / "r.csv", "official ranking (CSV)")
    output.add("A", tmp_path / "r.md", "official ranking (Markdown)")
    output.add("A", tmp_path / "f.png", "a figure")
    grouped = _grouped(output.sections["A"])
    assert grouped == [([tmp_path / "r.md", tmp_path / "r.csv"], "official ranking"),
                       ([tmp_path / "f.png"], "a figure")]


def test_the_demo_shows_the_volumetric_agreement_of_every_team(demo_dir):
    teams = pd.read_csv(demo_dir / "submissions" / "teams.csv")["team"].tolist()
    agreement = pd.read_csv(demo_dir / "agreement" / "agreement.csv")
    assert set(agreement["team"]) == set(teams)
    assert set(agreement["scale"]) == {"ml", "log"}
    assert "## Volumetric agreement" in (demo_dir / "index.md").read_text()


def test_no_table_config_or_report_names_the_vanished_staging_folder(demo_dir):
    """Regression: cases.csv, nested manifests and the report's provenance named
    ``.out.wmheval-staging-*`` folders that are gone once the demo's set is in place."""
    texts = [p for p in demo_dir.rglob("*")
             if p.suffix in {".csv", ".json", ".md", ".html", ".tex", ".txt"}]
    assert len(texts) > 50
    for path in texts:
        assert "wmheval-staging" not in path.read_text(encoding="utf-8"), path
    cases = pd.read_csv(demo_dir / "scores" / "precise" / "cases.csv")
    named = [Path(p) for p in cases["prediction_path"].dropna()]
    assert named and all(p.is_file() and demo_dir in p.parents for p in named)


@pytest.mark.parametrize("baseline", [True, False])
def test_the_learned_baseline_gets_all_60_training_subjects(tmp_path, monkeypatch, baseline):
    """With the baselines the demo writes every training subject (a learned model overfits
    the small selection's 12); without them it keeps the 27-subject selection."""
    import wmheval.pipelines.demo as demo_module
    import wmheval.synth as synth

    calls: list[dict] = []

    class Stop(Exception):
        pass

    def recording(root, **kwargs):
        calls.append(kwargs)
        raise Stop

    monkeypatch.setattr(synth, "generate_challenge", recording)
    monkeypatch.setattr(demo_module, "torch_available", lambda: True)
    with pytest.raises(Stop):
        demo_module.run_demo(tmp_path / "out", baseline=baseline)
    assert calls == [{"small": True, "seed": 0, "all_training": baseline}]
