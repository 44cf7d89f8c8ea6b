"""The console's score summary (issue 27 item 6): the mean used for ranking (missing and
undefined values imputed) in brackets beside the mean over scored cases, as the legend
says; ``score --missing worst`` on one submission imputes its own worst value instead of
silently excluding; ``--jobs -1`` is refused with exit 2."""

import math

import pytest
from ranking_fixtures import cases_frame
from rich.console import Console
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.cli.terminal import summary_tables
from wmheval.scoring.aggregate import summarize
from wmheval.scoring.policy import make_policy

runner = CliRunner()
NAN = math.nan
# Subject 3 is missing: Dice over scored cases (0.9 + 0.8) / 2 = 0.85, above a complete
# submission's; under missing=empty it counts as Dice 0: (0.9 + 0.8 + 0) / 3 = 0.567.
ROWS = [(0.9, 2.0, 10.0, 0.9, 0.9), (0.8, 4.0, 30.0, 0.7, 0.8), (NAN,) * 5]


def _cases():
    frame = cases_frame(ROWS, scanners=["utrecht_philips_3t"] * 3,
                        statuses=["ok", "ok", "missing"])
    frame["reference_diagonal_mm"] = 300.0
    frame["n_reference_voxels"] = [10, 10, 10]
    frame["n_reference_lesions"] = [2, 2, 2]
    return frame


def _render(summary) -> str:
    console = Console(width=80, record=True, highlight=False)
    for table in summary_tables(summary):
        console.print(table)
    return console.export_text()


def test_summary_prints_the_ranked_mean_in_brackets():
    text = _render(summarize(_cases()))
    line = next(row for row in text.splitlines() if row.startswith("all"))
    assert line.split()[1] == "0.850"
    below = text.splitlines()[text.splitlines().index(line) + 1].split()
    assert below[0] == "[0.567]"  # Dice 0 imputed for the missing case
    assert below[1] == "[102.00]"  # H95 = the reference diagonal: (2 + 4 + 300) / 3
    assert "[Bracketed]: the mean used for ranking" in " ".join(text.split())
    assert max(len(row) for row in text.splitlines()) <= 80 and "…" not in text


def test_no_brackets_when_nothing_is_imputed():
    complete = _cases().iloc[:2]
    text = _render(summarize(complete))
    assert "[" not in text


def test_missing_worst_on_one_submission_imputes_its_own_worst_value():
    summary, notes = summarize(_cases(), make_policy("worst", "fixed"), with_notes=True)
    row = summary[(summary["group"] == "all")].set_index("metric")
    # the worst scored Dice of the submission is 0.8: (0.9 + 0.8 + 0.8) / 3
    assert row.at["dice", "mean_ranked"] == pytest.approx(2.5 / 3)
    assert row.at["h95", "mean_ranked"] == pytest.approx(10.0 / 3)  # (2 + 4 + 4) / 3
    assert row.at["dice", "n_imputed"] == 1
    assert row.at["dice", "mean_ranked"] != pytest.approx(row.at["dice", "mean"])
    assert any("its own worst scored value" in note for note in notes)


def test_negative_jobs_are_refused(tmp_path):
    for command in (["score", str(tmp_path), str(tmp_path)], ["demo", str(tmp_path)]):
        result = runner.invoke(app, [*command, "--jobs", "-1"])
        assert result.exit_code == 2, result.output
        assert "--jobs" in result.output
