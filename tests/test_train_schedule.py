"""Learning-rate plans (phases fixed when they start) and the budget planner, without training anything."""

from __future__ import annotations

import math

import pytest

from srbench.methods.training.budget import SpeedProbe, planned_steps
from srbench.methods.training.schedule import Phase, Plan


def test_warmup_cosine_warms_up_then_decays_to_the_floor():
    p = Phase(100, 1100, 256, "warmup-cosine", 6e-4, warmup_steps=200)
    assert p.lr(100) == pytest.approx(6e-4 / 200)
    assert p.lr(299) == pytest.approx(6e-4)
    assert p.lr(300) == pytest.approx(6e-4)  # cosine starts at the peak
    assert p.lr(700) == pytest.approx(6e-4 * (0.01 + 0.99 * 0.5))  # halfway through the decay
    assert p.lr(1099) == pytest.approx(6e-4 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 799 / 800))))
    rates = [p.lr(i) for i in range(300, 1100)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_the_warm_up_does_not_depend_on_the_end():
    """What lets a budget-planned phase train its probe steps before its end is fixed."""
    open_phase = Phase(0, None, 4, "warmup-cosine", 1e-3, warmup_steps=50)
    for end in (51, 400, 10_000):
        fixed = open_phase.fix_end(end, steps_done=40)
        assert [fixed.lr(i) for i in range(40)] == [open_phase.lr(i) for i in range(40)]
    with pytest.raises(ValueError, match="no end yet"):
        open_phase.lr(50)
    assert open_phase.fix_end(10, steps_done=40).end == 51  # never ends inside the warm-up it already ran


def test_piecewise_is_the_papers_step_as_fractions_of_the_phase():
    p = Phase(0, 8, 64, "piecewise", 1e-4, milestones=((0.5, 0.1),))
    assert [p.lr(i) for i in range(8)] == [1e-4] * 4 + [pytest.approx(1e-5)] * 4
    open_phase = Phase(0, None, 64, "piecewise", 1e-4, milestones=((0.5, 0.1),))
    assert open_phase.lr(30) == 1e-4
    # 40 steps ran at 1e-4 before the end was fixed: the drop may not come before them
    assert open_phase.fix_end(60, steps_done=40).end == 81


def test_plans_are_contiguous_and_find_the_phase_of_a_step():
    a = Phase(0, 10, 64, "legacy-budget", 3e-4, warmup_steps=200)
    b = Phase(10, 20, 256, "warmup-cosine", 6e-4, warmup_steps=2)
    plan = Plan((a, b))
    assert plan.horizon == 20 and plan.phase_at(9) is a and plan.phase_at(10) is b
    assert plan.lr(10) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match="cannot be recomputed"):
        plan.lr(3)
    with pytest.raises(ValueError, match="outside the plan"):
        plan.phase_at(20)
    with pytest.raises(ValueError, match="contiguous"):
        Plan((a, Phase(11, 20, 4, "piecewise", 1e-4)))
    assert Plan.from_json(plan.to_json()) == plan


def test_runs_saved_before_plans_existed_are_converted():
    old_cosine = {"kind": "cosine", "base_lr": 3e-4, "milestones": [], "warmup_steps": 200, "min_lr_ratio": 0.01}
    # budgeted in minutes (the seed checkpoint): history only, the plan ends where the run stopped
    seed = Plan.from_hyper(old_cosine, iters=None, batch=64, step=23930)
    assert [(p.kind, p.start, p.end, p.batch) for p in seed.phases] == [("legacy-budget", 0, 23930, 64)]
    # with a total: the old formula continues exactly (warm-up factor times a cosine over the whole run)
    total = Plan.from_hyper(old_cosine, iters=1000, batch=64, step=500)
    for step in (0, 150, 500, 999):
        warm = min(1.0, (step + 1) / 200)
        expected = 3e-4 * warm * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / 1000)))
        assert total.lr(step) == pytest.approx(expected, rel=1e-12)
    old_piecewise = {"kind": "piecewise", "base_lr": 1e-3, "milestones": [[2 / 3, 0.1]], "warmup_steps": 0}
    srcnn = Plan.from_hyper(old_piecewise, iters=3000, batch=16, step=0)
    assert srcnn.lr(1999) == 1e-3 and srcnn.lr(2000) == pytest.approx(1e-4)


def test_speed_probe_window_and_the_planned_steps():
    probe = SpeedProbe(first=100)
    assert probe.window == (110, 140)
    assert [s for s in range(100, 150) if probe.wants_sync(s)] == [110, 140]
    probe.mark(110, 5.0)
    probe.mark(140, 8.0)
    assert probe.done and probe.steps_per_second() == pytest.approx(10.0)
    assert planned_steps(10.0, 100.0, margin=0.9) == 900
    assert planned_steps(10.0, -5.0) == 0 and planned_steps(float("nan"), 100.0) == 0
    short = SpeedProbe(first=0, limit=20)  # a 20-step warm-up: the window stays inside it
    assert short.window[1] < 20
