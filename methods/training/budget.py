"""Wall-clock budgets: where a segment stops, and how a budget-planned phase fixes its end.

``--budget-minutes M`` bounds one invocation (a *segment*): at each sync point
the trainer asks :meth:`Budget.spent`. It never changes the learning-rate
plan, with one exception made at the start of a phase: a ``--fast`` run (or a
new phase of one) given a budget but no ``--iters`` *plans* its end from its
own measured speed. :class:`SpeedProbe` times a few whole steps early in the
phase (after ``skip`` steps of warm-up: cuDNN autotuning, compilation), and
:func:`planned_steps` turns the rate into the number of iterations that fit
in what is left of the budget, times :data:`MARGIN` (periodic validation and
checkpoints also take time). Steps run while probing use rates that do not
depend on the end (:meth:`srbench.methods.training.schedule.Phase.lr_ignores_end`). The
end is then fixed and recorded, so resuming continues that plan exactly.

Time comes from an injectable ``clock`` (seconds, monotonic): the trainer's
default is :func:`time.monotonic`; tests pass a deterministic one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

Clock = Callable[[], float]

MARGIN = 0.93  # share of the remaining budget planned for training steps
PROBE_SKIP = 10  # steps before the timed window (autotuning, compile, allocator warm-up)
PROBE_STEPS = 30  # timed steps


@dataclass
class Budget:
    """One segment's wall-clock budget (``seconds`` None: unlimited), measured from :meth:`start`."""

    seconds: float | None
    clock: Clock = time.monotonic
    t0: float = 0.0

    def start(self) -> None:
        self.t0 = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def spent(self) -> bool:
        return self.seconds is not None and self.elapsed() >= self.seconds

    def left(self) -> float:
        return math.inf if self.seconds is None else max(0.0, self.seconds - self.elapsed())


@dataclass
class SpeedProbe:
    """Times the steps ``[first + skip, first + skip + steps)`` of a segment (``first``: its first step index).

    The trainer calls :meth:`wants_sync` after each step; at the two window
    edges it synchronises the device and calls :meth:`mark`. ``limit``
    (phase steps that may run before the end is fixed) shortens the window.
    """

    first: int
    limit: int | None = None
    skip: int = PROBE_SKIP
    steps: int = PROBE_STEPS
    marks: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limit is not None:
            room = max(2, self.limit)
            self.skip = min(self.skip, room // 4)
            self.steps = max(1, min(self.steps, room - self.skip - 1))

    @property
    def window(self) -> tuple[int, int]:
        return self.first + self.skip, self.first + self.skip + self.steps

    def wants_sync(self, step_done: int) -> bool:
        """Whether the state after iteration count ``step_done`` is a window edge."""
        return step_done in self.window and step_done not in self.marks

    def mark(self, step_done: int, now: float) -> None:
        self.marks[step_done] = now

    @property
    def done(self) -> bool:
        return all(edge in self.marks for edge in self.window)

    def steps_per_second(self) -> float:
        a, b = self.window
        return (b - a) / max(self.marks[b] - self.marks[a], 1e-9)


def planned_steps(steps_per_second: float, seconds_left: float, margin: float = MARGIN) -> int:
    """Iterations that fit in ``seconds_left`` at ``steps_per_second``, times ``margin`` (at least 0)."""
    if not (math.isfinite(steps_per_second) and steps_per_second > 0):
        return 0
    return max(0, math.floor(steps_per_second * max(0.0, seconds_left) * margin))
