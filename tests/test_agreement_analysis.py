"""Agreement analysis on tables: volumes, TP/FP/FN, load groups, Fazekas thresholds, bad input,
the two-folder mode, the CLI and the figure set."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_image
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from wmheval.analysis import fazekas
from wmheval.analysis.agreement import (
    DEFAULT_LOAD_GROUPS,
    analyse_agreement,
    load_group_of,
    read_score_folders,
    volumes_from_cases,
)
from wmheval.analysis.agreement_stats import agreement_row
from wmheval.cli.main import app
from wmheval.metrics import evaluate_masks

SCANNERS = ["utrecht_philips_3t", "singapore_siemens_3t", "amsterdam_ge_1p5t"]


def _cases(n: int = 12, seed: int = 0, scale: float = 1.0) -> pd.DataFrame:
    """A cases.csv-like table with consistent voxel counts (voxel 0.001 mL)."""
    rng = np.random.default_rng(seed)
    n_ref = rng.integers(200, 40_000, n)
    n_pred = np.maximum((n_ref * scale * rng.uniform(0.7, 1.3, n)).astype(int), 1)
    overlap = (np.minimum(n_ref, n_pred) * rng.uniform(0.5, 0.95, n)).astype(int)
    dice = 2 * overlap / (n_ref + n_pred)
    return pd.DataFrame({
        "id": [str(k) for k in range(n)],
        "scanner": [SCANNERS[k % 3] for k in range(n)],
        "split": "test",
        "seen_in_training": [SCANNERS[k % 3] != "amsterdam_ge_1p5t" for k in range(n)],
        "status": "ok", "dice": dice, "recall": rng.uniform(0.3, 1, n),
        "n_reference_voxels": n_ref, "n_prediction_voxels": n_pred,
        "reference_ml": n_ref * 0.001, "prediction_ml": n_pred * 0.001,
        "n_overlap_voxels": overlap, "overlap_ml": overlap * 0.001,
    })


def _score_folder(root: Path, name: str, cases: pd.DataFrame) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    cases.to_csv(folder / "cases.csv", index=False)
    return folder


# ---------------------------------------------------------------- volumes and TP/FP/FN


def test_overlap_column_is_the_true_positive_count_and_metrics_are_unchanged():
    rng = np.random.default_rng(3)
    reference = rng.random((3, 12, 12)) > 0.8
    prediction = rng.random((3, 12, 12)) > 0.7
    metrics = evaluate_masks(reference, prediction)
    overlap = int(np.count_nonzero(reference & prediction))
    assert metrics.n_overlap_voxels == overlap
    assert metrics.overlap_ml == pytest.approx(overlap * 0.001)
    assert metrics.dice == pytest.approx(2 * overlap / (reference.sum() + prediction.sum()))


def test_volumes_tp_fp_fn_and_the_fallback_for_old_cases_tables():
    cases = _cases()
    volumes = volumes_from_cases(cases, "a")
    assert np.allclose(volumes["tp_ml"] + volumes["fn_ml"], volumes["reference_ml"])
    assert np.allclose(volumes["tp_ml"] + volumes["fp_ml"], volumes["prediction_ml"])
    # a cases.csv written before the overlap column existed: TP from Dice and the counts
    old = volumes_from_cases(cases.drop(columns=["n_overlap_voxels", "overlap_ml"]), "a")
    assert np.allclose(old["tp_ml"], cases["overlap_ml"])


def test_missing_and_zero_volumes_and_small_groups_are_reported_not_fatal():
    cases = _cases(10)
    cases.loc[2, ["status"]] = "missing"
    cases.loc[2, ["reference_ml", "prediction_ml", "dice"]] = np.nan
    cases.loc[1, ["reference_ml", "n_reference_voxels", "overlap_ml"]] = 0.0
    cases.loc[1, "dice"] = 0.0
    volumes = volumes_from_cases(cases, "team")
    result = analyse_agreement(volumes, scales=("ml", "log"))
    assert any("without volumes" in p and "missing" in p for p in result.problems)
    assert any("zero volume left out of the log-scale" in n for n in result.notes)
    ml_all = result.statistics.query("scale == 'ml' and group == 'all'").iloc[0]
    log_all = result.statistics.query("scale == 'log' and group == 'all'").iloc[0]
    assert ml_all["n"] == 9 and log_all["n"] == 8
    # the unseen scanner has 3 subjects, one of them missing: 2 left -> skipped with a note
    assert "amsterdam_ge_1p5t" not in set(result.statistics["group"])
    assert any("amsterdam_ge_1p5t" in n and "fewer than 3" in n for n in result.notes)
    assert "Fazekas" in " ".join(result.notes) and result.fazekas_mode == "skipped"


def test_group_statistics_equal_the_statistics_of_the_group_rows():
    volumes = volumes_from_cases(_cases(15, seed=4), "t")
    result = analyse_agreement(volumes)
    seen = volumes[volumes["seen_in_training"]]
    expected = agreement_row(seen["reference_ml"].to_numpy(), seen["prediction_ml"].to_numpy())
    row = result.statistics.query("group == 'seen'").iloc[0]
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, nan_ok=True), key
    assert set(result.statistics["group"]) == {"all", "seen", "unseen", *SCANNERS}


def test_load_groups_hand_case():
    assert list(load_group_of([0.5, 5.0, 14.9, 15.0, np.nan])) == [
        "small (<5 mL)", "medium (5-15 mL)", "medium (5-15 mL)", "large (>=15 mL)", ""]
    from wmheval.cli.agreement import parse_load_groups

    assert [g[0] for g in parse_load_groups("2,10")] == ["<2 mL", "2-10 mL", ">=10 mL"]
    with pytest.raises(ValueError):
        parse_load_groups("10,2")
    from wmheval.analysis.agreement import load_groups_from_edges

    assert load_groups_from_edges((2, 10)) == ((("<2 mL", 0.0, 2.0), ("2-10 mL", 2.0, 10.0),
                                                (">=10 mL", 10.0, float("inf"))))
    with pytest.raises(ValueError, match="positive and increasing"):
        load_groups_from_edges((0, 5))
    volumes = pd.DataFrame({
        "team": "t", "id": ["a", "b", "c", "d"], "scanner": "s", "seen_in_training": True,
        "status": "ok", "reference_ml": [1.0, 3.0, 20.0, 30.0],
        "prediction_ml": [2.0, 3.0, 10.0, 33.0], "tp_ml": [1.0, 2.0, 10.0, 30.0],
        "fp_ml": [1.0, 1.0, 0.0, 3.0], "fn_ml": [0.0, 1.0, 10.0, 0.0],
        "dice": [0.4, 0.6, 0.5, 0.9], "recall": [1.0, 0.5, 0.5, 1.0]})
    strata = analyse_agreement(volumes).strata.set_index("load_group")
    small = strata.loc["small (<5 mL)"]
    assert small["n"] == 2 and small["dice_mean"] == pytest.approx(0.5)
    assert small["volume_error_ml_mean"] == pytest.approx(0.5)  # (+1 + 0) / 2
    assert small["abs_relative_error_pct_mean"] == pytest.approx(50.0)  # (100 % + 0 %) / 2
    large = strata.loc["large (>=15 mL)"]
    assert large["dice_mean"] == pytest.approx(0.7)
    assert large["abs_relative_error_pct_mean"] == pytest.approx((50 + 10) / 2)
    assert large["fn_ml_sum"] == pytest.approx(10.0)
    assert strata.loc["medium (5-15 mL)", "n"] == 0
    assert DEFAULT_LOAD_GROUPS[1][1:] == (5.0, 15.0)


# ---------------------------------------------------------------- Fazekas


def _brute_force_best(volumes, grades, order) -> int:
    """Most correct grades over every threshold set from the candidate midpoints."""
    values = np.unique(volumes)
    candidates = [-np.inf, *((values[1:] + values[:-1]) / 2), np.inf]
    best = 0
    for thresholds in itertools.combinations_with_replacement(candidates, len(order) - 1):
        estimated = fazekas.apply_thresholds(volumes, sorted(thresholds), order)
        best = max(best, int(np.sum(estimated == np.asarray(grades, dtype=object))))
    return best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.sampled_from(["0-1", "2", "3"])),
                min_size=1, max_size=12))
def test_fitted_thresholds_are_optimal(pairs):
    volumes = np.array([float(v) for v, _ in pairs])
    grades = [g for _, g in pairs]
    order = ["0-1", "2", "3"]
    thresholds = fazekas.fit_thresholds(volumes, grades, order)
    assert list(thresholds) == sorted(thresholds)
    estimated = fazekas.apply_thresholds(volumes, thresholds, order)
    correct = int(np.sum(estimated == np.asarray(grades, dtype=object)))
    assert correct == _brute_force_best(volumes, grades, order)


def test_fazekas_hand_case_and_cross_validation():
    order = fazekas.grade_order(["3", "0-1", "2"])
    assert order == ["0-1", "2", "3"]
    volumes = [1.0, 2.0, 3.0, 10.0, 12.0, 30.0, 40.0]
    grades = ["0-1", "0-1", "2", "2", "3", "3", "3"]
    # perfectly separable: thresholds midway, 2.5 and 11
    assert list(fazekas.fit_thresholds(volumes, grades, order)) == [2.5, 11.0]
    folds = fazekas.fold_assignment(7, folds=3, seed=1)
    assert sorted(np.bincount(folds)) == [2, 2, 3]
    assert np.array_equal(folds, fazekas.fold_assignment(7, folds=3, seed=1))
    estimate = fazekas.cross_validate(volumes, grades, order, folds=7, seed=0)
    assert estimate.confusion.to_numpy().sum() == 7
    # leave-one-out by hand: only subjects 3 (3 mL), 10 mL and 12 mL sit alone in their grade
    # region once left out: recompute literally
    expected = []
    for i in range(7):
        keep = [j for j in range(7) if j != i]
        t = fazekas.fit_thresholds([volumes[j] for j in keep], [grades[j] for j in keep],
                                   order)
        expected.append(fazekas.apply_thresholds([volumes[i]], t, order)[0])
    assert list(estimate.predicted) == expected


def test_fazekas_with_ratings_and_with_a_grading(tmp_path):
    volumes = pd.concat([volumes_from_cases(_cases(30, seed=1), "a"),
                         volumes_from_cases(_cases(30, seed=1, scale=2.0), "b")])
    reference = volumes.drop_duplicates("id")
    grades = np.where(reference["reference_ml"] < 10, "0-1",
                      np.where(reference["reference_ml"] < 25, "2", "3"))
    ratings_file = tmp_path / "ratings.csv"
    pd.DataFrame({"id": [*reference["id"], "999"], "grade": [*grades, "2"]}).to_csv(
        ratings_file, index=False)
    ratings = fazekas.read_ratings(ratings_file)
    result = analyse_agreement(volumes, ratings=ratings, folds=5)
    summary = result.fazekas_summary.set_index("volumes_of")
    # ratings made from the reference volume: the reference grades them (almost) all right
    assert summary.loc["(reference)", "share_correct"] >= 0.9
    assert any("not in the volume tables: 999" in p for p in result.problems)
    confusion = result.fazekas_confusion
    assert confusion.groupby("volumes_of")["n"].sum().tolist() == [30, 30, 30]
    # grading only: grades of the reference volume against grades of the team's volume
    result = analyse_agreement(volumes, grading=([10.0, 25.0], ["0-1", "2", "3"]))
    summary = result.fazekas_summary.set_index("volumes_of")
    ref = volumes[volumes["team"] == "b"]
    same = (fazekas.apply_thresholds(ref["reference_ml"], [10, 25], ["0-1", "2", "3"]) ==
            fazekas.apply_thresholds(ref["prediction_ml"], [10, 25], ["0-1", "2", "3"]))
    assert summary.loc["b", "share_correct"] == pytest.approx(same.mean())
    with pytest.raises(fazekas.RatingsError, match="columns"):
        bad = tmp_path / "bad.csv"
        bad.write_text("subject,score\n1,2\n")
        fazekas.read_ratings(bad)


# ---------------------------------------------------------------- two folders, CLI, figures


def _segmentation_folders(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    for k in range(6):
        reference = (rng.random((4, 16, 16)) > 0.85 - 0.02 * k).astype(np.uint8)
        other = reference.copy()
        other[0] = rng.random((16, 16)) > 0.9  # one slice disagrees
        write_image(root / "mri" / str(k) / "wmh.nii.gz", reference, spacing=(1, 1, 3))
        if k != 5:
            write_image(root / "ct" / f"{k}.nii.gz", other, spacing=(1, 1, 3))
    return root / "mri", root / "ct"


def test_two_folder_mode_scores_one_folder_against_the_other(tmp_path):
    from wmheval.scoring.pair import score_pair

    mri, ct = _segmentation_folders(tmp_path)
    scored = score_pair(mri, ct, jobs=1)
    cases = scored.cases.set_index("id")
    assert cases.loc["5", "status"] == "missing"
    import SimpleITK as sitk

    for k in range(5):
        reference = sitk.GetArrayFromImage(sitk.ReadImage(str(mri / str(k) / "wmh.nii.gz")))
        other = sitk.GetArrayFromImage(sitk.ReadImage(str(ct / f"{k}.nii.gz")))
        voxel_ml = 3 / 1000
        row = cases.loc[str(k)]
        assert row["reference_ml"] == pytest.approx(reference.sum() * voxel_ml)
        assert row["overlap_ml"] == pytest.approx(((reference > 0) & (other > 0)).sum()
                                                  * voxel_ml)

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["agreement", str(ct), "--reference", str(mri),
                                      "--out", str(out), "--name", "CT", "-j", "1",
                                      "--no-figures"])
    assert result.exit_code == 1, result.output  # subject 5 has no CT mask
    assert "without volumes" in result.output
    agreement = pd.read_csv(out / "agreement.csv")
    assert agreement.query("group == 'all'")["n"].tolist() == [5]
    # The CLI's per-pair table holds the same volumes as score_pair (checked against the
    # files above), subject 5 listed as missing.
    pair_cases = pd.read_csv(out / "pairs" / "CT" / "cases.csv", dtype={"id": str})
    pair_cases = pair_cases.set_index("id")
    assert sorted(pair_cases.index) == [str(k) for k in range(6)]
    assert pair_cases.loc["5", "status"] == "missing"
    for k in map(str, range(5)):
        assert pair_cases.loc[k, "reference_ml"] == pytest.approx(cases.loc[k, "reference_ml"])
        assert pair_cases.loc[k, "overlap_ml"] == pytest.approx(cases.loc[k, "overlap_ml"])


def test_cli_exit_codes_and_outputs(tmp_path):
    runner = CliRunner()
    teams = tmp_path / "teams"
    _score_folder(teams, "good", _cases(12, seed=5))
    _score_folder(teams, "biased", _cases(12, seed=5, scale=1.5))
    out = tmp_path / "out"
    result = runner.invoke(app, ["agreement", str(teams), "--out", str(out), "--scale", "both",
                                 "--grading", "10,25"])
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()[:-1]), result.output
    agreement = pd.read_csv(out / "agreement.csv")
    volumes = pd.read_csv(out / "volumes.csv", dtype={"id": str})
    for team in ("good", "biased"):
        rows = volumes[volumes["team"] == team]
        reference_ml = rows["reference_ml"].to_numpy()
        prediction_ml = rows["prediction_ml"].to_numpy()
        row = agreement.query(f"team == '{team}' and scale == 'ml' and group == 'all'").iloc[0]
        # Independent oracles: numpy's correlation, the mean of the differences P - T.
        assert row["pearson_r"] == pytest.approx(np.corrcoef(reference_ml, prediction_ml)[0, 1])
        assert row["ba_bias"] == pytest.approx(np.mean(prediction_ml - reference_ml))
    biased = agreement.query("team == 'biased' and scale == 'log' and group == 'all'").iloc[0]
    assert math.exp(biased["ba_bias"]) == pytest.approx(1.5, rel=0.1)  # ratio ~1.5

    entries = json.loads((out / "figures.json").read_text())
    assert {"Volume agreement", "Bland–Altman", "Dice against lesion load",
            "Lesion volume per grade"} <= {e["title"] for e in entries}
    for entry in entries:
        assert entry["explanation"] and (out / entry["png"]).read_bytes()[:4] == b"\x89PNG"
        assert (out / entry["svg"]).read_text().lstrip().startswith("<?xml")
    tables = entries[0]["tables"]
    assert any(t["csv"] == "agreement.csv" for t in tables)
    for table in (t for t in tables if "csv" in t):  # every listed table has rows
        assert len(pd.read_csv(out / table["csv"])) > 0, table["csv"]

    assert runner.invoke(app, ["agreement", str(tmp_path / "nowhere"), "--out",
                               str(out)]).exit_code == 2
    assert runner.invoke(app, ["agreement", str(teams), "--out", str(out),
                               "--load-groups", "x"]).exit_code == 2
    assert runner.invoke(app, ["agreement", str(teams), "--out", str(out), "--grading",
                               "10,25", "--grades", "a,b"]).exit_code == 2
    bad = _score_folder(tmp_path, "bad", pd.DataFrame({"id": ["1"], "dice": [0.5]}))
    result = runner.invoke(app, ["agreement", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "reference_ml" in result.output


def test_read_score_folders_names_and_duplicates(tmp_path):
    a = _score_folder(tmp_path, "a", _cases(4))
    volumes = read_score_folders([a, a], names=["x", "y"])
    assert sorted(set(volumes["team"])) == ["x", "y"]
    from wmheval.analysis.agreement import AgreementInputError

    with pytest.raises(AgreementInputError, match="distinct name"):
        read_score_folders([a, a])


def test_tiny_and_empty_inputs_are_analysed_as_far_as_possible(tmp_path):
    from wmheval.pipelines.agreement import write_agreement_report

    base = {"scanner": "utrecht_philips_3t", "seen_in_training": True, "status": "ok",
            "tp_ml": 0.5, "fp_ml": 0.1, "fn_ml": 0.2, "dice": 0.5, "recall": 0.5}
    volumes = pd.DataFrame([{"team": "t", "id": str(i), "reference_ml": 1.0 + i,
                             "prediction_ml": 1.2 + i, **base} for i in range(2)])
    result = analyse_agreement(volumes, scales=("ml", "log"))
    assert result.statistics.empty
    assert any("t, all (ml): 2 subject(s), fewer than 3" in n for n in result.notes)
    written = {p.name for p, _ in write_agreement_report(result, tmp_path / "a")}
    assert {"dice_vs_volume.png", "load_groups.csv", "figures.json"} <= written
    assert "agreement.csv" not in written
    strata = pd.read_csv(tmp_path / "a" / "load_groups.csv")
    assert strata.loc[0, "n"] == 2 and strata.loc[0, "dice_mean"] == pytest.approx(0.5)

    volumes[["reference_ml", "prediction_ml", "tp_ml", "fp_ml", "fn_ml", "dice"]] = np.nan
    volumes["status"] = "missing"
    result = analyse_agreement(volumes, ratings=pd.DataFrame({"id": ["0", "1"],
                                                              "grade": ["2", "3"]}))
    assert result.problems == ["t: 2 subject(s) without volumes (status missing): left out "
                               "(0, 1)"]
    assert any("too few to fit thresholds" in n for n in result.notes)
    written = {p.name for p, _ in write_agreement_report(result, tmp_path / "b")}
    assert json.loads((tmp_path / "b" / "figures.json").read_text()) == []
    assert "notes.md" in written


def test_agreement_writes_one_output_set(tmp_path):
    """--out is replaced whole with a manifest; a failed run leaves it as it was; a folder of
    someone else's files is refused with exit 2 (gap left by the first agreement version)."""
    runner = CliRunner()
    teams = tmp_path / "teams"
    _score_folder(teams, "good", _cases(12, seed=5))
    out = tmp_path / "out"
    assert runner.invoke(app, ["agreement", str(teams), "-o", str(out)]).exit_code == 0
    manifest = json.loads((out / "wmheval_manifest.json").read_text())
    assert manifest["command"] == "agreement"
    listed = {entry["path"] for entry in manifest["files"]}
    assert "agreement.csv" in listed and "figures.json" in listed
    (out / "stale.txt").write_text("from an earlier run")
    before = (out / "agreement.csv").read_bytes()
    # a failing run (bad load groups are parsed before; an unreadable input fails inside)
    bad = _score_folder(tmp_path, "bad", pd.DataFrame({"id": ["1"], "dice": [0.5]}))
    assert runner.invoke(app, ["agreement", str(bad), "-o", str(out)]).exit_code == 2
    assert (out / "agreement.csv").read_bytes() == before and (out / "stale.txt").exists()
    assert runner.invoke(app, ["agreement", str(teams), "-o", str(out)]).exit_code == 0
    assert not (out / "stale.txt").exists()
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("precious")
    result = runner.invoke(app, ["agreement", str(teams), "-o", str(foreign)])
    assert result.exit_code == 2 and "thesis" in result.output
    assert (foreign / "chapter1.tex").read_text() == "precious"
    assert not (foreign / "agreement.csv").exists()
