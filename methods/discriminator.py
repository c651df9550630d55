"""The SRGAN discriminator (Ledig et al. 2017, Figure 4, bottom).

Eight 3x3 convolutions with 64, 64, 128, 128, 256, 256, 512, 512 filters;
every second one (the 2nd, 4th, 6th, 8th) has stride 2, so a 96x96 input
ends as 512 x 6 x 6. Batch norm on all but the first, LeakyReLU(0.2) after
each. Then dense 1024, LeakyReLU(0.2), dense 1.

Input: images in [-1, 1] (like the generator's output and the scaled HR),
float NCHW RGB, ``input_size`` x ``input_size``. Output: raw LOGITS of shape
``(N, 1)``; the sigmoid is folded into the BCE-with-logits losses in
``methods/losses.py``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

CONV_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)


class Discriminator(nn.Module):
    """Binary real/fake classifier for ``input_size`` x ``input_size`` patches; returns logits ``(N, 1)``."""

    def __init__(self, input_size: int = 96) -> None:
        super().__init__()
        if input_size < 16 or input_size % 16:
            raise ValueError(f"input_size must be a positive multiple of 16 (four stride-2 layers), got {input_size}")
        self.input_size = input_size
        layers: list[nn.Module] = []
        in_ch = 3
        for i, out_ch in enumerate(CONV_CHANNELS):
            stride = 2 if i % 2 == 1 else 1
            layers.append(nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1))
            if i > 0:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.LeakyReLU(0.2))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        side = input_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_ch * side * side, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"Discriminator built for {self.input_size}x{self.input_size} inputs, got {tuple(x.shape[-2:])}"
            )
        return self.classifier(self.features(x))
