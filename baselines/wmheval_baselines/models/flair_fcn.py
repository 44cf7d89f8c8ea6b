"""The FLAIR-only FCN of paper 001: a U-Net trimmed to three poolings, on FLAIR alone."""

from __future__ import annotations

from wmheval_baselines.models.resunet import UNet2d


class FlairFcn(UNet2d):
    """U-Net stages (conv-BN-ReLU, not residual), 3 poolings (four resolutions, "to help
    preserve very small structures"), U-Net channel widths; 2D slices (the paper's 3x3x3
    kernels are 2D here, as in the ResU-Net); input: FLAIR only."""

    def __init__(self, base_channels: int = 64, in_channels: int = 1) -> None:
        super().__init__(in_channels, base_channels, depth=3, residual=False)
