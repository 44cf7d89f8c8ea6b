"""``wmheval demo``: run the whole toolkit on the bundled synthetic challenge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app
from wmheval.cli.baseline import Model
from wmheval.cli.errors import fail
from wmheval.cli.options import Bootstrap, Jobs, OutSet, Seed, Weightings


@app.command()
def demo(
    out: OutSet = Path("demo_out"),
    seed: Seed = 0,
    baseline: Annotated[bool | None, typer.Option(
        "--baseline/--no-baseline", help="Fit the threshold baseline and run the learned "
        "ones (default: when torch is installed).")] = None,
    train: Annotated[bool, typer.Option(
        "--train", help="Train the learned baselines from scratch on all 60 training "
        "subjects (demo recipe, CPU; the whole demo then takes about 33 minutes on 2 idle "
        "cores) instead of using the bundled demo models.")] = False,
    baseline_model: Annotated[list[Model] | None, typer.Option(
        "--baseline-model", help="A learned baseline to show (repeatable; default: resunet "
        "and fcn-vgg, bundled, or trained with --train).")] = None,
    baseline_samples: Annotated[int | None, typer.Option(
        "--baseline-samples", help="With --train: training samples per model (default: the "
                                   "demo recipe's).")] = None,
    baseline_seconds: Annotated[float, typer.Option(
        "--baseline-seconds", help="With --train: cap on each model's training time "
                                   "(0: none).")] = 3600.0,
    bootstrap: Bootstrap = 1000,
    samples: Weightings = 100_000,
    jobs: Jobs = 0,
) -> None:
    """Generate the synthetic challenge, score the simulated teams and the baselines, rank,
    and write it all.

    The learned baselines are the bundled demo models (trained on the synthetic challenge:
    no use on real scans); --train retrains them. The output folder's index.html (and
    index.md) says what every table and figure is.

    \b
    Example:
      wmheval demo --out demo_out   # then open demo_out/index.html
    """
    from rich.console import Console

    from wmheval.cli.outsets import command_line
    from wmheval.pipelines.demo import demo_to_dir

    console = Console(stderr=True)
    models = tuple(m.value for m in baseline_model) if baseline_model else None
    try:
        output = demo_to_dir(out, command=command_line(), seed=seed, baseline=baseline,
                             train=train, baseline_models=models,
                             baseline_samples=baseline_samples,
                             baseline_seconds=baseline_seconds or None,
                             bootstrap=bootstrap, samples=samples, jobs=jobs or None,
                             note=lambda m: console.print(m, highlight=False))
    except (RuntimeError, ValueError, OSError) as error:
        fail(error)
    from wmheval.cli.terminal import console as make_console
    from wmheval.cli.terminal import overview_table

    columns = ["dice_all", "h95_all", "avd_all", "recall_all", "f1_all", "dice_seen",
               "dice_unseen", "missing_or_failed"]
    make_console().print(overview_table(output.overview, columns,
                                        "Mean per team (test subjects)"))
    for name, seconds in output.timings.items():
        typer.echo(f"{name}: {seconds:.1f} s")
    typer.echo(f"\nopen {out / 'index.html'} (or index.md) for every table and figure; "
               f"the reports: {out / 'ranking_teams' / 'index.html'}")
