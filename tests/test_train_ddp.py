"""``srbench train`` under torchrun: 2 CPU processes, gloo backend, DistributedDataParallel, tiny network.

What is proven here, and how (see also tests/ddp_probe.py):

* gradients are averaged over the ranks: after a DDP step each rank holds exactly
  (g0 + g1) / 2 of the two ranks' local gradients (measured difference 0: halving is exact in
  binary floating point and a sum of two terms does not depend on their order);
* both ranks hold bit-identical parameters after every step;
* a 2-process run equals a 1-process run over the same global batch. For ESPCN (no BatchNorm) that
  1-process run is the plain one on the concatenated batch (measured max difference 7.5e-7 after
  3 Adam steps at lr 1e-3; tolerance 1e-5, while one step moves weights by 3e-3). SRResNet uses
  per-rank BatchNorm (methods/training/dist.py): each rank normalises over its own batch, so its
  1-process equivalent normalises each rank's half separately (``PerRankHalves``; measured
  difference 0); normalising over the whole global batch differs by 2e-3 (asserted, as the sign
  that per-rank BatchNorm is what runs);
* the trainer itself (``srbench train`` under torchrun) matches that 1-process run from the
  ranks' own crop streams, and a 2-rank run interrupted and resumed ends bit-identical to the
  uninterrupted one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ddp_probe import CASES, STEPS, PerRankHalves, make_runner, synthetic_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WEIGHT_TOLERANCE = 1e-5  # see the module docstring: 13x the largest measured difference, 300x below a step


TINY = ["--batch", "4", "--patch", "32", "--blocks", "1", "--channels", "8", "--device", "cpu",
        "--val-data", "none", "--no-progress"]


def _images(train_root: Path, tmp_path: Path) -> Path:
    images = tmp_path / "t91"
    images.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:8]:
        (images / p.name).symlink_to(p)
    return images


def _torchrun_command(args: list[str], cwd: Path, *, expect_rc: int = 0) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == expect_rc, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _torchrun(args: list[str], cwd: Path, *, expect_rc: int = 0) -> subprocess.CompletedProcess:
    return _torchrun_command(["-m", "srbench", "train", *args, *TINY], cwd, expect_rc=expect_rc)


# ---------------------------------------------------------------- DDP arithmetic (tests/ddp_probe.py)
@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict[str, list[dict]]:
    """Both ranks' records of tests/ddp_probe.py, per case: ``{case: [rank0, rank1]}``."""
    out = tmp_path_factory.mktemp("ddp_probe")
    _torchrun_command([str(PROJECT_ROOT / "tests" / "ddp_probe.py"), str(out)], out)
    return {case: [torch.load(out / f"{case}.rank{r}.pt") for r in (0, 1)] for case in CASES}


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("case", list(CASES))
def test_ddp_step_averages_the_ranks_gradients(probe, case):
    local = []
    for rank in (0, 1):  # each rank's own gradient, one process, same initial weights
        runner, model = make_runner(case)
        runner.step(*synthetic_batch(0, rank))
        local.append({n: p.grad.clone() for n, p in model.named_parameters()})
    # the two ranks' gradients differ clearly, so averaging is observable (not one rank's, not the sum)
    assert _max_diff(local[0], local[1]) > 1e-3
    for rank, record in enumerate(probe[case]):
        for name, grad in record["grad"].items():
            assert torch.equal(grad, (local[0][name] + local[1][name]) / 2), (case, rank, name)


@pytest.mark.parametrize("case", list(CASES))
def test_ddp_ranks_hold_identical_weights_after_every_step(probe, case):
    rank0, rank1 = probe[case]
    for step in range(STEPS):
        for name, value in rank0[f"params.{step}"].items():
            assert torch.equal(value, rank1[f"params.{step}"][name]), (case, step, name)


def _one_process_run(case: str, wrap=None) -> list[tuple[dict, dict]]:
    """``STEPS`` single-process steps over the global batch (rank 0's batch, then rank 1's):
    ``[(params, buffers)]`` after each step."""
    runner, model = make_runner(case, wrap=wrap)
    states = []
    for step in range(STEPS):
        (lr0, hr0), (lr1, hr1) = synthetic_batch(step, 0), synthetic_batch(step, 1)
        runner.step(torch.cat([lr0, lr1]), torch.cat([hr0, hr1]))
        states.append((_params(model), {n: b.clone() for n, b in model.named_buffers()}))
    return states


def test_two_process_espcn_equals_one_process_over_the_global_batch(probe):
    rank0 = probe["espcn"][0]
    for step, (params, _) in enumerate(_one_process_run("espcn")):
        assert _max_diff(rank0[f"params.{step}"], params) <= WEIGHT_TOLERANCE, step


def test_two_process_srresnet_is_per_rank_batchnorm_over_the_global_batch(probe):
    rank0, rank1 = probe["srresnet"]
    per_rank_bn = _one_process_run("srresnet", wrap=PerRankHalves)
    global_bn = _one_process_run("srresnet")
    for step in range(STEPS):
        params, buffers = per_rank_bn[step]
        assert _max_diff(rank0[f"params.{step}"], params) <= WEIGHT_TOLERANCE, step
        # rank 0's running statistics (the ones a checkpoint saves) come from rank 0's batches only
        assert _max_diff(rank0[f"buffers.{step}"], buffers) <= WEIGHT_TOLERANCE, step
        # BatchNorm over the whole global batch (SyncBatchNorm's arithmetic) is another run
        assert _max_diff(rank0[f"params.{step}"], global_bn[step][0]) > 100 * WEIGHT_TOLERANCE, step
    # rank 1's own running statistics differ until the next forward copies rank 0's (broadcast_buffers)
    assert _max_diff(rank0[f"buffers.{STEPS - 1}"], rank1[f"buffers.{STEPS - 1}"]) > 0


# ---------------------------------------------------------------- the trainer under torchrun
STRAIGHT = ["--method", "srresnet-mse", "--iters", "80", "--lr", "1e-3", "--log-every", "10", "--ckpt-every", "40"]


@pytest.fixture(scope="module")
def straight_run(train_root, tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """``(images, out, process)`` of one uninterrupted 2-rank run of 80 iterations."""
    base = tmp_path_factory.mktemp("ddp_train")
    images = _images(train_root, base)
    out = base / "run"
    proc = _torchrun([*STRAIGHT, "--train-data", str(images), "--out", str(out)], base)
    return images, out, proc


@pytest.mark.slow
def test_two_process_training_learns_and_rank0_alone_writes(straight_run):
    images, out, proc = straight_run
    assert proc.stdout.count("completed at iteration 80") == 1  # only rank 0 reports

    # exactly one checkpoint (and its resume state), nothing written by rank 1
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.jsonl", "model.json", "model.safetensors", "resume.json", "resume.safetensors", "train.log"]
    log = (out / "train.log").read_text()
    assert log.count("train srresnet-mse:") == 1 and "x 2 ranks" in log

    side = json.loads((out / "model.json").read_text())
    assert side["distributed"]["world_size"] == 2
    assert (side["iterations"], side["patches_seen"]) == (80, 80 * 4 * 2)

    # both ranks' crop generators are saved, and they differ (per-rank seeds)
    state = load_file(str(out / "resume.safetensors"))
    assert not (state["rng.sampler.0"] == state["rng.sampler.1"]).all()

    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:2]) / 2, losses


@pytest.mark.slow
def test_two_process_trainer_equals_one_process_over_the_ranks_crops(straight_run):
    """The 2-rank ``srbench train`` run against one process drawing both ranks' crop streams."""
    from srbench.methods.losses import build_content_loss
    from srbench.methods.specs import build_network
    from srbench.methods.training.config import get_spec
    from srbench.methods.training.data import PatchSampler, list_training_files
    from srbench.methods.training.dist import rank_seed
    from srbench.methods.training.step import StepRunner, make_adam

    images, out, _ = straight_run
    side = json.loads((out / "model.json").read_text())
    hyper = side["hyper"]
    phases = hyper["schedule"]["phases"]  # one phase at a constant lr (SRResNet has no milestone)
    assert [(ph["kind"], ph["milestones"], ph["start"], ph["end"]) for ph in phases] == [("piecewise", [], 0, 80)]
    files = list_training_files([images])
    samplers = [PatchSampler.from_files(files, hr_patch=hyper["patch"], device="cpu", seed=rank_seed(hyper["seed"], r))
                for r in (0, 1)]
    torch.manual_seed(hyper["seed"])  # the trainer's initial weights
    model = build_network(get_spec("srresnet-mse"), {"num_blocks": 1, "channels": 8})
    halves = PerRankHalves(model)
    runner = StepRunner(get_spec("srresnet-mse"), halves,
                        make_adam(halves.parameters(), lr=hyper["lr"], betas=tuple(hyper["adam_betas"]), fused=False),
                        build_content_loss("mse"), device=torch.device("cpu"))
    for _ in range(side["iterations"]):
        (lr0, hr0), (lr1, hr1) = (s.sample(hyper["batch"]) for s in samplers)
        runner.step(torch.cat([lr0, lr1]), torch.cat([hr0, hr1]))
    saved = load_file(str(out / "model.safetensors"))
    reference = model.state_dict()
    assert saved.keys() == reference.keys()
    assert _max_diff(saved, dict(reference)) <= WEIGHT_TOLERANCE
    # the crop streams are the trainer's: the saved per-rank sampler states are where these ended
    state = load_file(str(out / "resume.safetensors"))
    for r, sampler in enumerate(samplers):
        assert torch.equal(state[f"rng.sampler.{r}"], sampler.generator.get_state())


@pytest.mark.slow
def test_two_process_run_interrupted_and_resumed_equals_the_straight_run(straight_run):
    images, straight, _ = straight_run
    split = straight.parent / "split"
    common = [*STRAIGHT, "--train-data", str(images), "--out", str(split)]
    # --stop-after: as if interrupted (SIGTERM) after 40 iterations; every rank exits 130, torchrun 1
    proc = _torchrun([*common, "--stop-after", "40"], split.parent, expect_rc=1)
    assert "exitcode  : 130" in proc.stderr
    first = json.loads((split / "model.json").read_text())
    assert first["iterations"] == 40 and first["complete"] is False
    _torchrun([*common, "--resume", str(split)], split.parent)
    side = json.loads((split / "model.json").read_text())
    assert side["iterations"] == 80 and [s["iterations"] for s in side["segments"]] == [[0, 40], [40, 80]]
    assert all(s["world_size"] == 2 for s in side["segments"])
    for name in ("model.safetensors", "resume.safetensors"):  # weights, BN statistics, Adam moments, both ranks' crop RNGs
        a, b = load_file(str(straight / name)), load_file(str(split / name))
        assert a.keys() == b.keys()
        different = [k for k in a if not torch.equal(a[k], b[k])]
        assert not different, f"{name}: {different[:5]} differ"


@pytest.mark.slow
def test_two_process_srgan_step(train_root, tmp_path):
    """The adversarial step (D on real and fake, then G through a frozen D) under DDP."""
    from srbench.methods.training.trainer import TrainConfig, train

    images = _images(train_root, tmp_path)
    train(TrainConfig(method="srresnet-mse", train_data=[str(images)], iters=1, batch=4, patch=32, blocks=1,
                      channels=8, device="cpu", val_data="none", progress=False, out=str(tmp_path / "pre")))
    out = tmp_path / "gan"
    _torchrun(["--method", "srgan-mse", "--init", str(tmp_path / "pre"), "--train-data", str(images),
               "--iters", "4", "--log-every", "2", "--out", str(out)], tmp_path)
    side = json.loads((out / "model.json").read_text())
    assert side["distributed"]["world_size"] == 2 and side["iterations"] == 4
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all({"d_loss", "adv", "content"} <= set(r) for r in records)
    assert any(k.startswith("disc.") for k in load_file(str(out / "resume.safetensors")))
