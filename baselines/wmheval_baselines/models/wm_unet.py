"""The white-matter network of paper 000: a downsized 2D U-Net on T1 (last pooling removed)."""

from __future__ import annotations

from wmheval_baselines.models.resunet import UNet2d


class WmUNet(UNet2d):
    """Original U-Net stages (plain, not residual) with 3 poolings instead of 4 ("removes
    the last pooling operations"); channels as U-Net's (64..512 with ``base_channels=64``)."""

    def __init__(self, base_channels: int = 64, in_channels: int = 1) -> None:
        super().__init__(in_channels, base_channels, depth=3, residual=False)
