"""The ``paper`` protocol: Y'-plane PSNR/SSIM as computed by the Xiph daala tools.

The SRGAN paper measured its Table 2 with daala's ``png2y4m`` (RGB -> Y'CbCr),
``dump_psnr`` and ``dump_ssim -r``. This module re-implements those three
steps, vectorised with numpy, and reproduces the tools' integer arithmetic
exactly (bit-identical Y' planes; SSIM equal up to float summation order):

1. **Crop** ``border`` pixels off every side of both images (before conversion).
2. **Y' plane** (``png2y4m`` defaults): 8-bit samples widened to 16 bits by
   byte duplication (``v * 257``); BT.709 matrix, studio range; 4:2:0 chroma
   from 2x2 block sums; a triangular dither drawn from a kiss99 generator with
   its fixed default seed, restarted for every image; Y' is floor or floor+1
   of its exact value, whichever reconstructs the dithered RGB pixel with the
   smaller squared error given the block's chroma (ties to even).
3. **PSNR** (``dump_psnr``): ``10 log10(255^2 N / SSE)`` over the Y' plane;
   ``inf`` when the planes are equal.
4. **SSIM** (``dump_ssim -r``): separable integer Gaussian window (taps sum
   to 256) with sigma ``1.5 * H / 256``, ``H`` the plane height; the window is
   truncated at the borders and every moment is normalised by the window mass
   left inside the image; per-pixel SSIM (K1 = 0.01, K2 = 0.03, L = 255) is
   pooled as a mass-weighted mean.

Inputs are ``uint8`` ``(H, W, 3)`` RGB (gray images arrive as replicated RGB,
exactly what ``png2y4m`` makes of a gray PNG).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from srbench.errors import SrbenchError

# ---------------------------------------------------------------------------
# kiss99: Marsaglia's generator as seeded by daala's kiss99_srand(ctx, NULL, 0)
# ---------------------------------------------------------------------------

_MASK32 = 0xFFFFFFFF
_Z0, _W0, _JSR0, _JCONG0 = 362436069, 521288629, 123456789, 380116160
_MWC_Z_MULT, _MWC_W_MULT = 36969, 18000
_CONG_MULT, _CONG_ADD = 69069, 1234567


def _mwc_states(mult: int, start: int, n: int) -> np.ndarray:
    """States 1..n of ``z <- mult*(z & 0xFFFF) + (z >> 16)``.

    This multiply-with-carry step equals multiplication by ``mult`` modulo
    ``p = mult * 2**16 - 1`` (for states below ``p``), so state ``k`` is
    ``mult**k * start mod p``; the powers are built by repeated doubling.
    """
    p = mult * 65536 - 1
    powers = np.array([mult % p], dtype=np.uint64)
    while powers.size < n:
        step = int(powers[-1])  # mult ** len(powers) mod p
        powers = np.concatenate([powers, powers * np.uint64(step) % np.uint64(p)])
    return (powers[:n] * np.uint64(start % p)) % np.uint64(p)


def _cong_states(n: int) -> np.ndarray:
    """States 1..n of the LCG ``x <- 69069 x + 1234567 mod 2**32``."""
    states = np.array([(_CONG_MULT * _JCONG0 + _CONG_ADD) & _MASK32], dtype=np.uint64)
    mult, add = _CONG_MULT, _CONG_ADD  # the affine map of len(states) steps
    while states.size < n:
        more = (states * np.uint64(mult) + np.uint64(add)) & np.uint64(_MASK32)
        states = np.concatenate([states, more])
        mult, add = (mult * mult) & _MASK32, (mult * add + add) & _MASK32
    return states[:n]


def _shr3_step(x: int) -> int:
    x ^= (x << 17) & _MASK32
    x ^= x >> 13
    x ^= (x << 5) & _MASK32
    return x


def _apply_gf2(columns: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Apply the GF(2) linear map whose images of bit b are ``columns[b]`` to every ``x``."""
    out = np.zeros_like(x)
    for bit in range(32):
        out ^= ((x >> np.uint64(bit)) & np.uint64(1)) * columns[bit]
    return out


def _shr3_states(n: int) -> np.ndarray:
    """States 1..n of the 17/13/5 xorshift (a linear map over GF(2)^32)."""
    states = np.array([_shr3_step(_JSR0)], dtype=np.uint64)
    columns = np.array([_shr3_step(1 << b) for b in range(32)], dtype=np.uint64)
    while states.size < n:
        states = np.concatenate([states, _apply_gf2(columns, states)])
        columns = _apply_gf2(columns, columns)
    return states[:n]


def kiss99_stream(n: int) -> np.ndarray:
    """The first ``n`` outputs (``uint32``) of daala's kiss99 with its default seed."""
    z = _mwc_states(_MWC_Z_MULT, _Z0, n)
    w = _mwc_states(_MWC_W_MULT, _W0, n)
    mwc = ((z << np.uint64(16)) + w) & np.uint64(_MASK32)
    out = ((mwc ^ _cong_states(n)) + _shr3_states(n)) & np.uint64(_MASK32)
    return out.astype(np.uint32)


# ---------------------------------------------------------------------------
# The triangular dither of png2y4m
# ---------------------------------------------------------------------------

# Dither half-ranges for Y', Cb, Cr; draws cycle Y', Cb, Cr, each draw is the
# difference of two uniform integers, each taken by rejection sampling.
_DITHER_RANGES = (1223320000, 1479548743, 1255654969)
_CHUNK = 2048


def _accepted(raw: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Values of ``raw`` kept by a cyclic rejection sampler.

    The sampler is in slot ``s`` (cycling through ``len(thresholds)`` slots);
    a value is kept iff it is below ``thresholds[s]``, and keeping it moves to
    the next slot. Computed in chunks: first each chunk's end slot for every
    possible start slot, then, with the true start slots, the kept flags.
    """
    period = thresholds.size
    nchunk = -(-raw.size // _CHUNK)
    padded = np.full(nchunk * _CHUNK, _MASK32, dtype=np.uint32)  # pad: never kept
    padded[: raw.size] = raw
    table = padded.reshape(nchunk, _CHUNK)
    slot = np.tile(np.arange(period), (nchunk, 1))
    for t in range(_CHUNK):
        slot = (slot + (table[:, t : t + 1] < thresholds[slot])) % period
    start = np.zeros(nchunk, dtype=np.int64)
    for c in range(1, nchunk):
        start[c] = slot[c - 1, start[c - 1]]
    keep = np.empty_like(table, dtype=bool)
    slot = start
    for t in range(_CHUNK):
        keep[:, t] = table[:, t] < thresholds[slot]
        slot = (slot + keep[:, t]) % period
    return table[keep]


def _compute_triangle_draws(count: int) -> np.ndarray:
    spans = np.array([r + 1 for r in _DITHER_RANGES], dtype=np.int64)
    limits = np.array([_MASK32 // s * s for s in spans], dtype=np.int64)
    thresholds = np.repeat(limits, 2)  # two uniforms per draw
    n_raw = int(count * 2 * 1.3) + 4096  # about 16% of raw values are rejected
    while True:
        kept = _accepted(kiss99_stream(n_raw), thresholds)
        if kept.size >= 2 * count:
            break
        n_raw *= 2
    pairs = kept[: 2 * count].astype(np.int64).reshape(-1, 2)
    span = np.resize(spans, count)
    draws = pairs[:, 0] % span - pairs[:, 1] % span
    draws.flags.writeable = False
    return draws


_draws_prefix = np.zeros(0, dtype=np.int64)


def triangle_draws(count: int) -> np.ndarray:
    """The first ``count`` dither draws of png2y4m (``int64``; Y', Cb, Cr, Y', ...).

    Every image restarts the generator, so all sizes share one prefix; the
    longest one computed so far is kept (read-only) for the process.
    """
    global _draws_prefix
    if _draws_prefix.size < count:
        size = max(1 << max(16, (count - 1).bit_length()), 2 * _draws_prefix.size)
        _draws_prefix = _compute_triangle_draws(size)
    return _draws_prefix[:count]


@lru_cache(maxsize=8)
def _dither(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel Y' dither ``(2bh, 2bw)`` and per-block Cb, Cr dither ``(bh, bw)``.

    png2y4m walks 2x2 blocks in raster order and draws 4 x (Y', Cb, Cr) per
    block (also for blocks cut by an odd edge); pixel k of a block (raster
    order inside the block) takes Y' draw k, and 4:2:0 uses Cb/Cr draw 0.
    """
    bh, bw = (h + 1) // 2, (w + 1) // 2
    draws = triangle_draws(bh * bw * 12).reshape(bh, bw, 2, 2, 3)
    yd = draws[..., 0].transpose(0, 2, 1, 3).reshape(2 * bh, 2 * bw)
    return yd, draws[:, :, 0, 0, 1], draws[:, :, 0, 0, 2]


# ---------------------------------------------------------------------------
# RGB -> Y' (png2y4m, BT.709, 4:2:0, dithered)
# ---------------------------------------------------------------------------


def _div_round(x: np.ndarray, d: int) -> np.ndarray:
    """Integer ``x / d`` (``d > 0``) rounded half away from zero."""
    half = d >> 1
    return np.where(x < 0, -((half - x) // d), (x + half) // d)


def _wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32, as the C tool's 32-bit int arithmetic does."""
    return x.astype(np.int32).astype(np.int64)


def _reconstruction_error(r, g, b, y, chroma_r, chroma_g, chroma_b) -> np.ndarray:
    """Squared RGB error of Y' candidate ``y`` (offset-free) given the chroma terms."""
    total = None
    for value, chroma in ((r, chroma_r), (g, chroma_g), (b, chroma_b)):
        rec = np.clip(_div_round(2916394880000 * y + chroma, 9745792000), 0, 65535)
        sq = _wrap32((value - rec) * (value - rec))
        total = sq if total is None else _wrap32(total + sq)
    return total


def _luma(r: np.ndarray, g: np.ndarray, b: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Y' (0..255) of dithered 16-bit RGB given each pixel's chosen Cb, Cr."""
    cb = cb - 128
    cr = cr - 128
    chroma_r = 4490222169144 * cr
    chroma_g = -534117096223 * cb - 1334761232047 * cr
    chroma_b = 5290866304968 * cb
    r_res = (r * 9745792000 - chroma_r + 4096) >> 13
    g_res = (g * 9745792000 - chroma_g + 4096) >> 13
    b_res = (b * 9745792000 - chroma_b + 4096) >> 13
    y0 = np.clip((1063 * r_res + 3576 * g_res + 361 * b_res) // 1780026171875, -16, 238)
    err0 = _reconstruction_error(r, g, b, y0, chroma_r, chroma_g, chroma_b)
    err1 = _reconstruction_error(r, g, b, y0 + 1, chroma_r, chroma_g, chroma_b)
    y0 = y0 + np.where(err1 < err0, 1, np.where(err1 == err0, y0 & 1, 0))
    return y0 + 16


def daala_luma(rgb: np.ndarray) -> np.ndarray:
    """The Y' plane ``png2y4m`` writes for ``uint8`` ``(H, W, 3)`` RGB; ``uint8`` ``(H, W)``."""
    h, w = rgb.shape[:2]
    yd, cbd, crd = _dither(h, w)
    cbd = np.repeat(np.repeat(cbd, 2, 0), 2, 1)
    crd = np.repeat(np.repeat(crd, 2, 0), 2, 1)
    wide = np.pad(rgb.astype(np.int64) * 257, ((0, yd.shape[0] - h), (0, yd.shape[1] - w), (0, 0)))
    r = wide[..., 0] + _div_round(2 * yd + 3 * crd, 8176000)
    g = wide[..., 1] + _div_round(2384 * yd + 361 * cbd + 1063 * crd, 9745792000)
    b = wide[..., 2] + _div_round(2 * yd + 3 * cbd, 8176000)
    for plane in (r, g, b):  # an odd edge repeats the last dithered pixel
        if w % 2:
            plane[:, w] = plane[:, w - 1]
        if h % 2:
            plane[h] = plane[h - 1]

    def block_sum(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).sum(axis=(1, 3))

    rs, gs, bs = block_sum(r), block_sum(g), block_sum(b)
    cb = np.clip(_div_round(-29764 * rs - 100128 * gs + 129892 * bs, 304016865) + 128, 0, 255)
    cr = np.clip(_div_round(110236 * rs - 100128 * gs - 10108 * bs, 258011295) + 128, 0, 255)
    cb = np.repeat(np.repeat(cb, 2, 0), 2, 1)[:h, :w]
    cr = np.repeat(np.repeat(cr, 2, 0), 2, 1)[:h, :w]
    return _luma(r[:h, :w], g[:h, :w], b[:h, :w], cb, cr).astype(np.uint8)


# ---------------------------------------------------------------------------
# dump_psnr / dump_ssim on the Y' plane
# ---------------------------------------------------------------------------

_KERNEL_WEIGHT = 256
_SSIM_K1 = 0.01 * 0.01
_SSIM_K2 = 0.03 * 0.03
_PEAK = 255


@lru_cache(maxsize=64)
def gaussian_taps(sigma: float, max_len: int) -> tuple[int, ...]:
    """dump_ssim's integer Gaussian window: odd length, symmetric, summing to 256.

    Taps are ``round(256 * N(k; sigma))`` for ``k != 0`` and the centre takes
    the remainder; the half-length is where a tap would fall below 0.5/256,
    capped at ``max_len - 1`` (``max_len`` = the plane's shorter side).
    """
    scale = 1 / (math.sqrt(2 * math.pi) * sigma)
    neg_half_inv_var = -0.5 / (sigma * sigma)
    s = math.sqrt(0.5 * math.pi) * sigma * (1.0 / _KERNEL_WEIGHT)
    length = 0.0 if s >= 1 else math.floor(sigma * math.sqrt(-2 * math.log(s)))
    half = max_len - 1 if length >= max_len else int(length)
    side = [int(_KERNEL_WEIGHT * scale * math.exp(neg_half_inv_var * k * k) + 0.5) for k in range(1, half + 1)]
    centre = _KERNEL_WEIGHT - 2 * sum(side)
    if centre < 0:  # cannot happen for a Gaussian; guard the unsigned C arithmetic
        raise SrbenchError(f"SSIM window for sigma {sigma} has negative centre tap")
    return tuple(side[::-1]) + (centre,) + tuple(side)


def _window_sums(planes: np.ndarray, taps: tuple[int, ...], axis: int) -> np.ndarray:
    """Correlate ``planes`` with ``taps`` along ``axis``, treating outside samples as 0."""
    half = len(taps) // 2
    n = planes.shape[axis]
    pad = [(0, 0)] * planes.ndim
    pad[axis] = (half, half)
    padded = np.pad(planes, pad)
    out = np.zeros_like(planes)
    for k, tap in enumerate(taps):
        out += tap * np.take(padded, np.arange(k, k + n), axis=axis)
    return out


def psnr_y(a: np.ndarray, b: np.ndarray) -> float:
    """dump_psnr on two ``uint8`` Y' planes: ``10 log10(255^2 N / SSE)`` dB (inf if equal)."""
    diff = a.astype(np.int64) - b.astype(np.int64)
    sse = int(np.sum(diff * diff))
    if sse == 0:
        return math.inf
    return 10 * (math.log10(_PEAK * _PEAK) + math.log10(diff.size) - math.log10(sse))


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    """dump_ssim's raw SSIM of two ``uint8`` ``(H, W)`` Y' planes, in [-1, 1]."""
    h, w = a.shape
    sigma = h * (1.5 / 256)  # pixel aspect ratio 1: same window both ways
    taps = gaussian_taps(sigma, min(w, h))
    x = a.astype(np.float64)  # every sum below is an integer < 2**53: exact
    y = b.astype(np.float64)
    moments = np.stack([x, y, x * x, x * y, y * y])
    moments = _window_sums(_window_sums(moments, taps, axis=2), taps, axis=1)
    mux, muy, sxx, sxy, syy = moments
    mass_h = _window_sums(np.ones((1, w)), taps, axis=1)
    mass_v = _window_sums(np.ones((h, 1)), taps, axis=0)
    mass = mass_v * mass_h
    c1 = _PEAK * _PEAK * _SSIM_K1 * mass * mass
    c2 = _PEAK * _PEAK * _SSIM_K2 * mass * mass
    mx2 = mux * mux
    mxy = mux * muy
    my2 = muy * muy
    ssim = mass * (2 * mxy + c1) * (c2 + 2 * (sxy * mass - mxy)) / (
        (mx2 + my2 + c1) * (sxx * mass - mx2 + syy * mass - my2 + c2)
    )
    return float(ssim.sum() / mass.sum())


# ---------------------------------------------------------------------------
# The protocol entry point
# ---------------------------------------------------------------------------


def _check(sr: np.ndarray, hr: np.ndarray, border: int) -> None:
    for label, image in (("SR", sr), ("HR", hr)):
        if not isinstance(image, np.ndarray):
            raise SrbenchError(f"paper metrics: {label} image must be a numpy array, got {type(image).__name__}")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise SrbenchError(
                f"paper metrics: {label} image must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}"
            )
    if sr.shape != hr.shape:
        raise SrbenchError(f"paper metrics: SR shape {sr.shape} differs from HR shape {hr.shape}")
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise SrbenchError(f"paper metrics: border must be a non-negative integer, got {border!r}")
    h, w = hr.shape[:2]
    if h <= 2 * border or w <= 2 * border:
        raise SrbenchError(f"paper metrics: a {w}x{h} image leaves nothing after cropping {border} px per side")


def psnr_ssim(sr: np.ndarray, hr: np.ndarray, *, border: int = 4) -> tuple[float, float]:
    """``(psnr_db, ssim)`` of ``sr`` against ``hr`` under the SRGAN paper's daala protocol.

    ``sr``, ``hr``: ``uint8`` ``(H, W, 3)`` RGB of equal shape. ``border``
    pixels are cropped from every side of both before the Y' conversion.
    PSNR is ``inf`` for equal Y' planes. Raises :class:`SrbenchError` for
    inputs of the wrong type, shape or size.
    """
    _check(sr, hr, border)
    h, w = hr.shape[:2]
    crop = (slice(border, h - border), slice(border, w - border))
    y_sr = daala_luma(sr[crop])
    y_hr = daala_luma(hr[crop])
    return psnr_y(y_hr, y_sr), ssim_y(y_hr, y_sr)
