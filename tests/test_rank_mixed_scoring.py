"""``rank`` refuses teams not scored alike (issue 27 item 2): a team scored against another
reference with the same ids, or with another ``--binarize`` rule, exits 2 naming the teams
and what differs; ``--allow-mixed-scoring`` ranks them with a warning in notes.md and the
HTML."""

import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import synth_fixtures
from typer.testing import CliRunner

from wmheval.cli.main import app
from wmheval.pipelines.inputs import MIXED_SCORING_NOTE
from wmheval.pipelines.score import score_to_dir

runner = CliRunner()
small_challenge = synth_fixtures.small_challenge
small_submissions = synth_fixtures.small_submissions


@pytest.fixture(scope="module")
def scored(small_challenge, small_submissions, tmp_path_factory):
    """precise and greedy scored alike; greedy again with threshold:128; precise against an
    altered copy of the reference (one voxel of subject 1's wmh flipped)."""
    root, _ = small_challenge
    subs, _ = small_submissions
    base = tmp_path_factory.mktemp("mixed")
    altered = base / "altered_reference"
    shutil.copytree(root, altered)
    wmh = next(p for p in altered.rglob("wmh.nii.gz") if p.parent.name == "1")
    image = nib.load(wmh)
    data = np.asarray(image.dataobj).copy()
    data.flat[0] = 1 - data.flat[0] if data.flat[0] in (0, 1) else 0
    nib.save(nib.Nifti1Image(data, image.affine, image.header), wmh)
    for folder, team, reference, rule in (("alike", "precise", root, "official"),
                                          ("alike", "greedy", root, "official"),
                                          ("rule", "greedy", root, "threshold:128"),
                                          ("reference", "precise", altered, "official")):
        score_to_dir(reference, subs / team, base / folder / team, jobs=1, split="test",
                     rule=rule, cache=None)
    for folder in ("rule", "reference"):  # the other team, scored like the alike pair
        shutil.copytree(base / "alike" / ("precise" if folder == "rule" else "greedy"),
                        base / folder / ("precise" if folder == "rule" else "greedy"))
    return base


def test_teams_scored_alike_are_ranked(scored, tmp_path):
    result = runner.invoke(app, ["rank", str(scored / "alike"), "-o", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "ranking.csv")["team"].tolist() == ["precise", "greedy"]
    assert MIXED_SCORING_NOTE not in (tmp_path / "notes.md").read_text()


@pytest.mark.parametrize("folder, expected", [
    ("rule", "binarisation rule (--binarize) differs: threshold:128 (greedy); official "
             "(precise)"),
    ("reference", "reference differs (sha256 of the reference cases scored): "),
])
def test_mixed_scoring_is_refused_naming_teams_and_difference(scored, tmp_path, folder,
                                                              expected):
    out = tmp_path / "out"
    result = runner.invoke(app, ["rank", str(scored / folder), "-o", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert expected in result.output and "--allow-mixed-scoring" in result.output
    assert "greedy" in result.output and "precise" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_reference_difference_names_both_hashes(scored, tmp_path):
    result = runner.invoke(app, ["rank", str(scored / "reference"), "-o", str(tmp_path)])
    message = " ".join(result.output.split())
    hashes = {}
    for team in ("precise", "greedy"):
        manifest = pd.read_json(scored / "reference" / team / "wmheval_manifest.json",
                                typ="series")
        hashes[team] = manifest["inputs"]["reference"]["sha256"][:12]
    assert hashes["precise"] != hashes["greedy"]
    assert f"{hashes['greedy']} (greedy)" in message
    assert f"{hashes['precise']} (precise)" in message


def test_allow_mixed_scoring_ranks_with_a_warning_in_the_outputs(scored, tmp_path):
    result = runner.invoke(app, ["rank", str(scored / "rule"), "-o", str(tmp_path), "-q",
                                 "--allow-mixed-scoring"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "ranking.csv")) == 2
    notes = (tmp_path / "notes.md").read_text()
    assert MIXED_SCORING_NOTE + "binarisation rule (--binarize) differs" in notes
    assert "threshold:128 (greedy)" in (tmp_path / "ranking.html").read_text()
    assert "WARNING: teams not scored alike" in result.output


@pytest.mark.parametrize("command", ["sensitivity", "report"])
def test_sensitivity_and_report_refuse_then_warn_in_the_html(scored, tmp_path, command):
    out = tmp_path / "out"
    options = ["-o", str(out), "-q", "--bootstrap", "5", "--samples", "50"]
    refused = runner.invoke(app, [command, str(scored / "rule"), *options])
    assert refused.exit_code == 2 and "--allow-mixed-scoring" in refused.output
    assert not out.exists()
    allowed = runner.invoke(app, {
        "sensitivity": ["sensitivity", str(scored / "rule"), *options, "--allow-mixed-scoring"],
        "report": ["report", str(scored / "rule"), *options, "--allow-mixed-scoring"],
    }[command])
    assert allowed.exit_code == 0, allowed.output
    index = " ".join((out / "index.html").read_text(encoding="utf-8").split())
    assert "WARNING: teams not scored alike" in index and "threshold:128 (greedy)" in index
    assert "threshold:128 (greedy)" in (out / "notes.md").read_text()
