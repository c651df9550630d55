"""The SRResNet / SRGAN variants of the paper's Table 1, as train specs and registry methods.

=============== ================ =========== ==================================
name            content loss     adversarial initialised from
=============== ================ =========== ==================================
srresnet-mse    pixel MSE        no          random
srresnet-vgg22  VGG phi 2,2 + TV no          random (TV weight 2e-8)
srgan-mse       pixel MSE        yes (1e-3)  srresnet-mse
srgan-vgg22     VGG phi 2,2      yes (1e-3)  srresnet-mse
srgan-vgg54     VGG phi 5,4      yes (1e-3)  srresnet-mse
=============== ================ =========== ==================================

``defaults`` carry the paper's training schedule (section 3.2): batch 16 of
96x96 HR crops, Adam (beta1 = 0.9); SRResNet 1e6 updates at lr 1e-4; SRGAN
1e5 updates at 1e-4 then 1e5 at 1e-5. Keys: ``iterations`` (total updates),
``lr`` (initial learning rate), ``lr_steps`` (list of ``(iteration, lr)``:
from that update on, use that rate), ``batch_size``, ``hr_patch`` (HR crop
side in pixels), ``adam_betas``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .specs import TRAIN_SPECS, TrainSpec, register_spec
from srbench.run.registry import COMMON_SETTINGS, PaperRow, register_method

if TYPE_CHECKING:
    from .srresnet import SRResNet

_COMMON = {"batch_size": 16, "hr_patch": 96, "adam_betas": (0.9, 0.999)}
SRRESNET_DEFAULTS = {**_COMMON, "iterations": 1_000_000, "lr": 1e-4, "lr_steps": []}
SRGAN_DEFAULTS = {**_COMMON, "iterations": 200_000, "lr": 1e-4, "lr_steps": [(100_000, 1e-5)]}


def build_srresnet(num_blocks: int = 16, channels: int = 64) -> SRResNet:
    """The paper's generator: 16 residual blocks, 64 channels, 4x (smaller sizes for tests)."""
    from .srresnet import SRResNet

    return SRResNet(num_blocks=num_blocks, channels=channels, scale=4)


SPECS = (
    TrainSpec("srresnet-mse", build_srresnet, (-1.0, 1.0), "mse", defaults=dict(SRRESNET_DEFAULTS)),
    TrainSpec("srresnet-vgg22", build_srresnet, (-1.0, 1.0), "vgg22", tv_weight=2e-8, defaults=dict(SRRESNET_DEFAULTS)),
    TrainSpec("srgan-mse", build_srresnet, (-1.0, 1.0), "mse", adversarial=True, init_from="srresnet-mse",
              defaults=dict(SRGAN_DEFAULTS)),
    TrainSpec("srgan-vgg22", build_srresnet, (-1.0, 1.0), "vgg22", adversarial=True, init_from="srresnet-mse",
              defaults=dict(SRGAN_DEFAULTS)),
    TrainSpec("srgan-vgg54", build_srresnet, (-1.0, 1.0), "vgg54", adversarial=True, init_from="srresnet-mse",
              defaults=dict(SRGAN_DEFAULTS)),
)

# name -> (label, the paper-table rows it fills)
ROWS = {
    "srresnet-mse": ("SRResNet-MSE", (PaperRow(1, "SRResNet-MSE", "SRResNet"), PaperRow(2, "SRResNet"))),
    "srresnet-vgg22": ("SRResNet-VGG22", (PaperRow(1, "SRResNet-VGG22", "SRResNet"),)),
    "srgan-mse": ("SRGAN-MSE", (PaperRow(1, "SRGAN-MSE", "SRGAN"),)),
    "srgan-vgg22": ("SRGAN-VGG22", (PaperRow(1, "SRGAN-VGG22", "SRGAN"),)),
    "srgan-vgg54": ("SRGAN-VGG54", (PaperRow(1, "SRGAN-VGG54", "SRGAN"), PaperRow(2, "SRGAN"))),
}


def _neural_factory(name: str):
    def build(**settings):
        from .neural import NeuralMethod

        return NeuralMethod(TRAIN_SPECS[name], **settings)

    return build


for _spec in SPECS:
    register_spec(_spec)
    _label, _rows = ROWS[_spec.name]
    _loss = {"mse": "pixel MSE", "vgg22": "VGG22 features", "vgg54": "VGG54 features"}[_spec.content_loss]
    register_method(
        _spec.name, _neural_factory(_spec.name), label=_label, paper_rows=_rows, kind="learned", trainable=True,
        needs_checkpoint=True, settings=COMMON_SETTINGS,
        description=f"{'SRGAN' if _spec.adversarial else 'SRResNet'} with {_loss} content loss, re-trained here",
    )
