"""Prediction: a trained run folder -> the challenge's submission layout.

``SUBMISSION/<id>/result.nii.gz`` for every subject to predict, on the subject's FLAIR grid
(same size, spacing, origin and direction as ``pre/FLAIR.nii.gz``), uint8 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from wmheval.io.atomic import write_atomic
from wmheval_baselines.data import Subject, find_subjects, load_volume, read_image
from wmheval_baselines.inference import (
    fcn_vgg_input,
    predict_probabilities,
    resunet_input,
    wm_mask_from_net,
)
from wmheval_baselines.splits import split_subjects
from wmheval_baselines.train import (
    RunError,
    TrainConfig,
    build_models,
    checkpoint_path,
    load_checkpoint,
    resolve_device,
)


@dataclass
class TrainedRun:
    """A run folder's config and its networks, on ``device``, in eval mode."""

    config: TrainConfig
    models: dict[str, torch.nn.Module]
    device: torch.device


def load_run(run: str | Path, device: str = "auto") -> TrainedRun:
    """Read ``config.json`` and ``checkpoints/last.pt`` of a finished (or partial) run."""
    run = Path(run)
    if not checkpoint_path(run).is_file():
        raise RunError(f"{run}: no checkpoint (checkpoints/last.pt); train first")
    config = TrainConfig.from_json(run / "config.json")
    checkpoint = load_checkpoint(run)
    if int(checkpoint.get("epoch", 0)) <= config.wm_phase_epochs:
        raise RunError(f"{run}: the WMH network has not been trained yet "
                       f"(checkpoint after epoch {checkpoint.get('epoch')})")
    target = resolve_device(device)
    models = build_models(config)
    for name, model in models.items():
        model.load_state_dict(checkpoint["models"][name])
        model.to(target).eval()
    return TrainedRun(config, models, target)


def predict_subject(trained: TrainedRun, subject: Subject) -> np.ndarray:
    """Binary WMH mask (z, y, x) uint8 of one subject on its FLAIR grid."""
    config = trained.config
    volume = load_volume(subject, labels=False)
    if config.model == "resunet":
        wm = wm_mask_from_net(trained.models["wm"], volume, trained.device,
                              dilation_mm=config.dilation_mm, amp=config.amp)
        probability = predict_probabilities(trained.models["wmh"], resunet_input(volume, wm),
                                            trained.device, amp=config.amp)
        probability[~wm] = 0.0  # WMH confined to the white-matter mask
    else:
        probability = predict_probabilities(
            trained.models["wmh"], fcn_vgg_input(volume, config.area_opening_mm2),
            trained.device, amp=config.amp)
    return (probability >= 0.5).astype(np.uint8)


def write_result(mask: np.ndarray, flair_path: Path, target: Path) -> Path:
    """Write ``mask`` as uint8 NIfTI with the FLAIR image's geometry, atomically."""
    flair = read_image(flair_path)
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    if image.GetSize() != flair.GetSize():
        raise ValueError(f"{flair_path}: prediction size {image.GetSize()} differs from "
                         f"the FLAIR's {flair.GetSize()}")
    image.CopyInformation(flair)
    return write_atomic(target, lambda p: sitk.WriteImage(image, str(p), True))


def predict_folder(run: str | Path, data: str | Path, out: str | Path, *,
                   device: str = "auto", ids: list[str] | None = None,
                   console=None) -> Path:
    """Predict the run's split (challenge: ``test`` subjects; ``loso:<scanner>``: that
    scanner's training subjects), or exactly ``ids``, into ``out/<id>/result.nii.gz``."""
    trained = load_run(run, device)
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
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = chosen
    if console is not None:
        from rich.progress import track

        items = track(chosen, description="predicting", console=console, transient=True)
    for subject in items:
        mask = predict_subject(trained, subject)
        write_result(mask, subject.flair_path, out / subject.id / "result.nii.gz")
    if console is not None:
        console.print(f"wrote {len(chosen)} predictions to {out}", highlight=False)
    return out
