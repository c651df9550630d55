"""MATLAB-compatible ``imresize`` for batched torch tensors (any device).

Same weights, border handling and dimension order as :mod:`srbench.data.resize`
(the weights come from :func:`srbench.data.resize.resize_weights`), applied as
gathers plus weighted sums on the tensor's own device. Unlike the numpy
version nothing is rounded by default: the trainer uses it to turn float HR
patches in ``[0, 1]`` into LR patches and quantises them itself. With
``quantize=True`` values are treated as 8-bit levels in ``[0, 1]``: the input
is rounded to multiples of 1/255, and so is the result of each dimension
(clamped to ``[0, 1]``), which is
exactly what MATLAB does to uint8 images (and what the numpy version does for
uint8 input). Gathers, not matrix products, so TF32 matmul settings cannot
change the result.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from srbench.data.resize import ResizeError, check_kernel, resize_plan, resize_weights


@lru_cache(maxsize=64)
def _taps(in_len: int, out_len: int, scale: float, kernel: str, device: torch.device,
          dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index, weight)`` of shape ``(out_len, taps)`` on ``device``, weight in ``dtype``.

    Cached: after the first call for a size no host-to-device copy happens,
    so a training step that makes LR patches never waits on an upload.
    """
    w = resize_weights(in_len, out_len, scale, kernel)
    index = torch.from_numpy(w.index.copy()).to(device)
    weight = torch.from_numpy(w.weight.copy()).to(device=device, dtype=dtype)
    return index, weight


def _resize_dim(x: torch.Tensor, dim: int, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Resample NCHW ``x`` along ``dim`` (2 = height, 3 = width)."""
    out_len, taps = index.shape
    gathered = x.index_select(dim, index.reshape(-1))
    if dim == 2:
        n, c, _, w = x.shape
        gathered = gathered.view(n, c, out_len, taps, w)
        return (gathered * weight.view(out_len, taps, 1)).sum(dim=3)
    n, c, h, _ = x.shape
    gathered = gathered.view(n, c, h, out_len, taps)
    return (gathered * weight).sum(dim=4)


def imresize(x: torch.Tensor, scale: float, *, kernel: str = "bicubic", quantize: bool = False) -> torch.Tensor:
    """Resize a float32/float64 NCHW tensor like MATLAB ``imresize(x, scale, kernel)``.

    Output is ``(N, C, ceil(scale * H), ceil(scale * W))`` in ``x``'s dtype and
    on its device. Not rounded unless ``quantize`` (input and the result of
    each dimension rounded to 8-bit levels of ``[0, 1]``, MATLAB's uint8 behaviour).
    Scale 1 returns ``x`` itself.
    """
    check_kernel(kernel)
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ResizeError(f"torch imresize takes an NCHW tensor, got {shape}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ResizeError(f"torch imresize takes float32 or float64 tensors, got {x.dtype}")
    in_shape = (x.shape[2], x.shape[3])
    plan = resize_plan(in_shape, scale, None)
    if quantize:  # work in level units 0..255, as MATLAB does on uint8
        x = _round_levels(x * 255)
    for dim, out_len, dim_scale in plan:
        index, weight = _taps(in_shape[dim], out_len, dim_scale, kernel, x.device, x.dtype)
        x = _resize_dim(x, dim + 2, index, weight)
        if quantize:
            x = _round_levels(x)
    return x / 255 if quantize else x


def _round_levels(x: torch.Tensor) -> torch.Tensor:
    """Round to integer levels (half up, as MATLAB's double -> uint8) and clamp to 0..255."""
    return torch.floor(x + 0.5).clamp_(0, 255)
