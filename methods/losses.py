"""The SRGAN paper's losses (Ledig et al. 2017, section 2.2).

All image tensors here are SR / HR batches scaled to [-1, 1] (float NCHW RGB),
the generator's output range. Discriminator outputs are logits.

* pixel MSE: mean squared error on [-1, 1] values;
* VGG content loss: MSE between phi(SR) / 12.75 and phi(HR) / 12.75, phi
  being VGG19 features after the ReLU of conv2_2 (``vgg22``) or conv5_4
  (``vgg54``); the 1/12.75 rescaling is the authors' (it brings VGG feature
  magnitudes near those of the pixel loss);
* adversarial generator term: ``-log D(G(x))`` = BCE-with-logits against 1,
  weighted :data:`ADVERSARIAL_WEIGHT` (1e-3) in the perceptual loss;
* discriminator loss: BCE with real = 1, fake = 0 (sum of the two means);
* total variation: sum of squared neighbour differences per image, averaged
  over the batch (weight 2e-8 for SRResNet-VGG22).
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from .vgg import FEATURE_DEPTH, VGGFeatures, load_vgg19_features

ADVERSARIAL_WEIGHT = 1e-3
VGG_FEATURE_SCALE = 1.0 / 12.75
CONTENT_LOSSES = ("mse", *FEATURE_DEPTH)  # "mse", "vgg22", "vgg54"


def pixel_mse(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (both in [-1, 1])."""
    return F.mse_loss(sr, hr)


class PixelMSELoss(nn.Module):
    """``pixel_mse`` as a module, so every content loss is ``loss(sr, hr) -> scalar``."""

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return pixel_mse(sr, hr)


class VGGContentLoss(nn.Module):
    """MSE between rescaled VGG19 feature maps of SR and HR (both in [-1, 1]).

    The HR features are computed without gradient. The VGG part is frozen.
    """

    def __init__(self, features: nn.Sequential, layer: str, scale: float = VGG_FEATURE_SCALE) -> None:
        super().__init__()
        self.phi = VGGFeatures(features, layer)
        self.scale = scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.phi(hr) * self.scale
        return F.mse_loss(self.phi(sr) * self.scale, target)


def build_content_loss(
    kind: str,
    *,
    vgg_weights: str | os.PathLike | None = None,
    allow_random_weights_for_tests: bool = False,
) -> nn.Module:
    """The content loss module for a spec's ``content_loss`` (``mse``, ``vgg22`` or ``vgg54``).

    VGG losses load the ImageNet weights (see :func:`srbench.methods.vgg.load_vgg19_features`)
    and raise :class:`srbench.methods.vgg.VGGWeightsError` when they are missing.
    """
    if kind == "mse":
        return PixelMSELoss()
    if kind in FEATURE_DEPTH:
        features = load_vgg19_features(vgg_weights, allow_random_weights_for_tests=allow_random_weights_for_tests)
        return VGGContentLoss(features, kind)
    raise ValueError(f"unknown content loss {kind!r}; use one of {', '.join(CONTENT_LOSSES)}")


def adversarial_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``-log D(G(x))`` averaged over the batch (unweighted; multiply by :data:`ADVERSARIAL_WEIGHT`)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-log D(HR) - log(1 - D(G(LR)))``, each averaged over the batch."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Sum of squared horizontal and vertical neighbour differences per image, mean over the batch."""
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).sum()
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).sum()
    return (dh + dw) / x.shape[0]
