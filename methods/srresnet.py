"""SRResNet: the SRGAN paper's generator network (Ledig et al. 2017, section 2, Figure 4).

Layout (``B`` residual blocks, ``C`` channels, scale 4)::

    head   9x9 conv (3 -> C) + PReLU                       -- output kept for the long skip
    body   B x [3x3 conv, BN, PReLU, 3x3 conv, BN] + identity skip
           3x3 conv + BN, then + head output (long skip)
    up     2 x [3x3 conv (C -> 4C), PixelShuffle(2), PReLU]
    tail   9x9 conv (C -> 3), linear output

Input: LR batch, float32 NCHW RGB in [0, 1]. Output: 4x larger batch, linear,
trained against HR scaled to [-1, 1] (the paper's choice), so the spec's
``output_range`` is (-1, 1). PReLU slopes are per channel (He et al.'s
PReLU). The last convolution is the attribute :attr:`SRResNet.tail` so a
trainer can keep it out of reduced-precision autocast.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


class ResidualBlock(nn.Module):
    """3x3 conv, BN, PReLU, 3x3 conv, BN, plus the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleBlock(nn.Module):
    """3x3 conv to 4x the channels, PixelShuffle(2) (doubles H and W), PReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(nn.Module):
    """The SRResNet / SRGAN generator: ``(N, 3, h, w)`` in [0, 1] -> ``(N, 3, 4h, 4w)`` linear."""

    def __init__(self, num_blocks: int = 16, channels: int = 64, scale: int = 4) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {scale}")
        if num_blocks < 0 or channels < 1:
            raise ValueError(f"need num_blocks >= 0 and channels >= 1, got {num_blocks}, {channels}")
        self.num_blocks = num_blocks
        self.channels = channels
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU(channels))
        self.body = nn.Sequential(*(ResidualBlock(channels) for _ in range(num_blocks)))
        self.body_tail = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))
        self.upsample = nn.Sequential(*(UpsampleBlock(channels) for _ in range(int(math.log2(scale)))))
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)

    @property
    def receptive_radius_lr(self) -> int:
        """How many LR pixels on each side can influence one output pixel (rounded up).

        Sum of the kernel radii, each expressed in LR pixels: head 4, two per
        residual block, 1 for the body's last conv, 1 / 2**i for the i-th
        upsampling conv, 4 / scale for the tail. Tiled inference needs at
        least this much overlap to reproduce whole-image inference exactly.
        """
        radius = 4 + 2 * self.num_blocks + 1
        radius += sum(1 / 2**i for i in range(len(self.upsample)))
        radius += 4 / self.scale
        return math.ceil(radius)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.head(x)
        features = self.body_tail(self.body(first)) + first
        return self.tail(self.upsample(features))
