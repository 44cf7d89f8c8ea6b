"""Prediction: a trained run folder -> the challenge's submission layout.

``SUBMISSION/<id>/result.nii.gz`` for every subject to predict, on the subject's FLAIR grid
(same size, spacing, origin and direction as ``pre/FLAIR.nii.gz``), uint8 0/1. The networks
work on canonically oriented arrays; predictions are mapped back to the FLAIR's own voxel
order (:func:`wmheval_baselines.data.from_canonical`). Outputs are read at the run's decision
threshold (``beta`` for class-balanced models, 0.5 otherwise).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from wmheval.io.atomic import write_atomic
from wmheval_baselines.bundled import is_bundled_name, load_bundled
from wmheval_baselines.data import (
    DataError,
    Subject,
    find_subjects,
    from_canonical,
    load_volume,
    read_image,
    wm_label_path,
)
from wmheval_baselines.inference import (
    cpu_bf16_supported,
    decision_threshold,
    wmh_output,
)
from wmheval_baselines.splits import split_subjects
from wmheval_baselines.train import (
    INCOMPLETE_WARNING,
    RunError,
    TrainConfig,
    build_models,
    checkpoint_path,
    is_complete,
    lacks_operating_point,
    load_checkpoint,
    resolve_device,
    run_progress,
    shows_bars,
)


class IncompleteRunError(RunError):
    """The run stopped before its schedule ended (time budget); resume it or allow it."""


@dataclass
class TrainedRun:
    """A run folder's config and its networks, on ``device``, in eval mode."""

    config: TrainConfig
    models: dict[str, torch.nn.Module]
    device: torch.device
    threshold: float = 0.5
    complete: bool = True
    cpu_bf16: bool = False


def load_run(run: str | Path, device: str = "auto", *,
             allow_incomplete: bool = False, cpu_bf16: bool = False) -> TrainedRun:
    """Read ``config.json`` and ``checkpoints/last.pt`` of a finished run, or a bundled
    model by name (``demo:resunet``, ``demo:fcn-vgg``; :mod:`wmheval_baselines.bundled`,
    its sha256 verified).

    A run stopped by its time budget raises :class:`IncompleteRunError` unless
    ``allow_incomplete``, which warns loudly (``warnings.warn``) instead. ``cpu_bf16``:
    run the networks in bf16 autocast when on the CPU (opt-in, about 2x faster on CPUs
    with AVX512-BF16; the outputs differ slightly from fp32); RunError where the CPU
    cannot, no effect on CUDA (whose mixed precision follows the run's ``amp``).
    """
    if is_bundled_name(run):
        checkpoint = load_bundled(str(run))
        return _trained(TrainConfig.from_dict(checkpoint["config"]), checkpoint, device,
                        cpu_bf16, complete=True)
    run = Path(run)
    if not checkpoint_path(run).is_file():
        raise RunError(f"{run}: no checkpoint (checkpoints/last.pt); train first")
    config = TrainConfig.from_json(run / "config.json")
    checkpoint = load_checkpoint(run)
    if checkpoint.get("format") != 2:
        raise RunError(f"{run}: checkpoint of an older wmheval_baselines format; retrain")
    progress = run_progress(checkpoint)
    complete = is_complete(config, progress)
    if not complete:
        message = INCOMPLETE_WARNING.format(run=run, done=progress, target={
            phase: config.target(phase) for phase in config.phases})
        if not allow_incomplete or progress.get("wmh", 0) == 0:
            raise IncompleteRunError(message + (" (or allow an incomplete model explicitly)"
                                                if progress.get("wmh", 0) else
                                                "; the WMH network has not been trained yet"))
        warnings.warn(message + "; predicting with a PART-TRAINED network", stacklevel=2)
    elif lacks_operating_point(config, checkpoint):
        complete = False
        message = (f"INCOMPLETE RUN: {run} is trained but its fitted operating point is "
                   "missing (stopped during the fit); resume training (same command) to fit it")
        if not allow_incomplete:
            raise IncompleteRunError(message + " (or allow an incomplete model explicitly)")
        warnings.warn(message + "; predicting at posterior 0.5 instead", stacklevel=2)
    return _trained(config, checkpoint, device, cpu_bf16, complete=complete)


def _trained(config: TrainConfig, checkpoint: dict, device: str, cpu_bf16: bool, *,
             complete: bool) -> TrainedRun:
    """The networks of ``checkpoint`` on ``device`` in eval mode, with the decision
    threshold the checkpoint records."""
    target = resolve_device(device)
    cpu_bf16 = cpu_bf16 and target.type == "cpu"
    if cpu_bf16 and not cpu_bf16_supported():
        raise RunError("bf16 inference on the CPU needs oneDNN bf16 support (AVX-512 or "
                       "newer), which this CPU lacks; predict without --cpu-bf16")
    models = build_models(config)
    for name, model in models.items():
        model.load_state_dict(checkpoint["models"][name])
        model.to(target).eval()
        if config.channels_last:
            model.to(memory_format=torch.channels_last)
    if config.model == "fcn-vgg":
        models["wmh"].set_convention(checkpoint.get("vgg_convention") or "torchvision")
    threshold = checkpoint.get("threshold")
    if threshold is None:
        threshold = decision_threshold(config.beta if config.balanced else None)
    return TrainedRun(config, models, target, float(threshold), complete, cpu_bf16)


def predict_subject(trained: TrainedRun, subject: Subject) -> np.ndarray:
    """Binary WMH mask (z, y, x) uint8 of one subject on its *canonical* grid."""
    config = trained.config
    volume = load_volume(subject, labels=False, wm_masks=config.wm_masks,
                         need_wm=config.wm_source == "data", lesions_in_wm=False)
    probability = wmh_output(trained.config, trained.models, volume, trained.device,
                             cpu_bf16=trained.cpu_bf16)
    return (probability >= trained.threshold).astype(np.uint8)


def write_result(mask: np.ndarray, flair_path: Path, target: Path) -> Path:
    """Write a canonical-grid ``mask`` as uint8 NIfTI on the FLAIR image's own grid
    (voxel order, size, spacing, origin, direction), atomically."""
    flair = read_image(flair_path)
    image = from_canonical(mask.astype(np.uint8), flair)
    return write_atomic(target, lambda p: sitk.WriteImage(image, str(p), True))


def predict_folder(run: str | Path, data: str | Path, out: str | Path, *,
                   device: str = "auto", ids: list[str] | None = None,
                   allow_incomplete: bool = False, cpu_bf16: bool = False,
                   console=None) -> Path:
    """Predict the run's split (challenge: ``test`` subjects; ``loso:<scanner>``: that
    scanner's training subjects), or exactly ``ids``, into ``out/<id>/result.nii.gz``.
    An incomplete run (time budget) is refused unless ``allow_incomplete``; ``cpu_bf16``
    as in :func:`load_run`."""
    trained = load_run(run, device, allow_incomplete=allow_incomplete, cpu_bf16=cpu_bf16)
    if not trained.complete and console is not None:
        console.print(f"WARNING: {run} is INCOMPLETE; predicting with a part-trained network",
                      style="bold red", highlight=False, markup=False)
    subjects = find_subjects(data)
    if ids is not None:
        by_id = {s.id: s for s in subjects}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise RunError(f"{data}: subjects not found: {missing[:5]}")
        chosen = [by_id[i] for i in ids]
    else:
        chosen = split_subjects(subjects, trained.config.split)[1]
    if not chosen:
        raise RunError(f"{data}: no subjects to predict for split {trained.config.split!r}")
    wm_masks = trained.config.wm_masks
    if trained.config.wm_source == "data":
        lacking = [s.id for s in chosen if wm_label_path(s, wm_masks) is None]
        if lacking:  # found before any prediction is written, not half-way through
            where = "synth/wm_mask.nii.gz" + (f" or in {wm_masks}" if wm_masks else "")
            raise DataError(
                f"{data}: the run takes its white-matter region from the data (wm_source "
                f"'data') but {len(lacking)} subject(s) have no white-matter mask ({where}): "
                f"{lacking[:5]}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = chosen
    if shows_bars(console):
        from rich.progress import track

        items = track(chosen, description="predicting", console=console, transient=True)
    for subject in items:
        mask = predict_subject(trained, subject)
        write_result(mask, subject.flair_path, out / subject.id / "result.nii.gz")
    if console is not None:
        console.print(f"wrote {len(chosen)} predictions to {out}", highlight=False)
    return out
