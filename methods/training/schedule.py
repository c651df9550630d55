"""A run's learning-rate plan: phases over planned iteration ranges, fixed when each phase starts.

A training run follows a :class:`Plan`, a list of :class:`Phase` objects. A
phase covers iterations ``[start, end)`` with one batch size and one
learning-rate rule. Its ``end`` (the *horizon*) is fixed when the phase begins
- from ``--iters``, or, for a budget-planned phase, from the measured speed
right after a short probe (see :mod:`srbench.methods.training.budget`) - and is stored
with the run (``hyper.schedule`` in the sidecar and the resume state).
``--budget-minutes`` and SIGTERM/SIGINT only decide where an invocation (a
*segment*) stops: the learning rate of iteration ``i`` is ``plan.lr(i)``
whichever segment runs it, so N segments equal one uninterrupted run.

Rules (``Phase.kind``), ``k = step - start``, ``L = end - start``:

* ``"piecewise"`` - ``base_lr`` times the factor of the last milestone
  ``(fraction, factor)`` with ``k / L >= fraction`` (the paper: SRResNet none;
  SRGAN ``(0.5, 0.1)``, 1e-4 then 1e-5);
* ``"warmup-cosine"`` - ``--fast`` for non-adversarial methods: linear warm-up
  ``base_lr * (k + 1) / W`` for ``k < W``, then cosine decay from ``base_lr``
  to ``min_lr_ratio * base_lr`` over the remaining ``L - W`` iterations. The
  warm-up does not depend on ``end``, which lets a budget-planned phase fix
  its end after probing the speed during the warm-up;
* ``"cosine"`` - the formula of runs made before plans existed (warm-up factor
  times a cosine over the whole phase), kept so that such runs continue exactly;
* ``"legacy-budget"`` - iterations trained before plans existed by
  ``--budget-minutes`` invocations, each of which restarted its own warm-up and
  cosine over its own wall-clock time (the seed checkpoint
  ``results/checkpoints/srresnet-mse``: two such segments). That schedule
  cannot be recomputed; such a phase is history only, and continuing the run
  starts a new phase.

Extending a run past the end of its plan (``--iters N`` larger than the
horizon, or ``--budget-minutes`` in fast mode) appends a new phase with the
run's rule over the new range: for cosine rules this is a planned warm
restart, recorded as such.

Campaigns of short GPU leases (``bench/gpu_lease.sh``). GPU time comes in
leases of ~7 training minutes, drawn by chance, so no lease may count on a
later one. Each lease therefore plans ONE phase that ends inside it (the
budget-planned end): every lease returns a model whose learning rate has
annealed, and the run grows by one recorded warm restart per lease. A
campaign that does know its future (K leases) may instead fix one long
horizon with ``--iters`` (for example 300k iterations at batch 256, 77 M
patches, about K = 11 leases of 7 minutes at 15k patches/s) and resume it K
times; its checkpoints in between are then mid-schedule and score lower until
the last. A lease that is cut short (SIGTERM) leaves its phase unfinished; the
next lease finishes that phase first, then plans a new one. The seed
checkpoint (``results/checkpoints/srresnet-mse``, two budget-timed cycles from
before plans existed) is a ``legacy-budget`` phase ``[0, 23930)``: its
history is kept as it is, and the next lease starts phase 2 at 23,930.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace

KINDS = ("piecewise", "warmup-cosine", "cosine", "legacy-budget")


@dataclass(frozen=True)
class Phase:
    """Iterations ``[start, end)`` at ``batch`` patches per step (per process), learning rate by ``kind``.

    ``end`` is None only while a budget-planned phase is probing its speed.
    ``planned_by``: ``"iters"`` (given), ``"budget"`` (from the measured speed),
    ``"legacy"`` (converted from a run made before plans existed).
    ``plan_note`` says how a budget-planned end was computed.
    """

    start: int
    end: int | None
    batch: int
    kind: str
    base_lr: float
    warmup_steps: int = 0
    min_lr_ratio: float = 0.01
    milestones: tuple[tuple[float, float], ...] = ()
    planned_by: str = "iters"
    plan_note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown schedule kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"a phase must end after it starts, got [{self.start}, {self.end})")

    def lr(self, step: int) -> float:
        """Learning rate of the iteration with 0-based index ``step`` (inside this phase)."""
        k = step - self.start
        if self.kind == "legacy-budget":
            raise ValueError(
                f"iterations {self.start}..{self.end} were trained under budget-timed schedules that cannot be "
                "recomputed; continue the run in a new phase"
            )
        if self.end is None and not self.lr_ignores_end(k):
            raise ValueError(f"phase starting at {self.start} has no end yet; its rate at step {step} depends on it")
        length = (self.end - self.start) if self.end is not None else None
        if self.kind == "piecewise":
            factor = 1.0
            for at, f in self.milestones:
                if length is not None and k / length >= at:
                    factor = f
            return self.base_lr * factor
        floor = self.min_lr_ratio
        if self.kind == "warmup-cosine":
            if k < self.warmup_steps:
                return self.base_lr * (k + 1) / self.warmup_steps
            t = min(1.0, (k - self.warmup_steps) / max(1, length - self.warmup_steps))
            return self.base_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))
        # "cosine": the pre-plan formula (progress over the whole phase, warm-up as a factor)
        warm = min(1.0, (k + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        progress = min(max(k / length, 0.0), 1.0)
        return self.base_lr * warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    def lr_ignores_end(self, k: int) -> bool:
        """Whether the rate of phase step ``k`` is the same whatever ``end`` is fixed later (see :meth:`fix_end`)."""
        if self.kind == "warmup-cosine":
            return k < self.warmup_steps
        return self.kind == "piecewise"  # kept true by fix_end's lower bound

    def probe_limit(self) -> int | None:
        """Phase steps that may run before ``end`` is fixed (None: no limit)."""
        if self.kind == "warmup-cosine":
            return self.warmup_steps
        return None if self.kind == "piecewise" else 0

    def fix_end(self, end: int, steps_done: int, note: str = "") -> "Phase":
        """This phase with ``end`` fixed, never shorter than the ``steps_done`` already trained need.

        The first ``steps_done`` phase steps ran with ``end`` unknown; the end is
        raised if needed so that their rates stay what they were: past the
        warm-up (warmup-cosine) and before the first milestone (piecewise).
        """
        least = self.start + max(steps_done, 1)
        if self.kind == "warmup-cosine":
            least = max(least, self.start + self.warmup_steps + 1)
        if self.kind == "piecewise" and self.milestones:
            first = min(at for at, _ in self.milestones)
            if first > 0:
                least = max(least, self.start + math.floor(steps_done / first) + 1)
        return replace(self, end=max(end, least), plan_note=note)

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict) -> "Phase":
        data = dict(data)
        data["milestones"] = tuple(tuple(m) for m in data.get("milestones", ()))
        return cls(**data)


@dataclass(frozen=True)
class Plan:
    """A run's phases, in order and contiguous."""

    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a plan needs at least one phase")
        for a, b in zip(self.phases, self.phases[1:]):
            if a.end != b.start:
                raise ValueError(f"phases must be contiguous: one ends at {a.end}, the next starts at {b.start}")

    @property
    def horizon(self) -> int | None:
        """The planned total of iterations (the last phase's end; None while it is being planned)."""
        return self.phases[-1].end

    @property
    def last(self) -> Phase:
        return self.phases[-1]

    def phase_at(self, step: int) -> Phase:
        """The phase that trains iteration ``step``."""
        for phase in self.phases:
            if phase.start <= step and (phase.end is None or step < phase.end):
                return phase
        raise ValueError(f"iteration {step} is outside the plan (horizon {self.horizon})")

    def lr(self, step: int) -> float:
        return self.phase_at(step).lr(step)

    def append(self, phase: Phase) -> "Plan":
        return Plan(self.phases + (phase,))

    def with_last(self, phase: Phase) -> "Plan":
        return Plan(self.phases[:-1] + (phase,))

    def to_json(self) -> dict:
        return {"phases": [p.to_json() for p in self.phases]}

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        return cls(tuple(Phase.from_json(p) for p in data["phases"]))

    @classmethod
    def from_hyper(cls, schedule: dict, *, iters: int | None, batch: int, step: int) -> "Plan":
        """The plan stored in ``hyper.schedule``, or the equivalent of a run saved before plans existed.

        Such a run stored one schedule (``kind``, ``base_lr``, ``milestones`` as
        fractions, ...) and ``iters`` (its total, or None for a run budgeted in
        minutes). With a total it becomes one phase over ``[0, iters)`` with the
        same formula (it continues exactly); budgeted in minutes, its ``step``
        iterations become one ``legacy-budget`` phase (history only).
        """
        if "phases" in schedule:
            return cls.from_json(schedule)
        common = dict(base_lr=schedule["base_lr"], warmup_steps=schedule.get("warmup_steps", 0),
                      min_lr_ratio=schedule.get("min_lr_ratio", 0.01),
                      milestones=tuple(tuple(m) for m in schedule.get("milestones", ())), planned_by="legacy")
        if iters is not None:
            return cls((Phase(0, iters, batch, schedule["kind"], **common),))
        if step < 1:
            raise ValueError("a run budgeted in minutes with no iterations has no history to convert")
        note = "budget-timed segments before plans existed: each restarted its warm-up and schedule"
        return cls((Phase(0, step, batch, "legacy-budget", **common, plan_note=note),))
