"""Tiled inference equals whole-image inference and keeps the network input bounded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from srbench.methods.srresnet import SRResNet
from srbench.methods.tiling import to_uint8, upscale_tiled
from srbench.data.sets import load_dataset


def whole_image(model: nn.Module, lr: np.ndarray, output_range=(-1.0, 1.0)) -> np.ndarray:
    with torch.inference_mode():
        x = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].float() / 255
        return to_uint8(model.eval()(x)[0], output_range).permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def butterfly(data_root) -> np.ndarray:
    return next(im.lr for im in load_dataset("set5", data_root) if im.name.startswith("butterfly"))


def test_tiles_with_receptive_field_overlap_match_whole_image(butterfly):
    torch.manual_seed(0)
    model = SRResNet(num_blocks=2, channels=16)  # receptive radius 12 LR pixels
    reference = whole_image(model, butterfly)
    model.train()  # upscale_tiled runs in eval mode (batch norm statistics) and restores the mode
    # 64x64 LR in cores of at most 20x20: a 4x4 grid, inner tiles see only context from neighbours.
    tiled = upscale_tiled(model, butterfly, tile=20, device="cpu", output_range=(-1, 1))
    assert tiled.shape == (256, 256, 3) and tiled.dtype == np.uint8
    assert np.abs(tiled.astype(int) - reference).max() <= 1  # within 1/255
    assert model.training
    # The check is sharp: too little overlap visibly changes the result at the seams.
    cut = upscale_tiled(model, butterfly, tile=20, overlap=2, device="cpu", output_range=(-1, 1))
    assert np.abs(cut.astype(int) - reference).max() > 1


def test_large_image_runs_in_bounded_tiles():
    """A 2000x2000 LR image (synthetic noise) through a tiny net: no input larger than tile + 2 * overlap."""
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, size=(2000, 2000, 3), dtype=np.uint8)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Upsample(scale_factor=4, mode="nearest"))
    sizes: list[tuple[int, int]] = []
    model.register_forward_pre_hook(lambda _m, args: sizes.append(tuple(args[0].shape[-2:])))
    tile, overlap = 256, 2
    out = upscale_tiled(model, lr, tile=tile, overlap=overlap, device="cpu", output_range=(0, 1))
    assert out.shape == (8000, 8000, 3)
    assert len(sizes) == 8 * 8 and max(max(s) for s in sizes) <= tile + 2 * overlap
    # Spot check a seam region against the same net run on a local crop.
    y, x = 250, 499  # near a core boundary in both directions
    crop = lr[y - 10:y + 10, x - 10:x + 10]
    local = whole_image(model, crop, (0, 1))
    np.testing.assert_array_equal(out[4 * (y - 5):4 * (y + 5), 4 * (x - 5):4 * (x + 5)], local[20:60, 20:60])


def test_to_uint8_maps_range_clamps_and_rounds_half_up():
    values = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])
    assert to_uint8(values, (-1, 1)).tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds up
    halves = (torch.arange(0, 255).float() + 0.5) / 255  # exactly k + 0.5 after scaling
    assert to_uint8(halves, (0, 1)).tolist() == list(range(1, 256))
    # Random values against the float64 reference formula; only near-ties may differ.
    values = torch.rand(100_000) * 2.4 - 1.2
    exact = np.clip((values.double().numpy() + 1) / 2, 0, 1) * 255
    reference = np.floor(exact + 0.5)
    diff = to_uint8(values, (-1, 1)).numpy().astype(float) - reference
    near_tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-4
    assert np.all(diff[~near_tie] == 0) and np.all(np.abs(diff) <= 1)


def test_bad_inputs():
    model = SRResNet(num_blocks=0, channels=4)
    with pytest.raises(ValueError, match="uint8"):
        upscale_tiled(model, np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="uint8"):
        upscale_tiled(model, np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="tile"):
        upscale_tiled(model, np.zeros((8, 8, 3), dtype=np.uint8), tile=0)
    with pytest.raises(ValueError, match="model output"):
        upscale_tiled(nn.Conv2d(3, 3, 1), np.zeros((8, 8, 3), dtype=np.uint8))


def test_inference_runs_without_tf32_or_autocast_and_restores_the_flags():
    seen: list[tuple[bool, bool, bool]] = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.is_autocast_enabled("cpu")))
            return nn.functional.interpolate(x, scale_factor=4, mode="nearest")

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):  # as inside a bf16 training step
            upscale_tiled(Probe(), np.zeros((8, 8, 3), np.uint8), device="cpu", output_range=(0, 1))
        assert seen == [(False, False, False)]
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (True, True)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


class DiagonalShifts(nn.Module):
    """SYNTHETIC network with an exactly known receptive radius of ``radius`` LR pixels, no random weights.

    ``radius`` 3x3 convolutions (zero padding) each move channel 0 by (+1, +1), channel 1 by (-1, -1) and
    channel 2 by (+1, -1) pixels; then 4x nearest upsampling. Output pixel (y, x) of channel 0 is input
    pixel (y + radius, x + radius) (0 beyond the image), and likewise towards the other corners, so every
    tile seam needs exactly ``radius`` pixels of context. Each weight is 0 or 1: the arithmetic is exact.
    """

    def __init__(self, radius: int):
        super().__init__()
        self.receptive_radius_lr = radius
        taps = {0: (2, 2), 1: (0, 0), 2: (2, 0)}  # kernel index (dy + 1, dx + 1) read by each channel
        layers: list[nn.Module] = []
        for _ in range(radius):
            conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
            with torch.no_grad():
                conv.weight.zero_()
                for c, (ky, kx) in taps.items():
                    conv.weight[c, c, ky, kx] = 1.0
            layers.append(conv)
        self.body = nn.Sequential(*layers, nn.Upsample(scale_factor=4, mode="nearest"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_tiles_with_overlap_at_the_exact_receptive_radius_equal_the_whole_image():
    radius = 5
    model = DiagonalShifts(radius)
    rng = np.random.default_rng(0)
    lr = rng.integers(1, 256, size=(47, 61, 3), dtype=np.uint8)  # no zeros: zero padding is always visible
    reference = whole_image(model, lr, (0, 1))
    # the network is what its docstring says: a pure shift by `radius` towards each corner
    np.testing.assert_array_equal(reference[::4, ::4, 0][:-radius, :-radius], lr[radius:, radius:, 0])
    np.testing.assert_array_equal(reference[::4, ::4, 1][radius:, radius:], lr[:-radius, :-radius, 1])
    np.testing.assert_array_equal(reference[::4, ::4, 2][:-radius, radius:], lr[radius:, :-radius, 2])
    # cores of at most 10x10 (5x7 grid of uneven tiles): every inner seam needs the full context
    for overlap in (radius, None):  # None: the model's receptive_radius_lr
        tiled = upscale_tiled(model, lr, tile=10, overlap=overlap, device="cpu", output_range=(0, 1))
        np.testing.assert_array_equal(tiled, reference)  # exactly, not within a tolerance
    short = upscale_tiled(model, lr, tile=10, overlap=radius - 1, device="cpu", output_range=(0, 1))
    wrong = np.unique(np.argwhere((short != reference).any(axis=2)) // 4, axis=0)  # LR pixels
    assert len(wrong) > 0
    # ...and only in the first or last LR row/column of a core at an inner seam (core edges: 47 rows in 5
    # near-equal pieces, 61 columns in 7), whose source pixel lies `radius` pixels away across the seam.
    row_seams, col_seams = {9, 19, 28, 38}, {9, 17, 26, 35, 44, 52}
    next_to = lambda v, seams: v in seams or v + 1 in seams
    assert all(next_to(y, row_seams) or next_to(x, col_seams) for y, x in wrong)
