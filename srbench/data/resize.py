"""MATLAB-compatible ``imresize`` for numpy images (bicubic and nearest).

This reproduces MATLAB's ``imresize(img, scale, method)``:

* **Kernels.** ``bicubic``: Keys' cubic with a = -0.5 (support 4).
  ``nearest``: the box ``-0.5 <= x < 0.5`` (support 1).
* **Coordinates.** Output pixel ``x`` (1-based) samples the input at
  ``u = x / s + 0.5 * (1 - 1 / s)``.
* **Antialiasing.** When shrinking (``s < 1``) the bicubic kernel is widened
  by ``1 / s``; the taps of every output pixel are normalised to sum to 1.
  MATLAB does not antialias with ``nearest``, and neither do we.
* **Borders** (``edges``). ``"replicate"`` (default): indices falling
  outside the image are clamped to the first or last pixel, as the
  ``contributions`` of older MATLAB releases does ("clamp out-of-range
  indices"). With clamping and the intermediate rounding below,
  ``imresize(hr, 1/4)`` reproduces every pixel of every shipped
  ``LR_bicubic_x4`` file of Set5, Set14 and BSD100 (tested).
  ``"symmetric"``: indices are mirrored with the edge pixel repeated
  (``aux = [1:n, n:-1:1]``), as recent MATLAB releases and BasicSR do; NIQE
  uses it (``srbench.metrics.niqe`` explains the evidence).
* **Order.** One dimension at a time, the dimension with the smaller scale
  first (MATLAB sorts the scales; on a tie, rows first).
* **Output size.** ``ceil(s * size)`` per dimension, or ``output_shape``.

Numerics: ``uint8`` input is computed in float64 and rounded to ``uint8``
(half away from zero, clipped to 0..255) after each dimension, as MATLAB's
``imresizemex`` stores the intermediate image in the input class (one final
rounding instead reproduces only ~90% of the shipped LR pixels, off by up to
12 levels). Float input gives float64 output with no rounding or clipping.

The weights are built once per (input length, output length, scale, kernel)
and cached, and applied as sparse matrix products; :func:`resize_weights`
exposes them to the torch version in ``srbench.data.resize_torch``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import sparse

from srbench.errors import SrbenchError

KERNELS = ("bicubic", "nearest")
EDGES = ("replicate", "symmetric")


class ResizeError(SrbenchError):
    """Bad arguments to :func:`imresize` (kernel name, scale, image shape or dtype)."""


class Weights(NamedTuple):
    """Sparse resampling weights along one dimension.

    ``index`` and ``weight`` are ``(out_len, taps)``: output pixel ``i`` is
    ``sum_k weight[i, k] * input[index[i, k]]`` (0-based, already clamped to ``0..in_len-1``).
    """

    index: np.ndarray
    weight: np.ndarray


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def _box(x: np.ndarray) -> np.ndarray:
    """Nearest-neighbour kernel: 1 on ``[-0.5, 0.5)``, else 0."""
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


_KERNEL_FUNCS = {"bicubic": (_cubic, 4.0), "nearest": (_box, 1.0)}


def check_kernel(kernel: str) -> str:
    """Return ``kernel`` if it is a supported kernel name, else raise :class:`ResizeError`."""
    if kernel not in _KERNEL_FUNCS:
        raise ResizeError(f"unknown resize kernel {kernel!r}; choose from {', '.join(KERNELS)}")
    return kernel


def check_scale(scale: float) -> float:
    """Return ``scale`` as a float if it is finite and positive, else raise :class:`ResizeError`."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ResizeError(f"resize scale must be a number, got {scale!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ResizeError(f"resize scale must be a finite number > 0, got {scale!r}")
    return value


def check_edges(edges: str) -> str:
    """Return ``edges`` if it is a supported border rule, else raise :class:`ResizeError`."""
    if edges not in EDGES:
        raise ResizeError(f"unknown resize edges {edges!r}; choose from {', '.join(EDGES)}")
    return edges


@lru_cache(maxsize=256)
def resize_weights(in_len: int, out_len: int, scale: float, kernel: str, edges: str = "replicate") -> Weights:
    """Weights and in-range indices mapping ``in_len`` samples to ``out_len`` (MATLAB ``contributions``).

    ``scale`` is the factor MATLAB uses for the coordinate mapping (the one
    given by the caller, or ``out_len / in_len`` for an explicit output size).
    ``edges`` says how indices outside the input are brought in (module docstring).
    The returned arrays are read-only (they are shared through the cache).
    """
    check_edges(edges)
    func, width = _KERNEL_FUNCS[check_kernel(kernel)]
    if scale < 1 and kernel != "nearest":  # antialiasing: stretch the kernel by 1/scale
        def h(x: np.ndarray) -> np.ndarray:
            return scale * func(scale * x)

        width = width / scale
    else:
        h = func
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    index = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    weight = h(u[:, None] - index)
    weight = weight / weight.sum(axis=1, keepdims=True)
    index = index.astype(np.int64) - 1  # 0-based
    if edges == "replicate":
        index = np.clip(index, 0, in_len - 1)
    else:  # mirror with the edge sample repeated: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
        index = np.mod(index, 2 * in_len)
        index = np.where(index < in_len, index, 2 * in_len - 1 - index)
    keep = np.any(weight != 0, axis=0)  # drop tap columns that are zero everywhere
    index = np.ascontiguousarray(index[:, keep])
    weight = np.ascontiguousarray(weight[:, keep])
    index.flags.writeable = False
    weight.flags.writeable = False
    return Weights(index, weight)


def resize_plan(
    in_shape: tuple[int, int], scale: float | None, output_shape: tuple[int, int] | None
) -> list[tuple[int, int, float]]:
    """The MATLAB processing plan: ``[(dim, out_len, dim_scale), ...]`` in execution order.

    Dimensions whose size and scale are both unchanged are skipped. Raises
    :class:`ResizeError` for a bad scale or output shape.
    """
    if min(in_shape) < 1:
        raise ResizeError(f"cannot resize an empty image of shape {in_shape}")
    if output_shape is not None:
        try:
            out = tuple(int(n) for n in output_shape)
        except (TypeError, ValueError):
            raise ResizeError(f"output_shape must be two positive ints, got {output_shape!r}") from None
        if len(out) != 2 or min(out) < 1:
            raise ResizeError(f"output_shape must be two positive ints (height, width), got {output_shape!r}")
        scales = (out[0] / in_shape[0], out[1] / in_shape[1])
    else:
        if scale is None:
            raise ResizeError("give a scale or an output_shape")
        s = check_scale(scale)
        scales = (s, s)
        out = (math.ceil(s * in_shape[0]), math.ceil(s * in_shape[1]))
    order = sorted(range(2), key=lambda d: scales[d])  # stable: rows first on a tie
    return [(d, out[d], scales[d]) for d in order if not (scales[d] == 1.0 and out[d] == in_shape[d])]


def _round_uint8(x: np.ndarray) -> np.ndarray:
    """Round half away from zero and clip to 0..255, as MATLAB's double -> uint8."""
    return np.clip(np.floor(np.abs(x) + 0.5) * np.sign(x), 0, 255).astype(np.uint8)


@lru_cache(maxsize=256)
def _sparse_matrix(
    in_len: int, out_len: int, scale: float, kernel: str, edges: str = "replicate"
) -> sparse.csr_matrix:
    """:func:`resize_weights` as a sparse ``(out_len, in_len)`` matrix (duplicate taps summed)."""
    w = resize_weights(in_len, out_len, scale, kernel, edges)
    rows = np.repeat(np.arange(out_len), w.index.shape[1])
    return sparse.csr_matrix((w.weight.ravel(), (rows, w.index.ravel())), shape=(out_len, in_len))


def _resize_dim(img: np.ndarray, dim: int, matrix: sparse.csr_matrix) -> np.ndarray:
    """Resample float64 ``img`` along ``dim`` (0 = rows, 1 = columns) with ``matrix``."""
    moved = np.moveaxis(img, dim, 0)
    flat = np.ascontiguousarray(moved).reshape(moved.shape[0], -1)
    out = np.asarray(matrix @ flat).reshape((matrix.shape[0],) + moved.shape[1:])
    return np.moveaxis(out, 0, dim)


def imresize(
    img: np.ndarray,
    scale: float | None,
    *,
    kernel: str = "bicubic",
    output_shape: tuple[int, int] | None = None,
    edges: str = "replicate",
) -> np.ndarray:
    """Resize ``img`` like MATLAB ``imresize(img, scale, kernel)``.

    ``img`` is ``(H, W)`` or ``(H, W, C)``, ``uint8`` or floating point (any
    range). ``scale`` > 0 scales both sides (output ``ceil(scale * H)`` x
    ``ceil(scale * W)``); ``output_shape`` = ``(height, width)`` overrides
    it. ``uint8`` in -> ``uint8`` out (rounded, clipped); float in ->
    ``float64`` out (not rounded). Scale 1 returns a copy of the input.
    ``edges``: ``"replicate"`` (default) or ``"symmetric"`` (module docstring).
    """
    check_kernel(kernel)
    check_edges(edges)
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        shape = getattr(img, "shape", None)
        raise ResizeError(f"imresize takes an (H, W) or (H, W, C) numpy array, got shape {shape}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise ResizeError(f"imresize takes uint8 or floating-point images, got {img.dtype}")
    plan = resize_plan(img.shape[:2], scale, output_shape)
    out = img.astype(np.float64)
    for dim, out_len, dim_scale in plan:
        matrix = _sparse_matrix(img.shape[dim], out_len, dim_scale, kernel, edges)
        out = _resize_dim(out, dim, matrix)
        if is_uint8:
            out = _round_uint8(out).astype(np.float64)
    return out.astype(np.uint8) if is_uint8 else out
