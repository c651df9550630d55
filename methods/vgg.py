"""The VGG19 feature extractor behind the paper's content losses.

``phi_{i,j}`` is the feature map after the ReLU that follows the j-th
convolution before the i-th max-pooling of VGG19 (Ledig et al. 2017, eq. 5).
In torchvision's ``vgg19().features`` list these are:

* ``vgg22`` (phi 2,2): ``features[:9]``  -- ends with the ReLU after conv2_2
* ``vgg54`` (phi 5,4): ``features[:36]`` -- ends with the ReLU after conv5_4

The network is built here with torchvision's exact layer list (VGG19 =
configuration "E"), so a torchvision ImageNet state dict loads into it key
for key; the test suite checks the list against torchvision itself.

Weights: the ImageNet file ``vgg19-dcbb9e9d.pth`` (torchvision's), looked up
in the torch hub cache (``torch.hub.get_dir()/checkpoints/``) or given
explicitly. Nothing is downloaded: without the file
:func:`load_vgg19_features` raises :class:`VGGWeightsError` saying where to
put it. Random weights exist only behind an explicit switch for tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from srbench.errors import SrbenchError

VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
# torchvision's VGG19 ("E"): channel counts, "M" = 2x2 max-pooling.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# Number of leading ``features`` layers giving phi_{i,j} (after its ReLU).
FEATURE_DEPTH = {"vgg22": 9, "vgg54": 36}
# ImageNet normalisation of torchvision's VGG weights (RGB, inputs in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsError(SrbenchError):
    """The VGG19 ImageNet weights are missing or unusable."""


def default_weights_path() -> Path:
    """Where torchvision would cache the VGG19 weights: ``<torch hub dir>/checkpoints/vgg19-dcbb9e9d.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_WEIGHTS_FILE


def build_vgg19_features() -> nn.Sequential:
    """VGG19's convolutional part with torchvision's layer list (randomly initialised)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for item in VGG19_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = item
    return nn.Sequential(*layers)


def load_vgg19_features(
    weights_path: str | os.PathLike | None = None,
    *,
    allow_random_weights_for_tests: bool = False,
) -> nn.Sequential:
    """VGG19 ``features`` with ImageNet weights, frozen, in eval mode, on the CPU.

    ``weights_path``: a torchvision VGG19 state dict (``.pth``, loaded with
    ``weights_only=True``); default: the torch hub cache. Only keys starting
    with ``features.`` are used (the classifier is not needed).
    ``allow_random_weights_for_tests``: if the file is missing, return random
    weights instead of failing. Never use it for real training.
    """
    features = build_vgg19_features()
    path = Path(weights_path) if weights_path is not None else default_weights_path()
    if path.is_file():
        _load_into(features, path)
    elif not allow_random_weights_for_tests:
        raise VGGWeightsError(
            f"VGG19 ImageNet weights not found at {path}. The VGG content losses need torchvision's "
            f"'{VGG19_WEIGHTS_FILE}' (nothing is downloaded): copy it to {default_weights_path()} "
            "or pass its path with --vgg-weights PATH"
        )
    features.eval()
    for p in features.parameters():
        p.requires_grad_(False)
    return features


def _load_into(features: nn.Sequential, path: Path) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors, or a file that is not a plain state dict
        raise VGGWeightsError(f"cannot read VGG19 weights {path}: not a PyTorch weights file that loads without "
                              f"pickled code ({type(exc).__name__}); give torchvision's {VGG19_WEIGHTS_FILE}") from exc
    if not isinstance(state, dict):
        raise VGGWeightsError(f"{path} does not hold a state dict (got {type(state).__name__})")
    wanted = features.state_dict()
    picked = {k[len("features."):]: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    missing = sorted(set(wanted) - set(picked))
    shapes = [k for k in wanted if k in picked and tuple(picked[k].shape) != tuple(wanted[k].shape)]
    if missing or shapes:
        raise VGGWeightsError(
            f"{path} is not a torchvision VGG19 state dict: "
            + (f"missing features.{missing[0]} (and {len(missing) - 1} more)" if missing else f"shape mismatch at features.{shapes[0]}")
        )
    features.load_state_dict({k: picked[k] for k in wanted})


class VGGFeatures(nn.Module):
    """phi_{i,j}(x) for x in [-1, 1]: maps to [0, 1], ImageNet-normalises, runs VGG19 up to the layer.

    ``features`` is a full or truncated VGG19 ``features`` list (e.g. from
    :func:`load_vgg19_features`); ``layer`` is ``"vgg22"`` or ``"vgg54"``.
    Parameters stay frozen; gradients flow to the input.
    """

    def __init__(self, features: nn.Sequential, layer: str) -> None:
        super().__init__()
        if layer not in FEATURE_DEPTH:
            raise ValueError(f"unknown VGG layer {layer!r}; use one of {sorted(FEATURE_DEPTH)}")
        depth = FEATURE_DEPTH[layer]
        if len(features) < depth:
            raise ValueError(f"{layer} needs {depth} VGG19 layers, got {len(features)}")
        self.layer = layer
        self.net = nn.Sequential(*list(features)[:depth])
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.net.eval()

    def train(self, mode: bool = True) -> "VGGFeatures":
        """The feature extractor always stays in eval mode."""
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x01 = (x + 1) * 0.5
        return self.net((x01 - self.mean) / self.std)
