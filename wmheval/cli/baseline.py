"""`wmheval baseline train|predict|threshold`: the bundled PyTorch baselines (optional extra).

The commands call :mod:`wmheval.pipelines.baselines` (the plug-in point of
``wmheval_baselines``); torch is imported there, lazily, so `wmheval score` starts fast
without it.
"""

from __future__ import annotations

import importlib.util  # noqa: F401  (tests patch baseline.importlib.util)
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app
from wmheval.cli.errors import fail
from wmheval.cli.options import BaselineSplit, Device, Seed, WmMasks
from wmheval.pipelines.baselines import (
    BaselinesUnavailable,
    predict_baseline,
    threshold_baseline,
    train_baseline,
)

baseline_app = typer.Typer(
    help="Train and run the bundled baselines (threshold, ResU-Net, FLAIR FCN, FCN/VGG). "
    "Needs the 'baselines' extra.\n\n\b\nExample:\n  wmheval baseline threshold data/ "
    "--out submissions/threshold",
    no_args_is_help=True,
)
app.add_typer(baseline_app, name="baseline")


class Model(StrEnum):
    """The learned baselines."""

    resunet = "resunet"
    flair_fcn = "flair-fcn"
    fcn_vgg = "fcn-vgg"


class Recipe(StrEnum):
    """Named training schedules (wmheval_baselines.recipes)."""

    paper = "paper"
    demo = "demo"


class LrSchedule(StrEnum):
    """Learning-rate schedules (wmheval_baselines.train.LR_SCHEDULES)."""

    constant = "constant"
    cosine = "cosine"


class WmSource(StrEnum):
    """Where the white-matter region comes from (wmheval_baselines.train.WM_SOURCES)."""

    net = "net"
    data = "data"


class OperatingPoint(StrEnum):
    """Where outputs are read (wmheval_baselines.operating_point.OPERATING_POINTS)."""

    posterior = "posterior"
    fitted = "fitted"


class VggConvention(StrEnum):
    """Input normalisation of pretrained VGG16 weights."""

    auto = "auto"
    torchvision = "torchvision"
    caffe = "caffe"


def _console():
    from rich.console import Console

    return Console(stderr=True)


@baseline_app.command("train")
def train_command(
    model: Annotated[Model, typer.Argument(help="resunet, flair-fcn or fcn-vgg")],
    data: Annotated[Path, typer.Argument(help="data release root (training/, test/)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder (created)")],
    recipe: Annotated[Recipe, typer.Option(
        help="paper: the paper's schedule and widths; demo: small CPU schedule")
    ] = Recipe.paper,
    split: BaselineSplit = "challenge",
    samples: Annotated[int | None, typer.Option(
        help="WMH network: samples seen (default: the recipe's)")] = None,
    wm_samples: Annotated[int | None, typer.Option(
        help="white-matter network: samples seen (resunet, flair-fcn)")] = None,
    beta: Annotated[float | None, typer.Option(
        help="class-balancing weight (default: the recipe's, the paper's 0.975); outputs "
             "are read at p >= beta")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="learning rate (Adam)")] = None,
    lr_schedule: Annotated[LrSchedule | None, typer.Option(
        help="constant (the papers') or cosine (down to 0 over the samples); default: the "
             "recipe's")] = None,
    intensity_augment: Annotated[float | None, typer.Option(
        help="gamma range a: each slice's inputs ** exp(U(-a, a)) (resunet, flair-fcn); "
             "0: off; default: the recipe's")] = None,
    bias_augment: Annotated[float | None, typer.Option(
        help="random smooth bias field: each slice's inputs * exp(field), field std up to "
             "this; 0: off; default: the recipe's")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="L2 weight decay")] = None,
    operating_point: Annotated[OperatingPoint | None, typer.Option(
        help="posterior: read outputs at posterior 0.5 (the papers'); fitted: at the "
             "posterior level with the best mean training Dice; default: the recipe's")
    ] = None,
    context_slices: Annotated[int | None, typer.Option(
        help="flair-fcn: adjacent FLAIR slices as input channels, odd (3: the paper's 3x3x3 "
             "kernels' through-plane reach); default: the recipe's")] = None,
    wm_source: Annotated[WmSource | None, typer.Option(
        help="resunet, flair-fcn: the white-matter region from a T1 network (net, the "
             "papers') or from the data's white-matter masks (data: synth/wm_mask.nii.gz or "
             "--wm-masks, for predicted subjects too, as the threshold baseline); default: "
             "the recipe's")] = None,
    dilation_mm: Annotated[float | None, typer.Option(
        help="in-plane dilation of the white-matter region in mm (default: the recipe's)")
    ] = None,
    seed: Seed = 0,
    device: Device = "auto",
    vgg_weights: Annotated[Path | None, typer.Option(
        help="local VGG16 state dict (fcn-vgg); without it: from scratch")] = None,
    vgg_convention: Annotated[VggConvention, typer.Option(
        help="input normalisation of the VGG16 weights (auto: detected)")
    ] = VggConvention.auto,
    wm_masks: WmMasks = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume",
                                         help="continue from the last checkpoint")] = True,
    batch_size: Annotated[int | None, typer.Option()] = None,
    base_channels: Annotated[int | None, typer.Option(help="U-Net width (paper: 64)")] = None,
    vgg_width: Annotated[int | None, typer.Option(
        help="fcn-vgg: VGG16's first-stage width, the others scaled alike (64: VGG16, "
             "needed by --vgg-weights; demo recipe: 16, from scratch)")] = None,
    jobs: Annotated[int, typer.Option(help="processes for the FCN/VGG area openings")] = 1,
    max_seconds: Annotated[float | None, typer.Option(
        help="wall-clock budget; a run stopped by it is incomplete (resume to finish)")
    ] = None,
) -> None:
    """Train a baseline on the split's training subjects; checkpoints after every pass.

    \b
    Example:
      wmheval baseline train resunet data/ --out runs/resunet --recipe demo
    """
    try:
        run = train_baseline(
            model.value, data, out, recipe=recipe.value, split=split, resume=resume,
            console=_console(), samples=samples, wm_samples=wm_samples, beta=beta,
            learning_rate=lr, weight_decay=weight_decay, seed=seed, device=device,
            lr_schedule=lr_schedule.value if lr_schedule else None,
            operating_point=operating_point.value if operating_point else None,
            intensity_augment=intensity_augment, bias_augment=bias_augment,
            context_slices=context_slices, dilation_mm=dilation_mm,
            wm_source=wm_source.value if wm_source else None, vgg_weights=vgg_weights,
            vgg_convention=vgg_convention.value, wm_masks=wm_masks,
            batch_size=batch_size, base_channels=base_channels,
            wm_base_channels=base_channels, vgg_width=vgg_width, jobs=jobs,
            max_seconds=max_seconds)
    except (BaselinesUnavailable, ValueError, OSError, RuntimeError) as error:
        fail(error)
    typer.echo(str(run))


@baseline_app.command("predict")
def predict_command(
    run: Annotated[str | None, typer.Argument(
        help="run folder written by `baseline train`, or a bundled model's name (with "
             "--model: the data release root)", show_default=False)] = None,
    data: Annotated[Path | None, typer.Argument(help="data release root",
                                                show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o",
                                      help="submission folder (<id>/result.nii.gz)")] = ...,
    model: Annotated[str | None, typer.Option(
        "--model", help="a bundled model instead of a run folder: demo:resunet or "
                        "demo:fcn-vgg (trained on SYNTHETIC data: no use on real scans)")
    ] = None,
    device: Device = "auto",
    allow_incomplete: Annotated[bool, typer.Option(
        help="predict with a run stopped by its time budget (warns)")] = False,
    cpu_bf16: Annotated[bool, typer.Option(
        "--cpu-bf16", help="on the CPU, run the networks in bf16 (about 2x faster on CPUs "
                           "with AVX512-BF16; outputs differ slightly from fp32)")] = False,
) -> None:
    """Predict the run's split into the challenge's submission layout.

    \b
    Example:
      wmheval baseline predict runs/resunet data/ --out submissions/resunet
      wmheval baseline predict --model demo:resunet data/ --out submissions/resunet
    """
    if model is not None:
        if data is not None:
            fail("give either a run folder or --model, not both: "
                 "wmheval baseline predict --model demo:resunet DATA --out SUBMISSION")
        run, data = model, Path(run) if run is not None else None
    if run is None or data is None:
        fail("missing argument: wmheval baseline predict RUN DATA --out SUBMISSION "
             "(or --model demo:resunet DATA --out SUBMISSION)")
    try:
        folder = predict_baseline(run, data, out,
                                  device=device, allow_incomplete=allow_incomplete,
                                  cpu_bf16=cpu_bf16, console=_console())
    except (BaselinesUnavailable, ValueError, OSError, RuntimeError) as error:
        fail(error)
    typer.echo(str(folder))


@baseline_app.command("threshold")
def threshold_command(
    data: Annotated[Path, typer.Argument(help="data release root (training/, test/)")],
    out: Annotated[Path, typer.Option("--out", "-o",
                                      help="submission folder (<id>/result.nii.gz)")],
    split: BaselineSplit = "challenge",
    wm_masks: WmMasks = None,
) -> None:
    """The floor: best FLAIR z-score threshold inside a white-matter mask, fitted on the
    training subjects only; writes the submission and <out>_threshold_fit.json beside it.

    \b
    Example:
      wmheval baseline threshold data/ --out submissions/threshold
    """
    try:
        threshold_baseline(data, out, split=split, wm_masks=wm_masks, console=_console())
    except (BaselinesUnavailable, ValueError, OSError, RuntimeError) as error:
        fail(error)
    typer.echo(str(out))
