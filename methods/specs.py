"""Trainable methods: one :class:`TrainSpec` per registry name.

The trainer (``methods/training/trainer.py``) and the checkpoint-backed inference
(``methods/neural.py``) are generic over these specs, so adding a trainable
method means adding a spec here (and its network module), nothing else.

Checkpoints live at ``results/checkpoints/<name>/model.safetensors`` with a
JSON sidecar ``model.json`` next to it (see ``methods/checkpoint.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from srbench.errors import SrbenchError

if TYPE_CHECKING:  # networks are built by the specs' factories; naming a spec needs no torch
    import torch.nn as nn


@dataclass(frozen=True)
class TrainSpec:
    """How to build and train one method.

    ``build_generator`` returns a module mapping an LR batch (float32 NCHW RGB
    in [0, 1]) to an SR batch of 4x the size; it may accept size keywords
    (``num_blocks``, ``channels``) for smaller test networks whose values are in
    ``output_range`` (e.g. (-1, 1) for SRResNet: the paper scales HR to
    [-1, 1]). ``content_loss`` is ``"mse"``, ``"vgg22"`` or ``"vgg54"``.
    ``adversarial`` adds the discriminator and the 1e-3 * -log D(G(x)) term.
    ``init_from`` names the method whose checkpoint initialises the generator
    (SRGAN starts from a trained SRResNet). ``defaults`` overrides trainer
    defaults (iterations, lr, batch, ...).
    """

    name: str
    build_generator: Callable[..., nn.Module]
    output_range: tuple[float, float] = (-1.0, 1.0)
    content_loss: str = "mse"
    adversarial: bool = False
    tv_weight: float = 0.0
    init_from: str | None = None
    defaults: dict = field(default_factory=dict)


TRAIN_SPECS: dict[str, TrainSpec] = {}


def register_spec(spec: TrainSpec) -> None:
    """Add ``spec`` to :data:`TRAIN_SPECS` (names must be unique)."""
    if spec.name in TRAIN_SPECS:
        raise ValueError(f"train spec {spec.name!r} registered twice")
    TRAIN_SPECS[spec.name] = spec


def build_network(spec: TrainSpec, architecture: dict | None = None) -> nn.Module:
    """``spec.build_generator()``, with size overrides such as ``{"num_blocks": 4, "channels": 16}``.

    Raises :class:`srbench.errors.SrbenchError` if the factory does not take them or refuses their values.
    """
    if not architecture:
        return spec.build_generator()
    try:
        return spec.build_generator(**architecture)
    except TypeError:
        raise SrbenchError(f"{spec.name} has no adjustable {', '.join(sorted(architecture))}") from None
    except ValueError as exc:  # e.g. channels < 1
        raise SrbenchError(f"{spec.name}: unusable size {architecture}: {exc}") from None
