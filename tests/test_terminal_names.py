"""Full team names and every number at 80 columns (issue 27 item 12): ``agreement`` cut
names to 13 characters (``uned_enhanced_2021`` and ``uned_enhanced_2022`` printed the
same) and printed no units; a long name made ``rank`` drop the position column and cut
metrics; ``sensitivity`` printed no result."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from ranking_fixtures import random_teams
from rich.console import Console
from typer.testing import CliRunner

from wmheval.analysis.sensitivity import analyse_sensitivity
from wmheval.cli.agreement import _summary_lines
from wmheval.cli.main import app
from wmheval.cli.terminal import ranking_tables
from wmheval.pipelines.sensitivity import headline
from wmheval.ranking import load_field

runner = CliRunner()
LONG = "a_very_long_team_name_from_a_big_consortium_2024_with_even_more"


def _statistics(teams):
    rows = []
    for k, team in enumerate(teams):
        rows.append({"team": team, "scale": "ml", "group_type": "all", "n": 15 + k,
                     "pearson_r": 0.9 + k / 100, "icc_a1": 0.8 + k / 100,
                     "ols_slope": 1.1 + k / 10, "pb_slope": 0.95 + k / 10,
                     "ba_bias": -1.25 - k, "ba_loa_lower": -10.5 - k,
                     "ba_loa_upper": 8.25 + k})
    return pd.DataFrame(rows)


def test_agreement_prints_full_names_every_number_and_units():
    teams = ["uned_enhanced_2021", "uned_enhanced_2022", LONG]
    lines = _summary_lines(SimpleNamespace(statistics=_statistics(teams)))
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for k, team in enumerate(teams):
        assert any(line.split()[:1] == [team] for line in lines), team
        numbers = f"{-10.5 - k:.2f} to {8.25 + k:.2f}"
        row = next(line for line in lines if line.rstrip().endswith(numbers))
        cells = row.split()
        assert cells[-13:] == ["ml", str(15 + k), f"{0.9 + k / 100:.3f}",
                               f"{0.8 + k / 100:.3f}", f"{1.1 + k / 10:.2f}",
                               f"{0.95 + k / 10:.2f}", f"{-1.25 - k:.2f}",
                               f"{-10.5 - k:.2f}", "to", f"{8.25 + k:.2f}"][-13:]
    assert "bias and limits in mL" in " ".join(text.split())


def test_rank_keeps_position_and_every_metric_with_a_long_name():
    ranking = pd.DataFrame({
        "position": [1, 2], "team": [LONG, "short"], "score": [0.1, 0.9],
        "dice": [0.812, 0.7], "h95": [5.123, 120.5], "avd": [20.1, 1234.5],
        "recall": [0.801, 0.7], "f1": [0.7, 0.612], "n_cases": 15, "n_missing": 0,
        "n_undefined": 0})
    console = Console(width=80, record=True)
    for table in ranking_tables(ranking, width=80):
        console.print(table)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in text
    header = " ".join(lines[1:3]).split()
    for label in ("#", "Score", "Dice", "H95", "AVD", "Recall", "F1"):
        assert label in header, label
    first = next(line for line in lines if line.startswith("1 "))
    assert first.split()[-6:] == ["0.1000", "0.812", "5.12", "20.1", "0.801", "0.700"]
    second = next(line for line in lines if line.startswith("2 "))
    assert second.split() == ["2", "short", "0.9000", "0.700", "120.50", "1234.5", "0.700",
                              "0.612"]
    # the name folds onto the lines below position 1, whole
    start = lines.index(first)
    pieces = [line.split()[1] for line in [first]] + [
        line.split()[0] for line in lines[start + 1:lines.index(second)]]
    assert "".join(pieces) == LONG


def test_sensitivity_headline_counts_first_places_and_the_median_tau(tmp_path):
    field = load_field(random_teams(tmp_path, n_teams=4, n_subjects=12, seed=3))
    result = analyse_sensitivity(field, bootstrap=200, samples=300, seed=1)
    lines = headline(result)
    boot = result.bootstrap
    positions = np.asarray(boot.positions)
    firsts = (positions == 1).sum(axis=0)
    leader = int(np.argmax(firsts))
    teams = list(boot.summary["team"]) if positions.shape[1] != len(field.teams) else \
        list(field.teams)
    assert f"{teams[leader]} first in {firsts[leader]} of 200 resamples" in lines[1]
    assert f"median {np.median(boot.tau):.3f}" in lines[1]
    assert lines[0].startswith(f"First: {result.ranking['team'].iloc[0]} ")


def test_sensitivity_prints_its_result(tmp_path):
    root = random_teams(tmp_path / "teams", n_teams=3, n_subjects=10, seed=0)
    result = runner.invoke(app, ["sensitivity", str(root), "-o", str(tmp_path / "out"),
                                 "--bootstrap", "50", "--samples", "100", "--no-figures",
                                 "-q"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.startswith("First: team2 (score 0.0000) of 3 team(s)")
    assert "team2 first in 50 of 50 resamples (100.0 %)" in text
    assert "Kendall tau to the official ranking: median 1.000" in text


@pytest.mark.parametrize("width", [80])
def test_agreement_header_fits(width):
    lines = _summary_lines(SimpleNamespace(statistics=_statistics(["x"])), width=width)
    assert len(lines[0]) <= width
