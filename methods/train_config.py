"""``srbench train`` settings: the user's :class:`TrainConfig`, the run's resolved :class:`Hyper`.

Defaults come in three layers: the paper's recipe (``spec.defaults``: batch
16, 96 px crops, lr 1e-4, the spec's iteration count and lr steps), the
``--fast`` defaults below, and explicit flags. A resumed run keeps its own
:class:`Hyper` (a conflicting flag is refused).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from . import train_dist
from .specs import TRAIN_SPECS, TrainSpec
from .train_state import Schedule
from .train_step import TAIL_MODES
from srbench.errors import SrbenchError

# --fast defaults (the GPU probe in ../shared/reference/gpu.md: batch 64, peak lr 3e-4,
# 200-step warm-up and cosine decay, bf16 autocast reached 31.2 dB on Set5 in 5.5 minutes).
FAST_BATCH = 64
FAST_LR = 3e-4
FAST_LR_ADVERSARIAL = 1e-4
FAST_WARMUP_STEPS = 200


@dataclass
class TrainConfig:
    """Everything ``srbench train`` takes; ``None`` means "the default" (paper, fast or resumed value)."""

    method: str
    train_data: list[str]
    iters: int | None = None
    budget_minutes: float | None = None
    batch: int | None = None
    lr: float | None = None
    patch: int | None = None
    init: str | None = None
    resume: str | None = None
    out: str | None = None
    device: str | None = None
    seed: int | None = None
    val_data: str | None = None  # "none" disables validation
    val_every: int = 1000
    ckpt_every: int = 1000
    log_every: int = 50
    fast: bool | None = None
    compile: bool = False
    vgg_weights: str | None = None
    blocks: int | None = None  # tiny-network overrides for tests (recorded in the sidecar)
    channels: int | None = None
    tail: str = "fp32"  # output layer under bf16 autocast: fp32, bf16 or pad8 (see train_step.configure_tail)
    stop_after: int | None = None  # end this invocation after N iterations, as if interrupted (tests)
    progress: bool = True
    # Test-only: random VGG19 weights when the ImageNet file is missing. The CLI never sets it.
    allow_random_vgg_for_tests: bool = False


@dataclass
class Hyper:
    """The run's fixed hyper-parameters (kept across resumes)."""

    method: str
    batch: int
    lr: float
    patch: int
    seed: int
    fast: bool
    adam_betas: tuple[float, float]
    schedule: dict
    iters: int | None
    arch: dict = field(default_factory=dict)


def get_spec(method: str) -> TrainSpec:
    key = method.strip().lower()
    if key not in TRAIN_SPECS:
        raise SrbenchError(f"no trainable method {method!r}; trainable: {', '.join(sorted(TRAIN_SPECS))}")
    return TRAIN_SPECS[key]


def resolve_device(flag: str | None, ctx: train_dist.DistContext) -> torch.device:
    if flag in (None, "auto"):
        flag = "cuda" if torch.cuda.is_available() else "cpu"
    if flag.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SrbenchError("--device cuda requested but no CUDA GPU is available here (use --device cpu)")
        device = torch.device("cuda", ctx.local_rank) if ctx.enabled or flag == "cuda" else torch.device(flag)
        torch.cuda.set_device(device)
        return device
    if flag != "cpu":
        raise SrbenchError(f"unknown --device {flag!r}; use cuda or cpu")
    return torch.device("cpu")


def resolve_hyper(cfg: TrainConfig, spec: TrainSpec, resumed: Hyper | None) -> Hyper:
    """Paper defaults <- fast defaults <- explicit flags; a resumed run's values win (conflicts refused)."""
    if resumed is not None:
        given = {"batch": cfg.batch, "lr": cfg.lr, "patch": cfg.patch, "seed": cfg.seed, "fast": cfg.fast}
        given["arch"] = {k: v for k, v in (("num_blocks", cfg.blocks), ("channels", cfg.channels)) if v is not None} or None
        for name, value in given.items():
            if value is not None and value != getattr(resumed, name):
                flag = {"arch": "--blocks/--channels"}.get(name, f"--{name}")
                raise SrbenchError(
                    f"{flag} {value} differs from the resumed run's {getattr(resumed, name)}; a resumed run keeps "
                    "its settings (start a new run with --init to change them)"
                )
        return replace(resumed, iters=cfg.iters if cfg.iters is not None else resumed.iters)
    d = spec.defaults
    fast = bool(cfg.fast)
    base_lr_default = d.get("lr", 1e-4)
    if fast:
        lr = _given(cfg.lr, FAST_LR_ADVERSARIAL if spec.adversarial else FAST_LR)
        schedule = Schedule("cosine", lr, warmup_steps=FAST_WARMUP_STEPS)
        batch = _given(cfg.batch, FAST_BATCH)
    else:
        lr = _given(cfg.lr, base_lr_default)
        total = d.get("iterations")
        milestones = tuple((it / total, step_lr / base_lr_default) for it, step_lr in d.get("lr_steps", ()) if total)
        schedule = Schedule("piecewise", lr, milestones=milestones)
        batch = _given(cfg.batch, d.get("batch_size", 16))
    iters = cfg.iters
    if iters is None and cfg.budget_minutes is None:
        iters = int(d.get("iterations", 1_000_000))
    arch = {k: v for k, v in (("num_blocks", cfg.blocks), ("channels", cfg.channels)) if v is not None}
    return Hyper(
        method=spec.name, batch=batch, lr=lr, patch=_given(cfg.patch, d.get("hr_patch", 96)),
        seed=cfg.seed if cfg.seed is not None else 0, fast=fast,
        adam_betas=tuple(d.get("adam_betas", (0.9, 0.999))), schedule=schedule.to_json(), iters=iters, arch=arch,
    )


def _given(value, default):
    return default if value is None else value


def validate_numbers(cfg: TrainConfig, hyper: Hyper, *, adversarial: bool) -> None:
    if cfg.iters is not None and cfg.budget_minutes is not None:
        raise SrbenchError("give either --iters or --budget-minutes, not both")
    for name, value in (("--iters", hyper.iters), ("--batch", hyper.batch), ("--patch", hyper.patch)):
        if value is not None and value < 1:
            raise SrbenchError(f"{name} must be at least 1, got {value}")
    if cfg.budget_minutes is not None and not (math.isfinite(cfg.budget_minutes) and cfg.budget_minutes > 0):
        raise SrbenchError(f"--budget-minutes must be a positive finite number, got {cfg.budget_minutes}")
    # Adam's first step moves a weight by up to lr / (1 - beta1); beyond float32's range it cannot be applied.
    lr_limit = torch.finfo(torch.float32).max * (1 - hyper.adam_betas[0])
    if not (math.isfinite(hyper.lr) and 0 < hyper.lr < lr_limit):
        raise SrbenchError(f"--lr must be a positive finite number below {lr_limit:.3g}, got {hyper.lr}")
    if not 0 <= hyper.seed < 2**32:
        raise SrbenchError(f"--seed must be in 0 .. 2**32 - 1, got {hyper.seed}")
    if hyper.patch % (16 if adversarial else 4):
        why = "the discriminator halves it 4 times" if adversarial else "the scale is 4"
        raise SrbenchError(f"--patch must be a multiple of {16 if adversarial else 4} ({why}), got {hyper.patch}")
    if cfg.tail not in TAIL_MODES:
        raise SrbenchError(f"--tail must be one of {', '.join(TAIL_MODES)}, got {cfg.tail!r}")
    for name in ("val_every", "ckpt_every", "log_every"):
        if getattr(cfg, name) < 0:
            raise SrbenchError(f"--{name.replace('_', '-')} must be >= 0")


def checkpoint_dir(path: str | os.PathLike) -> Path:
    """A checkpoint folder from a folder or a ``model.safetensors`` path."""
    p = Path(path)
    return p.parent if p.suffix == ".safetensors" else p
