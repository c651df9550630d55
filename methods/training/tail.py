"""How the generator's output convolution runs under bf16 autocast (``--tail``), and evaluation without it.

SRResNet's last layer is a 9x9 convolution from 64 to 3 channels at the HR
resolution. Three output channels use tensor cores badly, and kept in fp32 it
took most of a batch-256 step on the H200 (measured with ``bench/train_throughput.py``).
Modes (:data:`TAIL_MODES`):

* ``fp32`` - outside autocast, in fp32 (TF32 if allowed);
* ``bf16`` - like every other layer (autocast's choice);
* ``pad8`` - under autocast, output channels zero-padded to 8 and sliced
  back: the same parameters and, for the real channels, the same outputs and
  gradients (in fp32 exactly; tested), tensor-core friendly in bf16.

A mode is applied by switching the layer's class to a subclass of
``nn.Conv2d`` with another ``forward`` (:class:`Fp32Conv2d`,
:class:`PaddedConv2d`): parameter names, and therefore checkpoints, do not
change, and ``torch.compile`` traces the subclass's ``forward`` like any
module's. :func:`plain_output_layer` switches it back for a while, so that
validation evaluates exactly the network that is saved, in fp32.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .options import TAIL_MODES  # noqa: F401  (re-exported)


class Fp32Conv2d(nn.Conv2d):
    """A convolution that runs in fp32 outside autocast, whatever its caller's autocast state."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


class PaddedConv2d(nn.Conv2d):
    """A convolution computed with its output channels zero-padded to a multiple of ``pad_multiple``."""

    pad_multiple: int = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.out_channels
        extra = -out % self.pad_multiple
        if not extra:
            return super().forward(x)
        weight = F.pad(self.weight, (0, 0, 0, 0, 0, 0, 0, extra))
        bias = F.pad(self.bias, (0, extra)) if self.bias is not None else None
        return self._conv_forward(x, weight, bias)[:, :out]


def configure_tail(module: nn.Module, mode: str, device_type: str) -> None:
    """Make ``module`` (the generator's output layer) run in ``mode`` (one of :data:`TAIL_MODES`)."""
    if mode == "fp32":
        keep_fp32(module, device_type)
    elif mode == "pad8":
        if not isinstance(module, nn.Conv2d):
            raise ValueError(f"tail mode pad8 needs an nn.Conv2d output layer, got {type(module).__name__}")
        pad_output_channels(module, 8)
    elif mode != "bf16":
        raise ValueError(f"unknown tail mode {mode!r}; use one of {', '.join(TAIL_MODES)}")


def pad_output_channels(conv: nn.Conv2d, multiple: int) -> None:
    """Run ``conv`` with its output channels zero-padded to ``multiple`` (class switch; no new parameters)."""
    if type(conv) is not nn.Conv2d:
        raise ValueError(f"expected a plain nn.Conv2d, got {type(conv).__name__}")
    conv.__class__ = PaddedConv2d
    conv.pad_multiple = multiple


def keep_fp32(module: nn.Module, device_type: str) -> None:
    """Make ``module`` run outside autocast, in fp32 (``device_type`` kept for callers; autocast follows the input).

    A plain ``nn.Conv2d`` switches class to :class:`Fp32Conv2d`; any other module
    gets its ``forward`` shadowed on the instance (names and checkpoints unchanged).
    """
    if type(module) is nn.Conv2d:
        module.__class__ = Fp32Conv2d
        return
    inner: Callable = module.forward

    def forward_fp32(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return inner(x.float())

    module.forward = forward_fp32  # type: ignore[method-assign]


@contextlib.contextmanager
def plain_output_layer(generator: nn.Module) -> Iterator[None]:
    """Within the block, the generator's ``tail`` is a plain ``nn.Conv2d`` again (what checkpoints hold)."""
    tail = getattr(generator, "tail", None)
    cls = type(tail) if tail is not None else None
    switched = cls in (Fp32Conv2d, PaddedConv2d)
    if switched:
        tail.__class__ = nn.Conv2d
    try:
        yield
    finally:
        if switched:
            tail.__class__ = cls
