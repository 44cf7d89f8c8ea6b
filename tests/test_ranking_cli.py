"""`wmheval rank` and `wmheval sensitivity` through typer's CliRunner, and the report."""

import pandas as pd
from ranking_fixtures import random_teams, write_team
from typer.testing import CliRunner

from wmheval._resources import published_leaderboard_path
from wmheval.cli.main import app
from wmheval.pipelines.sensitivity import write_ranking_report
from wmheval.ranking import load_field

runner = CliRunner()
LEADERBOARD = str(published_leaderboard_path())
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_rank_published_leaderboard(tmp_path):
    result = runner.invoke(app, ["rank", LEADERBOARD, "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "ranking.csv")
    assert len(table) == 57 and {"team", "score", "position"} <= set(table.columns)
    assert (table["score"] - table["published_score"]).abs().max() < 0.005
    for suffix in ("md", "tex", "html"):
        assert (tmp_path / f"ranking.{suffix}").stat().st_size > 0


def test_rank_subset_from_file_and_names(tmp_path):
    (tmp_path / "teams.txt").write_text("pgs\n# a comment\n\nhadi\n")
    result = runner.invoke(app, ["rank", LEADERBOARD, "cian", "--teams",
                                 str(tmp_path / "teams.txt"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "ranking.csv")
    assert table["team"].tolist() == ["pgs", "cian", "hadi"]
    assert table["score"].iloc[-1] == 1.0 and table["position"].tolist() == [1, 2, 3]


def test_rank_with_an_added_team(tmp_path):
    from ranking_fixtures import cases_frame

    team = write_team(tmp_path, "scored", cases_frame([(0.2, 60.0, 900.0, 0.1, 0.05)] * 3,
                                                      ids=["1", "3", "5"]))
    result = runner.invoke(app, ["rank", LEADERBOARD, "--add", str(team), "--name", "mine",
                                 "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    assert "WARNING: mine: 3 of 110 test subjects" in result.output
    table = pd.read_csv(tmp_path / "o" / "ranking.csv")
    assert len(table) == 58 and table["team"].iloc[-1] == "mine"
    assert table["score"].iloc[-1] == 1.0  # worst on every metric
    assert not table["comparable"].iloc[-1] and table["n_cases"].iloc[-1] == 3
    notes = (tmp_path / "o" / "notes.md").read_text()
    assert "not comparable" in notes and "empty mask" in notes


def test_rank_bad_input_exit_codes(tmp_path):
    result = runner.invoke(app, ["rank", LEADERBOARD, "nobody", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "unknown team" in result.output
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"team": ["a"], "dice": [0.5]}).to_csv(bad, index=False)
    result = runner.invoke(app, ["rank", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "bad.csv" in result.output and "h95" in result.output
    result = runner.invoke(app, ["rank", LEADERBOARD, "--weights", "1,x", "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 2 and "weights" in result.output
    result = runner.invoke(app, ["rank", LEADERBOARD, "--split", "unseen", "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 2 and "split" in result.output
    assert not (tmp_path / "out").exists()
    # A folder holding files but no manifest is refused (exit 2), never overwritten.
    result = runner.invoke(app, ["rank", LEADERBOARD, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "manifest" in result.output
    assert bad.is_file() and not (tmp_path / "ranking.csv").exists()


def test_sensitivity_on_teams_folder_writes_everything(tmp_path):
    teams = random_teams(tmp_path / "teams", n_teams=4, n_subjects=12)
    out = tmp_path / "out"
    result = runner.invoke(app, ["sensitivity", str(teams), "--out", str(out),
                                 "--bootstrap", "100", "--samples", "2000", "-q"])
    assert result.exit_code == 0, result.output
    for stem in ("bootstrap_blobs", "weights_heatmap", "schemes_lines", "scanner_boxes"):
        assert (out / f"{stem}.png").read_bytes()[:8] == PNG_MAGIC
        assert "<svg" in (out / f"{stem}.svg").read_text()[:2000]
    for stem in ("ranking", "weights_summary", "weights_named", "weights_tau", "schemes",
                 "bootstrap_summary", "bootstrap_tau", "significance_wins"):
        assert (out / f"{stem}.csv").stat().st_size > 0
    schemes = pd.read_csv(out / "schemes.csv")
    assert {"official", "mean_rank", "median_rank", "rank_then_aggregate",
            "test_based"} <= set(schemes.columns)


def test_report_on_means_only_field(tmp_path):
    field = load_field(published_leaderboard_path())
    written = write_ranking_report(field, tmp_path, samples=1000, grid_steps=4)
    names = {p.name for p, _ in written}
    assert {"ranking.csv", "weights_summary.csv", "schemes.csv", "weights_heatmap.png",
            "schemes_lines.svg", "field_dependence.png", "field_dependence.csv",
            "notes.md"} <= names
    assert not any(n.startswith("bootstrap") for n in names)
    assert all(p.is_file() and p.stat().st_size > 0 and text for p, text in written)
    schemes = pd.read_csv(tmp_path / "schemes.csv")
    assert "published" in schemes.columns
