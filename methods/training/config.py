"""``srbench train`` settings: the user's :class:`TrainConfig`, the run's resolved :class:`Hyper`.

Defaults come in three layers: the paper's recipe (``spec.defaults``: batch
16, 96 px crops, lr 1e-4, the spec's iteration count and lr steps), the
``--fast`` defaults below, and explicit flags. The learning rate follows a
plan of phases fixed when each starts (:mod:`srbench.methods.training.schedule`).

A resumed run keeps its run-wide settings (crop size, seed, mode, network
size; a conflicting flag is refused) and continues its plan. ``--iters N``
beyond the plan's horizon, or ``--budget-minutes`` in fast mode when the
plan is finished, appends a new phase, which may take a new ``--batch`` and
``--lr``. A run saved before plans existed is converted: one budgeted in
minutes (the seed checkpoint) ends its plan where it stopped, so continuing
it always starts a new phase.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from . import dist as train_dist
from ..specs import TRAIN_SPECS, TrainSpec
from .schedule import Phase, Plan
from .options import COMPILE_MODES, TAIL_MODES
from srbench.errors import SrbenchError

# --fast defaults. Batch 256 (the H200 run of 2026-11-29: 2.7x the patches/s of batch 64 with the
# output conv padded to 8 channels); peak lr 3e-4 at batch 64 (an H200 run: 31.2 dB on
# Set5 in 5.5 minutes), scaled with the square root of the batch (Adam): 6e-4 at batch 256; 200-step
# warm-up, then cosine decay. Adversarial methods keep the paper's lr and its 10x drop halfway
# (piecewise) at batch 64 (4x the paper's 16; a GAN's dynamics are not tuned here).
FAST_BATCH = 256
FAST_LR_AT_64 = 3e-4
FAST_BATCH_ADVERSARIAL = 64
FAST_LR_ADVERSARIAL = 1e-4
FAST_WARMUP_STEPS = 200


@dataclass
class TrainConfig:
    """Everything ``srbench train`` takes; ``None`` means "the default" (paper, fast or resumed value).

    ``iters`` is the run's planned total (its horizon); ``budget_minutes`` bounds this invocation only
    (see :mod:`srbench.methods.training.schedule` and :mod:`srbench.methods.training.budget`).
    """

    method: str
    train_data: list[str]
    iters: int | None = None
    budget_minutes: float | None = None
    batch: int | None = None
    lr: float | None = None
    patch: int | None = None
    init: str | None = None
    resume: str | None = None
    out: str | None = None  # default: the --resume folder, else results/checkpoints/METHOD
    device: str | None = None
    seed: int | None = None
    val_data: str | None = None  # folder(s), comma-separated; "none" disables validation
    val_every: int = 1000
    ckpt_every: int = 1000
    log_every: int = 50
    fast: bool | None = None
    compile: bool | str | None = None  # True or a mode of COMPILE_MODES; None/False: eager
    vgg_weights: str | None = None
    blocks: int | None = None  # tiny-network overrides for tests (recorded in the sidecar)
    channels: int | None = None
    tail: str | None = None  # output layer under bf16 autocast: fp32, bf16 or pad8 (default: pad8 with --fast)
    warmup: int | None = None  # warm-up steps of a new cosine phase (default FAST_WARMUP_STEPS)
    sync_every: int | None = None  # host-device sync interval in steps (default: 1 on the CPU, 25 on CUDA)
    probe_steps: int | None = None  # timed steps of a budget-planned phase's speed probe (default 30; smoke tests)
    resume_state: bool = True  # False: write no resume.* files (an SRGAN run on a lease: D is too large to keep)
    stop_after: int | None = None  # end this invocation after N iterations, as if interrupted (tests)
    progress: bool = True
    # Test-only: random VGG19 weights when the ImageNet file is missing. The CLI never sets it.
    allow_random_vgg_for_tests: bool = False

    @property
    def compile_mode(self) -> str | None:
        """The ``torch.compile`` mode, or None for eager."""
        if self.compile in (None, False):
            return None
        return "default" if self.compile is True else str(self.compile)


@dataclass
class Hyper:
    """The run's hyper-parameters, kept across resumes.

    ``schedule`` is the run's :class:`~srbench.methods.training.schedule.Plan` (JSON), ``iters`` its
    horizon (None while a budget-planned phase is probing its speed); ``batch`` and ``lr`` are the
    current phase's. Older runs stored one schedule here; :meth:`Plan.from_hyper` converts them.
    """

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


def fast_batch(spec: TrainSpec) -> int:
    """The ``--fast`` batch size of ``spec``."""
    return FAST_BATCH_ADVERSARIAL if spec.adversarial else FAST_BATCH


def fast_lr(spec: TrainSpec, batch: int) -> float:
    """The ``--fast`` peak learning rate at ``batch``: 3e-4 * sqrt(batch / 64); adversarial: the paper's 1e-4."""
    return FAST_LR_ADVERSARIAL if spec.adversarial else FAST_LR_AT_64 * math.sqrt(batch / 64)


def new_phase(spec: TrainSpec, *, fast: bool, start: int, end: int | None, batch: int, lr: float,
              warmup: int | None, planned_by: str) -> Phase:
    """A phase with the run's rule: fast non-adversarial -> warm-up + cosine; otherwise the paper's piecewise steps.

    The paper's lr steps (``spec.defaults["lr_steps"]``) become fractions of the phase, so a shorter
    planned run keeps the paper's shape (SRGAN: 1e-4 for the first half, 1e-5 for the second).
    """
    if fast and not spec.adversarial:
        return Phase(start, end, batch, "warmup-cosine", lr, warmup_steps=_given(warmup, FAST_WARMUP_STEPS),
                     planned_by=planned_by)
    d = spec.defaults
    total, base = d.get("iterations"), d.get("lr", 1e-4)
    milestones = tuple((it / total, step_lr / base) for it, step_lr in d.get("lr_steps", ()) if total)
    return Phase(start, end, batch, "piecewise", lr, milestones=milestones, planned_by=planned_by)


def resolve_hyper(cfg: TrainConfig, spec: TrainSpec, resumed: Hyper | None, done: int = 0) -> Hyper:
    """Paper defaults <- fast defaults <- explicit flags; a resumed run continues its plan (see the module docstring)."""
    if resumed is not None:
        return _resumed_hyper(cfg, spec, resumed, done)
    d = spec.defaults
    fast = bool(cfg.fast)
    batch = _given(cfg.batch, fast_batch(spec) if fast else d.get("batch_size", 16))
    lr = _given(cfg.lr, fast_lr(spec, batch) if fast else d.get("lr", 1e-4))
    if cfg.iters is not None:
        end, planned_by = cfg.iters, "iters"
    elif fast and cfg.budget_minutes is not None:
        end, planned_by = None, "budget"
    else:
        end, planned_by = int(d.get("iterations", 1_000_000)), "default"
    plan = Plan((new_phase(spec, fast=fast, start=0, end=end, batch=batch, lr=lr, warmup=cfg.warmup,
                           planned_by=planned_by),))
    arch = {k: v for k, v in (("num_blocks", cfg.blocks), ("channels", cfg.channels)) if v is not None}
    return Hyper(
        method=spec.name, batch=batch, lr=lr, patch=_given(cfg.patch, d.get("hr_patch", 96)),
        seed=cfg.seed if cfg.seed is not None else 0, fast=fast,
        adam_betas=tuple(d.get("adam_betas", (0.9, 0.999))), schedule=plan.to_json(), iters=plan.horizon, arch=arch,
    )


def _resumed_hyper(cfg: TrainConfig, spec: TrainSpec, resumed: Hyper, done: int) -> Hyper:
    """The resumed run's hyper-parameters; its plan continued, or extended by a new phase.

    Run-wide settings (patch, seed, mode, network size) never change. Batch and lr are a phase's:
    they may change only where a new phase starts, i.e. when the run is at the end of its plan.
    """
    _check_run_wide_settings(cfg, resumed)
    plan = Plan.from_hyper(resumed.schedule, iters=resumed.iters, batch=resumed.batch, step=done)
    if cfg.iters is not None and cfg.iters <= done:
        raise SrbenchError(
            f"the resumed run is already at iteration {done} >= --iters {cfg.iters}; "
            "pass a larger --iters (the run's total) or --budget-minutes to continue it"
        )
    if plan.horizon is None or done < plan.horizon:  # inside its current (last) phase
        plan = _continue_phase(cfg, spec, resumed, plan, done)
    else:  # at the end of its plan: a new phase
        plan = _new_phase_after(cfg, spec, resumed, plan, done)
    current = plan.last
    return replace(resumed, batch=current.batch, lr=current.base_lr, schedule=plan.to_json(), iters=plan.horizon)


def _check_run_wide_settings(cfg: TrainConfig, resumed: Hyper) -> None:
    """A resumed run keeps its patch, seed, mode and network size: a flag that differs is an error."""
    given = {"patch": cfg.patch, "seed": cfg.seed, "fast": cfg.fast}
    given["arch"] = {k: v for k, v in (("num_blocks", cfg.blocks), ("channels", cfg.channels)) if v is not None} or None
    for name, value in given.items():
        if value is not None and value != getattr(resumed, name):
            flag = {"arch": "--blocks/--channels"}.get(name, f"--{name}")
            raise SrbenchError(
                f"{flag} {value} differs from the resumed run's {getattr(resumed, name)}; a resumed run keeps "
                "its settings (start a new run with --init to change them)"
            )


def _continue_phase(cfg: TrainConfig, spec: TrainSpec, resumed: Hyper, plan: Plan, done: int) -> Plan:
    """Resuming inside the plan's last phase: its batch and lr stay; ``--iters`` may fix a budget phase's end
    or, beyond the plan's horizon, append a new phase after it."""
    horizon = plan.horizon
    current = plan.last
    for flag, value, now in (("--batch", cfg.batch, current.batch), ("--lr", cfg.lr, current.base_lr)):
        if value is not None and value != now:
            raise SrbenchError(
                f"{flag} {value} differs from the current phase's {now} (iterations {current.start}.."
                f"{current.end if current.end is not None else '?'}); batch and lr change only where a new "
                "phase starts, at the end of the run's plan"
            )
    if horizon is None:  # a budget-planned phase interrupted before its end was fixed
        if cfg.iters is not None:
            return plan.with_last(current.fix_end(cfg.iters, done - current.start, note=f"--iters {cfg.iters}"))
        if cfg.budget_minutes is None:
            raise SrbenchError(
                f"the resumed run's phase from iteration {current.start} has no planned end yet; "
                "give --iters N (the run's total) or --budget-minutes M"
            )
        return plan
    if cfg.iters is not None and cfg.iters < horizon:
        raise SrbenchError(
            f"the resumed run is planned to iteration {horizon}; --iters {cfg.iters} would change its schedule "
            "(stop a segment earlier with --budget-minutes)"
        )
    if cfg.iters is not None and cfg.iters > horizon:  # finish the plan, then a new phase
        return plan.append(new_phase(spec, fast=resumed.fast, start=horizon, end=cfg.iters, batch=current.batch,
                                     lr=current.base_lr, warmup=cfg.warmup, planned_by="iters"))
    return plan


def _new_phase_after(cfg: TrainConfig, spec: TrainSpec, resumed: Hyper, plan: Plan, done: int) -> Plan:
    """Resuming at the end of the plan: a new phase to ``--iters`` (or planned to fit ``--budget-minutes``,
    fast mode), which may take a new ``--batch``/``--lr``."""
    if cfg.iters is not None:
        end, planned_by = cfg.iters, "iters"
    elif cfg.budget_minutes is not None and resumed.fast:
        end, planned_by = None, "budget"
    else:
        raise SrbenchError(
            f"the resumed run is at iteration {done}, the end of its plan: give --iters N (the new total)"
            + (" or --budget-minutes M (a new phase planned to fit)" if resumed.fast else "")
        )
    last = plan.last
    batch = _given(cfg.batch, last.batch)
    lr = _given(cfg.lr, last.base_lr)
    return plan.append(new_phase(spec, fast=resumed.fast, start=done, end=end, batch=batch, lr=lr,
                                 warmup=cfg.warmup, planned_by=planned_by))


def _given(value, default):
    return default if value is None else value


def validate_flags(cfg: TrainConfig) -> None:
    """Checks of the flags alone (before any run state is read)."""
    for name, value in (("--iters", cfg.iters), ("--batch", cfg.batch), ("--patch", cfg.patch)):
        if value is not None and value < 1:
            raise SrbenchError(f"{name} must be at least 1, got {value}")
    if cfg.budget_minutes is not None and not (math.isfinite(cfg.budget_minutes) and cfg.budget_minutes > 0):
        raise SrbenchError(f"--budget-minutes must be a positive finite number, got {cfg.budget_minutes}")
    if cfg.tail is not None and cfg.tail not in TAIL_MODES:
        raise SrbenchError(f"--tail must be one of {', '.join(TAIL_MODES)}, got {cfg.tail!r}")
    if cfg.compile_mode is not None and cfg.compile_mode not in COMPILE_MODES:
        raise SrbenchError(f"--compile mode must be one of {', '.join(COMPILE_MODES)}, got {cfg.compile_mode!r}")
    for name in ("val_every", "ckpt_every", "log_every", "warmup"):
        value = getattr(cfg, name)
        if value is not None and value < 0:
            raise SrbenchError(f"--{name.replace('_', '-')} must be >= 0")
    for name in ("sync_every", "probe_steps"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise SrbenchError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def validate_numbers(cfg: TrainConfig, hyper: Hyper, *, adversarial: bool) -> None:
    """Checks of the resolved hyper-parameters (the current phase's batch and lr, seed, crop size)."""
    if hyper.batch < 1:
        raise SrbenchError(f"--batch must be at least 1, got {hyper.batch}")
    # Adam's first step moves a weight by up to lr / (1 - beta1); beyond float32's range it cannot be applied.
    lr_limit = torch.finfo(torch.float32).max * (1 - hyper.adam_betas[0])
    if not (math.isfinite(hyper.lr) and 0 < hyper.lr < lr_limit):
        raise SrbenchError(f"--lr must be a positive finite number below {lr_limit:.3g}, got {hyper.lr}")
    if not 0 <= hyper.seed < 2**32:
        raise SrbenchError(f"--seed must be in 0 .. 2**32 - 1, got {hyper.seed}")
    if hyper.patch % (16 if adversarial else 4):
        why = "the discriminator halves it 4 times" if adversarial else "the scale is 4"
        raise SrbenchError(f"--patch must be a multiple of {16 if adversarial else 4} ({why}), got {hyper.patch}")


def checkpoint_dir(path: str | os.PathLike) -> Path:
    """A checkpoint folder from a folder or a ``model.safetensors`` path."""
    p = Path(path)
    return p.parent if p.suffix == ".safetensors" else p
