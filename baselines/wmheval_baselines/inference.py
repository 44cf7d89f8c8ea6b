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
from wmheval_baselines.wm_mask import refine_wm_mask, search_region

WM_MASKED_MODELS = ("resunet", "flair-fcn")
"""Models whose WMH output is confined to a white-matter region (:func:`white_matter_region`)."""

BF16_MIN_CAPABILITY = (8, 0)
"""Ampere and newer run bf16 natively; older GPUs (T4, V100) only emulate it, slowly."""


def amp_dtype(capability: tuple[int, int] | None) -> torch.dtype | None:
    """Autocast dtype for a CUDA device of compute ``capability`` (None: no autocast).

    bf16 only where it is native (capability >= 8.0); fp16 (with a GradScaler) otherwise.
    ``torch.cuda.is_bf16_supported()`` is not used: it also reports emulated bf16.
    """
    if capability is None:
        return None
    return torch.bfloat16 if tuple(capability) >= BF16_MIN_CAPABILITY else torch.float16


def device_amp_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """:func:`amp_dtype` of ``device`` (None on the CPU or when ``enabled`` is false)."""
    if device.type != "cuda" or not enabled:
        return None
    return amp_dtype(torch.cuda.get_device_capability(device))


def cpu_bf16_supported() -> bool:
    """Whether oneDNN runs bf16 convolutions on this CPU (AVX-512 or newer)."""
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_context(device: torch.device, enabled: bool, *, cpu_bf16: bool = False):
    """bf16 autocast on CUDA where native (fp16 otherwise); on the CPU only when
    ``cpu_bf16`` (opt-in: about 2x faster with AVX512-BF16, outputs differ slightly)."""
    if device.type == "cpu":
        return (torch.autocast(device_type="cpu", dtype=torch.bfloat16) if cpu_bf16
                else nullcontext())
    dtype = device_amp_dtype(device, enabled)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def decision_threshold(beta: float | None) -> float:
    """The probability threshold that reads a network's output as posterior >= 0.5.

    A network trained with the class-balanced loss ``-(beta sum_+ log q + (1 - beta)
    sum_- log(1 - q))`` converges to ``q = beta p / (beta p + (1 - beta)(1 - p))`` for a
    true posterior ``p``, so ``q >= 0.5`` means only ``p >= 1 - beta``; ``p >= 0.5`` is
    ``q >= beta``. Unweighted losses (``beta`` None) use 0.5.
    """
    return 0.5 if beta is None else float(beta)


def weighted_output(posterior: np.ndarray | float, beta: float) -> np.ndarray | float:
    """The output ``q`` that minimises the class-balanced loss for a true ``posterior``."""
    p = np.asarray(posterior, dtype=float)
    return beta * p / (beta * p + (1.0 - beta) * (1.0 - p))


def uses_channels_last(model: torch.nn.Module) -> bool:
    """Whether the model's convolution weights are stored channels-last (NHWC), so that its
    inputs should be too (mixed layouts cost a conversion in every layer)."""
    return any(p.dim() == 4 and p.shape[-1] * p.shape[-2] > 1 and not p.is_contiguous()
               and p.is_contiguous(memory_format=torch.channels_last)
               for p in model.parameters())


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, inputs: np.ndarray, device: torch.device,
                          *, batch_size: int = 16, multiple: int = 16, amp: bool = True,
                          cpu_bf16: bool = False) -> np.ndarray:
    """P(class 1) for each slice of ``inputs`` (Z, C, H, W) -> (Z, H, W) float32.

    ``amp``: mixed precision on CUDA; ``cpu_bf16``: bf16 autocast on the CPU (opt-in).
    """
    model.eval()
    channels_last = uses_channels_last(model)
    height, width = inputs.shape[-2:]
    padded = pad_slices(inputs, round_up(height, multiple), round_up(width, multiple))
    cuda = device.type == "cuda"
    pieces = []
    for start in range(0, padded.shape[0], batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(padded[start:start + batch_size]))
        batch = batch.to(device, non_blocking=cuda).float()
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with autocast_context(device, amp, cpu_bf16=cpu_bf16):
            logits = model(batch)
        pieces.append(torch.softmax(logits.float(), dim=1)[:, 1, :height, :width])
    # One device->host copy at the end instead of one sync per batch.
    return torch.cat(pieces).cpu().numpy().astype(np.float32, copy=False)


def wm_net_input(volume: Volume) -> np.ndarray:
    """(Z, 1, H, W) T1 scaled to [0, 1] for the white-matter U-Net."""
    return robust_unit(volume.t1)[:, None]


# Where the white-matter network's probabilities are read (its output is the WMH network's
# search region). Measured on the demo recipe (baselines/README): reading at 0.1 instead of
# 0.5 raised the dilated mask's share of test lesion voxels from 85-95 % to 96-99 %, but
# networks trained and read that way were not better (ResU-Net mean Dice over three seeds
# 0.344 against 0.326 at 0.5 before the component fix, AVD 65 % against 64 %; FLAIR FCN 0.233
# against 0.285), so the default stays 0.5.
WM_THRESHOLD = 0.5


def wm_mask_from_net(model: torch.nn.Module, volume: Volume, device: torch.device, *,
                     dilation_mm: float = 4.0, threshold: float = WM_THRESHOLD,
                     amp: bool = True, cpu_bf16: bool = False) -> np.ndarray:
    """White-matter U-Net on T1 -> probability >= ``threshold`` -> main components ->
    dilation."""
    probability = predict_probabilities(model, wm_net_input(volume), device, amp=amp,
                                        cpu_bf16=cpu_bf16)
    return refine_wm_mask(probability >= threshold, volume.spacing, dilation_mm)


def white_matter_region(config, models: dict[str, torch.nn.Module], volume: Volume,
                        device: torch.device, *, cpu_bf16: bool = False) -> np.ndarray:
    """Where a white-matter-masked model (``resunet``, ``flair-fcn``) looks for WMH: its
    white-matter network's mask (``wm_source`` ``net``, the papers') or the white-matter mask
    that came with the data (``data``: ``volume.wm`` as read, as the threshold baseline
    uses it), dilated in-plane by ``config.dilation_mm``."""
    if config.wm_source == "data":
        if volume.wm is None:
            raise ValueError(f"subject {volume.subject.id}: no white-matter mask loaded")
        return search_region(volume.wm, volume.spacing, config.dilation_mm)
    return wm_mask_from_net(models["wm"], volume, device, dilation_mm=config.dilation_mm,
                            threshold=config.wm_threshold, amp=config.amp, cpu_bf16=cpu_bf16)


def resunet_input(volume: Volume, wm_mask: np.ndarray) -> np.ndarray:
    """(Z, 2, H, W): T1 and FLAIR, each scaled to [0, 1] by its min/max within the mask."""
    return np.stack([minmax_within(volume.t1, wm_mask),
                     minmax_within(volume.flair, wm_mask)], axis=1)


def check_context_slices(context_slices: int) -> None:
    """ValueError unless ``context_slices`` is odd and >= 1 (the slice itself in the middle)."""
    if context_slices < 1 or context_slices % 2 == 0:
        raise ValueError(f"context_slices must be odd and >= 1, got {context_slices}")


def slice_context(volume: np.ndarray, context_slices: int) -> np.ndarray:
    """(Z, C, H, W) from a (Z, H, W) volume: slice z and its ``(C - 1) / 2`` neighbours on
    each side, in order, as channels (the end slices repeated beyond the volume's ends)."""
    check_context_slices(context_slices)
    reach = context_slices // 2
    padded = np.pad(volume, ((reach, reach), (0, 0), (0, 0)), mode="edge")
    depth = volume.shape[0]
    return np.stack([padded[offset:offset + depth] for offset in range(context_slices)],
                    axis=1)


def flair_fcn_input(volume: Volume, context_slices: int = 1) -> np.ndarray:
    """(Z, C, H, W) FLAIR scaled to [0, 1], ``C = context_slices`` adjacent slices (paper
    001: FLAIR only, 3x3x3 kernels; the T1 white-matter mask is applied to the output)."""
    return slice_context(robust_unit(volume.flair), context_slices)


def wmh_net_input(model: str, volume: Volume, wm_mask: np.ndarray,
                  context_slices: int = 1) -> np.ndarray:
    """The WMH network's input of a white-matter-masked model (``resunet``, ``flair-fcn``;
    ``context_slices`` is the FLAIR FCN's)."""
    if model == "resunet":
        return resunet_input(volume, wm_mask)
    return flair_fcn_input(volume, context_slices)


def fcn_vgg_input(volume: Volume, area_mm2: float = 60.0, jobs: int = 1) -> np.ndarray:
    """(Z, 3, H, W) 0..255 float colour slices (area-opening residue, FLAIR, T1)."""
    return fcn_input(volume.flair, volume.t1, volume.spacing, area_mm2, jobs)


def wmh_output(config, models: dict[str, torch.nn.Module], volume: Volume,
               device: torch.device, *, cpu_bf16: bool = False) -> np.ndarray:
    """The WMH network's output (Z, H, W) float32 for one volume on its canonical grid, the
    whole model pipeline of a run's ``config`` (a ``TrainConfig``): for ``resunet`` and
    ``flair-fcn`` the white-matter region first (:func:`white_matter_region`), the output
    zero outside it."""
    if config.model in WM_MASKED_MODELS:
        wm = white_matter_region(config, models, volume, device, cpu_bf16=cpu_bf16)
        inputs = wmh_net_input(config.model, volume, wm, config.context_slices)
        output = predict_probabilities(models["wmh"], inputs, device, amp=config.amp,
                                       cpu_bf16=cpu_bf16)
        output[~wm] = 0.0  # WMH confined to the white-matter mask
        return output
    return predict_probabilities(
        models["wmh"], fcn_vgg_input(volume, config.area_opening_mm2, config.jobs), device,
        amp=config.amp, cpu_bf16=cpu_bf16)
