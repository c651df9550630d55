"""One training iteration for any :class:`methods.specs.TrainSpec`, with the fast-mode switches.

:class:`StepRunner` owns the generator (and, for adversarial specs, the
discriminator), their optimizers and the content loss, and performs one
update with :meth:`StepRunner.step`:

* non-adversarial: ``content(G(lr), hr) (+ tv_weight * TV)``, one Adam step;
* adversarial (SRGAN, k = 1): first the discriminator step on
  ``D(hr)`` vs ``D(G(lr).detach())``, then the generator step on
  ``content + 1e-3 * -log D(G(lr))`` with D frozen.

HR targets are mapped from [0, 1] to ``spec.output_range``. Fast-mode
switches (all recorded in the checkpoint sidecar by the trainer):

* ``amp_dtype=torch.bfloat16`` - autocast on CUDA; the generator's output
  layer (its ``tail`` attribute, when it has one) is by default run outside
  autocast in fp32 (TF32 convolutions if enabled; see :func:`configure_tail`
  for the alternatives), and the pixel losses are computed in fp32
  (autocast itself runs ``mse_loss`` / BCE in fp32);
* ``channels_last`` - NHWC memory format for the networks and inputs;
* ``compile`` - ``torch.compile`` of the (DDP-wrapped) networks;
* fused Adam on CUDA (:func:`make_adam`, chosen by the trainer in fast mode).
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn as nn

from . import losses
from .specs import TrainSpec
from .train_dist import DistContext


TAIL_MODES = ("fp32", "bf16", "pad8")


def configure_tail(module: nn.Module, mode: str, device_type: str) -> None:
    """How the generator's output convolution runs under autocast (``mode`` in :data:`TAIL_MODES`).

    * ``fp32`` - outside autocast, fp32 (TF32 if allowed): the default;
    * ``bf16`` - like every other layer (autocast's choice);
    * ``pad8`` - under autocast, with the output channels zero-padded to a
      multiple of 8 (tensor-core friendly) and sliced back; same parameters,
      same gradients for the real channels. Only for ``nn.Conv2d``.
    """
    if mode == "fp32":
        keep_fp32(module, device_type)
    elif mode == "pad8":
        if not isinstance(module, nn.Conv2d):
            raise ValueError(f"tail mode pad8 needs an nn.Conv2d output layer, got {type(module).__name__}")
        pad_output_channels(module, 8)
    elif mode != "bf16":
        raise ValueError(f"unknown tail mode {mode!r}; use one of {', '.join(TAIL_MODES)}")


def pad_output_channels(conv: nn.Conv2d, multiple: int) -> None:
    """Run ``conv`` with its output channels zero-padded to ``multiple`` and sliced back (instance forward)."""
    out = conv.out_channels
    extra = -out % multiple

    def forward_padded(x: torch.Tensor) -> torch.Tensor:
        weight = nn.functional.pad(conv.weight, (0, 0, 0, 0, 0, 0, 0, extra))
        bias = nn.functional.pad(conv.bias, (0, extra)) if conv.bias is not None else None
        y = nn.functional.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        return y[:, :out]

    if extra:
        conv.forward = forward_padded  # type: ignore[method-assign]


def keep_fp32(module: nn.Module, device_type: str) -> None:
    """Make ``module`` run outside autocast, in fp32, whatever its caller's autocast state.

    Done by shadowing its ``forward`` on the instance, so parameter names
    (and therefore checkpoints) do not change.
    """
    inner: Callable = module.forward

    def forward_fp32(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, enabled=False):
            return inner(x.float())

    module.forward = forward_fp32  # type: ignore[method-assign]


def match_state_layout(opt: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor (Adam's moments) its parameter's strides.

    A resumed run loads the moments as contiguous (NCHW) tensors, while
    ``channels_last`` turns the parameters NHWC. Fused Adam walks the
    parameter, gradient and moments as flat arrays, so mismatched strides
    pair each weight with another weight's moments (silently wrong updates)
    or fail; the other implementations are merely slower.
    """
    for param, state in opt.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def make_adam(params, *, lr: float, betas: tuple[float, float], fused: bool) -> torch.optim.Adam:
    """Adam (eps 1e-8, no weight decay); ``fused`` selects the single-kernel CUDA implementation."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True) if fused else torch.optim.Adam(params, lr=lr, betas=betas)


def to_output_range(hr01: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    """Map [0, 1] images to ``output_range`` linearly (e.g. [-1, 1] for SRResNet)."""
    lo, hi = output_range
    return hr01 * (hi - lo) + lo


class StepRunner:
    """Generator (+ discriminator) updates for one spec; see the module docstring."""

    def __init__(
        self,
        spec: TrainSpec,
        generator: nn.Module,
        g_opt: torch.optim.Optimizer,
        content_loss: nn.Module,
        *,
        device: torch.device,
        discriminator: nn.Module | None = None,
        d_opt: torch.optim.Optimizer | None = None,
        amp_dtype: torch.dtype | None = None,
        tail: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        dist_ctx: DistContext = DistContext(),
    ) -> None:
        if spec.adversarial and (discriminator is None or d_opt is None):
            raise ValueError(f"{spec.name} is adversarial: a discriminator and its optimizer are needed")
        self.spec = spec
        self.device = device
        self.generator = generator
        self.discriminator = discriminator
        self.g_opt, self.d_opt = g_opt, d_opt
        self.content_loss = content_loss
        self.amp_dtype = amp_dtype if device.type == "cuda" else None
        self.channels_last = channels_last
        self.tail = tail if hasattr(generator, "tail") else "n/a"
        if self.amp_dtype is not None and hasattr(generator, "tail"):
            configure_tail(generator.tail, tail, device.type)
        if channels_last:
            for module in (generator, discriminator, content_loss):
                if module is not None:
                    module.to(memory_format=torch.channels_last)
            for opt in (g_opt, d_opt):
                if opt is not None:
                    match_state_layout(opt)
        self.g_train = self._wrap(generator, dist_ctx, compile)
        self.d_train = self._wrap(discriminator, dist_ctx, compile) if discriminator is not None else None
        # G step uses D without DDP (no D gradients are needed there) but compiled alike.
        self.d_frozen = (torch.compile(discriminator) if compile else discriminator) if discriminator is not None else None

    def _wrap(self, module: nn.Module, ctx: DistContext, compile: bool) -> nn.Module:
        if ctx.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        return torch.compile(module) if compile else module

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _content(self, sr: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.spec.content_loss == "mse":
            return losses.pixel_mse(sr.float(), target)
        with self._autocast():  # VGG features in bf16; its mse_loss runs in fp32 under autocast
            return self.content_loss(sr, target).float()

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of the generator and (if any) discriminator optimizers."""
        for opt in (self.g_opt, self.d_opt):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = lr

    def step(self, lr_img: torch.Tensor, hr01: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update on a batch; returns detached scalar losses (``loss`` is the generator's total).

        ``lr_img``, ``hr01``: float32 NCHW RGB in [0, 1] on the device.
        """
        if self.channels_last:
            lr_img = lr_img.contiguous(memory_format=torch.channels_last)
            hr01 = hr01.contiguous(memory_format=torch.channels_last)
        target = to_output_range(hr01, self.spec.output_range)
        with self._autocast():
            sr = self.g_train(lr_img)
        sr = sr.float()
        out: dict[str, torch.Tensor] = {}
        if self.spec.adversarial:
            out["d_loss"] = self._discriminator_step(sr.detach(), target)
        content = self._content(sr, target)
        total = content
        out["content"] = content.detach()
        if self.spec.tv_weight:
            total = total + self.spec.tv_weight * losses.total_variation(sr)
        if self.spec.adversarial:
            assert self.discriminator is not None and self.d_frozen is not None
            self.discriminator.requires_grad_(False)
            with self._autocast():
                fake_logits = self.d_frozen(sr)
            adv = losses.adversarial_generator_loss(fake_logits.float())
            self.discriminator.requires_grad_(True)
            total = total + losses.ADVERSARIAL_WEIGHT * adv
            out["adv"] = adv.detach()
        self.g_opt.zero_grad(set_to_none=True)
        total.backward()
        self.g_opt.step()
        out["loss"] = total.detach()
        return out

    def _discriminator_step(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        assert self.d_train is not None and self.d_opt is not None
        with self._autocast():
            real_logits = self.d_train(real)
            fake_logits = self.d_train(fake)
        d_loss = losses.discriminator_loss(real_logits.float(), fake_logits.float())
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()
        return d_loss.detach()
