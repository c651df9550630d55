"""SRCNN and ESPCN: architecture, colour handling, tiling, registry and (when committed) the trained checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srbench.methods import get_method
from srbench.methods.reference_models import ESPCN, SRCNN, rgb_to_ycbcr, ycbcr_to_rgb
from srbench.methods.specs import TRAIN_SPECS
from srbench.methods.tiling import upscale_tiled
from srbench.data.sets import load_dataset
from srbench.data.resize_torch import imresize


@pytest.fixture(scope="module")
def set5(data_root):
    return load_dataset("set5", data_root)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).unsqueeze(0).float() / 255.0


def _param_counts(model: torch.nn.Module) -> list[int]:
    return [p.numel() for p in model.parameters()]


def test_srcnn_is_the_9_1_5_network():
    model = SRCNN()
    # conv1 9x9x1x64 + 64, conv2 1x1x64x32 + 32, conv3 5x5x32x1 + 1
    assert _param_counts(model) == [9 * 9 * 64, 64, 64 * 32, 32, 5 * 5 * 32, 1]
    assert sum(_param_counts(model)) == 5248 + 2080 + 801 == 8129
    assert [m.kernel_size for m in model.modules() if isinstance(m, torch.nn.Conv2d)] == [(9, 9), (1, 1), (5, 5)]


def test_espcn_is_the_5_3_3_network():
    model = ESPCN()
    # conv1 5x5x3x64 + 64, conv2 3x3x64x32 + 32, conv3 3x3x32x48 + 48 (48 = 4^2 * 3)
    assert _param_counts(model) == [5 * 5 * 3 * 64, 64, 3 * 3 * 64 * 32, 32, 3 * 3 * 32 * 48, 48]
    assert sum(_param_counts(model)) == 4864 + 18464 + 13872 == 37200
    assert sum(isinstance(m, torch.nn.Tanh) for m in model.modules()) == 2


def test_ycbcr_matches_matlab_rgb2ycbcr_and_inverts():
    corners = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ycc = rgb_to_ycbcr(corners.T.reshape(1, 3, 1, 4).double())[0, :, 0].T * 255
    # MATLAB: rgb2ycbcr([0 0 0; 1 1 1; 1 0 0; 0 0 1]) * 255 on doubles
    expected = torch.tensor(
        [[16, 128, 128], [235, 128, 128], [81.481, 90.203, 240.0], [40.966, 240.0, 109.786]], dtype=torch.float64
    )
    torch.testing.assert_close(ycc, expected, atol=1e-9, rtol=0)
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-12, rtol=0)


def test_srcnn_starts_as_bicubic_and_only_changes_luma(set5):
    lr = _to_tensor(set5[0].lr)
    model = SRCNN().eval()
    bicubic = imresize(lr, 4, kernel="bicubic")
    torch.nn.init.zeros_(model.tail.weight)
    with torch.no_grad():
        torch.testing.assert_close(model(lr), bicubic, atol=1e-5, rtol=0)
        torch.nn.init.normal_(model.tail.weight, std=0.05)
        torch.nn.init.constant_(model.tail.bias, 0.01)
        out = model(lr)
    assert out.shape == (1, 3, 4 * lr.shape[2], 4 * lr.shape[3])
    torch.testing.assert_close(rgb_to_ycbcr(out)[:, 1:], rgb_to_ycbcr(bicubic)[:, 1:], atol=1e-5, rtol=0)
    assert (rgb_to_ycbcr(out)[:, 0] - rgb_to_ycbcr(bicubic)[:, 0]).abs().max() > 0.01


@pytest.mark.parametrize("cls", [SRCNN, ESPCN])
def test_forward_on_set5_and_tiled_equals_whole(cls, set5):
    torch.manual_seed(0)
    model = cls().eval()
    if isinstance(model, SRCNN):  # make the residual branch matter
        torch.nn.init.normal_(model.tail.weight, std=0.05)
    lr = set5[2].lr  # butterfly, 64x64
    with torch.no_grad():
        whole = model(_to_tensor(lr))
    assert whole.shape == (1, 3, 256, 256) and torch.isfinite(whole).all()
    tiled = upscale_tiled(model, lr, tile=20, output_range=(0.0, 1.0))
    whole_u8 = torch.floor(whole.clamp(0, 1) * 255 + 0.5).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    # equal up to float rounding at the uint8 step: tiling with overlap = receptive_radius_lr sees the same inputs
    assert np.abs(tiled.astype(int) - whole_u8.astype(int)).max() <= 1
    assert (tiled != whole_u8).mean() < 1e-3


@pytest.mark.parametrize("cls", [SRCNN, ESPCN])
def test_receptive_radius_is_not_understated(cls):
    torch.manual_seed(1)
    model = cls().eval()
    if isinstance(model, SRCNN):
        torch.nn.init.normal_(model.tail.weight, std=0.05)
    x = torch.rand(1, 3, 24, 24)
    y = x.clone()
    y[0, :, 12, 12] += 0.5
    with torch.no_grad():
        changed = (model(x) - model(y)).abs().amax(dim=(0, 1)) > 0
    rows = changed.any(dim=1).nonzero().flatten()
    r = model.receptive_radius_lr
    # every changed HR row lies within r LR pixels (4r HR pixels) of the perturbed LR pixel's footprint
    assert rows.min() >= 4 * (12 - r) and rows.max() < 4 * (13 + r)


def test_specs_and_registry():
    for name in ("srcnn", "espcn"):
        spec = TRAIN_SPECS[name]
        assert spec.output_range == (0.0, 1.0) and spec.content_loss == "mse" and not spec.adversarial
        assert {"iterations", "lr", "batch_size", "hr_patch"} <= set(spec.defaults)
        method = get_method(name)
        assert method.name == name
        reason = method.availability()
        assert reason is None or f"srbench train --method {name}" in reason


@pytest.mark.parametrize("name", ["srcnn", "espcn"])
def test_training_smoke_through_the_trainer(name, tmp_path, train_root, set5):
    """A few real updates on t91 patches with the spec's defaults, then inference from the checkpoint."""
    from srbench.methods.neural import NeuralMethod
    from srbench.methods.training.trainer import TrainConfig, train

    out = tmp_path / name
    result = train(TrainConfig(
        method=name, train_data=[str(train_root / "t91")], iters=3, batch=2, patch=32,
        out=str(out), val_data="none", progress=False,
    ))
    assert result.stop_reason == "completed" and result.iterations == 3
    method = NeuralMethod(TRAIN_SPECS[name], checkpoint_root=tmp_path, device="cpu")
    assert method.availability() is None
    info = method.checkpoint_info()
    assert info["method"] == name and info["hyper"]["lr"] == TRAIN_SPECS[name].defaults["lr"]
    sr = method.upscale(set5[2].lr, dataset="set5", name=set5[2].name)
    assert sr.dtype == np.uint8 and sr.shape == set5[2].hr.shape


@pytest.mark.parametrize("name", ["srcnn", "espcn"])
def test_committed_checkpoint_beats_bicubic_on_set5(name, set5):
    """The checkpoints under results/checkpoints/ are trained models, not initial weights.

    (Their exact means on all three sets are pinned by tests/test_metrics_regression.py.)
    """
    from srbench.metrics import evaluate

    method = get_method(name)
    assert method.availability() is None, f"results/checkpoints/{name}/model.safetensors is missing"
    bicubic = get_method("bicubic")
    gain = [
        evaluate(method.upscale(im.lr, dataset="set5", name=im.name), im.hr, protocol="matlab")[0]
        - evaluate(bicubic.upscale(im.lr, dataset="set5", name=im.name), im.hr, protocol="matlab")[0]
        for im in set5
    ]
    assert min(gain) > 0.2 and np.mean(gain) > 0.8, gain
