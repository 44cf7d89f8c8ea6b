"""``wmheval synth``, ``wmheval synth-submissions`` and ``wmheval show``: the synthetic
challenge, simulated team submissions, and overlay pictures."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail


class Phantom(StrEnum):
    """Which synthetic subjects to draw."""

    anatomical = "anatomical"
    geometric = "geometric"


@app.command("synth")
def synth_command(
    out_dir: Path = typer.Argument(..., help="Folder to write the synthetic release into."),
    small: bool = typer.Option(False, "--small",
                               help="27 subjects on grids of at most 2 x 2 x 3 mm."),
    all_subjects: bool = typer.Option(
        False, "--all-subjects", help="With --small: all 170 subjects (60 training, 110 "
        "test, as the release) on the small grid."),
    all_training: bool = typer.Option(
        False, "--all-training", help="With --small: all 60 training subjects beside the "
        "15 test subjects (what the demo's learned baseline trains on)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same images)."),
    ids: list[str] = typer.Option(None, "--id", help="Only these subject ids (repeatable)."),
    manifest: Path = typer.Option(None, "--manifest", help="Subject manifest CSV "
                                  "(default: the bundled 170-subject one)."),
    jobs: int = typer.Option(None, "--jobs", "-j", help="Worker processes."),
    phantom: Phantom = typer.Option(Phantom.anatomical, "--phantom",
                                    help="anatomical: the MNI ICBM152 template with lesions; "
                                    "geometric: the fast ellipsoid phantom (unit tests)."),
) -> None:
    """Write a synthetic multi-scanner WMH challenge in the real release's layout."""
    from wmheval.synth import generate_challenge

    for flag, given in (("--all-subjects", all_subjects), ("--all-training", all_training)):
        if given and not small:
            fail(f"{flag} only changes --small (without --small every subject is written "
                 "on the manifest's full grids)")
    try:
        table = generate_challenge(out_dir, small=small, seed=seed, ids=ids or None,
                                   manifest=manifest, progress=True, jobs=jobs,
                                   phantom=phantom.value, all_subjects=all_subjects,
                                   all_training=all_training)
    except (ValueError, OSError, RuntimeError) as error:
        fail(error)
    typer.echo(f"wrote {len(table)} subjects to {out_dir} "
               f"(WMH {table['wmh_ml'].min():.1f}-{table['wmh_ml'].max():.1f} ml); "
               f"see {out_dir}/synth_manifest.csv")


@app.command("synth-submissions")
def synth_submissions_command(
    challenge_dir: Path = typer.Argument(..., help="A challenge made by `wmheval synth`."),
    out_dir: Path = typer.Argument(..., help="Folder for the teams' submission folders."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    teams: list[str] = typer.Option(None, "--team",
                                    help="Only these default teams (repeatable)."),
    split: str = typer.Option("test", "--split", help="test, training or all."),
    jobs: int = typer.Option(None, "--jobs", "-j", help="Worker processes."),
) -> None:
    """Write simulated team submissions (OUT_DIR/<team>/<id>/result.nii.gz)."""
    from wmheval.synth.submissions import default_teams, generate_submissions

    chosen = default_teams()
    if teams:
        known = {t.name: t for t in chosen}
        unknown = [t for t in teams if t not in known]
        if unknown:
            fail(f"unknown teams {unknown}; known: {sorted(known)}")
        chosen = [known[t] for t in teams]
    try:
        table = generate_submissions(challenge_dir, out_dir, teams=chosen, seed=seed,
                                     split=None if split == "all" else split, progress=True,
                                     jobs=jobs)
    except (ValueError, OSError) as error:
        fail(error)
    for _, row in table.iterrows():
        extra = []
        if row["n_missing"]:
            extra.append(f"missing {row['missing_ids']}")
        if row["n_malformed"]:
            extra.append(f"malformed {row['malformed_ids']}")
        note = f" ({'; '.join(extra)})" if extra else ""
        typer.echo(f"{row['team']}: {row['n_cases']} cases{note}")
    typer.echo(f"team descriptions: {out_dir}/teams.md")


@app.command("show")
def show_command(
    subject_dir: Path = typer.Argument(..., help="Subject folder (wmh.nii.gz, pre/FLAIR...)."),
    prediction: Path = typer.Argument(..., help="Prediction image (e.g. result.nii.gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Figure file: .png, .svg or .pdf."),
    slices: list[int] = typer.Option(None, "--slice", help="Axial slice index (repeatable); "
                                     "default: the 3 slices with most lesion."),
    title: str = typer.Option(None, "--title", help="Figure title."),
    no_t1: bool = typer.Option(False, "--no-t1", help="Leave out the T1 column."),
    contour: bool = typer.Option(False, "--contour", help="Outline the classes instead of "
                                 "filling them."),
) -> None:
    """Draw FLAIR/T1 slices with true positives, false positives and false negatives."""
    from wmheval.plots.overlay import show_case

    try:
        figure = show_case(subject_dir, prediction, out, slices=slices or None, title=title,
                           with_t1=not no_t1, style="contour" if contour else "fill")
    except (ValueError, OSError) as error:
        fail(error)
    counts = figure.counts
    typer.echo(f"wrote {figure.path} (TP {counts['tp']}, FP {counts['fp']}, FN {counts['fn']} "
               f"voxels, Dice {figure.dice:.3f})")
