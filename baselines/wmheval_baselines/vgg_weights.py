"""Load ImageNet-pretrained VGG16 convolutional weights from a local torchvision state dict.

Nothing is downloaded: the user names a file (e.g. torchvision's ``vgg16-397923af.pth``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from wmheval.errors import InputError
from wmheval_baselines.models.fcn_vgg import VGG16_CONV_INDICES, VGG16_LAYOUT


class VggWeightsError(InputError):
    """The VGG16 weights file is unreadable or is not a torchvision VGG16 state dict."""


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """``features.<i>.weight/bias`` -> shape, for the 13 convolutions of VGG16."""
    widths = [w for w in VGG16_LAYOUT if w != "M"]
    shapes: dict[str, tuple[int, ...]] = {}
    channels = 3
    for index, width in zip(VGG16_CONV_INDICES, widths, strict=True):
        shapes[f"features.{index}.weight"] = (width, channels, 3, 3)
        shapes[f"features.{index}.bias"] = (width,)
        channels = width
    return shapes


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_vgg16_features(path: str | Path) -> dict[str, torch.Tensor]:
    """Read and verify a torchvision VGG16 state dict; return only ``features.*`` tensors.

    Classifier keys (``classifier.*``) are dropped; missing convolution keys, unexpected
    ``features`` keys and wrong shapes raise :class:`VggWeightsError` naming the file.
    A checkpoint wrapping the state dict under ``state_dict`` is accepted.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise VggWeightsError(f"{path}: VGG16 weights file not found") from error
    except Exception as error:  # noqa: BLE001 - torch raises many types for bad files
        raise VggWeightsError(f"{path}: cannot read VGG16 weights: {error}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise VggWeightsError(f"{path}: not a state dict (got {type(state).__name__})")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    shapes = expected_shapes()
    missing = [key for key in shapes if key not in state]
    if missing:
        raise VggWeightsError(
            f"{path}: not a torchvision VGG16 state dict: missing keys {missing[:6]}"
            f"{' ...' if len(missing) > 6 else ''}")
    unexpected = [key for key in state if key.startswith("features.") and key not in shapes]
    if unexpected:
        raise VggWeightsError(
            f"{path}: unexpected VGG16 feature keys {unexpected[:6]} (a VGG16-BN or other "
            "architecture? expected plain VGG16)")
    wrong = [f"{key}: {tuple(state[key].shape)} != {shape}" for key, shape in shapes.items()
             if not isinstance(state[key], torch.Tensor) or tuple(state[key].shape) != shape]
    if wrong:
        raise VggWeightsError(f"{path}: wrong VGG16 tensor shapes: {'; '.join(wrong[:4])}")
    return {key: state[key].float().clone() for key in shapes}


INPUT_SCALE_SPLIT = 8.0
"""Between the input scales of the two conventions: ~1 (torchvision: standardised) and ~60
(Caffe: 0..255 minus the mean). See :func:`input_scale`."""


def input_scale(weights: dict[str, torch.Tensor]) -> float:
    """The input scale the first convolution was trained for, from its weight statistics.

    The biases of a trained convolution are of the order of its pre-activations'
    spread, ``rms(w) * sqrt(fan_in) * input_scale``, so ``rms(b) / (rms(w) * sqrt(fan_in))``
    estimates the input scale: ~1 for torchvision's standardised RGB, tens for a Caffe port
    fed 0..255 minus the mean (whose first-layer weights are ~60x smaller).
    """
    weight = weights["features.0.weight"].double()
    bias = weights["features.0.bias"].double()
    fan_in = weight[0].numel()
    weight_rms = float(weight.pow(2).mean().sqrt())
    bias_rms = float(bias.pow(2).mean().sqrt())
    return bias_rms / max(weight_rms * fan_in ** 0.5, 1e-12)


def detect_convention(weights: dict[str, torch.Tensor]) -> str:
    """``torchvision`` or ``caffe`` (BGR, 0..255 mean-subtracted) from :func:`input_scale`."""
    return "caffe" if input_scale(weights) > INPUT_SCALE_SPLIT else "torchvision"


def apply_vgg16_features(model: torch.nn.Module, path: str | Path,
                         convention: str = "auto") -> tuple[str, str]:
    """Copy verified VGG16 convolution weights into ``model.features`` and set the model's
    input normalisation (``auto``: detected from the weights); return (sha256, convention)."""
    weights = load_vgg16_features(path)
    features = {key.removeprefix("features."): value for key, value in weights.items()}
    model.features.load_state_dict(features, strict=True)
    if convention == "auto":
        convention = detect_convention(weights)
    model.set_convention(convention)
    return sha256_file(path), convention
