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
from scipy.ndimage import correlate1d

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


# ---------------------------------------------------------------------------
# RGB -> Y' (png2y4m, BT.709, 4:2:0, dithered)
#
# png2y4m works in 64-bit integers. Here the per-image arithmetic runs in
# float64 on exact integers below 2**53 and exact binary fractions; each C
# integer division becomes a float division (or multiplication) and a floor.
# That is exact: every true quotient is an integer or lies at least 1/d from
# one (d >= 8192 the divisor), while the float rounding error at these
# magnitudes (|quotient| < 2**17) stays below 3e-11 < 1/d. The tests check
# this against a plain integer implementation.
# ---------------------------------------------------------------------------

_RGB_SCALE = 9745792000  # common denominator of png2y4m's BT.709 matrix
_Y_STEP = 2916394880000  # one Y' step, in RGB * _RGB_SCALE units
_Y_DIVISOR = 1780026171875
_CHROMA_R = 4490222169144  # R contribution per Cr step
_CHROMA_G_CB, _CHROMA_G_CR = -534117096223, -1334761232047
_CHROMA_B = 5290866304968  # B contribution per Cb step
_RESIDUAL_SCALE = _RGB_SCALE / 8192  # 1189671.875, exact
_REC_SLOPE = _Y_STEP / _RGB_SCALE  # RGB change per Y' step (rounded; see above)
_TWO31, _TWO32 = float(2**31), float(2**32)


def _div_round(x: np.ndarray, d: int) -> np.ndarray:
    """``x / d`` (``d > 0``) rounded half away from zero, as C's ``(x +- (d>>1)) / d``.

    ``x`` is an integer array, or a float64 array of exact integers whose
    quotients are well separated from integers (see the section comment).
    """
    half = d >> 1
    if np.issubdtype(x.dtype, np.integer):
        return np.where(x < 0, -((half - x) // d), (x + half) // d)
    return np.where(x < 0, -np.floor((half - x) / d), np.floor((x + half) / d))


@lru_cache(maxsize=8)
def _dither_offsets(h: int, w: int) -> np.ndarray:
    """16-bit offsets png2y4m adds to R, G, B: float64 ``(3, 2*ceil(h/2), 2*ceil(w/2))``.

    png2y4m walks 2x2 blocks in raster order and draws 4 x (Y', Cb, Cr) per
    block (also for blocks cut by an odd edge); pixel k of a block (raster
    order inside the block) uses Y' draw k, and with 4:2:0 all four pixels use
    the block's first Cb and Cr draws. The offsets project that Y'CbCr dither
    back to RGB.
    """
    bh, bw = (h + 1) // 2, (w + 1) // 2
    draws = triangle_draws(bh * bw * 12).reshape(bh, bw, 2, 2, 3)
    yd = draws[..., 0].transpose(0, 2, 1, 3).reshape(2 * bh, 2 * bw)
    cbd = np.repeat(np.repeat(draws[:, :, 0, 0, 1], 2, 0), 2, 1)
    crd = np.repeat(np.repeat(draws[:, :, 0, 0, 2], 2, 0), 2, 1)
    offsets = np.stack(
        [
            _div_round(2 * yd + 3 * crd, 8176000),
            _div_round(2384 * yd + 361 * cbd + 1063 * crd, _RGB_SCALE),
            _div_round(2 * yd + 3 * cbd, 8176000),
        ]
    ).astype(np.float64)
    offsets.flags.writeable = False
    return offsets


def _wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of exact-integer floats to the int32 range."""
    return x - _TWO32 * np.floor((x + _TWO31) / _TWO32)


def _squared_error(rgb: np.ndarray, ramp: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Squared RGB error of one Y' candidate per pixel.

    The candidate reconstructs channel ``c`` as
    ``clip(floor(ramp + offset[c]), 0, 65535)`` (that is png2y4m's rounded
    ``(Y_STEP * y + chroma) / RGB_SCALE``). png2y4m keeps the squares and
    their sum in 32-bit ints, which wrap for extreme pixels (a saturated
    pixel in a 2x2 block of the opposite colour); that is reproduced.
    """
    rec = ramp + offset
    np.floor(rec, out=rec)
    np.clip(rec, 0, 65535, out=rec)
    np.subtract(rgb, rec, out=rec)
    np.square(rec, out=rec)
    total = rec[0] + rec[1]
    total += rec[2]
    if total.max() < _TWO31:
        return total
    squares = _wrap32(rec)
    return _wrap32(_wrap32(squares[0] + squares[1]) + squares[2])


def _rgb16(rgb: np.ndarray) -> np.ndarray:
    """Dithered 16-bit RGB, float64 ``(3, H', W')`` with ``H', W'`` rounded up to even.

    Samples are ``v * 257`` plus the dither; an odd last column or row
    repeats its dithered neighbour, as png2y4m does for cut 2x2 blocks.
    """
    h, w = rgb.shape[:2]
    wide = _dither_offsets(h, w).copy()
    wide[:, :h, :w] += np.moveaxis(rgb, 2, 0) * 257.0
    if w % 2:
        wide[:, :, w] = wide[:, :, w - 1]
    if h % 2:
        wide[:, h] = wide[:, h - 1]
    return wide


def daala_luma(rgb: np.ndarray) -> np.ndarray:
    """The Y' plane ``png2y4m`` writes for ``uint8`` ``(H, W, 3)`` RGB: ``uint8`` ``(H, W)``, 0..255.

    Cb, Cr of each 2x2 block come from its summed dithered 16-bit RGB; Y' is
    then floor or floor+1 of its exact value, whichever reconstructs the
    pixel with the smaller squared RGB error given the block's Cb, Cr (ties
    go to the even one).
    """
    h, w = rgb.shape[:2]
    wide = _rgb16(rgb)
    bh, bw = wide.shape[1] // 2, wide.shape[2] // 2
    blocks = wide.reshape(3, bh, 2, bw, 2)  # channel, block row, row in block, block col, col in block
    pairs = blocks[:, :, 0] + blocks[:, :, 1]
    rs, gs, bs = (pairs[..., 0] + pairs[..., 1])[:, :, None, :, None]
    # Both divisors are odd, so there are no ties and floor(x/d + 1/2) is C's rounding.
    cb = np.clip(np.floor((-29764 * rs - 100128 * gs + 129892 * bs + 152008432) / 304016865), -128, 127)
    cr = np.clip(np.floor((110236 * rs - 100128 * gs - 10108 * bs + 129005647) / 258011295), -128, 127)
    chroma = np.stack([_CHROMA_R * cr, _CHROMA_G_CB * cb + _CHROMA_G_CR * cr, _CHROMA_B * cb])
    # floor((rgb * RGB_SCALE - chroma + 4096) / 8192), per channel
    residual = blocks * _RESIDUAL_SCALE
    residual += (4096 - chroma) / 8192
    np.floor(residual, out=residual)
    y0 = residual[0] * 1063
    y0 += residual[1] * 3576
    y0 += residual[2] * 361
    y0 /= _Y_DIVISOR
    np.floor(y0, out=y0)
    np.clip(y0, -16, 238, out=y0)
    ramp = y0 * _REC_SLOPE
    offset = (chroma + (_RGB_SCALE >> 1)) / _RGB_SCALE
    err0 = _squared_error(blocks, ramp, offset)
    err1 = _squared_error(blocks, ramp, offset + _REC_SLOPE)
    luma = y0.astype(np.int16)
    luma += err1 < err0
    ties = err1 == err0
    luma[ties] += luma[ties] & 1
    luma += 16
    return luma.reshape(2 * bh, 2 * bw)[:h, :w].astype(np.uint8)


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


def _window_sums(planes: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """Correlate float64 ``planes`` with integer ``taps`` along ``axis``; outside samples count as 0."""
    return correlate1d(planes, taps, axis=axis, mode="constant", cval=0.0)


def psnr_y(a: np.ndarray, b: np.ndarray) -> float:
    """dump_psnr on two ``uint8`` Y' planes: ``10 log10(255^2 N / SSE)`` dB (inf if equal)."""
    diff = a.astype(np.int64) - b.astype(np.int64)
    sse = int(np.sum(diff * diff))
    if sse == 0:
        return math.inf
    return 10 * (math.log10(_PEAK * _PEAK) + math.log10(diff.size) - math.log10(sse))


@lru_cache(maxsize=8)
def _window_mass(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per-size SSIM constants: window taps, the window mass inside the image
    at every pixel, and the stabilisers ``C1 * mass**2``, ``C2 * mass**2``
    (the last three transposed, ``(w, h)``, the layout :func:`ssim_y` uses)."""
    sigma = h * (1.5 / 256)  # pixel aspect ratio 1: the same window both ways
    taps = np.array(gaussian_taps(sigma, min(w, h)), dtype=np.float64)
    mass = _window_sums(np.ones((w, 1)), taps, axis=0) * _window_sums(np.ones((1, h)), taps, axis=1)
    c1 = _PEAK * _PEAK * _SSIM_K1 * mass * mass
    c2 = _PEAK * _PEAK * _SSIM_K2 * mass * mass
    for array in (taps, mass, c1, c2):
        array.flags.writeable = False
    return taps, mass, c1, c2


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    """dump_ssim's raw SSIM of two ``uint8`` ``(H, W)`` Y' planes, in [-1, 1].

    Window sums are integers below 2**53, so float64 holds them exactly; the
    final per-pixel formula keeps dump_ssim's order of float operations.
    """
    h, w = a.shape
    taps, mass, c1, c2 = _window_mass(h, w)
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    moments = _window_sums(np.stack([x, y, x * x, x * y, y * y]), taps, axis=2)
    # transposed, the vertical pass and the rest run along contiguous memory
    moments = np.ascontiguousarray(moments.transpose(0, 2, 1))
    mux, muy, sxx, sxy, syy = _window_sums(moments, taps, axis=2)
    mx2 = mux * mux
    mxy = mux * muy
    my2 = muy * muy
    numerator = mass * (2 * mxy + c1)
    numerator *= c2 + 2 * (sxy * mass - mxy)
    variance = sxx * mass
    variance -= mx2
    variance += syy * mass
    variance -= my2
    variance += c2
    denominator = mx2 + my2
    denominator += c1
    denominator *= variance
    numerator /= denominator
    return float(numerator.sum() / mass.sum())


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
