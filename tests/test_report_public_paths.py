"""A published report never prints absolute local paths (issue 27 item 9): provenance,
command line, notes and the set's manifest show paths relative to where the command ran,
or just names, with the inputs' hashes."""

import json

from ranking_fixtures import random_teams
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.io.outputs import file_digest
from wmheval.io.paths import public_command, public_path

runner = CliRunner()


def test_public_path_and_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores").mkdir()
    assert public_path(tmp_path / "scores") == "scores"
    assert public_path("/somewhere/else/teams") == "teams"
    assert public_path(tmp_path.parent / "sibling") == "sibling"
    assert public_command(f"wmheval report {tmp_path}/scores --out=/x/y/report -q") == \
        "wmheval report scores --out=report -q"


def test_report_prints_no_absolute_path(tmp_path, monkeypatch):
    project = tmp_path / "home" / "alice" / "project"
    scores = random_teams(project / "scores", n_teams=3, n_subjects=8, seed=0)
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["wmheval", "report", str(scores), "--out",
                                     str(project / "report")])
    result = runner.invoke(app, ["report", str(scores), "--out", str(project / "report"),
                                 "-q", "--bootstrap", "10", "--samples", "50"])
    assert result.exit_code == 0, result.output
    out = project / "report"
    leaks = []
    for path in out.rglob("*"):
        if path.suffix in {".html", ".md", ".json", ".csv", ".tex", ".svg"}:
            text = path.read_text(encoding="utf-8")
            if str(tmp_path) in text:
                leaks.append(path.name)
    assert not leaks, leaks
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "wmheval report scores --out report" in index
    assert f"scores<br><code>sha256 {file_digest(scores)}</code>" in index
    manifest = json.loads((out / "wmheval_manifest.json").read_text())
    assert manifest["inputs"]["input"] == {"path": "scores", "sha256": file_digest(scores)}
