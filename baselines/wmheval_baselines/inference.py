"""Slice-wise inference and the per-model input/output pipelines shared by training and
prediction (so that both see exactly the same preprocessing)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from wmheval_baselines.data import (
    Volume,
    fcn_input,
    minmax_within,
    pad_slices,
    robust_unit,
    round_up,
)
from wmheval_baselines.wm_mask import refine_wm_mask


def autocast_context(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when supported (fp16 otherwise); nothing on the CPU."""
    if device.type != "cuda" or not enabled:
        return nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, inputs: np.ndarray, device: torch.device,
                          *, batch_size: int = 16, multiple: int = 16, amp: bool = True
                          ) -> np.ndarray:
    """P(class 1) for each slice of ``inputs`` (Z, C, H, W) -> (Z, H, W) float32."""
    model.eval()
    height, width = inputs.shape[-2:]
    padded = pad_slices(inputs, round_up(height, multiple), round_up(width, multiple))
    out = np.empty((inputs.shape[0], height, width), np.float32)
    cuda = device.type == "cuda"
    for start in range(0, padded.shape[0], batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(padded[start:start + batch_size]))
        batch = batch.to(device, non_blocking=cuda).float()
        if cuda:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with autocast_context(device, amp):
            logits = model(batch)
        probability = torch.softmax(logits.float(), dim=1)[:, 1, :height, :width]
        out[start:start + batch.shape[0]] = probability.cpu().numpy()
    return out


def wm_net_input(volume: Volume) -> np.ndarray:
    """(Z, 1, H, W) T1 scaled to [0, 1] for the white-matter U-Net."""
    return robust_unit(volume.t1)[:, None]


def wm_mask_from_net(model: torch.nn.Module, volume: Volume, device: torch.device, *,
                     dilation_mm: float = 4.0, amp: bool = True) -> np.ndarray:
    """White-matter U-Net on T1 -> threshold 0.5 -> largest component -> dilation."""
    probability = predict_probabilities(model, wm_net_input(volume), device, amp=amp)
    return refine_wm_mask(probability >= 0.5, volume.spacing, dilation_mm)


def resunet_input(volume: Volume, wm_mask: np.ndarray) -> np.ndarray:
    """(Z, 2, H, W): T1 and FLAIR, each scaled to [0, 1] by its min/max within the mask."""
    return np.stack([minmax_within(volume.t1, wm_mask),
                     minmax_within(volume.flair, wm_mask)], axis=1)


def fcn_vgg_input(volume: Volume, area_mm2: float = 60.0) -> np.ndarray:
    """(Z, 3, H, W) 0..255 colour slices (area-opening residue, FLAIR, T1) as float32."""
    return fcn_input(volume.flair, volume.t1, volume.spacing, area_mm2).astype(np.float32)
