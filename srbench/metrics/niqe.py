"""NIQE, the no-reference Natural Image Quality Evaluator (lower = more natural).

A. Mittal, R. Soundararajan and A. C. Bovik, "Making a 'Completely Blind'
Image Quality Analyzer", IEEE Signal Processing Letters 20(3), 2013.

This reproduces the authors' MATLAB release (``computequality.m``,
``computefeature.m``, ``estimateaggdparam.m``; public repository
``csjunxu/Bovik_NIQE_SPL2013``) with its pristine model
(``modelparameters.mat``, see :mod:`srbench.metrics.niqe_model`). Steps:

1. **Luminance** (``luma``): ``"gray"`` (default) is MATLAB ``rgb2gray`` on
   uint8, ``0.298936 R + 0.587043 G + 0.114021 B`` rounded to uint8, as both
   the release and MATLAB's ``niqe`` do. ``"y"`` is MATLAB ``rgb2ycbcr``'s Y
   (studio range, rounded), the convention of the PIRM 2018 challenge and
   BasicSR. A grayscale file (``is_gray``) is used as its gray values under
   both, as in the ``matlab`` PSNR/SSIM protocol. Values are 0..255 doubles.
2. **Border crop** (``border``): none by default. NIQE compares no pixels
   with a reference, so the 4-pixel crop of the PSNR/SSIM protocols has no
   alignment role here and MATLAB's ``niqe`` does not crop; ``border=4``
   gives the PIRM convention (shave after the luma conversion).
3. **Blocks**: 96x96, no overlap, anchored at the top-left corner; the
   right and bottom remainders (< 96 px) are dropped. At the second scale
   the blocks are 48x48 on the half-size image.
4. **MSCN** per scale: ``(I - mu) / (sigma + 1)`` with ``mu`` and ``sigma``
   from a 7x7 Gaussian window, sigma 7/6 (``fspecial('gaussian', 7, 7/6)``,
   normalised), replicated borders (``imfilter(..., 'replicate')``),
   ``sigma = sqrt(|G*I^2 - mu^2|)``, C = 1 for 0..255 data. ``I - mu`` is
   computed so that it is exactly 0 where it is mathematically 0 (flat 7x7
   neighbourhoods; :func:`mscn`): a plain convolution leaves +-1e-14 there,
   and step 6 counts such a value on one side by its sign. MATLAB gives
   exact zeros in flat neighbourhoods (the baboon check below is 1.4e-4 off
   otherwise); Set14's ``ppt3`` has 94537 such pixels.
5. **Features** per block (18 per scale, 36 in all): an AGGD fit of the MSCN
   values (shape alpha, mean of the two scales), and of the products of
   each value with its neighbour along (0, 1), (1, 0), (1, 1), (1, -1),
   neighbours taken by ``circshift`` *within the block* (wrapping around):
   alpha, mean ``(beta_r - beta_l) G(2/alpha)/G(1/alpha)``, beta_l, beta_r.
6. **AGGD fit** (moment matching): ``sigma_l``/``sigma_r`` = RMS of the
   strictly negative / strictly positive samples (zeros count in neither),
   ``r = mean|x|^2 / mean x^2``, ``R = r (g^3+1)(g+1)/(g^2+1)^2`` with
   ``g = sigma_l/sigma_r``; alpha is the point of the grid 0.2:0.001:10
   minimising ``(rho(alpha) - R)^2``, ``rho(a) = G(2/a)^2 / (G(1/a) G(3/a))``
   (first point on a tie, the first grid point if R is NaN, as MATLAB's
   ``min``); ``beta = sigma sqrt(G(1/alpha)/G(3/alpha))``.
7. **Second scale**: ``imresize(I, 0.5)`` bicubic with antialiasing on the
   double image, unrounded, with the mirrored border indices of current
   MATLAB releases (:func:`srbench.data.resize.imresize` ``edges="symmetric"``).
   Older releases clamp them (the SelfExSR LR files were made so, and
   probably the authors' 2012 model); that moves baboon's score by 1.0e-2.
8. **Score**: ``mu_d`` = per-feature mean over blocks ignoring NaNs
   (``nanmean``), ``S_d`` = covariance (N-1) of the blocks without any NaN
   (``nancov``); ``sqrt((mu_p - mu_d) pinv((S_p + S_d)/2) (mu_p - mu_d)')``,
   ``pinv`` with MATLAB's tolerance ``36 * eps(largest singular value)``.
   The model side's sharpness threshold (0.75, used by the authors when
   fitting the pristine model) plays no part at test time.

Results that cannot be computed are an explicit "n/a" with the reason
(:class:`NiqeResult`), never an exception or a zero: a luma plane smaller
than one 96x96 block, a single block (no covariance: MATLAB's release then
takes ``nanmean``/``nancov`` of a row vector, i.e. averages the 36 features
of the one block together, which is meaningless), or fewer than two blocks
with finite features (flat images, where the MSCN values are all zero).

Published check (a test): Set14 ``baboon`` with ``luma="y"``, no crop, is
5.7295738842 here; BasicSR's port of the authors' code documents
5.72957338 as "MATLAB R2021a result" (its ``baboon.png`` is Set14's cut to
480x492, identical in the top-left 480x480 that NIQE reads): 5.0e-7 apart,
cause unknown (a typo, or a last-digit difference we cannot trace).

Differences from MATLAB's Image Processing Toolbox ``niqe`` (2017+): its
default model is MathWorks' ``defaultNIQEModel.mat``, not the authors' file,
so its scores differ (pyiqa's maintainers report the same); with the
authors' model passed as a ``niqeModel`` it follows the release except that
(a) its AGGD counts zero samples on the right side (this matters where
flat regions give exact zeros), (b) where at most one block fits along a side
(even under 96 px) the block spans that whole side (the release and srbench
use 96 px blocks and give n/a below 96 px or for a single block), and
(c) it warns and returns NaN when every feature column holds a NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import correlate1d
from scipy.special import gamma

from srbench.errors import SrbenchError
from srbench.metrics.matlab import gray as _rgb2gray
from srbench.metrics.matlab import luma as _rgb2y
from srbench.metrics.niqe_model import NiqeModel, load_model
from srbench.data.resize import imresize

BLOCK = 96  # pixels, the block size the pristine model was fitted with
LUMAS = ("gray", "y")
NA = "n/a"
WINDOW = 7
WINDOW_SIGMA = 7.0 / 6.0
C = 1.0  # MSCN stabilising constant, for 0..255 data
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # MATLAB circshift [rows cols]
FEATURES_PER_SCALE = 18
ALPHA_GRID = np.arange(200, 10001) / 1000.0  # 0.2:0.001:10, each point correctly rounded
ALPHA_GRID.flags.writeable = False


@dataclass(frozen=True)
class NiqeResult:
    """A NIQE score, or "n/a" with the reason.

    ``value`` is the score (float, >= 0) or None; ``reason`` is "" when
    available; ``blocks`` is the number of 96x96 blocks the score pooled.
    """

    value: float | None
    reason: str = ""
    blocks: int = 0

    @property
    def available(self) -> bool:
        return self.value is not None

    def format(self, digits: int = 4) -> str:
        """``"3.1416"`` or ``"n/a"`` (for tables; the reason is in :attr:`reason`)."""
        return NA if self.value is None else f"{self.value:.{digits}f}"

    def __str__(self) -> str:
        return self.format() if self.value is not None else f"{NA} ({self.reason})"


def gaussian_taps() -> np.ndarray:
    """1-D taps whose outer product is ``fspecial('gaussian', 7, 7/6)`` normalised to sum 1."""
    x = np.arange(WINDOW, dtype=np.float64) - (WINDOW - 1) / 2
    g = np.exp(-(x * x) / (2.0 * WINDOW_SIGMA * WINDOW_SIGMA))
    return g / g.sum()


def _blur(img: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable Gaussian filtering with replicated borders (``imfilter(..., 'replicate')``)."""
    return correlate1d(correlate1d(img, taps, axis=0, mode="nearest"), taps, axis=1, mode="nearest")


@lru_cache(maxsize=1)
def weight_rings() -> tuple[tuple[float, tuple[tuple[int, int], ...]], ...]:
    """The window's off-centre offsets grouped by equal weight: ``((weight, offsets), ...)``.

    Nine rings (squared radius 1, 2, 4, 5, 8, 9, 10, 13, 18), the weight of a ring
    being ``g[|di|] * g[|dj|]`` with ``g`` = :func:`gaussian_taps`.
    """
    g = gaussian_taps()
    half = WINDOW // 2
    rings: dict[int, list[tuple[int, int]]] = {}
    for di in range(-half, half + 1):
        for dj in range(-half, half + 1):
            if di or dj:
                rings.setdefault(di * di + dj * dj, []).append((di, dj))
    return tuple(
        (float(g[half + abs(offs[0][0])] * g[half + abs(offs[0][1])]), tuple(offs)) for _, offs in sorted(rings.items())
    )


def mscn(plane: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of a float64 0..255 plane (step 4).

    The numerator ``I - mu`` is accumulated as ``-sum_ring w_ring * sum_(m in ring) (I_m - I)``
    so that it is exactly 0 wherever it is mathematically 0 (flat 7x7
    neighbourhoods, and any neighbourhood whose differences cancel ring by ring):
    a plain convolution leaves +-1e-14 there, whose sign the AGGD fit counts.
    """
    taps = gaussian_taps()
    mu = _blur(plane, taps)
    sigma = np.sqrt(np.abs(_blur(plane * plane, taps) - mu * mu))
    half = WINDOW // 2
    h, w = plane.shape
    padded = np.pad(plane, half, mode="edge")
    centred = np.zeros_like(plane)
    ring_sum = np.empty_like(plane)
    for weight, offsets in weight_rings():
        ring_sum.fill(0.0)
        for di, dj in offsets:
            ring_sum += padded[half + di : half + di + h, half + dj : half + dj + w] - plane
        centred -= weight * ring_sum
    return centred / (sigma + C)


@lru_cache(maxsize=1)
def _rho_grid() -> np.ndarray:
    rho = gamma(2.0 / ALPHA_GRID) ** 2 / (gamma(1.0 / ALPHA_GRID) * gamma(3.0 / ALPHA_GRID))
    if not np.all(np.diff(rho) > 0):  # the nearest-point search below relies on it
        raise AssertionError("rho(alpha) is not strictly increasing on the grid")
    rho.flags.writeable = False
    return rho


def nearest_alpha_index(target: np.ndarray) -> np.ndarray:
    """Index into :data:`ALPHA_GRID` of ``argmin((rho - target)^2)`` for each target (step 6).

    Same result as the exhaustive MATLAB ``min`` (first index on a tie, index 0
    for NaN or infinite targets): rho is strictly increasing, so the squared
    distance falls then rises and the minimum is at the insertion point or just
    before it.
    """
    rho = _rho_grid()
    target = np.asarray(target, dtype=np.float64)
    finite = np.isfinite(target)
    safe = np.where(finite, target, 0.0)
    hi = np.clip(np.searchsorted(rho, safe, side="left"), 1, len(rho) - 1)
    lo = hi - 1
    pick_hi = (rho[hi] - safe) ** 2 < (rho[lo] - safe) ** 2
    return np.where(finite, np.where(pick_hi, hi, lo), 0)


def aggd_fit(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AGGD ``(alpha, beta_l, beta_r)`` of each row of ``samples`` (2-D; a 1-D array is one row).

    NaN betas when a row has no negative (or positive) samples, as MATLAB's
    ``mean`` of an empty set.
    """
    x = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    sq = x * x
    neg, pos = x < 0, x > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt(np.where(neg, sq, 0.0).sum(axis=1) / neg.sum(axis=1))
        right_std = np.sqrt(np.where(pos, sq, 0.0).sum(axis=1) / pos.sum(axis=1))
        g = left_std / right_std
        r = np.mean(np.abs(x), axis=1) ** 2 / np.mean(sq, axis=1)
        r_norm = r * (g**3 + 1) * (g + 1) / ((g**2 + 1) ** 2)
    alpha = ALPHA_GRID[nearest_alpha_index(r_norm)]
    t = np.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, left_std * t, right_std * t


def to_blocks(plane: np.ndarray, block: int) -> np.ndarray:
    """``(n, block, block)`` blocks of a plane whose sides are multiples of ``block``.

    Column-major block order (down the first column of blocks first), as
    MATLAB's ``blkproc`` output is reshaped; the order does not change the score.
    """
    rows, cols = plane.shape[0] // block, plane.shape[1] // block
    return plane.reshape(rows, block, cols, block).transpose(2, 0, 1, 3).reshape(rows * cols, block, block)


def block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 features of step 5 for each MSCN block of ``blocks`` ``(n, b, b)`` -> ``(n, 18)``."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    alpha, beta_l, beta_r = aggd_fit(flat)
    cols = [alpha, (beta_l + beta_r) / 2]
    for shift in SHIFTS:
        pairs = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(n, -1)
        alpha, beta_l, beta_r = aggd_fit(pairs)
        mean = (beta_r - beta_l) * (gamma(2.0 / alpha) / gamma(1.0 / alpha))
        cols += [alpha, mean, beta_l, beta_r]
    return np.stack(cols, axis=1)


def features(plane: np.ndarray) -> np.ndarray:
    """``(blocks, 36)`` NIQE features of a float64 0..255 luma plane (steps 3-7).

    The plane must hold at least one 96x96 block (:func:`niqe_plane` checks).
    """
    rows, cols = plane.shape[0] // BLOCK, plane.shape[1] // BLOCK
    img = np.asarray(plane, dtype=np.float64)[: rows * BLOCK, : cols * BLOCK]
    per_scale = []
    for scale in (1, 2):
        per_scale.append(block_features(to_blocks(mscn(img), BLOCK // scale)))
        if scale == 1:
            img = imresize(img, 0.5, kernel="bicubic", edges="symmetric")
    return np.hstack(per_scale)


def pinv_matlab(a: np.ndarray) -> np.ndarray:
    """Moore-Penrose inverse with MATLAB ``pinv``'s default tolerance ``max(size) * eps(max singular value)``."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    tol = max(a.shape) * np.spacing(s.max()) if s.size else 0.0
    keep = s > tol
    return (vt[keep].T / s[keep]) @ u[:, keep].T


def score(feats: np.ndarray, model: NiqeModel) -> NiqeResult:
    """Pool block features ``(blocks, 36)`` into the NIQE score against ``model`` (step 8)."""
    n = feats.shape[0]
    if n < 2:
        return NiqeResult(None, "only one 96x96 block: NIQE's feature covariance needs at least 2", n)
    complete = feats[~np.isnan(feats).any(axis=1)]
    if complete.shape[0] < 2:
        return NiqeResult(
            None,
            f"{n - complete.shape[0]} of {n} blocks have undefined features (flat regions with all-zero "
            "MSCN values); fewer than 2 remain for the covariance",
            n,
        )
    with np.errstate(invalid="ignore"):
        mu = np.nanmean(feats, axis=0)
    cov = np.cov(complete, rowvar=False)
    d = model.mean - mu
    q = float((d @ pinv_matlab((model.cov + cov) / 2)) @ d)
    if not math.isfinite(q) or q < 0:
        return NiqeResult(None, f"the Mahalanobis form is {q!r} (numerically degenerate features)", n)
    return NiqeResult(math.sqrt(q), "", n)


def niqe_plane(plane: np.ndarray, model: NiqeModel | None = None) -> NiqeResult:
    """NIQE of a 2-D luma plane (float or uint8, values 0..255), or "n/a" with the reason."""
    plane = np.asarray(plane)
    if plane.ndim != 2:
        raise SrbenchError(f"NIQE takes a 2-D luma plane, got shape {plane.shape}")
    h, w = plane.shape
    if h < BLOCK or w < BLOCK:
        return NiqeResult(None, f"{w}x{h} luma plane is smaller than one {BLOCK}x{BLOCK} NIQE block")
    if not np.all(np.isfinite(plane)):
        raise SrbenchError("NIQE: the luma plane holds NaN or infinite values")
    model = model if model is not None else load_model()
    blocks = (h // BLOCK) * (w // BLOCK)
    if blocks < 2:
        return NiqeResult(
            None, f"only one {BLOCK}x{BLOCK} block fits in {w}x{h}: NIQE's feature covariance needs at least 2", 1
        )
    return score(features(plane.astype(np.float64)), model)


def luma_plane(img: np.ndarray, *, luma: str = "gray", is_gray: bool = False, border: int = 0) -> np.ndarray:
    """The float64 0..255 plane NIQE measures: conversion (step 1), then ``border`` px off every side."""
    if not isinstance(img, np.ndarray):
        raise SrbenchError(f"NIQE takes a numpy uint8 image, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise SrbenchError(f"NIQE takes uint8 images (0..255), got {img.dtype}")
    if luma not in LUMAS:
        raise SrbenchError(f"unknown NIQE luma {luma!r}; choose from {', '.join(LUMAS)}")
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise SrbenchError(f"NIQE border must be an integer >= 0, got {border!r}")
    if img.ndim == 2:
        plane = img.astype(np.float64)
    elif img.ndim == 3 and img.shape[2] == 3:
        if is_gray:
            plane = img[..., 0].astype(np.float64)
        else:
            plane = _rgb2gray(img) if luma == "gray" else _rgb2y(img)
    else:
        raise SrbenchError(f"NIQE takes an (H, W, 3) RGB or (H, W) gray uint8 image, got shape {img.shape}")
    if border:
        plane = plane[border : plane.shape[0] - border, border : plane.shape[1] - border]
    return plane


def niqe(
    img: np.ndarray,
    *,
    model: NiqeModel | None = None,
    luma: str = "gray",
    is_gray: bool = False,
    border: int = 0,
) -> NiqeResult:
    """NIQE of a uint8 ``(H, W, 3)`` RGB (or ``(H, W)`` gray) image; "n/a" with the reason if it cannot be computed.

    ``model`` defaults to :func:`srbench.metrics.niqe_model.load_model` (the
    authors' pristine model, checksum-verified, cached). ``luma`` ``"gray"``
    (MATLAB ``rgb2gray``, default) or ``"y"`` (``rgb2ycbcr``); ``is_gray``: the
    file was grayscale (its values are used as they are); ``border``: pixels
    cropped from every side after the conversion (default 0, as MATLAB).
    Raises :class:`SrbenchError` for a non-uint8 image or a wrong shape.
    """
    plane = luma_plane(img, luma=luma, is_gray=is_gray, border=border)
    if plane.size == 0:
        h, w = img.shape[:2]
        return NiqeResult(None, f"a {border}-pixel border crop leaves nothing of the {w}x{h} image")
    return niqe_plane(plane, model)
