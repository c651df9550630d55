"""Multi-process training under ``torchrun``: who am I, and the few collectives the trainer needs.

``srbench train`` runs unchanged under ``torchrun --nproc_per_node N``: the
launcher's ``RANK`` / ``LOCAL_RANK`` / ``WORLD_SIZE`` variables switch on
DistributedDataParallel (NCCL on CUDA, gloo on the CPU). Each rank draws its
own crops (per-rank sampler seed); gradients are averaged by DDP; rank 0
alone validates, logs and writes checkpoints.

BatchNorm choice: **per-rank BatchNorm** (not SyncBatchNorm). Each rank
normalises over its own ``--batch`` patches, which with the paper's batch of
16 per rank is exactly the paper's BN batch; SyncBatchNorm would add one
all-reduce per BN layer (34 in SRResNet) to every step. DDP's default
``broadcast_buffers=True`` copies rank 0's running statistics to every rank
at each forward, so the saved running statistics are rank 0's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run (a single process is rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> DistContext:
    """Read torchrun's variables (absent: a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    return DistContext(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world)


def init(ctx: DistContext, device: torch.device) -> None:
    """Join the process group (NCCL for CUDA devices, gloo otherwise); no-op for one process."""
    if ctx.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, rank: int) -> int:
    """A 32-bit seed for ``rank``'s data sampler, derived from (seed, rank) by numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def any_flags(ctx: DistContext, flags: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum of a small float tensor of flags over all ranks (in place)."""
    if ctx.enabled:
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return flags


def mean_over_ranks(ctx: DistContext, values: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over all ranks (in place)."""
    if ctx.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= ctx.world_size
    return values


def min_over_ranks(ctx: DistContext, value: float, device: torch.device) -> float:
    """The smallest ``value`` over all ranks (a plain float; one collective)."""
    if not ctx.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return float(t.item())


def gather_states(ctx: DistContext, state: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
    """Every rank's ``uint8`` generator state (same length on all ranks), in rank order, on the CPU."""
    if not ctx.enabled:
        return [state.cpu()]
    local = state.to(device)
    parts = [torch.empty_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(parts, local)
    return [p.cpu() for p in parts]


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()
