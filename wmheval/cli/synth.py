"""``wmheval synth``, ``wmheval synth-submissions`` and ``wmheval show``: the synthetic
challenge, simulated team submissions, and overlay pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.options import Jobs, Phantom, Seed, SynthSplit, Title


@app.command("synth")
def synth_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the synthetic release "
                                            "into.")],
    small: Annotated[bool, typer.Option(
        "--small", help="27 subjects on grids of at most 2 x 2 x 3 mm.")] = False,
    all_subjects: Annotated[bool, typer.Option(
        "--all-subjects", help="With --small: all 170 subjects (60 training, 110 test, as "
                               "the release) on the small grid.")] = False,
    all_training: Annotated[bool, typer.Option(
        "--all-training", help="With --small: all 60 training subjects beside the 15 test "
                               "subjects (what the demo's learned baseline trains "
                               "on).")] = False,
    seed: Seed = 0,
    ids: Annotated[list[str] | None, typer.Option(
        "--id", help="Only these subject ids (repeatable).")] = None,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", help="Subject manifest CSV (default: the bundled 170-subject "
                           "one).")] = None,
    jobs: Jobs = 0,
    phantom: Annotated[Phantom, typer.Option(
        "--phantom", help="anatomical: the MNI ICBM152 template with lesions; geometric: "
                          "the fast ellipsoid phantom (unit tests).")] = Phantom.anatomical,
) -> None:
    """Write a synthetic multi-scanner WMH challenge in the real release's layout.

    \b
    Example:
      wmheval synth synthetic/ --small --seed 0
    """
    from wmheval.synth import generate_challenge

    for flag, given in (("--all-subjects", all_subjects), ("--all-training", all_training)):
        if given and not small:
            fail(f"{flag} only changes --small (without --small every subject is written "
                 "on the manifest's full grids)")
    try:
        table = generate_challenge(out_dir, small=small, seed=seed, ids=ids or None,
                                   manifest=manifest, progress=True, jobs=jobs or None,
                                   phantom=phantom.value, all_subjects=all_subjects,
                                   all_training=all_training)
    except (ValueError, OSError, RuntimeError) as error:
        fail(error)
    typer.echo(f"wrote {len(table)} subjects to {out_dir} "
               f"(WMH {table['wmh_ml'].min():.1f}-{table['wmh_ml'].max():.1f} ml); "
               f"see {out_dir}/synth_manifest.csv")


@app.command("synth-submissions")
def synth_submissions_command(
    challenge_dir: Annotated[Path, typer.Argument(help="A challenge made by `wmheval "
                                                  "synth`.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the teams' submission "
                                            "folders.")],
    seed: Seed = 0,
    teams: Annotated[list[str] | None, typer.Option(
        "--team", help="Only these default teams (repeatable).")] = None,
    split: Annotated[SynthSplit, typer.Option(
        "--split", help="Subjects the teams predict: test, training or all.")
    ] = SynthSplit.test,
    jobs: Jobs = 0,
) -> None:
    """Write simulated team submissions (OUT_DIR/<team>/<id>/result.nii.gz).

    \b
    Example:
      wmheval synth-submissions synthetic/ teams/ --team precise --team greedy
    """
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
                                     split=None if split == "all" else split.value,
                                     progress=True, jobs=jobs or None)
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
    subject_dir: Annotated[Path, typer.Argument(help="Subject folder (wmh.nii.gz, "
                                                "pre/FLAIR...).")],
    prediction: Annotated[Path, typer.Argument(help="Prediction image (e.g. "
                                               "result.nii.gz).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Figure file: .png, .svg or "
                                      ".pdf.")],
    slices: Annotated[list[int] | None, typer.Option(
        "--slice", help="Axial slice index (repeatable); default: the 3 slices with most "
                        "lesion.")] = None,
    title: Title = None,
    no_t1: Annotated[bool, typer.Option("--no-t1", help="Leave out the T1 column.")] = False,
    contour: Annotated[bool, typer.Option(
        "--contour", help="Outline the classes instead of filling them.")] = False,
) -> None:
    """Draw FLAIR/T1 slices with true positives, false positives and false negatives.

    \b
    Example:
      wmheval show synthetic/test/Utrecht/1 greedy/1/result.nii.gz --out a.png
    """
    from wmheval.plots.overlay import show_case

    try:
        figure = show_case(subject_dir, prediction, out, slices=slices or None, title=title,
                           with_t1=not no_t1, style="contour" if contour else "fill")
    except (ValueError, OSError) as error:
        fail(error)
    counts = figure.counts
    typer.echo(f"wrote {figure.path} (TP {counts['tp']}, FP {counts['fp']}, FN {counts['fn']} "
               f"voxels, Dice {figure.dice:.3f})")
