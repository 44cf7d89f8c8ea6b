"""Bounded work for many teams (issue 33 item 6): the pairwise tests and the figures are
skipped above a number of teams with a note and an option; the weight sweep is cut to a
memory bound with a note."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ranking_fixtures import random_teams
from typer.testing import CliRunner

from wmheval.analysis import weights as weights_module
from wmheval.cli.main import app


def test_caps_skip_the_pairwise_tests_and_figures_with_a_note(tmp_path):
    root = random_teams(tmp_path / "teams", n_teams=5, n_subjects=6)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sensitivity", str(root), "-o", str(out), "--bootstrap",
                                      "10", "--samples", "50", "--max-teams-tests", "4",
                                      "--max-teams-figures", "4"])
    assert result.exit_code == 0, result.output
    assert "5 teams: the pairwise tests" in result.output
    assert "raise --max-teams-figures" in result.output
    assert not (out / "significance_wins.csv").exists()
    assert not list(out.glob("*.png"))
    assert "test_based" not in pd.read_csv(out / "schemes.csv").columns
    notes = (out / "notes.md").read_text()
    assert "--max-teams-tests" in notes and "--max-teams-figures" in notes
    # Under the limits everything is there.
    again = CliRunner().invoke(app, ["sensitivity", str(root), "-o", str(out), "--bootstrap",
                                     "10", "--samples", "50", "--no-figures"])
    assert again.exit_code == 0, again.output
    wins = pd.read_csv(out / "significance_wins.csv")
    assert len(wins) == 5 and "test_based" in pd.read_csv(out / "schemes.csv").columns


def test_the_weight_sweep_is_cut_to_the_memory_bound(monkeypatch):
    monkeypatch.setattr(weights_module, "MAX_SWEEP_CELLS", 40 * 3000)
    rel = np.random.default_rng(0).random((40, 5))
    teams = [f"t{k}" for k in range(40)]
    cut = weights_module.weight_sensitivity(rel, teams, n_samples=10_000, grid_steps=4)
    n_grid = weights_module.simplex_grid(4, 5).shape[1]
    assert cut.positions.shape == (40, 3000)  # grid + 3000 - grid samples
    assert cut.weights.shape[1] == n_grid + (3000 - n_grid)
    assert "instead of 10000 for 40 teams" in cut.note
    whole = weights_module.weight_sensitivity(rel, teams, n_samples=2000, grid_steps=4)
    assert whole.note == "" and whole.positions.shape == (40, n_grid + 2000)


def test_report_takes_the_same_caps(tmp_path):
    root = random_teams(tmp_path / "teams", n_teams=3, n_subjects=5)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(root), "-o", str(out), "--bootstrap", "5",
                                      "--samples", "30", "--max-teams-tests", "2",
                                      "--max-teams-figures", "2"])
    assert result.exit_code == 0, result.output
    assert "3 teams: the pairwise tests" in result.output
    assert not (out / "significance_wins.csv").exists()
    assert not list(out.glob("*.png"))
    assert "raise --max-teams-figures" in (out / "notes.md").read_text()
