"""The generic trainer behind ``srbench train``: any :class:`srbench.methods.specs.TrainSpec`, one loop.

What one call of :func:`train` does, in order (cheap checks first, so a
mistake is reported before any heavy work):

1. resolve the spec, the device, the run's hyper-parameters (paper defaults
   from ``spec.defaults``; ``--fast`` defaults; a resumed run's own values)
   and the output folder (refusing to overwrite another run's checkpoint);
2. build the content loss - a VGG loss loads its ImageNet weights now and
   fails at once if they are missing - and read the ``--init`` checkpoint;
3. fingerprint and decode the training images onto the device
   (:mod:`srbench.methods.training.data`), build the networks and optimizers, restore a
   ``--resume`` state (:mod:`srbench.methods.training.state`);
4. loop: sample a batch on the device, one :class:`srbench.methods.training.step.StepRunner`
   update, periodic logging, validation (:mod:`srbench.methods.training.validate`) and
   checkpoints, until ``--iters`` are done or ``--budget-minutes`` are spent,
   or SIGTERM/SIGINT arrives;
5. write the final checkpoint: ``OUT/model.safetensors`` + ``OUT/model.json``
   (via :mod:`srbench.methods.checkpoint`) and the resume state.

A non-finite loss stops the run with :class:`TrainingDiverged`; the last
good checkpoint on disk is left untouched (no checkpoint is written after a
non-finite loss). Under ``torchrun`` the same loop runs DistributedDataParallel
(:mod:`srbench.methods.training.dist`).

Resuming (``--resume DIR``) continues the *same* run, writing back into DIR
unless ``--out`` says otherwise: same hyper-parameters, optimizer moments, RNG
streams and step counter, and the same learning-rate plan. The plan
(:mod:`.schedule`) is a list of phases whose horizons are fixed when
each phase starts - by ``--iters`` (the run's total), or, for a ``--fast``
run given only ``--budget-minutes``, from its measured speed right after a
short probe (:mod:`.budget`) - and recorded in the sidecar.
``--budget-minutes`` and SIGTERM/SIGINT only decide where an invocation (a
*segment*) stops, so N segments end with exactly the weights of one
uninterrupted run (tested on the CPU, with budget-stopped segments driven by
an injected clock). ``--iters`` beyond the plan, or ``--budget-minutes`` once
the plan is finished, appends a new phase (which may change batch and lr).
Iterations, patches seen and wall time accumulate across invocations in the
sidecar, which also lists every invocation under ``segments``.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .. import checkpoint as ckpt
from . import dist as train_dist
from ..specs import build_network
from .config import (  # noqa: F401  (TrainConfig: public API)
    Hyper,
    TrainConfig,
    checkpoint_dir,
    get_spec,
    resolve_device,
    resolve_hyper,
    validate_flags,
    validate_numbers,
)
from .data import PatchSampler, list_training_files, manifest_sha256
from .log import RunLog
from .budget import MARGIN, PROBE_SKIP, Budget, Clock, SpeedProbe, planned_steps
from .schedule import Plan
from .state import (
    capture_rng,
    flatten_optimizer,
    load_resume,
    restore_rng,
    sampler_state,
    save_resume,
    unflatten_optimizer,
)
from .step import StepRunner, make_adam
from .tail import plain_output_layer
from srbench.atomicio import make_staging_dir, remove_tree
from srbench.errors import SrbenchError, describe_os_error
from srbench.paths import CHECKPOINTS_DIR

CHECKPOINT_ROOT = CHECKPOINTS_DIR
# A lower bound on one step's memory per HR pixel of the batch: the sampler's int64 gather indices
# (rows, columns, flat: 3 x 8 bytes) and the float32 RGB patch (12 bytes); the networks need more.
BYTES_PER_PATCH_PIXEL = 36
RANDOM_VGG_ENV = "SRBENCH_TEST_RANDOM_VGG"  # "1": random VGG weights (tests; the CLI refuses to run with it)


class TrainingDiverged(SrbenchError):
    """A loss became NaN or infinite."""


@dataclass
class TrainResult:
    """How a :func:`train` call ended."""

    out: Path
    iterations: int
    patches_seen: int
    stop_reason: str  # "completed", "budget" or "interrupted"
    validation: dict | None  # the first validation set's last result
    wall_time_s: float
    horizon: int | None = None  # the plan's planned total of iterations


# ---------------------------------------------------------------- the trainer
@dataclass
class _LoopState:
    """What :meth:`Trainer._loop` carries from step to step."""

    bar: object  # tqdm
    flags: torch.Tensor  # [non-finite loss seen, stop requested], on the device
    loss_sum: torch.Tensor
    mark_t: float  # time and patch count where the current patches/s measurement started
    mark_patches: int
    probe: SpeedProbe | None
    loss_n: int = 0


class Trainer:
    """One invocation of a training run (see the module docstring); use :func:`train`."""

    def __init__(self, cfg: TrainConfig, *, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.clock = clock or time.monotonic
        self.ctx = train_dist.from_environment()
        self.spec = get_spec(cfg.method)
        validate_flags(cfg)
        self.device = resolve_device(cfg.device, self.ctx)
        self.resume_dir = checkpoint_dir(cfg.resume) if cfg.resume else None
        self.prev: dict = {}  # the resumed run's sidecar
        self.resume_tensors: dict[str, torch.Tensor] = {}
        self.resume_meta: dict = {}
        resumed_hyper = None
        if self.resume_dir is not None:
            if cfg.init:
                raise SrbenchError("--init and --resume exclude each other (a resumed run keeps its weights)")
            self._read_resume()
            try:
                saved = self.resume_meta["hyper"]
                resumed_hyper = Hyper(**{**saved, "adam_betas": tuple(saved["adam_betas"])})
            except (TypeError, KeyError) as exc:
                raise SrbenchError(f"{self.resume_dir}/resume.json: unreadable hyper-parameters ({exc}); "
                                   "cannot resume from it") from None
            if resumed_hyper.method != self.spec.name:
                raise SrbenchError(f"{cfg.resume} is a {resumed_hyper.method} run, not {self.spec.name}")
        done = int(self.resume_meta.get("step", 0))
        self.hyper = resolve_hyper(cfg, self.spec, resumed_hyper, done)
        validate_numbers(cfg, self.hyper, adversarial=self.spec.adversarial)
        self._check_batch_fits()  # before the OOM killer would end the process
        self.plan = Plan.from_json(self.hyper.schedule)
        self.budget = Budget(cfg.budget_minutes * 60 if cfg.budget_minutes is not None else None, self.clock)
        self.out = Path(cfg.out) if cfg.out else (self.resume_dir or CHECKPOINT_ROOT / self.spec.name)
        self._check_out()
        self.init_path = self._init_path()
        self.amp = torch.bfloat16 if (self.hyper.fast and self.device.type == "cuda") else None
        self.tail = cfg.tail or ("pad8" if self.hyper.fast else "fp32")
        self.channels_last = self.hyper.fast
        self.sync_every = cfg.sync_every or (1 if self.device.type == "cpu" else 25)
        self.log = RunLog(self.out, enabled=False)  # opened in run(), once the inputs are checked
        self.saved = False  # a checkpoint was written by this invocation
        self.stop_requested = False

    # -- checks and inputs -------------------------------------------------
    def _read_resume(self) -> None:
        assert self.resume_dir is not None
        self.resume_tensors, self.resume_meta = load_resume(self.resume_dir)
        self.resume_weights, self.prev = ckpt.load_checkpoint(self.resume_dir)
        if self.prev.get("iterations") != self.resume_meta["step"]:
            raise SrbenchError(
                f"{self.resume_dir}: model.safetensors is at iteration {self.prev.get('iterations')} but the resume "
                f"state at {self.resume_meta['step']} (interrupted write?); cannot resume"
            )

    def _check_out(self) -> None:
        """Refuse an --out that is a file, holds another run's checkpoint, or cannot be created (nothing is made)."""
        if self.out.exists() and not self.out.is_dir():
            raise SrbenchError(f"--out {self.out} is a file; give a folder for the checkpoint and logs")
        existing = ckpt.checkpoint_paths(self.out)[0]
        resuming_here = self.resume_dir is not None and self.resume_dir.resolve() == self.out.resolve()
        if existing.is_file() and not resuming_here:
            raise SrbenchError(
                f"{self.out} already holds a checkpoint; continue it with --resume {self.out}, "
                "or choose another --out"
            )
        check_writable(self.out, "--out")

    def _check_batch_fits(self) -> None:
        """Refuse a --batch/--patch whose patches alone cannot fit in memory (before the OOM killer steps in)."""
        phase_batch = self.hyper.batch  # the current phase's
        need = phase_batch * self.hyper.patch**2 * BYTES_PER_PATCH_PIXEL
        free = available_memory(self.device)
        if free is not None and need > free:
            raise SrbenchError(
                f"--batch {phase_batch} with {self.hyper.patch}px crops needs at least {need / 2**30:.1f} GiB for one "
                f"step's patches alone, more than the {free / 2**30:.1f} GiB available on {self.device}; "
                "lower --batch or --patch"
            )

    def _init_path(self) -> Path | None:
        """The ``--init`` (or the spec's ``init_from``) checkpoint file, checked without loading it."""
        if self.resume_dir is not None:
            return None
        if self.cfg.init:
            given = Path(self.cfg.init)
            if given.is_dir():
                path = ckpt.checkpoint_paths(given)[0]
                if not path.is_file():
                    raise SrbenchError(f"--init {given}: no model.safetensors in this folder "
                                       "(give a checkpoint folder or a .safetensors file)")
            elif given.is_file():
                if given.suffix != ".safetensors":
                    raise SrbenchError(f"--init {given} is not a checkpoint: give a model.safetensors file "
                                       "or the folder holding one")
                path = given
            else:
                raise SrbenchError(f"--init {given}: no such file or folder")
        elif self.spec.init_from:
            path = ckpt.checkpoint_paths(CHECKPOINT_ROOT / self.spec.init_from)[0]
            if not path.is_file():
                raise SrbenchError(
                    f"{self.spec.name} starts from a trained {self.spec.init_from}, but there is no checkpoint at "
                    f"{path}; train it first (srbench train --method {self.spec.init_from} ...) or pass --init CKPT"
                )
        else:
            return None
        ckpt.check_checkpoint_file(path)  # truncated or not a safetensors file: refused now
        return path

    def _content_loss(self) -> nn.Module:
        from ..losses import build_content_loss

        allow_random = self.cfg.allow_random_vgg_for_tests or os.environ.get(RANDOM_VGG_ENV) == "1"
        torch.manual_seed(self.hyper.seed)  # random test VGG weights are then the same in every invocation
        loss = build_content_loss(
            self.spec.content_loss, vgg_weights=self.cfg.vgg_weights, allow_random_weights_for_tests=allow_random
        )
        self.random_vgg = allow_random and self.spec.content_loss != "mse"
        return loss.to(self.device)

    def _init_weights(self) -> tuple[dict[str, torch.Tensor] | None, dict | None]:
        """The ``--init`` (or the spec's ``init_from`` default) generator weights and their provenance."""
        weights = self.init_path
        if weights is None:
            return None, None
        state, sidecar = ckpt.load_checkpoint(weights)
        self._check_fits(state, "--init checkpoint", weights)  # before any training image is decoded
        info = {
            "path": str(weights),
            "sha256": ckpt.file_sha256(weights),
            "method": sidecar.get("method"),
            "iterations": sidecar.get("iterations"),
        }
        return state, info

    def _data(self) -> tuple[PatchSampler, dict]:
        files = self.train_files
        digest = manifest_sha256(files)
        if self.resume_dir is not None and self.prev.get("train_data", {}).get("manifest_sha256") not in (None, digest):
            self.log.info("note: the training data differ from the resumed run's (manifest hash changed)")
        seed = train_dist.rank_seed(self.hyper.seed, self.ctx.rank)
        sampler = PatchSampler.from_files(
            files, hr_patch=self.hyper.patch, device=self.device, seed=seed, progress=self.cfg.progress and self.ctx.is_main
        )
        info = {
            "folders": [str(Path(d)) for d in self.cfg.train_data],
            "images": len(files),
            "used": sampler.num_images,
            "skipped_smaller_than_patch": sampler.skipped,
            "manifest_sha256": digest,
        }
        return sampler, info

    # -- state -------------------------------------------------------------
    def _build(self, init_state: dict | None) -> None:
        torch.manual_seed(self.hyper.seed)
        np.random.seed(self.hyper.seed)
        random.seed(self.hyper.seed)
        self.generator = build_network(self.spec, self.hyper.arch).to(self.device)
        if init_state is not None:
            self._load_generator(init_state, "--init checkpoint")
        self.discriminator = self.d_opt = None
        if self.spec.adversarial:
            from ..discriminator import Discriminator

            self.discriminator = Discriminator(self.hyper.patch).to(self.device)
        betas = tuple(self.hyper.adam_betas)
        self.fused_adam = self.hyper.fast and self.device.type == "cuda"
        self.g_opt = make_adam(self.generator.parameters(), lr=self.hyper.lr, betas=betas, fused=self.fused_adam)
        if self.discriminator is not None:
            self.d_opt = make_adam(self.discriminator.parameters(), lr=self.hyper.lr, betas=betas, fused=self.fused_adam)
        if self.resume_dir is not None:
            self._load_generator(self.resume_weights, f"resumed checkpoint {self.resume_dir}")
            t, m = self.resume_tensors, self.resume_meta
            self.g_opt.load_state_dict(unflatten_optimizer(t, m["optimizers"]["g"], "opt.g"))
            if self.discriminator is not None:
                disc = {k[len("disc."):]: v for k, v in t.items() if k.startswith("disc.")}
                self.discriminator.load_state_dict(disc, strict=True)
                self.d_opt.load_state_dict(unflatten_optimizer(t, m["optimizers"]["d"], "opt.d"))
            restore_rng(t, m["rng"])
            state = sampler_state(t, self.ctx.rank)
            why = f"rank {self.ctx.rank} has no saved sampler state (world size changed)"
            if state is not None:
                try:
                    self.sampler.generator.set_state(state)
                    why = None
                except RuntimeError:  # a CUDA (Philox) state on a CPU generator or the reverse
                    why = f"the saved sampler state was made on another device type than {self.device.type}"
            if why is not None:
                self.log.info(f"{why}: reseeded (the crops differ from an uninterrupted run)")
                self.sampler.generator.manual_seed(train_dist.rank_seed(self.hyper.seed + m["step"], self.ctx.rank))

    def _load_generator(self, state: dict[str, torch.Tensor], what: str) -> None:
        try:
            self.generator.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise SrbenchError(f"the {what} does not fit the {self.spec.name} generator ({_first_problem(exc)})") from None

    def _check_fits(self, state: dict[str, torch.Tensor], what: str, path: Path) -> None:
        """Refuse weights that do not fit this run's generator, on the CPU, before any heavy work."""
        try:
            build_network(self.spec, self.hyper.arch).load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise SrbenchError(f"the {what} {path} does not fit the {self.spec.name} generator "
                               f"({_first_problem(exc)})") from None

    # -- checkpoints -------------------------------------------------------
    def _sidecar(self, step: int, patches: int, wall: float, complete: bool) -> dict:
        phase = self.plan.phase_at(min(step, self.plan.horizon - 1) if self.plan.horizon else step)
        fast = {
            "enabled": self.hyper.fast,
            "batch": phase.batch,
            "schedule": phase.kind,
            "autocast": "bf16" if self.amp is not None else None,
            "tail": self.tail if self.amp is not None else None,
            "channels_last": self.channels_last,
            "compile": self.cfg.compile_mode,
            "fused_adam": self.fused_adam,
            "cudnn_benchmark": bool(self.device.type == "cuda" and torch.backends.cudnn.benchmark),
            "sync_every": self.sync_every,
        }
        latest = {}
        for record in self.val_history:
            latest[record["dataset"]] = record
        return {
            "method": self.spec.name,
            "iterations": step,
            "patches_seen": patches,
            "wall_time_s": round(wall, 3),
            "complete": complete,
            "planned_iterations": self.plan.horizon,
            "output_range": list(self.spec.output_range),
            "architecture": self.hyper.arch or "default",
            "hyper": self._hyper_json(),
            "config": {k: v for k, v in asdict(self.cfg).items() if k not in ("progress",)},
            "train_data": self.data_info,
            "init": self.init_info,
            "validation": self._first_set_latest(),
            "validation_sets": latest,
            "validation_history": self.val_history,
            "fast_mode": fast,
            "distributed": {"world_size": self.ctx.world_size, "batchnorm": "per-rank (no SyncBatchNorm)"},
            "random_vgg_for_tests": self.random_vgg,
            "resume_state": self._resume_state_note(),
            "segments": self.segments + [self._segment(step, patches)],
            **ckpt.environment_fields(self.device),
        }

    def _first_set_latest(self) -> dict | None:
        first = self.val_history[0]["dataset"] if self.val_history else None
        mine = [r for r in self.val_history if r["dataset"] == first]
        return mine[-1] if mine else None

    def _resume_state_note(self) -> dict:
        """What the resume state holds, or why there is none (an SRGAN lease: the discriminator is not kept)."""
        if self.cfg.resume_state:
            return {"kept": True, "files": ["resume.safetensors", "resume.json"]}
        note = {"kept": False, "why": "--no-resume-state: this run was planned whole and is not meant to be resumed"}
        if self.discriminator is not None:
            n = sum(p.numel() for p in self.discriminator.parameters())
            note["discriminator"] = {
                "kept": False,
                "parameters": n,
                "fp32_bytes": 4 * n,
                "fp32_bytes_with_adam_moments": 12 * n,
                "why": (f"the discriminator ({n / 1e6:.1f} M parameters, {4 * n / 2**20:.0f} MiB in fp32, "
                        f"{12 * n / 2**20:.0f} MiB with its Adam moments) is larger than a GPU lease returns "
                        "(16 MiB per file) and than the repository takes (20 MiB per file); only the generator is "
                        "kept, and the run cannot be continued as the same GAN run"),
            }
        return note

    def _hyper_json(self) -> dict:
        h = asdict(self.hyper)
        h["adam_betas"] = list(h["adam_betas"])
        h["schedule"] = self.plan.to_json()
        h["iters"] = self.plan.horizon
        return h

    def _segment(self, step: int, patches: int) -> dict:
        return {
            "started_utc": self.started_utc,
            "iterations": [self.start_step, step],
            "patches": patches - self.start_patches,
            "wall_time_s": round(time.monotonic() - self.t0, 3),
            "budget_minutes": self.cfg.budget_minutes,
            "device": ckpt.device_name(self.device),
            "world_size": self.ctx.world_size,
            "tail": self.tail if self.amp is not None else None,
            "compile": self.cfg.compile_mode,
        }

    def save(self, step: int, patches: int, *, complete: bool = False) -> None:
        """Write resume state (unless disabled), then the generator checkpoint (rank 0; every rank must call it)."""
        sampler_states = train_dist.gather_states(self.ctx, self.sampler.generator.get_state(), self.device)
        if not self.ctx.is_main:
            return
        wall = self.prev_wall + time.monotonic() - self.t0
        if self.cfg.resume_state:
            tensors, opt_g = flatten_optimizer(self.g_opt.state_dict(), "opt.g")
            optimizers = {"g": opt_g}
            if self.discriminator is not None:
                t_d, opt_d = flatten_optimizer(self.d_opt.state_dict(), "opt.d")
                tensors.update(t_d)
                tensors.update({f"disc.{k}": v for k, v in self.discriminator.state_dict().items()})
                optimizers["d"] = opt_d
            rng_t, rng_m = capture_rng(sampler_states)
            tensors.update(rng_t)
            meta = {
                "step": step,
                "patches_seen": patches,
                "wall_time_s": wall,
                "hyper": self._hyper_json(),
                "optimizers": optimizers,
                "rng": rng_m,
                "segments": self.segments + [self._segment(step, patches)],
                "validation_history": self.val_history,
            }
            save_resume(self.out, tensors, meta)
        ckpt.save_checkpoint(self.out, self.generator.state_dict(), self._sidecar(step, patches, wall, complete))
        self.saved = True
        self.log.info(f"checkpoint: {self.out} at iteration {step} ({patches} patches)")

    # -- the loop ----------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        self.stop_requested = True
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    def run(self) -> TrainResult:
        """Train (see the module docstring); a failure says what this invocation left in the output folder."""
        try:
            try:
                return self._run_invocation()
            except RuntimeError as exc:  # torch.OutOfMemoryError is one
                if not _out_of_memory(exc):
                    raise
                raise SrbenchError(
                    f"out of memory on {self.device} at batch {self.plan.last.batch} with {self.hyper.patch}px crops "
                    f"({_first_line(exc)}); lower --batch or --patch"
                ) from None
        except BaseException as exc:
            if self.log.written and not self.saved:
                note = (f"no checkpoint was written by this invocation; what it logged is in "
                        f"{self.out / 'train.log'} and {self.out / 'metrics.jsonl'}")
                if isinstance(exc, SrbenchError) and exc.args and note not in str(exc):
                    exc.args = (f"{exc.args[0]}; {note}", *exc.args[1:])
                elif isinstance(exc, OSError):  # a full disk, a folder removed under the run: one line too
                    raise SrbenchError(f"{describe_os_error(exc)}; {note}") from exc
                elif not isinstance(exc, SrbenchError):
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
            raise

    def _run_invocation(self) -> TrainResult:
        content_loss = self._content_loss()  # VGG weights checked before any heavy work
        init_state, self.init_info = self._init_weights()
        if self.resume_dir is not None:
            self.init_info = self.prev.get("init")
        self.train_files = list_training_files(self.cfg.train_data)
        self.log = RunLog(self.out, enabled=self.ctx.is_main, echo=self.cfg.progress)
        self.vset = self._validation_set()
        train_dist.init(self.ctx, self.device)
        try:
            result = self._run(content_loss, init_state)
            # every rank reaches the end (rank 0 has written its files) before any rank leaves the group:
            # a rank that exits while its peer still talks to it makes gloo abort the peer (SIGABRT)
            train_dist.barrier(self.ctx)
            return result
        finally:
            self.log.close()
            train_dist.shutdown(self.ctx)

    def _validation_set(self):
        """The validation sets (``--val-data DIR[,DIR...]``; default ``$SRBENCH_DATA/set5``), rank 0 only."""
        from . import validate as train_validate

        if not self.ctx.is_main or (self.cfg.val_data or "").lower() == "none":
            return []
        folders = [f for f in (self.cfg.val_data or "").split(",") if f]
        if not folders:
            default = train_validate.default_validation_folder()
            if default is None:
                self.log.info("no validation set found ($SRBENCH_DATA/set5): validation skipped (use --val-data DIR)")
                return []
            folders = [default]
        return [train_validate.load_validation(folder) for folder in folders]

    def _validate(self, step: int) -> None:
        """Validate on every set, in fp32 with the plain output layer (exactly the network that is saved)."""
        from . import validate as train_validate

        for vset in self.vset:
            t = time.monotonic()
            with plain_output_layer(self.generator):
                result = train_validate.validate(self.generator, vset, output_range=self.spec.output_range,
                                                 device=self.device)
            self.generator.train()
            result = {"step": step, **result, "seconds": round(time.monotonic() - t, 2)}
            self.val_history.append(result)
            self.log.metrics({"kind": "validation", **result})
            self.log.info(f"validation at {step}: {result['dataset']} PSNR {result['psnr']:.3f} dB, SSIM "
                          f"{result['ssim']:.4f} ({result['protocol']} protocol)")

    def _run(self, content_loss: nn.Module, init_state: dict | None) -> TrainResult:
        self.sampler, self.data_info = self._data()
        if self.sampler.skipped:
            self.log.info(f"skipped {self.sampler.skipped} training images smaller than {self.hyper.patch}x{self.hyper.patch}")
        self._build(init_state)
        if self.device.type == "cuda" and self.hyper.fast:
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        runner = StepRunner(
            self.spec, self.generator, self.g_opt, content_loss, device=self.device,
            discriminator=self.discriminator, d_opt=self.d_opt, amp_dtype=self.amp, tail=self.tail,
            channels_last=self.channels_last, compile=self.cfg.compile_mode, dist_ctx=self.ctx,
        )
        self.generator.train()
        self.start_step = self.step = int(self.resume_meta.get("step", 0))
        self.start_patches = self.patches = int(self.resume_meta.get("patches_seen", 0))
        self.prev_wall = float(self.resume_meta.get("wall_time_s", 0.0))
        self.segments = list(self.resume_meta.get("segments", []))
        self.val_history = list(self.resume_meta.get("validation_history", []))
        self.started_utc = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.t0 = time.monotonic()  # wall time of this segment (the budget has its own clock)
        self.budget.start()
        self._announce()
        # The handlers stay in place through the final validation and checkpoint: a SIGTERM arriving
        # there (a wall-clock guard firing just after the budget ran out) must not kill the process
        # before the final checkpoint is written. A second signal still ends it at once.
        with self._signals_caught():
            stop_reason = self._loop(runner)
            step, patches = self.step, self.patches
            if (stop_reason != "interrupted" and self.ctx.is_main
                    and (not self.val_history or self.val_history[-1]["step"] != step)):
                self._validate(step)
            horizon = self.plan.horizon
            self.save(step, patches, complete=horizon is not None and step >= horizon)
        seconds = time.monotonic() - self.t0
        self.log.info(
            f"stopped ({stop_reason}) at iteration {step} of {horizon if horizon is not None else '?'} planned: "
            f"{patches} patches in total, {(patches - self.start_patches) / max(seconds, 1e-9):.0f} patches/s this run"
        )
        return TrainResult(self.out, step, patches, stop_reason, self._first_set_latest(), self.prev_wall + seconds,
                           horizon)

    def _announce(self) -> None:
        h, phase = self.hyper, self.plan.last
        end = phase.end if phase.end is not None else "(planned from the speed after a short probe)"
        self.log.info(
            f"train {self.spec.name}: {'fast' if h.fast else 'paper'} mode, batch {phase.batch}"
            f"{f' x {self.ctx.world_size} ranks' if self.ctx.enabled else ''}, {self.sampler.num_images} images "
            f"({self.sampler.nbytes / 2**20:.0f} MiB resident on {self.device}), {h.patch}px HR crops; "
            f"phase {len(self.plan.phases)} of the plan: iterations {phase.start}..{end}, {phase.kind} lr {phase.base_lr:g}"
            + (f", warm-up {phase.warmup_steps}" if phase.warmup_steps else "")
            + (f"; budget {self.cfg.budget_minutes:g} min" if self.budget.seconds is not None else "")
            + (f"; resuming at {self.step}" if self.step else "")
            + (f"; tail {self.tail}" if self.amp is not None else "")
            + (f"; torch.compile {self.cfg.compile_mode}" if self.cfg.compile_mode else "")
        )

    @contextlib.contextmanager
    def _signals_caught(self):
        """SIGTERM/SIGINT set :attr:`stop_requested` (the loop then checkpoints and stops; during the
        final validation and checkpoint they are noted and the run finishes its checkpoint)."""
        old_handlers = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: no signal handling
                pass
        try:
            yield
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)

    def _loop(self, runner: StepRunner) -> str:
        """Train until the plan's horizon; returns the stop reason ("completed", "budget" or "interrupted").

        Host/device synchronisation happens only at *sync points* (every
        ``sync_every`` steps, at log/validation/checkpoint steps and at the two
        edges of a speed probe): there the accumulated non-finite flag and the
        stop request are combined over ranks, so all ranks stop at the same
        step. Between them nothing is read back from the device.
        """
        st = self._loop_state()
        try:
            while self.plan.horizon is None or self.step < self.plan.horizon:
                phase, lr_now, out = self._train_step(runner, st)
                step = self.step
                self._advance_probe(st, step)
                log_now, val_now, ckpt_now = self._due(step)
                if not (step % self.sync_every == 0 or log_now or val_now or ckpt_now):
                    continue
                self._combine_flags(st, step)  # ---- sync point
                if log_now:
                    self._log_progress(st, step, phase, lr_now, out)
                if val_now and self.ctx.is_main:
                    self._validate(step)
                if ckpt_now:
                    self.save(step, self.patches, complete=step == self.plan.horizon)
                if log_now or val_now or ckpt_now:  # patches/s measures training steps only
                    st.mark_t, st.mark_patches = time.monotonic(), self.patches
                if st.flags[1].item():
                    if self.plan.horizon is not None and step >= self.plan.horizon:
                        return "completed"
                    return "interrupted" if self.stop_requested else "budget"
            return "completed"
        finally:
            st.bar.close()

    def _loop_state(self) -> _LoopState:
        """The loop's running state: progress bar, device-side flags and loss sum, the rate mark, the probe."""
        from tqdm import tqdm

        # The bar counts the run's iterations (a resumed run continues where it stopped) towards the plan's
        # total; a budget-planned phase has no total until its speed probe fixes it (a few dozen steps).
        bar = tqdm(total=self.plan.horizon, initial=self.step, unit="it", dynamic_ncols=True,
                   disable=not (self.cfg.progress and self.ctx.is_main), desc=self.spec.name)
        return _LoopState(bar=bar, flags=torch.zeros(2, device=self.device),  # [non-finite seen, stop requested]
                          loss_sum=torch.zeros(1, device=self.device), mark_t=self.t0, mark_patches=self.patches,
                          probe=self._probe())

    def _train_step(self, runner: StepRunner, st: _LoopState):
        """One optimisation step at the plan's learning rate; flags a non-finite loss on the device (no read-back)."""
        phase = self.plan.phase_at(self.step)
        lr_now = phase.lr(self.step)
        runner.set_lr(lr_now)
        out = runner.step(*self.sampler.sample(phase.batch))
        self.step += 1
        self.patches += phase.batch * self.ctx.world_size
        finite = torch.stack(list(out.values())).isfinite().all()
        st.flags[0] = torch.maximum(st.flags[0], (~finite).float())
        st.loss_sum += out["loss"]
        st.loss_n += 1
        st.bar.update(1)
        return phase, lr_now, out

    def _advance_probe(self, st: _LoopState, step: int) -> None:
        """At a speed probe's edges: synchronise, time, and once it is done fix the budget phase's end."""
        if st.probe is None or not st.probe.wants_sync(step):
            return
        self._synchronize()
        st.probe.mark(step, self.clock())
        if st.probe.done:
            self._fix_budget_phase(st.probe)
            st.probe = None
            st.bar.total = self.plan.horizon
            st.bar.refresh()

    def _due(self, step: int) -> tuple[bool, bool, bool]:
        """Whether ``step`` logs, validates and checkpoints."""
        cfg = self.cfg
        return (bool(cfg.log_every and step % cfg.log_every == 0), bool(cfg.val_every and step % cfg.val_every == 0),
                bool(cfg.ckpt_every and step % cfg.ckpt_every == 0))

    def _combine_flags(self, st: _LoopState, step: int) -> None:
        """A sync point: combine the non-finite and stop flags over ranks; stop on a diverged loss."""
        if self.cfg.stop_after is not None and step - self.start_step >= self.cfg.stop_after:
            self.stop_requested = True
        st.flags[1] = float(self.stop_requested or self.budget.spent())
        train_dist.any_flags(self.ctx, st.flags)
        if st.flags[0].item():
            self._diverged(step)

    def _log_progress(self, st: _LoopState, step: int, phase, lr_now: float, out: dict) -> None:
        """One ``train`` record (mean loss over ranks since the last one, patches/s) and the bar's postfix."""
        mean_loss = train_dist.mean_over_ranks(self.ctx, st.loss_sum / max(st.loss_n, 1)).item()
        now = time.monotonic()
        rate = (self.patches - st.mark_patches) / max(now - st.mark_t, 1e-9)
        record = {"kind": "train", "step": step, "loss": mean_loss, "lr": lr_now, "patches_per_s": rate,
                  "elapsed_s": round(now - self.t0, 3), "batch": phase.batch}
        record.update({k: float(v) for k, v in out.items() if k != "loss"})  # last step's parts
        self.log.metrics(record)
        st.bar.set_postfix(loss=f"{mean_loss:.4g}", patches_s=f"{rate:.0f}", lr=f"{lr_now:.2g}")
        if self.budget.seconds is not None:
            st.bar.set_description(f"{self.spec.name} ({self.budget.left() / 60:.1f} min left)")
        st.loss_sum.zero_()
        st.loss_n = 0

    def _probe(self) -> SpeedProbe | None:
        """A speed probe when the current phase is budget-planned and its end is not fixed yet."""
        phase = self.plan.last
        if phase.end is not None:
            return None
        limit = phase.probe_limit()
        sizes = {}
        if self.cfg.probe_steps is not None:
            sizes = {"steps": self.cfg.probe_steps, "skip": min(PROBE_SKIP, self.cfg.probe_steps // 3)}
        return SpeedProbe(first=self.step, limit=None if limit is None else limit - (self.step - phase.start), **sizes)

    def _fix_budget_phase(self, probe: SpeedProbe) -> None:
        """Fix the probing phase's end from the measured speed (the same on every rank) and record it."""
        rate = train_dist.min_over_ranks(self.ctx, probe.steps_per_second(), self.device)
        left = self.budget.left()
        steps = planned_steps(rate, left)
        a, b = probe.window
        note = (f"{rate:.3f} it/s over iterations {a}..{b} of this segment, {left:.1f} s of the "
                f"{self.budget.seconds:.0f} s budget left, {steps} iterations planned (margin {MARGIN})")
        phase = self.plan.last.fix_end(self.step + steps, self.step - self.plan.last.start, note)
        self.plan = self.plan.with_last(phase)
        self.hyper.schedule, self.hyper.iters = self.plan.to_json(), self.plan.horizon
        self.log.info(f"planned: this phase ends at iteration {phase.end} ({note})")

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _diverged(self, step: int) -> None:
        message = (
            f"non-finite loss (NaN/inf) at or before iteration {step}; stopped. The last good checkpoint "
            f"in {self.out} (if any) is kept. Try a lower --lr" + (" or running without --fast" if self.hyper.fast else "")
        )
        self.log.info(message)
        raise TrainingDiverged(message)


def _out_of_memory(exc: RuntimeError) -> bool:
    """True for a failed allocation: CUDA's OutOfMemoryError, or the CPU allocator's "can't allocate memory"."""
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    line = line.split("DefaultCPUAllocator: ", 1)[-1]  # drop the C++ assertion's location
    return line if len(line) <= 200 else line[:197] + "..."


def available_memory(device: torch.device) -> int | None:
    """Bytes this process may still allocate on ``device`` (None if unknown).

    CUDA: the free device memory. CPU: ``MemAvailable`` of /proc/meminfo, capped by the
    address-space limit (``ulimit -v``) if one is set.
    """
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    free = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            free = soft if free is None else min(free, soft)
    except (ImportError, OSError, ValueError):
        pass
    return free


def _first_problem(exc: RuntimeError) -> str:
    """The informative part of ``load_state_dict``'s error (its first line only names the class)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 else (lines[0] if lines else str(exc))
    return detail if len(detail) <= 240 else detail[:237] + "..."


def check_writable(folder: Path, flag: str) -> None:
    """Raise :class:`SrbenchError` unless ``folder`` exists as a writable folder or could be created.

    Nothing is left behind: the nearest existing folder is probed by making and removing a folder in it.
    """
    for parent in [folder, *folder.absolute().parents]:
        if parent.exists():
            if not parent.is_dir():
                raise SrbenchError(f"cannot create {flag} {folder}: {parent} is a file, not a folder")
            try:
                remove_tree(make_staging_dir(parent, prefix=".srbench-write-test-"))
            except OSError as exc:
                raise SrbenchError(f"cannot write {flag} {folder}: {parent} is not writable "
                                   f"({exc.strerror or exc})") from None
            return


def train(cfg: TrainConfig, *, clock: Clock | None = None) -> TrainResult:
    """Run (or continue) one training run; see the module docstring. Raises :class:`SrbenchError` on mistakes.

    ``clock`` (seconds, monotonic) drives ``--budget-minutes`` and the speed probe; tests inject one.
    """
    return Trainer(cfg, clock=clock).run()
