"""One training iteration for any :class:`srbench.methods.specs.TrainSpec`, with the fast-mode switches.

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
  layer (its ``tail`` attribute, when it has one) runs as ``tail`` says
  (:mod:`srbench.methods.training.tail`: fp32, bf16, or bf16 padded to 8
  channels), and the pixel losses are computed in fp32;
* ``channels_last`` - NHWC memory format for the networks and inputs;
* ``compile`` - a ``torch.compile`` mode (``default``, ``reduce-overhead``,
  ``max-autotune``, ``max-autotune-no-cudagraphs``). Non-adversarial specs
  compile the whole forward pass with its loss as one graph (generator,
  output mapping, MSE); AOTAutograd compiles its backward with it, and
  Inductor fuses BatchNorm (batch statistics and normalisation), PReLU and
  the residual additions around cuDNN's convolutions. The optimizer stays
  fused Adam (one multi-tensor kernel per step, nothing left to fuse). With
  the CUDA-graph modes the forward and backward graphs are replayed as CUDA
  graphs; each step starts with ``torch.compiler.cudagraph_mark_step_begin()``
  and the returned losses are copied out of the graphs' memory. Adversarial
  specs compile the networks (G, D, and D frozen for the generator step);
* fused Adam on CUDA (:func:`make_adam`, chosen by the trainer in fast mode).

Nothing in :meth:`StepRunner.step` reads a value back to the host: the
losses it returns stay on the device (the trainer looks at them every
``sync_every`` steps). ``mark`` (profiling only) is called after each part
of the step; a profiler synchronises the device there.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn as nn

from .. import losses
from ..specs import TrainSpec
from .dist import DistContext
from .tail import configure_tail


Mark = Callable[[str], None]  # profiling hook: called with a part's name when that part is done
CUDAGRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that replay CUDA graphs


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
        compile: str | bool | None = None,
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
        self.compile_mode = ("default" if compile is True else compile) or None
        self.cudagraphs = self.compile_mode in CUDAGRAPH_MODES and device.type == "cuda"
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
        whole_step = self.compile_mode is not None and not spec.adversarial
        self.g_train = self._wrap(generator, dist_ctx, compile_it=not whole_step)
        self.d_train = self._wrap(discriminator, dist_ctx) if discriminator is not None else None
        # G step uses D without DDP (no D gradients are needed there) but compiled alike.
        self.d_frozen = self._compiled(discriminator) if discriminator is not None else None
        self._g_losses = self._compiled(self._generator_losses) if whole_step else self._generator_losses

    def _compiled(self, fn):
        return torch.compile(fn, mode=self.compile_mode) if self.compile_mode is not None else fn

    def _wrap(self, module: nn.Module, ctx: DistContext, compile_it: bool = True) -> nn.Module:
        if ctx.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        return self._compiled(module) if compile_it else module

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

    def _generator_losses(self, lr_img: torch.Tensor, hr01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(total, content)`` of a non-adversarial spec: the part compiled as one graph."""
        target = to_output_range(hr01, self.spec.output_range)
        with self._autocast():
            sr = self.g_train(lr_img)
        sr = sr.float()
        content = self._content(sr, target)
        total = content + self.spec.tv_weight * losses.total_variation(sr) if self.spec.tv_weight else content
        return total, content

    def step(self, lr_img: torch.Tensor, hr01: torch.Tensor, mark: Mark | None = None) -> dict[str, torch.Tensor]:
        """One update on a batch; returns detached scalar losses on the device (``loss``: the generator's total).

        ``lr_img``, ``hr01``: float32 NCHW RGB in [0, 1] on the device. ``mark``: see the module docstring.
        """
        if self.compile_mode is not None:
            torch.compiler.cudagraph_mark_step_begin()
        if self.channels_last:
            lr_img = lr_img.contiguous(memory_format=torch.channels_last)
            hr01 = hr01.contiguous(memory_format=torch.channels_last)
        if self.spec.adversarial:
            return self._adversarial_step(lr_img, hr01, mark)
        total, content = self._g_losses(lr_img, hr01)
        out = {"content": self._keep(content)}
        _mark(mark, "forward")
        self.g_opt.zero_grad(set_to_none=True)
        total.backward()
        _mark(mark, "backward")
        self.g_opt.step()
        _mark(mark, "optimizer")
        out["loss"] = self._keep(total)
        return out

    def _keep(self, value: torch.Tensor) -> torch.Tensor:
        """A detached copy that outlives the next CUDA-graph replay (a plain detach otherwise)."""
        value = value.detach()
        return value.clone() if self.cudagraphs else value

    def _adversarial_step(self, lr_img: torch.Tensor, hr01: torch.Tensor, mark: Mark | None) -> dict[str, torch.Tensor]:
        assert self.discriminator is not None and self.d_frozen is not None
        target = to_output_range(hr01, self.spec.output_range)
        with self._autocast():
            sr = self.g_train(lr_img)
        sr = sr.float()
        _mark(mark, "forward")
        out: dict[str, torch.Tensor] = {"d_loss": self._discriminator_step(sr.detach(), target)}
        _mark(mark, "discriminator")
        content = self._content(sr, target)
        total = content
        out["content"] = self._keep(content)
        if self.spec.tv_weight:
            total = total + self.spec.tv_weight * losses.total_variation(sr)
        self.discriminator.requires_grad_(False)
        with self._autocast():
            fake_logits = self.d_frozen(sr)
        adv = losses.adversarial_generator_loss(fake_logits.float())
        self.discriminator.requires_grad_(True)
        total = total + losses.ADVERSARIAL_WEIGHT * adv
        out["adv"] = self._keep(adv)
        _mark(mark, "generator_loss")
        self.g_opt.zero_grad(set_to_none=True)
        total.backward()
        _mark(mark, "backward")
        self.g_opt.step()
        _mark(mark, "optimizer")
        out["loss"] = self._keep(total)
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
        return self._keep(d_loss)


def _mark(mark: Mark | None, part: str) -> None:
    if mark is not None:
        mark(part)
