"""`wmheval baseline train|predict`: the bundled PyTorch baselines (optional extra).

torch is imported inside the commands only, so `wmheval score` starts fast without it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from wmheval.cli.app import app

baseline_app = typer.Typer(
    help="Train and run the bundled baselines (ResU-Net, FCN/VGG). Needs the 'baselines' extra.",
    no_args_is_help=True,
)
app.add_typer(baseline_app, name="baseline")

INSTALL_HINT = 'pip install torch==2.13.0 && pip install "wmheval[baselines]"'


class BaselinesUnavailable(RuntimeError):
    """torch or the wmheval_baselines package is not installed."""


def require_baselines() -> None:
    """Raise :class:`BaselinesUnavailable` with the install command when torch is missing."""
    for module in ("torch", "skimage", "wmheval_baselines"):
        if importlib.util.find_spec(module) is None:
            raise BaselinesUnavailable(
                f"the baselines need '{module}', which is not installed: run {INSTALL_HINT}")


def train_baseline(model: str, data: str | Path, out: str | Path, *, split: str = "challenge",
                   epochs: int = 4, wm_epochs: int = 4, seed: int = 0, device: str = "auto",
                   vgg_weights: str | Path | None = None, wm_masks: str | Path | None = None,
                   resume: bool = True, batch_size: int = 16, base_channels: int = 64,
                   max_seconds: float | None = None, console=None) -> Path:
    """Train baseline ``model`` (resunet | fcn-vgg) on ``data`` into run folder ``out``."""
    require_baselines()
    from wmheval_baselines.train import TrainConfig, train

    config = TrainConfig(
        model=model, data=str(data), split=split, epochs=epochs, wm_epochs=wm_epochs,
        seed=seed, device=device, vgg_weights=str(vgg_weights) if vgg_weights else None,
        wm_masks=str(wm_masks) if wm_masks else None, batch_size=batch_size,
        base_channels=base_channels, wm_base_channels=base_channels, max_seconds=max_seconds)
    return train(config, out, resume=resume, console=console)


def predict_baseline(run: str | Path, data: str | Path, out: str | Path, *,
                     device: str = "auto", console=None) -> Path:
    """Predict the run's split of ``data`` into the submission folder ``out``."""
    require_baselines()
    from wmheval_baselines.predict import predict_folder

    return predict_folder(run, data, out, device=device, console=console)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _fail(error: Exception) -> None:
    _console().print(f"error: {error}", style="bold red", highlight=False, markup=False)
    raise typer.Exit(code=1)


@baseline_app.command("train")
def train_command(
    model: Annotated[str, typer.Argument(help="resunet or fcn-vgg")],
    data: Annotated[Path, typer.Argument(help="data release root (training/, test/)")],
    out: Annotated[Path, typer.Option("--out", help="run folder (created)")],
    split: Annotated[str, typer.Option(help="challenge or loso:<scanner>")] = "challenge",
    epochs: Annotated[int, typer.Option(help="WMH network epochs")] = 4,
    wm_epochs: Annotated[int, typer.Option(help="white-matter U-Net epochs (resunet)")] = 4,
    seed: Annotated[int, typer.Option()] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    vgg_weights: Annotated[Path | None, typer.Option(
        help="local torchvision VGG16 state dict (fcn-vgg); without it: from scratch")] = None,
    wm_masks: Annotated[Path | None, typer.Option(
        help="folder of <id>.nii.gz or <id>/wm_mask.nii.gz white-matter labels")] = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume",
                                         help="continue from the last checkpoint")] = True,
    batch_size: Annotated[int, typer.Option()] = 16,
    base_channels: Annotated[int, typer.Option(help="U-Net width (paper: 64)")] = 64,
    max_seconds: Annotated[float | None, typer.Option(
        help="wall-clock training budget")] = None,
) -> None:
    """Train a baseline on the split's training subjects; checkpoints every epoch."""
    try:
        run = train_baseline(model, data, out, split=split, epochs=epochs,
                             wm_epochs=wm_epochs, seed=seed, device=device,
                             vgg_weights=vgg_weights, wm_masks=wm_masks, resume=resume,
                             batch_size=batch_size, base_channels=base_channels,
                             max_seconds=max_seconds, console=_console())
    except (BaselinesUnavailable, ValueError, OSError, RuntimeError) as error:
        _fail(error)
    typer.echo(str(run))


@baseline_app.command("predict")
def predict_command(
    run: Annotated[Path, typer.Argument(help="run folder written by `baseline train`")],
    data: Annotated[Path, typer.Argument(help="data release root")],
    out: Annotated[Path, typer.Option("--out", help="submission folder (<id>/result.nii.gz)")],
    device: Annotated[str, typer.Option()] = "auto",
) -> None:
    """Predict the run's split into the challenge's submission layout."""
    try:
        folder = predict_baseline(run, data, out, device=device, console=_console())
    except (BaselinesUnavailable, ValueError, OSError, RuntimeError) as error:
        _fail(error)
    typer.echo(str(folder))
