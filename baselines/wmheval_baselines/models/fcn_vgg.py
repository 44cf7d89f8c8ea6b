"""FCN on VGG16 with specialised side layers (paper 003, after DRIU / Maninis et al.)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# torchvision's VGG16 "features" layout: numbers are conv widths, "M" a 2x2 max pooling.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                512, 512, 512, "M", 512, 512, 512, "M")
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
# Index of the last ReLU of each of the 5 stages in ``features`` (before each pooling).
STAGE_ENDS = (3, 8, 15, 22, 29)
# torchvision's ImageNet normalisation for RGB inputs scaled to [0, 1] (matches its weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The Caffe VGG16 (and its PyTorch ports): BGR channel order, 0..255, mean subtracted, no std.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
CONVENTIONS = ("torchvision", "caffe")


VGG16_WIDTH = 64  # the first stage's width; pretrained VGG16 weights need this width


def stage_widths(width: int = VGG16_WIDTH) -> tuple[int, ...]:
    """Widths of the five stages: VGG16's (64, 128, 256, 512, 512) scaled by width / 64."""
    if width < 1 or (width * 8) % VGG16_WIDTH:
        raise ValueError(f"VGG width must be a positive multiple of 8, got {width}")
    return tuple(w * width // VGG16_WIDTH for w in (64, 128, 256, 512, 512))


def vgg16_features(width: int = VGG16_WIDTH) -> nn.Sequential:
    """VGG16's convolutional part with torchvision's module indices (so state dicts load);
    ``width`` < 64 scales every layer's width down (from-scratch training on a CPU).

    The fifth pooling (index 30) is kept for index compatibility but never run: the paper
    uses the five stages separated by four poolings.
    """
    stage_widths(width)  # validates
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            out = item * width // VGG16_WIDTH
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=True)]
            channels = out
    return nn.Sequential(*layers)


class FcnVgg(nn.Module):
    """VGG16 stages -> a 3x3 conv with K maps after each stage -> resized to the input size,
    concatenated -> a 1x1 conv to 2 classes.

    Input: (N, 3, H, W) RGB in 0..255 (any H, W >= 16); the network normalises it itself
    the way its weights expect (``convention``): ``torchvision`` (RGB / 255, ImageNet
    mean/std) or ``caffe`` (BGR, 0..255 minus the Caffe means). New networks get He
    (Kaiming) initialisation: PyTorch's default shrinks VGG16's activations ~37x by stage 5.
    ``width``: the first stage's width (64, VGG16's, is the only one pretrained weights fit).
    """

    def __init__(self, k: int = 16, convention: str = "torchvision",
                 width: int = VGG16_WIDTH) -> None:
        super().__init__()
        self.features = vgg16_features(width)
        widths = stage_widths(width)
        self.specialised = nn.ModuleList(nn.Conv2d(w, k, 3, padding=1) for w in widths)
        self.combine = nn.Conv2d(k * len(widths), 2, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.ones(1, 3, 1, 1), persistent=False)
        self.bgr = False
        self.set_convention(convention)

    def set_convention(self, convention: str) -> None:
        """Input normalisation matching the weights' origin (see :data:`CONVENTIONS`)."""
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown VGG convention {convention!r}: expected {CONVENTIONS}")
        self.convention = convention
        if convention == "caffe":
            # Applied after the RGB->BGR flip, so the means are in BGR order.
            self.mean.copy_(torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))
            self.std.fill_(1.0)
            self.bgr = True
        else:
            self.mean.copy_(torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
            self.std.copy_(torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0)
            self.bgr = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        if self.bgr:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        sides = []
        start = 0
        for end, side in zip(STAGE_ENDS, self.specialised, strict=True):
            for index in range(start, end + 1):
                x = self.features[index](x)
            start = end + 1
            sides.append(F.interpolate(side(x), size=size, mode="bilinear",
                                       align_corners=False))
        return self.combine(torch.cat(sides, dim=1))
