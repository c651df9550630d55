"""Losses and the VGG19 feature extractor (layer indices, weight loading, the paper's rescaling)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import vgg as tv_vgg

from srbench.methods import losses
from srbench.methods.vgg import (
    FEATURE_DEPTH,
    VGG19_WEIGHTS_FILE,
    VGGFeatures,
    VGGWeightsError,
    build_vgg19_features,
    default_weights_path,
    load_vgg19_features,
)
from srbench.errors import SrbenchError


def test_layer_list_and_phi_indices_match_torchvision():
    with torch.device("meta"):  # structure only, no 500 MB of classifier weights
        reference = torchvision.models.vgg19(weights=None).features
    ours = build_vgg19_features()
    assert [type(m) for m in ours] == [type(m) for m in reference]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    convs = [i for i, m in enumerate(reference) if isinstance(m, nn.Conv2d)]
    pools = [i for i, m in enumerate(reference) if isinstance(m, nn.MaxPool2d)]
    # phi 2,2: the ReLU after the 2nd conv of block 2 (the 4th conv overall), right before the 2nd pool.
    assert FEATURE_DEPTH["vgg22"] == convs[3] + 2 == pools[1]
    assert isinstance(reference[FEATURE_DEPTH["vgg22"] - 1], nn.ReLU) and reference[convs[3]].out_channels == 128
    # phi 5,4: the ReLU after the 4th conv of block 5 (the 16th, last conv), right before the 5th pool.
    assert FEATURE_DEPTH["vgg54"] == convs[15] + 2 == pools[4]
    assert isinstance(reference[FEATURE_DEPTH["vgg54"] - 1], nn.ReLU) and reference[convs[15]].out_channels == 512


def test_missing_weights_fail_at_once_with_where_to_put_them(tmp_path):
    missing = tmp_path / "nope" / VGG19_WEIGHTS_FILE
    with pytest.raises(VGGWeightsError) as err:
        load_vgg19_features(missing)
    message = str(err.value)
    assert str(missing) in message and VGG19_WEIGHTS_FILE in message
    assert str(default_weights_path()) in message and "--vgg-weights" in message
    assert isinstance(err.value, SrbenchError)
    with pytest.raises(VGGWeightsError):
        losses.build_content_loss("vgg54", vgg_weights=missing)


def test_weights_file_round_trip(tmp_path):
    # torchvision's own layer builder, randomly initialised, saved as a torchvision-style state dict.
    torch.manual_seed(0)
    reference = tv_vgg.make_layers(tv_vgg.cfgs["E"]).eval()
    state = {f"features.{k}": v for k, v in reference.state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(1000)  # other keys of the real file are ignored
    path = tmp_path / VGG19_WEIGHTS_FILE
    torch.save(state, path)

    loaded = load_vgg19_features(path)
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded[:9](x), reference[:9](x))


def test_bad_weights_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(VGGWeightsError, match="cannot read"):
        load_vgg19_features(garbage)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(VGGWeightsError, match="not a torchvision VGG19"):
        load_vgg19_features(wrong)


def test_random_weights_only_through_the_explicit_switch(tmp_path):
    """The switch gives VGG19's 37 feature layers (what they are, not only how many: 16 conv + ReLU, 5 max-pools),
    frozen and in eval mode; the same missing file without the switch is refused."""
    with pytest.raises(VGGWeightsError):
        load_vgg19_features(tmp_path / "absent.pth")
    features = load_vgg19_features(tmp_path / "absent.pth", allow_random_weights_for_tests=True)
    plan = [m.out_channels if isinstance(m, nn.Conv2d) else "M" if isinstance(m, nn.MaxPool2d) else type(m).__name__
            for m in features if not isinstance(m, nn.ReLU)]
    assert plan == [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                    512, 512, 512, 512, "M"]
    assert all(isinstance(features[i + 1], nn.ReLU) for i, m in enumerate(features) if isinstance(m, nn.Conv2d))
    assert not features.training and not any(p.requires_grad for p in features.parameters())


@pytest.fixture(scope="module")
def vgg_features():
    torch.manual_seed(1)
    return load_vgg19_features("/nonexistent/vgg19.pth", allow_random_weights_for_tests=True)


def test_vgg_features_map_minus_one_one_to_imagenet_normalised_input(vgg_features):
    phi = VGGFeatures(vgg_features, "vgg22")
    x = torch.rand(2, 3, 24, 24) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = vgg_features[:9](((x + 1) / 2 - mean) / std)
        assert torch.allclose(phi(x), expected)
    assert phi(x).shape == (2, 128, 12, 12)
    phi.train()
    assert not phi.net.training


@pytest.mark.parametrize("layer", ["vgg22", "vgg54"])
def test_vgg_content_loss_is_scaled_feature_mse(vgg_features, layer):
    loss_fn = losses.VGGContentLoss(vgg_features, layer)
    hr = torch.rand(2, 3, 32, 32) * 2 - 1
    sr = (hr + 0.2 * torch.randn_like(hr)).requires_grad_(True)
    loss = loss_fn(sr, hr)
    with torch.no_grad():
        phi = VGGFeatures(vgg_features, layer)
        unscaled = F.mse_loss(phi(sr), phi(hr))
    assert loss.item() > 0
    assert loss.item() == pytest.approx(unscaled.item() / 12.75**2, rel=1e-5)
    loss.backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss_fn.parameters())
    assert loss_fn(hr, hr).item() == 0.0


def test_build_content_loss_kinds(vgg_features, tmp_path):
    assert isinstance(losses.build_content_loss("mse"), losses.PixelMSELoss)
    vgg = losses.build_content_loss("vgg54", vgg_weights=tmp_path / "x.pth", allow_random_weights_for_tests=True)
    assert isinstance(vgg, losses.VGGContentLoss) and len(vgg.phi.net) == 36
    with pytest.raises(ValueError, match="unknown content loss"):
        losses.build_content_loss("l1")


def test_pixel_mse():
    a = torch.tensor([[[[1.0, -1.0]]]])
    b = torch.tensor([[[[0.0, 1.0]]]])
    assert losses.pixel_mse(a, b).item() == pytest.approx((1 + 4) / 2)
    assert losses.PixelMSELoss()(a, b).item() == pytest.approx(2.5)


def test_adversarial_terms_are_the_log_losses():
    fake = torch.tensor([[-2.0], [0.0], [3.0]])
    real = torch.tensor([[1.0], [4.0], [-0.5]])
    sig = torch.sigmoid
    expected_g = -torch.log(sig(fake)).mean()
    expected_d = -torch.log(sig(real)).mean() - torch.log(1 - sig(fake)).mean()
    assert losses.adversarial_generator_loss(fake).item() == pytest.approx(expected_g.item(), rel=1e-6)
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert losses.ADVERSARIAL_WEIGHT == 1e-3


def test_total_variation_by_hand():
    x = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]])  # (1, 1, 2, 3)
    vertical = (2 - 0) ** 2 + (2 - 1) ** 2 + (2 - 3) ** 2
    horizontal = 1**2 + 2**2 + 0 + 0
    assert losses.total_variation(x).item() == pytest.approx(vertical + horizontal)
    # Per image, averaged over the batch.
    assert losses.total_variation(torch.cat([x, x])).item() == pytest.approx(vertical + horizontal)
    assert losses.total_variation(torch.ones(2, 3, 5, 5)).item() == 0.0
