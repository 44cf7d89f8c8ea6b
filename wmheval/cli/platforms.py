"""``wmheval platform-run`` and ``wmheval export``: wmheval inside grand-challenge.org and
Codabench (see docs/platforms.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from wmheval import vocabulary as vocab
from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.options import choice_enum

platform_run_app = typer.Typer(
    help="Score one submission inside a hosted platform's container.\n\n"
         "Example: wmheval platform-run grand-challenge --input /input --output /output",
    no_args_is_help=True)
export_app = typer.Typer(
    help="Write what an organiser uploads to a hosted platform.\n\n"
         "Example: wmheval export grand-challenge gc-eval --reference data/test",
    no_args_is_help=True)
app.add_typer(platform_run_app, name="platform-run")
app.add_typer(export_app, name="export")

FIELD_HELP = ("Means table of the frozen reference field for the primary (proxy) score "
              "(default: the 57 teams of the published 2017 leaderboard).")


GrandChallengePerCase = choice_enum(
    "GrandChallengePerCase", vocab.GRAND_CHALLENGE_PER_CASE,
    "Whether metrics.json carries per-case values (admins only see them).")
CodabenchPerCase = choice_enum("CodabenchPerCase", vocab.CODABENCH_PER_CASE,
                               "Whether detailed_results.html lists each subject.")
PhaseKind = choice_enum("PhaseKind", vocab.GRAND_CHALLENGE_KINDS,
                        "A grand-challenge phase's submission kind.")


def _finish(run) -> None:
    from wmheval.pipelines.platforms import write_outcome_lines

    write_outcome_lines(run)
    if not run.usable:
        raise typer.Exit(1)


def _guarded(function, *args, **kwargs):
    """Run a pipeline: known errors by the exit-code rule, anything else as one line."""
    from wmheval.errors import WmhevalError

    try:
        return function(*args, **kwargs)
    except WmhevalError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except (ValueError, OSError) as error:
        fail(error)
    except Exception as error:  # noqa: BLE001 - the platform shows the last stderr line
        typer.echo(f"error: wmheval failed unexpectedly ({type(error).__name__}); the "
                   "organisers have the log", err=True)
        raise typer.Exit(1) from None


@platform_run_app.command("grand-challenge")
def platform_run_grand_challenge(
    input_dir: Path = typer.Option(Path("/input"), "--input", help="The submission: a "
                                   "prediction-zip phase's extracted files, or an algorithm "
                                   "phase's predictions.json and job outputs."),
    ground_truth: Path = typer.Option(Path("/opt/ml/input/data/ground_truth"),
                                      "--ground-truth", help="The reference (<id>/wmh.nii.gz),"
                                      " the phase's ground-truth tarball as extracted."),
    output_dir: Path = typer.Option(Path("/output"), "--output", help="Where metrics.json "
                                    "goes."),
    per_case: GrandChallengePerCase = typer.Option(
        GrandChallengePerCase.off.value, "--per-case", help="admin: also write per-case values "
        "('case'); set display_all_metrics false so only admins read them."),
    reference_field: Path | None = typer.Option(None, "--reference-field", help=FIELD_HELP),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (0: all cores)."),
) -> None:
    """Score a grand-challenge.org submission and write /output/metrics.json.

    The last stderr line is one sentence for the participant. Exit 0 when metrics.json was
    written (failed cases are counted inside it), 1 when no prediction was usable, 2 for
    usage errors or an unreadable reference.

    Example: wmheval platform-run grand-challenge --input test/input --ground-truth gt
    --output out --per-case admin
    """
    from wmheval.pipelines.platforms import run_grand_challenge

    run = _guarded(run_grand_challenge, input_dir, ground_truth, output_dir,
                   per_case=per_case == "admin",
                   reference_field=reference_field, jobs=jobs or None)
    _finish(run)


@platform_run_app.command("codabench")
def platform_run_codabench(
    reference: Path = typer.Argument(..., help="Reference folder (Codabench: /app/input/ref)."),
    predictions: Path = typer.Argument(..., help="The submission's files (Codabench: "
                                       "/app/input/res)."),
    output_dir: Path = typer.Argument(..., help="Where scores.json and detailed_results.html "
                                      "go (Codabench: /app/output)."),
    per_case: CodabenchPerCase = typer.Option(
        CodabenchPerCase.off.value, "--per-case", help="public: list each subject in "
        "detailed_results.html (participants read it)."),
    reference_field: Path | None = typer.Option(None, "--reference-field", help=FIELD_HELP),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (0: all cores)."),
) -> None:
    """Score a Codabench submission: scores.json (one finite number per leaderboard column)
    and detailed_results.html.

    Example: wmheval platform-run codabench /app/input/ref /app/input/res /app/output
    """
    from wmheval.pipelines.platforms import run_codabench

    run = _guarded(run_codabench, reference, predictions, output_dir,
                   per_case=per_case == "public",
                   reference_field=reference_field, jobs=jobs or None)
    _finish(run)


WHEEL_HELP = ("A wmheval wheel to install in the image (default: build one from this "
              "source checkout with pip wheel . --no-deps).")


@export_app.command("grand-challenge")
def export_grand_challenge(
    out: Path = typer.Argument(..., help="Folder for the Docker build context and settings."),
    reference: Path = typer.Option(..., "--reference", help="Reference folder "
                                   "(<id>/wmh.nii.gz): becomes ground_truth.tar.gz."),
    kind: PhaseKind = typer.Option(PhaseKind.predictions.value, "--kind", help="The phase's "
                                   "submission kind: predictions (a zip) or algorithm."),
    per_case: GrandChallengePerCase = typer.Option(
        GrandChallengePerCase.off.value, "--per-case", help="admin: metrics.json carries per-case "
        "values, and display_all_metrics is false."),
    wheel: Path | None = typer.Option(None, "--wheel", help=WHEEL_HELP),
) -> None:
    """Write a grand-challenge.org evaluation method: Dockerfile and wheel, the ground-truth
    tarball, phase-settings.json, and a test input with its expected metrics.json.

    Example: wmheval export grand-challenge gc-eval --reference data/test --kind algorithm
    """
    from wmheval.pipelines.platforms import export_grand_challenge as export

    done = _guarded(export, out, reference, kind=kind.value,
                    per_case_admin=per_case == "admin", wheel=wheel)
    typer.echo(f"grand-challenge evaluation method written to {done}/ (see "
               "docs/platforms.md: build with do_save.sh, upload, enter phase-settings.json)")


@export_app.command("codabench")
def export_codabench(
    out: Path = typer.Argument(..., help="Folder for bundle/, bundle.zip and docker/."),
    reference: Path = typer.Option(..., "--reference", help="Reference folder "
                                   "(<id>/wmh.nii.gz)."),
    include_reference: bool = typer.Option(False, "--include-reference", help="Put the "
                                           "reference labels into the bundle (anyone with "
                                           "the bundle then has them)."),
    docker_image: str | None = typer.Option(None, "--docker-image", help="The image name "
                                            "competition.yaml names (push docker/ there)."),
    wheel: Path | None = typer.Option(None, "--wheel", help=WHEEL_HELP),
) -> None:
    """Write a Codabench competition bundle (competition.yaml version 2, scoring program,
    leaderboard columns matching scores.json), bundle.zip, and the scoring image's
    Dockerfile.

    Example: wmheval export codabench cb --reference data/test --docker-image
    ghcr.io/me/wmheval-codabench:0.1.0
    """
    from wmheval.pipelines.platforms import export_codabench as export

    done = _guarded(export, out, reference, include_reference=include_reference,
                    wheel=wheel, docker_image=docker_image)
    typer.echo(f"Codabench bundle written to {done}/bundle.zip (see docs/platforms.md)")
