"""`wmheval score` and `wmheval rank` print tables that fit 80 columns without truncating
team names or numbers (issue 9: `0.7…`, and `sysu_media_2` and `sysu_media` both cut to
`sysu_me…`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from wmheval._resources import published_leaderboard_path
from wmheval.cli.main import app
from wmheval.cli.terminal import ranking_tables, summary_tables
from wmheval.ranking import load_field, rank_field


def _render(tables, width: int = 80) -> str:
    console = Console(width=width, record=True, highlight=False)
    for table in tables:
        console.print(table)
    return console.export_text()


def _assert_fits(text: str, width: int = 80) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    assert "…" not in text


def test_published_ranking_fits_80_columns_with_full_names_and_numbers():
    ranking = rank_field(load_field(published_leaderboard_path()))
    text = _render(ranking_tables(ranking, show_ranks=True))
    _assert_fits(text)
    first = text.split("Relative rank")[0]
    assert "Relative rank" in text
    rows = {line.split()[1]: line.split() for line in first.splitlines()
            if line.split() and line.split()[0].isdigit()}
    for _, row in ranking.iterrows():
        cells = rows[row["team"]]  # the full name is a cell of its own line
        assert cells[0] == str(int(row["position"]))
        assert float(cells[2]) == round(row["score"], 4)
        assert float(cells[3]) == round(row["dice"], 3)
        assert float(cells[5]) == round(row["avd"], 1)
    assert "57 teams" in text


@settings(max_examples=25, deadline=None)
@given(names=st.lists(st.text("abcdefghijklmnopqrstuvwxyz_0123456789-", min_size=1,
                              max_size=28), min_size=1, max_size=12, unique=True),
       scale=st.sampled_from([1.0, 10.0, 1000.0]))
def test_any_ranking_fits(names, scale):
    rng = np.random.default_rng(len(names))
    n = len(names)
    ranking = pd.DataFrame({
        "position": np.arange(1, n + 1), "team": names, "score": rng.uniform(0, 1, n),
        "dice": rng.uniform(0, 1, n), "h95": rng.uniform(0, 99, n) * scale / 10,
        "avd": rng.uniform(0, 999, n) * scale / 10, "recall": rng.uniform(0, 1, n),
        "f1": rng.uniform(0, 1, n), "n_cases": 15, "n_missing": 0, "n_undefined": 0})
    for m in ("dice", "h95", "avd", "recall", "f1"):
        ranking[f"rank_{m}"] = rng.uniform(0, 1, n)
    text = _render(ranking_tables(ranking, show_ranks=True))
    _assert_fits(text)
    for name in names:
        assert any(name in line.split() for line in text.splitlines()), name


def test_score_summary_fits_with_std_apart():
    rows = []
    for group_type, group in [("all", "all"), ("scanner", "singapore_siemens_3t"),
                              ("scanner", "amsterdam_philips_3t")]:
        for metric, mean in zip(("dice", "h95", "avd", "recall", "f1"),
                                (0.71234, 12.3456, 123.456, 0.5, math.nan), strict=True):
            rows.append({"group_type": group_type, "group": group, "metric": metric,
                         "mean": mean, "std": 0.1234, "n_undefined": 1 if metric == "f1" else 0,
                         "n_cases": 20, "n_missing": 2, "n_failed": 1})
    summary = pd.DataFrame(rows)
    text = _render(summary_tables(summary, show_std=True))
    _assert_fits(text)
    assert "singapore_siemens_3t" in text and "0.712" in text and "123.5" in text
    assert "n/a" in text and "±" not in text
    assert "20 cases: 17 scored, 2 missing, 1 failed; 1 undefined" in " ".join(text.split())
    assert "Standard deviation" in text and "0.123" in text
    assert "Standard deviation" not in _render(summary_tables(summary))


def test_rank_cli_prints_full_names_at_80_columns(tmp_path):
    result = CliRunner().invoke(app, ["rank", str(published_leaderboard_path()), "-o",
                                      str(tmp_path)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = result.output.split("written:")[0]
    _assert_fits(table)
    names = {line.split()[1] for line in table.splitlines()
             if line.split() and line.split()[0].isdigit()}
    assert {"sysu_media_2", "sysu_media", "bioengineering_espol_team"} <= names


def _commands(group, prefix=()):
    import click

    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_help_fits_80_columns_with_whole_option_names():
    """Rich's boxed help cut options to `--baseline-sampl…` at 80 columns."""
    import typer

    group = typer.main.get_command(app)
    commands = list(_commands(group))
    assert len(commands) >= 8
    for words, command in commands:
        result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "80"},
                                    terminal_width=80)
        assert result.exit_code == 0, (words, result.output)
        _assert_fits(result.output)
        for parameter in command.params:
            for option in parameter.opts:
                if option.startswith("--"):
                    assert option in result.output, (words, option)


def test_the_demo_overview_fits_80_columns_with_every_value():
    """`wmheval demo` printed the overview with its last column cut off at 80 columns."""
    from wmheval.cli.terminal import overview_table

    columns = ["dice_all", "h95_all", "avd_all", "recall_all", "f1_all", "dice_seen",
               "dice_unseen", "missing_or_failed"]
    teams = ["precise", "incomplete", "baseline-resunet-cpu", "baseline-threshold"]
    rng = np.random.default_rng(0)
    overview = pd.DataFrame({c: rng.uniform(0, 150, len(teams)) for c in columns[:-1]})
    overview.insert(0, "team", teams)
    overview["missing_or_failed"] = [0, 2, 0, 11]
    text = _render([overview_table(overview, columns, "Mean per team (test subjects)")])
    _assert_fits(text)
    for _, row in overview.iterrows():
        line = next(line for line in text.splitlines() if line.startswith(row["team"] + " "))
        assert len(line.split()) == 1 + len(columns) - 1, line
    assert "Missing or failed cases: incomplete 2, baseline-threshold 11." in \
        " ".join(text.split())
