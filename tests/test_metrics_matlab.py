"""The ``matlab`` metric protocol: published set means, luma/gray conversion, PSNR/SSIM definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench import methods
from srbench.data.sets import load_dataset
from srbench.errors import SrbenchError
from srbench.metrics import evaluate
from srbench.metrics.matlab import gray, luma, psnr_ssim

# protocols.md section 2: means of the `matlab` protocol on the benchmark files.
PUBLISHED = {
    ("nearest", "set5"): (26.250, 0.7372),
    ("nearest", "set14"): (24.643, 0.6528),
    ("nearest", "bsd100"): (25.033, 0.6293),
    ("bicubic", "set5"): (28.419, 0.8102),
    ("bicubic", "set14"): (25.994, 0.7024),
    ("bicubic", "bsd100"): (25.958, 0.6673),
}


@pytest.fixture(scope="module")
def set_means(data_root) -> dict[tuple[str, str], tuple[float, float]]:
    """Mean (PSNR, SSIM) of nearest and bicubic on every set under the matlab protocol."""
    means = {}
    for dataset in ("set5", "set14", "bsd100"):
        images = load_dataset(dataset, data_root, verify=False)
        for name in ("nearest", "bicubic"):
            method = methods.get_method(name)
            scores = [
                evaluate(method.upscale(im.lr, dataset=dataset, name=im.name), im.hr,
                         protocol="matlab", is_gray=im.is_gray)
                for im in images
            ]
            means[name, dataset] = tuple(np.mean(scores, axis=0))
    return means


@pytest.mark.slow
@pytest.mark.parametrize("key", list(PUBLISHED), ids=["-".join(k) for k in PUBLISHED])
def test_set_means_match_protocols_md(set_means, key):
    psnr_ref, ssim_ref = PUBLISHED[key]
    psnr_now, ssim_now = set_means[key]
    assert abs(psnr_now - psnr_ref) <= 0.005, f"{key}: PSNR {psnr_now:.4f} vs {psnr_ref}"
    assert abs(ssim_now - ssim_ref) <= 0.0002, f"{key}: SSIM {ssim_now:.5f} vs {ssim_ref}"


# (R, G, B) -> MATLAB rgb2ycbcr Y, hard-coded. Derived by hand from the BT.601 definition, not from the code:
# Y = 16 + 219 * (0.299 R + 0.587 G + 0.114 B) / 255 (so the uint8 coefficients are 219 * 0.299 = 65.481,
# 219 * 0.587 = 128.553, 219 * 0.114 = 24.966), in exact integers 255000 Y = 4080000 + 65481 R + 128553 G +
# 24966 B, rounded half away from zero. Most colours sit within 0.0025 of a rounding boundary (.5), so a
# coefficient off in its third decimal changes them; the last column is 255000 * (Y - (floor(Y) + .5)).
LUMA_CASES = [
    ((0, 0, 0), 16, None),
    ((255, 255, 255), 235, None),
    ((255, 0, 0), 81, None),
    ((0, 255, 0), 145, None),
    ((0, 0, 255), 41, None),
    ((1, 173, 225), 126, 0),          # Y = 125.5 exactly: half rounds up (65.48 R would give 125)
    ((255, 140, 219), 174, 129),      # Y = 173.500506 (65.48 R: 173.499506 -> 173)
    ((250, 4, 54), 88, 126),          # Y = 87.500494 (65.48 R: 87.499514 -> 87)
    ((87, 254, 42), 171, 381),        # Y = 170.501494 (128.55 G: 170.498506 -> 170)
    ((216, 137, 255), 165, -513),     # Y = 165.497988 (24.97 B: 165.501988 -> 166)
    ((252, 118, 238), 163, -126),     # Y = 163.499506 (65.482 R: 163.500494 -> 164)
]


def test_luma_is_matlab_rgb2ycbcr_rounded_at_rounding_boundaries():
    rgb = np.array([[c for c, _, _ in LUMA_CASES]], np.uint8)
    assert luma(rgb)[0].tolist() == [y for _, y, _ in LUMA_CASES]


def test_luma_cases_are_where_the_comment_says():
    """The hand-derived table above, re-checked in exact integer arithmetic (no float, no code under test)."""
    for (r, g, b), y, offset in LUMA_CASES:
        n = 4080000 + 65481 * r + 128553 * g + 24966 * b
        assert (2 * n + 255000) // 510000 == y
        if offset is not None:
            assert n - (2 * (n // 255000) + 1) * 127500 == offset and abs(offset) < 255000 * 0.0025


def test_gray_of_equal_channels_is_the_value():
    levels = np.arange(256, dtype=np.uint8)
    rgb = np.repeat(levels[None, :, None], 3, axis=2)
    assert gray(rgb)[0].tolist() == list(range(256))
    assert gray(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == 76  # round(0.2989 * 255)


def test_is_gray_uses_hr_values_and_gray_sr():
    rng = np.random.default_rng(0)
    hr_gray = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    hr = np.repeat(hr_gray[..., None], 3, axis=2)
    noise = rng.integers(-6, 7, hr.shape)
    sr = np.clip(hr.astype(int) + noise, 0, 255).astype(np.uint8)
    p, s = psnr_ssim(sr, hr, is_gray=True)
    sr_gray = gray(sr)[4:-4, 4:-4]
    ref = hr_gray[4:-4, 4:-4].astype(np.float64)
    assert p == pytest.approx(peak_signal_noise_ratio(ref, sr_gray, data_range=255), abs=1e-9)
    # Without the flag the same images are scored on rgb2ycbcr luma, which is a different number.
    assert psnr_ssim(sr, hr, is_gray=False)[0] != pytest.approx(p, abs=1e-3)


def test_psnr_and_ssim_match_independent_implementation():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (60, 52, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    p, s = psnr_ssim(sr, hr, is_gray=False, border=4)
    y_sr, y_hr = luma(sr)[4:-4, 4:-4], luma(hr)[4:-4, 4:-4]
    # scikit-image with the Wang et al. settings; it crops the 5-pixel filter margin,
    # which equals MATLAB's 'valid' region.
    ssim_ref = structural_similarity(y_hr, y_sr, data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, K1=0.01, K2=0.03)
    assert p == pytest.approx(peak_signal_noise_ratio(y_hr, y_sr, data_range=255), abs=1e-9)
    assert s == pytest.approx(ssim_ref, abs=1e-9)
    assert 0 < s < 1


def test_identical_images_and_border():
    img = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    p, s = evaluate(img, img.copy(), protocol="matlab")
    assert math.isinf(p) and s == pytest.approx(1.0)
    damaged = img.copy()
    damaged[:4] = 255 - damaged[:4]  # only inside the 4-pixel border
    assert math.isinf(psnr_ssim(damaged, img, is_gray=False, border=4)[0])
    assert psnr_ssim(damaged, img, is_gray=False, border=0)[0] < 20


def test_too_small_images_raise():
    img = np.zeros((18, 18, 3), dtype=np.uint8)
    with pytest.raises(SrbenchError, match="SSIM window"):
        psnr_ssim(img, img, is_gray=False, border=4)
    with pytest.raises(SrbenchError, match="too small"):
        psnr_ssim(img[:8, :8], img[:8, :8], is_gray=False, border=4)
