"""Table 2's reference CNNs, re-trained here: SRCNN and ESPCN.

Both map an LR batch (float32 NCHW RGB in [0, 1]) to a 4x larger RGB batch
whose values are meant to lie in [0, 1] (``output_range`` (0, 1); the
checkpoint-backed inference clamps and rounds to uint8). They are small
enough to train on a CPU in minutes (see :data:`SRCNN_DEFAULTS`,
:data:`ESPCN_DEFAULTS`).

**SRCNN** (Dong et al., ECCV 2014 / TPAMI 2016, the 9-1-5 network with
64 / 32 filters) works on the luma of the bicubic-upscaled image:

1. MATLAB-bicubic 4x upscale of the LR RGB image
   (:func:`srbench.data.resize_torch.imresize`, float, not clamped), as SRCNN's
   MATLAB code does with ``imresize(im, 4, 'bicubic')``;
2. RGB -> Y'CbCr with MATLAB ``rgb2ycbcr``'s BT.601 studio-range matrix on
   the [0, 1] scale (Y' = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255);
3. 9x9 conv (1 -> 64), ReLU, 1x1 conv (64 -> 32), ReLU, 5x5 conv (32 -> 1)
   on Y';
4. the new Y' with the bicubic Cb, Cr, converted back to RGB (exact inverse
   matrix).

Deviations from the paper, all for training in minutes instead of days:

* *Same-size output.* The original used valid convolutions (the output is
  12 pixels smaller per side pair); here every convolution pads with the
  border value (``padding_mode="replicate"``) so the output has the full
  size. Only the outermost 6 HR pixels see padded values; the metrics crop 4.
* *Residual.* The network predicts the correction to the bicubic Y'
  (output Y' = bicubic Y' + net(Y')), as VDSR (Kim et al. 2016) does; its
  last layer starts near zero (Gaussian, std 1e-3, SRCNN's own init), so the
  untrained model is bicubic and training converges much faster.
* *Loss and optimiser.* The trainer's loss is MSE on RGB (not on Y'), with
  Adam instead of SGD. Since Cb, Cr come from bicubic, only the Y' path is
  trained; the RGB error of the chroma is a constant the network cannot
  change (it shifts the Y' optimum only by its correlation with luma).

**ESPCN** (Shi et al., CVPR 2016): 5x5 conv (3 -> 64), tanh, 3x3 conv
(64 -> 32), tanh, 3x3 conv (32 -> 4*4*3), pixel shuffle (x4), on RGB at
LR resolution. The paper's experiments ran on the luma channel; here the
network outputs all three channels (r^2 * 3 = 48) so no bicubic chroma is
needed. The last layer is linear (no tanh): the output is the RGB image in
[0, 1] directly (``output_range`` (0, 1)), with the input and output centred
on 0.5 inside the module (x - 0.5 in, + 0.5 out) so the tanh layers start
in their linear range. Convolutions pad with the border value (the paper's
valid convolutions would shrink the output).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from srbench import SCALE

# MATLAB rgb2ycbcr (BT.601, studio range) for double RGB in [0, 1].
RGB_TO_YCBCR = torch.tensor(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=torch.float64,
) / 255.0
YCBCR_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0
YCBCR_TO_RGB = torch.linalg.inv(RGB_TO_YCBCR)


def _apply_matrix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out[:, i] = sum_j matrix[i, j] * x[:, j]`` with element-wise ops, so autocast keeps it in x's dtype."""
    m = matrix.to(x.device, x.dtype).view(1, 3, 3, 1, 1)
    return (m * x.unsqueeze(1)).sum(dim=2)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """NCHW RGB in [0, 1] -> NCHW Y'CbCr on MATLAB ``rgb2ycbcr``'s [0, 1] scale (Y' in 16/255..235/255)."""
    offset = YCBCR_OFFSET.to(rgb.device, rgb.dtype).view(1, 3, 1, 1)
    return _apply_matrix(RGB_TO_YCBCR, rgb) + offset


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`rgb_to_ycbcr` (not clamped)."""
    offset = YCBCR_OFFSET.to(ycbcr.device, ycbcr.dtype).view(1, 3, 1, 1)
    return _apply_matrix(YCBCR_TO_RGB, ycbcr - offset)


def _conv(c_in: int, c_out: int, k: int) -> nn.Conv2d:
    """A k x k convolution that keeps the size, padding with the border value."""
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, padding_mode="replicate")


class SRCNN(nn.Module):
    """SRCNN 9-1-5 (64/32 filters) on the bicubic Y' channel, residual; see the module docstring.

    ``(N, 3, h, w)`` RGB in [0, 1] -> ``(N, 3, 4h, 4w)`` RGB, nominally [0, 1] (not clamped).
    """

    def __init__(self, n1: int = 64, n2: int = 32, f1: int = 9, f2: int = 1, f3: int = 5) -> None:
        super().__init__()
        self.kernel_sizes = (f1, f2, f3)
        self.body = nn.Sequential(
            _conv(1, n1, f1), nn.ReLU(inplace=True), _conv(n1, n2, f2), nn.ReLU(inplace=True)
        )
        self.tail = _conv(n2, 1, f3)
        nn.init.normal_(self.tail.weight, std=1e-3)
        nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius_lr(self) -> int:
        """LR pixels on each side that influence one output pixel (rounded up).

        The bicubic kernel reaches 2 LR pixels; the convolutions reach
        (f1 + f2 + f3 - 3) / 2 HR pixels = that / 4 LR pixels.
        """
        hr_radius = sum(k // 2 for k in self.kernel_sizes)
        return math.ceil(2 + hr_radius / SCALE)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        from srbench.data.resize_torch import imresize

        upscaled = imresize(lr, SCALE, kernel="bicubic")
        ycbcr = rgb_to_ycbcr(upscaled)
        y = ycbcr[:, :1]
        y = y + self.tail(self.body(y))
        return ycbcr_to_rgb(torch.cat([y, ycbcr[:, 1:]], dim=1))


class ESPCN(nn.Module):
    """ESPCN (tanh, 5-3-3, 64/32 filters, sub-pixel x4) on RGB; see the module docstring.

    ``(N, 3, h, w)`` RGB in [0, 1] -> ``(N, 3, 4h, 4w)`` RGB, nominally [0, 1] (not clamped).
    """

    def __init__(self, n1: int = 64, n2: int = 32, scale: int = SCALE) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            _conv(3, n1, 5), nn.Tanh(), _conv(n1, n2, 3), nn.Tanh()
        )
        self.tail = _conv(n2, 3 * scale * scale, 3)
        self.shuffle = nn.PixelShuffle(scale)

    @property
    def receptive_radius_lr(self) -> int:
        """LR pixels on each side that influence one output pixel: 2 + 1 + 1."""
        return 4

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.tail(self.body(lr - 0.5))) + 0.5
