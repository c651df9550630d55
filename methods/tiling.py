"""Tiled inference: run a 4x network on a large LR image piece by piece with bounded memory.

The LR image is cut into a grid of *core* tiles of at most ``tile`` x ``tile``
pixels. Each core is fed to the network together with ``overlap`` LR pixels of
real context on every side (fewer at the image border, where the network's own
zero padding applies exactly as for the whole image), and only the core's part
of the output is kept. When ``overlap`` is at least the network's receptive
field radius, every output pixel sees exactly the inputs it would see in
whole-image inference, so the result is the same up to float rounding. The
network input is never larger than ``(tile + 2 * overlap)`` squared.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn

from srbench import SCALE

DEFAULT_OVERLAP = 16  # LR pixels, for networks that do not declare ``receptive_radius_lr``


def default_overlap(model: nn.Module) -> int:
    """The model's ``receptive_radius_lr`` if it declares one, else :data:`DEFAULT_OVERLAP`."""
    return int(getattr(model, "receptive_radius_lr", DEFAULT_OVERLAP))


def to_uint8(sr: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    """Map ``output_range`` to [0, 1], clamp, scale by 255 and round half up; returns uint8."""
    lo, hi = output_range
    # (x - lo) * (255 / (hi - lo)) is the scaled value; clamping to [0, 255] and adding 0.5
    # before the truncating cast is the same as clamp to [0, 1], * 255, floor(v + 0.5).
    scaled = (sr.float() - lo).mul_(255.0 / (hi - lo)).clamp_(0.0, 255.0).add_(0.5)
    return scaled.to(torch.uint8)


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """Disable TF32 for cuDNN convolutions and CUDA matmuls inside the block (restored after).

    PyTorch lets cuDNN use TF32 (10-bit mantissa) for fp32 convolutions by
    default; evaluation must run in true fp32 whatever a trainer enabled.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _splits(length: int, tile: int) -> list[tuple[int, int]]:
    """Cut ``range(length)`` into ``ceil(length / tile)`` near-equal consecutive pieces."""
    n = max(1, math.ceil(length / tile))
    edges = [round(i * length / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


@torch.inference_mode()
def upscale_tiled(
    model: nn.Module,
    lr_uint8_hwc: np.ndarray,
    *,
    tile: int = 128,
    overlap: int | None = None,
    device: str | torch.device | None = None,
    output_range: tuple[float, float] = (-1.0, 1.0),
    scale: int = SCALE,
) -> np.ndarray:
    """Super-resolve ``lr_uint8_hwc`` (uint8 ``(h, w, 3)`` RGB) to uint8 ``(scale*h, scale*w, 3)``.

    ``model`` maps float32 NCHW RGB in [0, 1] to ``scale`` x larger outputs in
    ``output_range``. It runs in eval mode (the previous mode is restored
    afterwards), in fp32 with autocast and TF32 off (see :func:`strict_fp32`),
    on ``device`` (default: where its parameters are; the model is not moved).
    ``tile`` is the core tile side and ``overlap`` the context margin, both in
    LR pixels; ``overlap=None`` uses :func:`default_overlap`.
    """
    lr = np.asarray(lr_uint8_hwc)
    if lr.dtype != np.uint8 or lr.ndim != 3 or lr.shape[2] != 3:
        raise ValueError(f"expected uint8 (h, w, 3) RGB, got {lr.dtype} {lr.shape}")
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    margin = default_overlap(model) if overlap is None else int(overlap)
    if margin < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)

    h, w = lr.shape[:2]
    out = np.empty((h * scale, w * scale, 3), dtype=np.uint8)
    # An image that fits in one tile with its margins is run whole (same result, one call).
    rows = [(0, h)] if h <= tile + 2 * margin else _splits(h, tile)
    cols = [(0, w)] if w <= tile + 2 * margin else _splits(w, tile)
    was_training = model.training
    model.eval()
    try:
        with strict_fp32(), torch.autocast(device.type, enabled=False):
            for y0, y1 in rows:
                for x0, x1 in cols:
                    _run_tile(model, lr, out, (y0, y1, x0, x1), margin, scale, device, output_range)
    finally:
        model.train(was_training)
    return out


def _run_tile(
    model: nn.Module,
    lr: np.ndarray,
    out: np.ndarray,
    core: tuple[int, int, int, int],
    margin: int,
    scale: int,
    device: torch.device,
    output_range: tuple[float, float],
) -> None:
    """Run ``model`` on the core ``(y0, y1, x0, x1)`` plus its margin; write the core's output into ``out``."""
    h, w = lr.shape[:2]
    y0, y1, x0, x1 = core
    iy0, iy1 = max(0, y0 - margin), min(h, y1 + margin)
    ix0, ix1 = max(0, x0 - margin), min(w, x1 + margin)
    patch = torch.from_numpy(np.array(lr[iy0:iy1, ix0:ix1]))  # a copy: the input may be read-only
    x = patch.to(device).permute(2, 0, 1).unsqueeze(0).float().div_(255.0).contiguous()
    y = model(x)
    expected = (1, 3, (iy1 - iy0) * scale, (ix1 - ix0) * scale)
    if tuple(y.shape) != expected:
        raise ValueError(f"model output {tuple(y.shape)} for input {tuple(x.shape)}; expected {expected}")
    sr = y[0, :, (y0 - iy0) * scale:(y1 - iy0) * scale, (x0 - ix0) * scale:(x1 - ix0) * scale]
    out[y0 * scale:y1 * scale, x0 * scale:x1 * scale] = to_uint8(sr, output_range).permute(1, 2, 0).cpu().numpy()
