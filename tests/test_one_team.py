"""A field of ONE team (issue 27 item 7): ``wmheval sensitivity`` and ``wmheval report``
end with exit 0 and report the team without the comparisons that need two (they ended in
an IndexError in analysis/field_dependence.py)."""

import json

import pandas as pd
import pytest
from ranking_fixtures import cases_frame, write_team
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.pipelines.report import ONE_TEAM_NOTE

runner = CliRunner()
ROWS = [(0.8, 2.0, 10.0, 0.9, 0.85), (0.6, 4.0, 20.0, 0.7, 0.65), (0.7, 3.0, 30.0, 0.8, 0.75)]


@pytest.fixture
def one_team(tmp_path):
    write_team(tmp_path / "scores", "solo", cases_frame(ROWS))
    return tmp_path / "scores"


@pytest.mark.parametrize("command", ["sensitivity", "report"])
def test_one_team_is_reported_without_comparisons(one_team, tmp_path, command):
    out = tmp_path / "out"
    result = runner.invoke(app, [command, str(one_team), "--out", str(out), "-q",
                                 "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    ranking = pd.read_csv(out / "ranking.csv")
    assert ranking["team"].tolist() == ["solo"] and ranking["position"].tolist() == [1]
    assert ranking["dice"].iloc[0] == pytest.approx(0.7)
    assert ranking["avd"].iloc[0] == pytest.approx(20.0)
    assert ONE_TEAM_NOTE in (out / "notes.md").read_text()
    figures = [f["png"] for f in json.loads((out / "figures.json").read_text())["figures"]]
    assert figures == ["dots_boxes.png", "scanner_boxes.png"]
    for absent in ("bootstrap_tau.csv", "significance_wins.csv", "field_dependence.csv",
                   "weights_tau.csv", "schemes.csv"):
        assert not (out / absent).exists()
    index = (out / "index.html").read_text()
    assert "a field of one team" in index and "teams/solo.html" in index
