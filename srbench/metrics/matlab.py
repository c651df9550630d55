"""The ``matlab`` metric protocol: the community's MATLAB Y-channel PSNR/SSIM.

As used by SelfExSR, BasicSR and most SR papers (``protocols.md`` section 2):

1. Luma: MATLAB ``rgb2ycbcr`` on uint8,
   ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``, rounded to uint8
   (half away from zero). For a grayscale HR file (``is_gray``) the HR gray
   values are used as they are and the SR image is reduced with MATLAB
   ``rgb2gray`` (``0.2989 R + 0.5870 G + 0.1140 B``, rounded), which returns
   the gray value itself when ``R = G = B``.
2. Crop ``border`` pixels off every side (after the conversion).
3. PSNR = ``10 log10(255^2 / MSE)`` in dB (``inf`` for identical images).
4. SSIM: Wang et al. 2004 reference code - 11x11 Gaussian window (sigma 1.5),
   K1 = 0.01, K2 = 0.03, L = 255, statistics only where the window fits
   (``filter2(..., 'valid')``), mean of the SSIM map.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import correlate1d

from srbench.errors import SrbenchError

_YCBCR_Y = np.array([65.481, 128.553, 24.966]) / 255.0
_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
_WINDOW = 11
_SIGMA = 1.5
_L = 255.0
_C1 = (0.01 * _L) ** 2
_C2 = (0.03 * _L) ** 2


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB's double -> uint8 rounding (values here are non-negative), clipped to 0..255."""
    return np.clip(np.floor(x + 0.5), 0, 255)


def luma(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` Y of a uint8 ``(H, W, 3)`` RGB image, as float64 integer levels 16..235."""
    return _round_half_away(16.0 + rgb.astype(np.float64) @ _YCBCR_Y)


def gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 ``(H, W, 3)`` RGB image, as float64 integer levels 0..255."""
    return _round_half_away(rgb.astype(np.float64) @ _GRAY)


def _gaussian_taps() -> np.ndarray:
    """Normalised 1-D taps whose outer product is MATLAB ``fspecial('gaussian', 11, 1.5)``."""
    x = np.arange(_WINDOW, dtype=np.float64) - (_WINDOW - 1) / 2
    g = np.exp(-(x * x) / (2 * _SIGMA * _SIGMA))
    return g / g.sum()


def _filter_valid(img: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 2-D filtering keeping only positions where the window fits (``'valid'``)."""
    half = len(taps) // 2
    out = correlate1d(img, taps, axis=0, mode="constant")
    out = correlate1d(out, taps, axis=1, mode="constant")
    return out[half:-half, half:-half]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two float64 2-D planes with levels 0..255 (Wang et al. 2004, valid region)."""
    if min(a.shape) < _WINDOW:
        raise SrbenchError(
            f"image plane {a.shape[1]}x{a.shape[0]} is smaller than the {_WINDOW}x{_WINDOW} SSIM window"
        )
    taps = _gaussian_taps()
    mu_a, mu_b = _filter_valid(a, taps), _filter_valid(b, taps)
    var_a = _filter_valid(a * a, taps) - mu_a * mu_a
    var_b = _filter_valid(b * b, taps) - mu_b * mu_b
    cov = _filter_valid(a * b, taps) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a * mu_a + mu_b * mu_b + _C1) * (var_a + var_b + _C2)
    return float(np.mean(num / den))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two float64 planes with peak 255 (``inf`` when identical)."""
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(_L * _L / mse)


def psnr_ssim(sr: np.ndarray, hr: np.ndarray, *, is_gray: bool, border: int = 4) -> tuple[float, float]:
    """``(psnr_db, ssim)`` of uint8 ``(H, W, 3)`` RGB ``sr`` against ``hr`` under the ``matlab`` protocol.

    ``is_gray``: the HR file was grayscale (replicated to RGB on reading).
    ``border`` pixels are cropped from every side of the luma planes.
    """
    if is_gray:
        y_sr, y_hr = gray(sr), hr[..., 0].astype(np.float64)
    else:
        y_sr, y_hr = luma(sr), luma(hr)
    if border < 0:
        raise SrbenchError(f"border must be >= 0, got {border}")
    if border:
        if min(y_hr.shape) <= 2 * border:
            raise SrbenchError(f"image {y_hr.shape[1]}x{y_hr.shape[0]} is too small for a {border}-pixel crop")
        y_sr = y_sr[border:-border, border:-border]
        y_hr = y_hr[border:-border, border:-border]
    return psnr(y_sr, y_hr), ssim(y_sr, y_hr)
