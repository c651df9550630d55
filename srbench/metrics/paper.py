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

import hashlib
import math
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from scipy.ndimage import correlate1d

from srbench.errors import SrbenchError

# ---------------------------------------------------------------------------
# kiss99: Marsaglia's generator as seeded by daala's kiss99_srand(ctx, NULL, 0)
# ---------------------------------------------------------------------------

_MASK32 = 0xFFFFFFFF
_SEED = (362436069, 521288629, 123456789, 380116160)  # z, w, jsr, jcong
_Z_MULT, _W_MULT = 36969, 18000  # the two multiply-with-carry parts
_CONG_MULT, _CONG_ADD = 69069, 1234567  # the linear congruential part
_LANES = 2048


def _shr3(x: int) -> int:
    """One step of the 17/13/5 xorshift part."""
    x ^= (x << 17) & _MASK32
    x ^= x >> 13
    return x ^ ((x << 5) & _MASK32)


def _gf2_apply(columns: list[int], x: int) -> int:
    """Apply the GF(2)-linear map sending bit ``b`` to ``columns[b]`` to ``x``."""
    out = 0
    for bit, column in enumerate(columns):
        if x >> bit & 1:
            out ^= column
    return out


def _shr3_power(steps: int) -> list[int]:
    """The xorshift advanced by ``steps`` steps, as GF(2) map columns (by squaring)."""
    result = [1 << b for b in range(32)]
    power = [_shr3(1 << b) for b in range(32)]
    while steps:
        if steps & 1:
            result = [_gf2_apply(power, c) for c in result]
        power = [_gf2_apply(power, c) for c in power]
        steps >>= 1
    return result


def _cong_power(steps: int) -> tuple[int, int]:
    """``(a, b)`` with ``x -> a x + b mod 2**32`` equal to ``steps`` LCG steps."""
    a, b = 1, 0
    pa, pb = _CONG_MULT, _CONG_ADD
    while steps:
        if steps & 1:
            a, b = (pa * a) & _MASK32, (pa * b + pb) & _MASK32
        pa, pb = (pa * pa) & _MASK32, (pa * pb + pb) & _MASK32
        steps >>= 1
    return a, b


class _Kiss99:
    """daala's kiss99 from its default seed, producing outputs in large batches.

    A batch is computed in ``_LANES`` lanes: lane ``j`` starts from the state
    the generator reaches after ``j * L`` steps (found by jumping ahead) and
    runs ``L`` steps, so one numpy operation advances every lane. The jumps
    use that each multiply-with-carry step ``z -> m (z & 0xFFFF) + (z >> 16)``
    is multiplication by ``m`` modulo ``m * 2**16 - 1``, that the LCG is an
    affine map and that the xorshift is linear over GF(2).
    """

    def __init__(self) -> None:
        self.state = _SEED

    def _jump(self, steps: int):
        zp, wp = _Z_MULT * 65536 - 1, _W_MULT * 65536 - 1
        zm, wm = pow(_Z_MULT, steps, zp), pow(_W_MULT, steps, wp)
        ca, cb = _cong_power(steps)
        columns = _shr3_power(steps)

        def jump(state: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
            z, w, jsr, jcong = state
            return zm * z % zp, wm * w % wp, _gf2_apply(columns, jsr), (ca * jcong + cb) & _MASK32

        return jump

    def next_batch(self, n: int) -> np.ndarray:
        """The next ``n`` or slightly more outputs, ``uint32``, in generator order."""
        steps = -(-n // _LANES)
        jump = self._jump(steps)
        starts = [self.state]
        for _ in range(_LANES - 1):
            starts.append(jump(starts[-1]))
        self.state = jump(starts[-1])
        z, w, jsr, jcong = (np.array(s, dtype=np.uint32) for s in zip(*starts))
        out = np.empty((steps, _LANES), dtype=np.uint32)
        for t in range(steps):
            z = _Z_MULT * (z & 0xFFFF) + (z >> 16)  # never exceeds 32 bits
            w = _W_MULT * (w & 0xFFFF) + (w >> 16)
            jsr ^= jsr << 17  # uint32 arithmetic wraps like C's
            jsr ^= jsr >> 13
            jsr ^= jsr << 5
            jcong = jcong * _CONG_MULT + _CONG_ADD
            out[t] = (((z << 16) + w) ^ jcong) + jsr
        return out.T.reshape(-1)


def kiss99_stream(n: int) -> np.ndarray:
    """The first ``n`` outputs (``uint32``) of daala's kiss99 with its default seed."""
    return _Kiss99().next_batch(n)[:n]


# ---------------------------------------------------------------------------
# The triangular dither of png2y4m
# ---------------------------------------------------------------------------

# Each dither draw is the difference of two uniform integers in 0..R, each
# taken from kiss99 by rejection sampling (outputs >= the largest multiple of
# R+1 below 2**32 are skipped); draws cycle through Y', Cb, Cr half-ranges R.
_DITHER_RANGES = (1223320000, 1479548743, 1255654969)
_SPANS = np.array([r + 1 for r in _DITHER_RANGES], dtype=np.int64)
_SLOT_LIMITS = np.repeat(np.array([_MASK32 // s * s for s in _SPANS], dtype=np.int64), 2)
_CHUNK = 1024


def _accepted(raw: np.ndarray, limits: np.ndarray, slot: int) -> tuple[np.ndarray, int]:
    """Values of ``raw`` kept by a cyclic rejection sampler, and its final slot.

    The sampler starts in slot ``slot`` of ``len(limits)``; a value is kept
    iff it is below ``limits[slot]``, and keeping it moves to the next slot.
    Computed in chunks: first each chunk's end slot for every possible start
    slot, then (with the true start slots) the kept flags.
    """
    period = limits.size
    nchunk = -(-raw.size // _CHUNK)
    padded = np.full(nchunk * _CHUNK, _MASK32, dtype=np.uint32)  # padding is never kept
    padded[: raw.size] = raw
    table = padded.reshape(nchunk, _CHUNK)
    ends = np.tile(np.arange(period), (nchunk, 1))
    for t in range(_CHUNK):
        ends = (ends + (table[:, t : t + 1] < limits[ends])) % period
    starts = np.empty(nchunk, dtype=np.int64)
    starts[0] = slot
    for c in range(1, nchunk):
        starts[c] = ends[c - 1, starts[c - 1]]
    keep = np.empty(table.shape, dtype=bool)
    slots = starts
    for t in range(_CHUNK):
        keep[:, t] = table[:, t] < limits[slots]
        slots = (slots + keep[:, t]) % period
    return table[keep], int(ends[-1, starts[-1]])


class _DitherDraws:
    """png2y4m's dither draws from a fresh generator; the prefix grows on demand."""

    def __init__(self) -> None:
        self._kiss = _Kiss99()
        self._slot = 0  # rejection-sampler slot after the last generated output
        self._spare = np.zeros(0, dtype=np.uint32)  # a kept value not yet paired
        self._draws = np.zeros(0, dtype=np.int32)  # |draw| < 2**31
        self._lock = threading.Lock()

    def first(self, count: int) -> np.ndarray:
        """The first ``count`` draws, ``int32`` in ``[-R, R]`` (read-only)."""
        with self._lock:
            while self._draws.size < count:
                want = max(count, self._draws.size * 5 // 4) - self._draws.size
                raw = self._kiss.next_batch(int(want * 2.4) + 4096)  # about 16% are rejected
                kept, self._slot = _accepted(raw, _SLOT_LIMITS, self._slot)
                kept = np.concatenate([self._spare, kept]).astype(np.int64)
                pairs = kept[: kept.size // 2 * 2].reshape(-1, 2)
                self._spare = kept[pairs.size :].astype(np.uint32)
                spans = _SPANS[(self._draws.size + np.arange(len(pairs))) % 3]
                fresh = (pairs[:, 0] % spans - pairs[:, 1] % spans).astype(np.int32)
                draws = np.concatenate([self._draws, fresh])
                draws.flags.writeable = False
                self._draws = draws
            return self._draws[:count]


_DRAWS = _DitherDraws()


def triangle_draws(count: int) -> np.ndarray:
    """The first ``count`` dither draws of png2y4m (``int32``; Y', Cb, Cr, Y', ...).

    png2y4m reseeds for every image, so all image sizes share one prefix.
    """
    return _DRAWS.first(count)


# ---------------------------------------------------------------------------
# RGB -> Y' (png2y4m, BT.709, 4:2:0, dithered)
#
# png2y4m works in 64-bit integers. Here the per-image arithmetic runs in
# float64 on exact integers below 2**53 (and exact binary fractions); each C
# integer division becomes a float division or multiplication and a floor.
# That floor is exact because a true quotient n/d that is not an integer is
# at least 1/d away from one, more than the float rounding error:
#   / 8192 (residuals): a power of two, no rounding at all;
#   / 1780026171875 (Y' estimate, |q| < 2**9): error < 6e-14 < 1/d = 5.6e-13;
#   / 304016865, / 258011295 (Cb, Cr, |q| < 2**9): error < 6e-14 < 1/d = 3e-9;
#   / 9745792000 (reconstruction, as y * slope + offset, |q| < 2**17): three
#     roundings, error < 3e-11 < 1/d = 1.03e-10.
# The dither offsets (one table per image size) are computed with integers.
# The tests check all of it against a plain integer implementation.
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
    """Integer ``x / d`` (``d > 0``) rounded half away from zero: C's ``(x +- (d>>1)) / d``."""
    half = d >> 1
    return np.where(x < 0, -((half - x) // d), (x + half) // d)


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
    draws = triangle_draws(bh * bw * 12).astype(np.int64).reshape(bh, bw, 2, 2, 3)
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


_STRIP_PIXELS = 1 << 14  # pixels per strip: keeps the per-strip temporaries in cache


def _choose_luma(blocks: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Y' (uint8) of dithered 16-bit pixels ``(3, rows, 2, cols, 2)`` given their blocks' chroma.

    Y' is floor or floor+1 of its exact value, whichever reconstructs the
    pixel with the smaller squared RGB error (ties go to the even one).
    """
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
    return luma.astype(np.uint8)


def _block_chroma(blocks: np.ndarray) -> np.ndarray:
    """png2y4m's chroma terms of each 2x2 block, ``(3, rows, 1, cols, 1)``.

    Cb, Cr come from the block's summed dithered RGB; the result holds their
    contributions to R, G, B (``chroma`` in png2y4m's luma search).
    """
    pairs = blocks[:, :, 0] + blocks[:, :, 1]
    rs, gs, bs = (pairs[..., 0] + pairs[..., 1])[:, :, None, :, None]
    # Both divisors are odd, so there are no ties and floor(x/d + 1/2) is C's rounding.
    cb = np.clip(np.floor((-29764 * rs - 100128 * gs + 129892 * bs + 152008432) / 304016865), -128, 127)
    cr = np.clip(np.floor((110236 * rs - 100128 * gs - 10108 * bs + 129005647) / 258011295), -128, 127)
    return np.stack([_CHROMA_R * cr, _CHROMA_G_CB * cb + _CHROMA_G_CR * cr, _CHROMA_B * cb])


def daala_luma(rgb: np.ndarray) -> np.ndarray:
    """The Y' plane ``png2y4m`` writes for ``uint8`` ``(H, W, 3)`` RGB: ``uint8`` ``(H, W)``, 0..255.

    Samples become 16-bit (``v * 257``) plus the dither; an odd last column
    or row repeats its dithered neighbour, as png2y4m does for cut 2x2
    blocks. Works in strips of whole block rows (blocks are independent).
    """
    h, w = rgb.shape[:2]
    offsets = _dither_offsets(h, w)
    bh, bw = offsets.shape[1] // 2, offsets.shape[2] // 2
    luma = np.empty((bh, 2, bw, 2), dtype=np.uint8)
    step = max(1, _STRIP_PIXELS // (4 * bw))
    for top in range(0, bh, step):
        rows = slice(2 * top, 2 * (top + step))
        wide = offsets[:, rows].copy()
        n = min(h, rows.stop) - rows.start  # real pixel rows in this strip
        wide[:, :n, :w] += np.moveaxis(rgb[rows], 2, 0) * 257.0
        if w % 2:
            wide[:, :, w] = wide[:, :, w - 1]
        if n < wide.shape[1]:
            wide[:, n] = wide[:, n - 1]
        blocks = wide.reshape(3, -1, 2, bw, 2)  # channel, block row, row in block, block col, col in block
        luma[top : top + step] = _choose_luma(blocks, _block_chroma(blocks))
    return np.ascontiguousarray(luma.reshape(2 * bh, 2 * bw)[:h, :w])


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
    the remainder; the half-length is ``floor(sigma * sqrt(-2 ln s))`` with
    ``s = sqrt(pi/2) * sigma / 256`` (0 if ``s >= 1``), where the dropped
    tail no longer matters at 1/256 precision, capped at ``max_len - 1``
    (``max_len`` = the plane's shorter side).
    """
    scale = 1 / (math.sqrt(2 * math.pi) * sigma)
    neg_half_inv_var = -0.5 / (sigma * sigma)
    s = math.sqrt(0.5 * math.pi) * sigma * (1.0 / _KERNEL_WEIGHT)
    length = 0.0 if s >= 1 else math.floor(sigma * math.sqrt(-2 * math.log(s)))
    half = max_len - 1 if length >= max_len else int(length)
    side = [int(_KERNEL_WEIGHT * scale * math.exp(neg_half_inv_var * k * k) + 0.5) for k in range(1, half + 1)]
    centre = _KERNEL_WEIGHT - 2 * sum(side)
    if centre < 0:  # not seen for heights up to 30000; dump_ssim would wrap (unsigned)
        raise SrbenchError(f"SSIM window for sigma {sigma} has a negative centre tap; image too tall")
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
def _window_mass(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _weighted_ssim_sum(moments: np.ndarray, mass: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> float:
    """Sum of ``mass * SSIM`` over pixels, from windowed sums ``(mux, muy, sxx + syy, sxy)``.

    The window sums are exact integers, and so is everything before the
    stabilisers are added, so dump_ssim's grouping is matched bit for bit.
    """
    mux, muy, sxx_syy, sxy = moments
    mx2 = mux * mux
    mxy = mux * muy
    my2 = muy * muy
    numerator = mass * (2 * mxy + c1)
    numerator *= c2 + 2 * (sxy * mass - mxy)
    variance = sxx_syy * mass
    variance -= mx2
    variance -= my2
    variance += c2
    denominator = mx2 + my2
    denominator += c1
    denominator *= variance
    numerator /= denominator
    return float(numerator.sum())


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    """dump_ssim's raw SSIM of two ``uint8`` ``(H, W)`` Y' planes, in [-1, 1].

    Window sums are integers below 2**53, so float64 holds them exactly.
    """
    h, w = a.shape
    taps, mass, c1, c2 = _window_mass(h, w)
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    # dump_ssim only ever uses the two second moments' sum: window it at once
    moments = _window_sums(np.stack([x, y, x * x + y * y, x * y]), taps, axis=2)
    # transposed, the vertical pass and the rest run along contiguous memory
    moments = np.ascontiguousarray(moments.transpose(0, 2, 1))
    moments = _window_sums(moments, taps, axis=2)
    step = max(1, _STRIP_PIXELS // h)
    total = 0.0
    for top in range(0, w, step):
        rows = slice(top, top + step)
        total += _weighted_ssim_sum(moments[:, rows], mass[rows], c1[rows], c2[rows])
    return total / float(mass.sum())


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


# The HR image of a pair is the same for every method scored against it;
# its Y' plane is remembered by content (a 128-bit BLAKE2 digest), for the
# last _MEMO_SIZE images (about 20 MB for BSD100-sized images).
_MEMO_SIZE = 128
_memo: OrderedDict[tuple, np.ndarray] = OrderedDict()
_memo_lock = threading.Lock()


def _memo_luma(rgb: np.ndarray) -> np.ndarray:
    """:func:`daala_luma`, remembered for recently seen images (read-only result)."""
    key = (rgb.shape, hashlib.blake2b(np.ascontiguousarray(rgb).data, digest_size=16).digest())
    with _memo_lock:
        plane = _memo.get(key)
        if plane is not None:
            _memo.move_to_end(key)
            return plane
    plane = daala_luma(rgb)
    plane.flags.writeable = False
    with _memo_lock:
        _memo[key] = plane
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return plane


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
    y_hr = _memo_luma(hr[crop])
    return psnr_y(y_hr, y_sr), ssim_y(y_hr, y_sr)
