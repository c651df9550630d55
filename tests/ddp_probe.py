"""A few DistributedDataParallel steps of the trainer's own StepRunner; run by tests/test_train_ddp.py.

    python -m torch.distributed.run --nproc_per_node 2 --standalone tests/ddp_probe.py OUT_DIR

Each rank (gloo, CPU) builds the same network (seed 0), wraps it through
:class:`srbench.methods.training.step.StepRunner` with its ``DistContext`` (so
DDP is set up exactly as ``srbench train`` sets it up) and takes ``STEPS``
Adam steps on its own SYNTHETIC batch (uniform noise, not images; seeded by
step and rank, see :func:`synthetic_batch`). It saves, per case, its
gradients after the first step and its parameters and buffers after every
step to ``OUT_DIR/<case>.rank<r>.pt``; the test compares them with
single-process references. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from srbench.methods.training import dist as train_dist
from srbench.methods.losses import build_content_loss
from srbench.methods.specs import build_network
from srbench.methods.training.config import get_spec
from srbench.methods.training.step import StepRunner, make_adam

# case -> (trainable method, architecture override): ESPCN has no BatchNorm; the tiny SRResNet has
# per-rank BatchNorm (methods/training/dist.py), which changes what a 1-process equivalent is.
CASES = {"espcn": ("espcn", None), "srresnet": ("srresnet-mse", {"num_blocks": 1, "channels": 8})}
STEPS = 3
BATCH = 4  # per rank
LR_SIDE = 8  # LR patch side; the HR side is 4x
LEARNING_RATE = 1e-3


def synthetic_batch(step: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SYNTHETIC ``(lr, hr01)`` for ``rank`` at ``step``: uniform noise in [0, 1], seeded by (step, rank)."""
    g = torch.Generator().manual_seed(1000 * step + rank)
    lr = torch.rand(BATCH, 3, LR_SIDE, LR_SIDE, generator=g)
    hr = torch.rand(BATCH, 3, 4 * LR_SIDE, 4 * LR_SIDE, generator=g)
    return lr, hr


class PerRankHalves(torch.nn.Module):
    """Runs ``inner`` separately on each of ``parts`` equal slices of the batch and concatenates.

    One process, the same arithmetic as DDP with per-rank BatchNorm: each slice is normalised with
    its own batch statistics, and the mean pixel loss over the whole batch is the mean of the
    slices' losses. The BatchNorm running statistics take only the first slice's update, as DDP's
    ``broadcast_buffers`` keeps rank 0's (momentum 0 for the other slices: ``(1 - 0) * running + 0 *
    batch`` leaves them unchanged exactly; their batch counters are put back).
    """

    def __init__(self, inner: torch.nn.Module, parts: int = 2) -> None:
        super().__init__()
        self.inner, self.parts = inner, parts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norms = [m for m in self.inner.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        outputs = [self.inner(part) if i == 0 else self._without_stat_update(norms, part)
                   for i, part in enumerate(x.chunk(self.parts))]
        return torch.cat(outputs)

    def _without_stat_update(self, norms: list, part: torch.Tensor) -> torch.Tensor:
        saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
        for m in norms:
            m.momentum = 0.0
        try:
            return self.inner(part)
        finally:
            with torch.no_grad():
                for m, (momentum, count) in zip(norms, saved):
                    m.momentum = momentum
                    m.num_batches_tracked.copy_(count)


def make_runner(case: str, ctx: train_dist.DistContext = train_dist.DistContext(),
                wrap=None) -> tuple[StepRunner, torch.nn.Module]:
    """The case's network (seed 0) and a StepRunner over it; ``wrap`` optionally wraps the network."""
    method, arch = CASES[case]
    spec = get_spec(method)
    torch.manual_seed(0)
    model = build_network(spec, arch)
    trained = wrap(model) if wrap is not None else model
    opt = make_adam(trained.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), fused=False)
    runner = StepRunner(spec, trained, opt, build_content_loss("mse"), device=torch.device("cpu"), dist_ctx=ctx)
    return runner, model


def main(out: Path) -> None:
    torch.set_num_threads(1)
    ctx = train_dist.from_environment()
    assert ctx.world_size == 2, "run under torchrun with --nproc_per_node 2"
    train_dist.init(ctx, torch.device("cpu"))
    try:
        for case in CASES:
            runner, model = make_runner(case, ctx)
            record: dict[str, dict[str, torch.Tensor]] = {}
            for step in range(STEPS):
                runner.step(*synthetic_batch(step, ctx.rank))
                if step == 0:
                    record["grad"] = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
                record[f"params.{step}"] = {n: p.detach().clone() for n, p in model.named_parameters()}
                record[f"buffers.{step}"] = {n: b.detach().clone() for n, b in model.named_buffers()}
            torch.save(record, out / f"{case}.rank{ctx.rank}.pt")
    finally:
        train_dist.shutdown(ctx)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
