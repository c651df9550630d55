"""SRResNet and the SRGAN discriminator: architecture, parameter counts, shapes, receptive field."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from srbench.methods.discriminator import Discriminator
from srbench.methods.specs import TRAIN_SPECS
from srbench.methods.srresnet import SRResNet


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout  # weights + bias


def test_srresnet_parameter_count_matches_the_paper_architecture():
    c, b = 64, 16
    head = conv(3, c, 9) + c  # 9x9 conv + per-channel PReLU
    block = 2 * conv(c, c, 3) + 2 * 2 * c + c  # two convs, two BN (scale, shift), PReLU
    body_tail = conv(c, c, 3) + 2 * c
    upsample = 2 * (conv(c, 4 * c, 3) + c)  # conv to 256, PixelShuffle, PReLU on 64 channels
    tail = conv(c, 3, 9)
    expected = head + b * block + body_tail + upsample + tail
    assert expected == 1_550_659
    assert n_params(SRResNet(num_blocks=16, channels=64, scale=4)) == expected


def test_srresnet_shapes_and_named_tail():
    model = SRResNet(num_blocks=2, channels=16).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 24, 24)).shape == (2, 3, 96, 96)
        assert model(torch.rand(1, 3, 17, 30)).shape == (1, 3, 68, 120)
    full = SRResNet()
    assert isinstance(full.tail, nn.Conv2d)
    assert (full.tail.in_channels, full.tail.out_channels, full.tail.kernel_size) == (64, 3, (9, 9))
    assert len(full.body) == 16 and len(full.upsample) == 2
    assert isinstance(full.upsample[0].shuffle, nn.PixelShuffle)


def test_srresnet_output_is_linear_not_squashed():
    # The paper's generator ends with a plain conv: outputs are not clamped to [-1, 1].
    model = SRResNet(num_blocks=1, channels=8).eval()
    with torch.no_grad():
        model.tail.bias.fill_(5.0)
        assert model(torch.rand(1, 3, 8, 8)).min() > 3.0


def test_receptive_radius_is_the_true_support_of_the_gradient():
    model = SRResNet(num_blocks=2, channels=8).eval()
    radius = model.receptive_radius_lr
    # head 4, two per block, body tail 1, up convs 1 and 1/2, tail 4/4 (LR pixels), rounded up
    assert radius == math.ceil(4 + 2 * 2 + 1 + 1 + 0.5 + 1) == 12 and SRResNet().receptive_radius_lr == 40
    # Double precision and positive weights so that no influence cancels out numerically.
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    size = 2 * radius + 9
    x = torch.rand(1, 3, size, size, dtype=torch.double, requires_grad=True)
    centre = size // 2
    for k in range(4):  # every phase of the 4x output grid
        out = model(x)
        out[0, 0, 4 * centre + k, 4 * centre + k].backward()
        rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
        reach = int(max(centre - rows.min(), rows.max() - centre))
        assert reach <= radius
        assert reach >= radius - 1  # the bound is tight (not merely safe)
        x.grad = None


def test_discriminator_parameter_count_and_layout():
    chans = (64, 64, 128, 128, 256, 256, 512, 512)
    expected, cin = 0, 3
    for i, cout in enumerate(chans):
        expected += conv(cin, cout, 3) + (2 * cout if i > 0 else 0)
        cin = cout
    expected += 512 * 6 * 6 * 1024 + 1024 + 1024 + 1
    assert expected == 23_565_505
    d = Discriminator(input_size=96)
    assert n_params(d) == expected
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [m.stride[0] for m in convs] == [1, 2] * 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.features) == 7
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))


def test_discriminator_returns_logits_per_image():
    d = Discriminator(input_size=96).eval()
    with torch.no_grad():
        out = d(torch.rand(3, 3, 96, 96) * 2 - 1)
        assert d.features(torch.zeros(1, 3, 96, 96)).shape == (1, 512, 6, 6)
    assert out.shape == (3, 1)
    with pytest.raises(ValueError, match="96x96"):
        d(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="multiple of 16"):
        Discriminator(input_size=100)


def test_srgan_family_specs():
    names = ("srresnet-mse", "srresnet-vgg22", "srgan-mse", "srgan-vgg22", "srgan-vgg54")
    assert set(names) <= set(TRAIN_SPECS)
    table = {n: (TRAIN_SPECS[n].content_loss, TRAIN_SPECS[n].adversarial, TRAIN_SPECS[n].init_from) for n in names}
    assert table == {
        "srresnet-mse": ("mse", False, None),
        "srresnet-vgg22": ("vgg22", False, None),
        "srgan-mse": ("mse", True, "srresnet-mse"),
        "srgan-vgg22": ("vgg22", True, "srresnet-mse"),
        "srgan-vgg54": ("vgg54", True, "srresnet-mse"),
    }
    assert TRAIN_SPECS["srresnet-vgg22"].tv_weight == 2e-8
    assert all(TRAIN_SPECS[n].output_range == (-1.0, 1.0) for n in names)
    assert TRAIN_SPECS["srresnet-mse"].defaults["iterations"] == 1_000_000
    assert TRAIN_SPECS["srgan-vgg54"].defaults["lr_steps"] == [(100_000, 1e-5)]
    assert n_params(TRAIN_SPECS["srgan-vgg54"].build_generator()) == 1_550_659
