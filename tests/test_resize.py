"""MATLAB-compatible imresize (numpy and torch).

The strongest check uses the real benchmark: the shipped LR files were made by
MATLAB ``imresize(hr, 1/4, 'bicubic')``, so re-creating them from the HR files
must give the same pixels. Everything else uses small synthetic arrays.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from srbench.data.sets import DATASETS, load_dataset
from srbench.errors import SrbenchError
from srbench.data.resize import ResizeError, imresize, resize_weights
from srbench.data.resize_torch import imresize as imresize_torch


@pytest.mark.parametrize("dataset", DATASETS)
def test_recreates_shipped_lr_files(data_root, dataset):
    """Every pixel of every shipped LR file (119 files) is reproduced exactly: margin 0.

    Measured: maximum difference 0 on all sets. Among the ~18 million values
    before rounding (both passes) 5,612 are exact .5 ties, and MATLAB rounded
    all of them the way ``_round_uint8`` does. The sums are a sparse CSR
    product in float64 with a fixed tap order (no BLAS, no threads), so they
    are the same bits on every IEEE-754 machine: any nonzero difference means
    the weights, their order or the rounding changed, and a tolerance would
    only hide that.
    """
    for image in load_dataset(dataset, data_root, verify=False):
        lr = imresize(image.hr, 1 / 4)
        assert lr.dtype == np.uint8 and lr.shape == image.lr.shape
        diff = np.abs(lr.astype(np.int16) - image.lr.astype(np.int16))
        assert diff.max() == 0, f"{dataset}/{image.name}: {int((diff > 0).sum())} LR pixels differ, by up to {diff.max()}"


def test_bicubic_4x_weights_are_keys_a_minus_half():
    # Enlarging 4x, output pixel 1 samples u = 0.625: distances 1.625, 0.625, 0.375, 1.375
    # to input pixels 0..3 (1-based), Keys cubic (a = -0.5) values worked out by hand.
    w = resize_weights(10, 40, 4.0, "bicubic")
    row = {int(i): float(v) for i, v in zip(w.index[8], w.weight[8]) if v != 0}  # output 9: u = 2.625
    assert row == pytest.approx({0: -0.0439453125, 1: 0.3896484375, 2: 0.7275390625, 3: -0.0732421875})
    assert np.allclose(w.weight.sum(axis=1), 1.0)


def test_shrink_widens_kernel_and_clamps_at_borders():
    w = resize_weights(64, 16, 0.25, "bicubic")
    assert w.index.shape[1] >= 16  # support 4 / 0.25
    assert np.allclose(w.weight.sum(axis=1), 1.0)
    assert w.index.min() == 0 and w.index.max() == 63  # out-of-range taps clamp to the edge pixels


def test_nearest_4x_is_pixel_replication():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 13, 3), dtype=np.uint8)
    out = imresize(img, 4, kernel="nearest")
    assert np.array_equal(out, img.repeat(4, axis=0).repeat(4, axis=1))
    gray = rng.random((5, 3))
    assert np.array_equal(imresize(gray, 4, kernel="nearest"), gray.repeat(4, axis=0).repeat(4, axis=1))


@pytest.mark.parametrize("kernel", ["bicubic", "nearest"])
def test_scale_one_returns_the_input(kernel):
    img = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    out = imresize(img, 1, kernel=kernel)
    assert out.dtype == np.uint8 and np.array_equal(out, img)
    assert out is not img


def test_constant_image_stays_constant():
    img = np.full((23, 17, 3), 137, dtype=np.uint8)
    for scale in (0.25, 0.5, 3, 4):
        out = imresize(img, scale)
        assert out.shape == (int(np.ceil(23 * scale)), int(np.ceil(17 * scale)), 3)
        assert (out == 137).all()


def test_uint8_is_rounded_and_clipped_float_is_not():
    step = np.zeros((8, 8), dtype=np.uint8)
    step[:, 4:] = 255
    as_float = imresize(step.astype(np.float32), 4)
    assert as_float.dtype == np.float64
    assert as_float.min() < 0 and as_float.max() > 255  # bicubic overshoot is kept for floats
    as_uint8 = imresize(step, 4)
    assert as_uint8.dtype == np.uint8
    assert as_uint8.min() == 0 and as_uint8.max() == 255


def test_dimensions_run_smaller_scale_first():
    # MATLAB resizes one dimension at a time, smaller scale first, rounding to uint8 in between.
    img = np.random.default_rng(2).integers(0, 256, (32, 20), dtype=np.uint8)
    direct = imresize(img, None, output_shape=(8, 60))  # rows x0.25, columns x3
    rows_first = imresize(imresize(img, None, output_shape=(8, 20)), None, output_shape=(8, 60))
    cols_first = imresize(imresize(img, None, output_shape=(32, 60)), None, output_shape=(8, 60))
    assert np.array_equal(direct, rows_first)
    assert not np.array_equal(direct, cols_first)


def test_output_shape_and_channels():
    img = np.random.default_rng(3).random((10, 12, 5))
    out = imresize(img, None, output_shape=(7, 30))
    assert out.shape == (7, 30, 5)
    for c in range(5):
        assert np.allclose(out[..., c], imresize(img[..., c], None, output_shape=(7, 30)))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda a: imresize(a, 4, kernel="lanczos3"), "unknown resize kernel 'lanczos3'"),
        (lambda a: imresize(a, 0), "finite number > 0"),
        (lambda a: imresize(a, -2), "finite number > 0"),
        (lambda a: imresize(a, float("nan")), "finite number > 0"),
        (lambda a: imresize(a, "four"), "must be a number"),
        (lambda a: imresize(a, None), "give a scale or an output_shape"),
        (lambda a: imresize(a, None, output_shape=(0, 4)), "output_shape"),
        (lambda a: imresize(a.astype(np.int16), 2), "uint8 or floating-point"),
        (lambda a: imresize(a[0, 0], 2), "(H, W) or (H, W, C)"),
        (lambda a: imresize(a[:0], 2), "empty image"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(SrbenchError, match=None) as info:
        call(img)
    assert isinstance(info.value, ResizeError)
    assert message in str(info.value)


def test_large_image_is_fast():
    img = np.random.default_rng(4).integers(0, 256, (2000, 2000, 3), dtype=np.uint8)
    start = time.perf_counter()
    small = imresize(img, 1 / 4)
    imresize(small, 4)
    elapsed = time.perf_counter() - start
    # Measured about 0.3 s for both on a free core; generous for a shared CI machine.
    assert elapsed < 5, f"2000x2000 shrink + enlarge took {elapsed:.1f} s"


# --- torch version -------------------------------------------------------


def _numpy_reference(batch: np.ndarray, scale: float, kernel: str) -> np.ndarray:
    """Apply the numpy imresize image by image to an NCHW float64 array."""
    return np.stack([imresize(img.transpose(1, 2, 0), scale, kernel=kernel).transpose(2, 0, 1) for img in batch])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kernel", ["bicubic", "nearest"])
@pytest.mark.parametrize("shape, scale", [((2, 3, 37, 23), 0.25), ((1, 3, 17, 29), 4), ((2, 1, 96, 95), 0.25), ((1, 3, 11, 7), 3)])
def test_torch_matches_numpy(dtype, kernel, shape, scale):
    batch = np.random.default_rng(5).random(shape)
    expected = _numpy_reference(batch, scale, kernel)
    out = imresize_torch(torch.from_numpy(batch).to(dtype), scale, kernel=kernel)
    assert out.dtype == dtype and tuple(out.shape) == expected.shape
    assert np.abs(out.double().numpy() - expected).max() < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_torch_on_cuda_matches_numpy():
    batch = np.random.default_rng(6).random((4, 3, 96, 96))
    out = imresize_torch(torch.from_numpy(batch).float().cuda(), 0.25)
    assert out.is_cuda
    assert np.abs(out.double().cpu().numpy() - _numpy_reference(batch, 0.25, "bicubic")).max() < 1e-5


def test_torch_bad_arguments():
    with pytest.raises(ResizeError, match="NCHW"):
        imresize_torch(torch.zeros(3, 8, 8), 0.25)
    with pytest.raises(ResizeError, match="float32 or float64"):
        imresize_torch(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 0.25)
    with pytest.raises(ResizeError, match="unknown resize kernel"):
        imresize_torch(torch.zeros(1, 3, 8, 8), 0.25, kernel="bilinear")
    with pytest.raises(ResizeError, match="finite number > 0"):
        imresize_torch(torch.zeros(1, 3, 8, 8), 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_quantize_matches_numpy_uint8(data_root, dtype):
    # quantize=True rounds to 8-bit levels after each dimension, like MATLAB on uint8:
    # the shipped LR files are re-created exactly from HR levels on the torch side too.
    for image in load_dataset("set5", data_root, verify=False):
        hr = torch.from_numpy(image.hr.copy()).permute(2, 0, 1)[None].to(dtype) / 255
        lr = imresize_torch(hr, 1 / 4, quantize=True)
        levels = (lr[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        assert np.array_equal(levels, image.lr)
