"""ResU-Net (paper 000): a 2D U-Net whose two-convolution stages are residual blocks."""

from __future__ import annotations

import torch
from torch import nn


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv + BN + ReLU + 3x3 conv + BN: the body shared by both kinds of stage."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 conv + BN + ReLU with a 1x1-convolution shortcut: ``x + F(x)`` (eq. 1).

    The 1x1 convolution on the shortcut matches the channel count, as the paper requires
    for every block of the U-Net.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = double_conv(in_channels, out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.shortcut(x) + self.body(x))


class PlainBlock(nn.Module):
    """Two 3x3 conv + BN + ReLU, the stage of the original U-Net."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(double_conv(in_channels, out_channels), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UNet2d(nn.Module):
    """A 2D U-Net with ``depth`` poolings, channels ``base * 2**level``, 2 output classes.

    Input height and width must be multiples of ``2**depth`` (the data pipeline pads).
    """

    def __init__(self, in_channels: int, base_channels: int = 64, depth: int = 4,
                 residual: bool = True, out_channels: int = 2) -> None:
        super().__init__()
        block = ResidualBlock if residual else PlainBlock
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList()
        previous = in_channels
        for width in widths:
            self.down.append(block(previous, width))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList()
        self.up = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.upsample.append(nn.ConvTranspose2d(width * 2, width, 2, stride=2))
            self.up.append(block(width * 2, width))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, stage in enumerate(self.down):
            x = stage(x)
            if level < self.depth:
                skips.append(x)
                x = self.pool(x)
        for upsample, stage in zip(self.upsample, self.up, strict=True):
            x = upsample(x)
            x = stage(torch.cat([skips.pop(), x], dim=1))
        return self.head(x)


class ResUNet(UNet2d):
    """The WMH network of paper 000: 4 poolings as the original U-Net, residual stages,
    input channels (T1, FLAIR) normalised to [0, 1] within the white-matter mask."""

    def __init__(self, base_channels: int = 64, in_channels: int = 2) -> None:
        super().__init__(in_channels, base_channels, depth=4, residual=True)
