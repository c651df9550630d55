"""The trainer on the CPU with tiny networks (1 residual block, 8 channels) and real training images.

Every run writes under tmp_path only. The exact-resume tests compare weights
and optimizer moments bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srbench.methods.training.trainer import RANDOM_VGG_ENV, TrainConfig, TrainingDiverged, train
from srbench.methods.training.data import list_training_files, manifest_sha256
from srbench.cli import main as cli_main
from srbench.errors import SrbenchError

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TINY = dict(batch=4, patch=32, blocks=1, channels=8, device="cpu", val_data="none", progress=False)


@pytest.fixture(scope="module")
def images(train_root, tmp_path_factory) -> Path:
    """Eight real t91 training images (symlinked into a folder of their own)."""
    folder = tmp_path_factory.mktemp("train") / "t91"
    folder.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:8]:
        (folder / p.name).symlink_to(p)
    return folder


def _run(images: Path, out: Path, method: str = "srresnet-mse", **kw):
    return train(TrainConfig(method=method, train_data=[str(images)], out=str(out), **{**TINY, **kw}))


def _same_tensors(a: Path, b: Path, name: str) -> None:
    ta, tb = load_file(str(a / name)), load_file(str(b / name))
    keys = [k for k in ta if not k.startswith("rng.")]
    assert keys and set(keys) <= set(tb)
    different = [k for k in keys if not torch.equal(ta[k], tb[k])]
    assert not different, f"{name}: {different[:5]} differ"


@pytest.mark.parametrize("mode", ["paper", "fast"])
def test_two_steps_resume_two_steps_equals_four_steps(images, tmp_path, mode):
    fast = mode == "fast"
    straight = _run(images, tmp_path / "straight", iters=4, fast=fast, lr=1e-3)
    assert straight.iterations == 4 and straight.stop_reason == "completed"
    if fast:  # the cosine schedule depends on the run's total: interrupt a 4-iteration run after 2
        first = _run(images, tmp_path / "split", iters=4, fast=True, lr=1e-3, stop_after=2)
        assert first.stop_reason == "interrupted"
        assert json.loads((tmp_path / "split" / "model.json").read_text())["complete"] is False
    else:
        first = _run(images, tmp_path / "split", iters=2, lr=1e-3)
    assert first.iterations == 2
    resumed = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(tmp_path / "split"),
                                resume=str(tmp_path / "split"), iters=4, device="cpu", val_data="none", progress=False))
    assert (resumed.iterations, resumed.patches_seen) == (4, 16)
    _same_tensors(tmp_path / "straight", tmp_path / "split", "model.safetensors")
    _same_tensors(tmp_path / "straight", tmp_path / "split", "resume.safetensors")

    side = json.loads((tmp_path / "split" / "model.json").read_text())
    assert side["method"] == "srresnet-mse" and side["iterations"] == 4 and side["patches_seen"] == 16
    assert side["complete"] is True
    assert [s["iterations"] for s in side["segments"]] == [[0, 2], [2, 4]]
    assert side["train_data"]["manifest_sha256"] == manifest_sha256(list_training_files([images]))
    assert side["architecture"] == {"num_blocks": 1, "channels": 8}
    assert side["fast_mode"]["enabled"] is fast
    assert side["fast_mode"]["schedule"] == ("warmup-cosine" if fast else "piecewise")
    assert side["planned_iterations"] == 4
    for key in ("git_revision", "torch_version", "device", "wall_time_s", "hyper", "config"):
        assert side[key] not in (None, "")


def _logged_lrs(folder: Path) -> list[float]:
    """The learning rate of every iteration, from ``metrics.jsonl`` (written with ``log_every=1``)."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [r["lr"] for r in records if r["kind"] == "train"]


@pytest.mark.parametrize("stop_after", [4, 3], ids=["resumed-at-the-step", "step-inside-the-resumed-segment"])
def test_resume_across_the_piecewise_lr_step_equals_the_uninterrupted_run(images, tmp_path, stop_after):
    """ESPCN's paper schedule: lr 1e-3, divided by 10 from 2/3 of the run (here iteration 4 of 6)."""
    common = dict(method="espcn", train_data=[str(images)], iters=6, batch=4, patch=32, device="cpu",
                  val_data="none", progress=False, log_every=1)
    train(TrainConfig(out=str(tmp_path / "straight"), lr=1e-3, **common))
    first = train(TrainConfig(out=str(tmp_path / "split"), lr=1e-3, stop_after=stop_after, **common))
    assert (first.iterations, first.stop_reason) == (stop_after, "interrupted")
    train(TrainConfig(resume=str(tmp_path / "split"), **common))
    paper = [1e-3] * 4 + [pytest.approx(1e-4, rel=1e-12)] * 2  # the step is really inside this run
    assert _logged_lrs(tmp_path / "straight") == paper and _logged_lrs(tmp_path / "split") == paper
    _same_tensors(tmp_path / "straight", tmp_path / "split", "model.safetensors")
    _same_tensors(tmp_path / "straight", tmp_path / "split", "resume.safetensors")


@pytest.mark.parametrize("stop_after", [2, 5], ids=["resumed-where-the-cosine-starts", "resumed-mid-cosine"])
def test_resume_across_the_cosine_schedule_equals_the_uninterrupted_run(images, tmp_path, stop_after):
    """--fast: 2 warm-up iterations, then cosine decay over the other 6 of 8."""
    _run(images, tmp_path / "straight", iters=8, fast=True, warmup=2, lr=1e-3, log_every=1)
    _run(images, tmp_path / "split", iters=8, fast=True, warmup=2, lr=1e-3, log_every=1, stop_after=stop_after)
    _resume(tmp_path / "split", images, iters=8, log_every=1)
    lrs = _logged_lrs(tmp_path / "straight")
    assert _logged_lrs(tmp_path / "split") == lrs
    assert lrs[0] < lrs[1] == lrs[2] == pytest.approx(1e-3)  # warm-up to the peak, where the cosine starts
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:])) and lrs[-1] > 1e-5  # then a strict decay above the floor
    _same_tensors(tmp_path / "straight", tmp_path / "split", "model.safetensors")
    _same_tensors(tmp_path / "straight", tmp_path / "split", "resume.safetensors")


class FakeClock:
    """A deterministic clock for --budget-minutes: every reading advances it by ``dt`` seconds."""

    def __init__(self, dt: float) -> None:
        self.t, self.dt = 0.0, dt

    def __call__(self) -> float:
        self.t += self.dt
        return self.t


def _resume(folder: Path, images: Path, clock=None, **kw):
    cfg = TrainConfig(method="srresnet-mse", train_data=[str(images)], resume=str(folder), device="cpu",
                      val_data="none", progress=False, **kw)
    return train(cfg, clock=clock)


def test_budget_stopped_segments_equal_one_uninterrupted_run(images, tmp_path):
    """--iters 12 planned once; --budget-minutes stops three segments (a fake clock: 1 s a reading); bit-exact."""
    straight = _run(images, tmp_path / "straight", iters=12, fast=True, warmup=3, lr=1e-3)
    first = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(tmp_path / "split"),
                              iters=12, budget_minutes=3 / 60, fast=True, warmup=3, lr=1e-3, **TINY),
                  clock=FakeClock(1.0))
    reasons, stops = [first.stop_reason], [first.iterations]
    while stops[-1] < 12:
        r = _resume(tmp_path / "split", images, FakeClock(1.0), budget_minutes=3 / 60)
        reasons.append(r.stop_reason)
        stops.append(r.iterations)
    assert reasons == ["budget", "budget", "budget", "completed"] and stops == [3, 6, 9, 12]
    assert straight.iterations == 12
    _same_tensors(tmp_path / "straight", tmp_path / "split", "model.safetensors")
    _same_tensors(tmp_path / "straight", tmp_path / "split", "resume.safetensors")
    side = json.loads((tmp_path / "split" / "model.json").read_text())
    assert [s["iterations"] for s in side["segments"]] == [[0, 3], [3, 6], [6, 9], [9, 12]]
    assert len(side["hyper"]["schedule"]["phases"]) == 1 and side["complete"] is True
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert lrs == []  # log_every 50 > 12: no train records; the schedule itself is tested in test_train_schedule


def test_a_budget_planned_phase_fixes_its_end_once_and_segments_continue_it(images, tmp_path):
    """--fast with only --budget-minutes: the end is planned from the probed speed, recorded, and kept by every
    later segment (interrupted, budget-stopped, then finished); the same run planned with --iters is identical."""
    first = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(tmp_path / "split"),
                              budget_minutes=0.1, fast=True, warmup=40, stop_after=60, **TINY),
                  clock=FakeClock(0.05))
    assert first.stop_reason == "interrupted" and first.iterations == 60
    phase = json.loads((tmp_path / "split" / "model.json").read_text())["hyper"]["schedule"]["phases"][0]
    planned = phase["end"]
    assert phase["planned_by"] == "budget" and "it/s over iterations 10..39" in phase["plan_note"]
    assert 80 < planned < 200 and first.horizon == planned
    log = (tmp_path / "split" / "train.log").read_text()
    assert f"planned: this phase ends at iteration {planned}" in log
    second = _resume(tmp_path / "split", images, FakeClock(0.05), budget_minutes=0.02)
    assert second.stop_reason == "budget" and 60 < second.iterations < planned and second.horizon == planned
    third = _resume(tmp_path / "split", images)
    assert third.stop_reason == "completed" and third.iterations == planned

    _run(images, tmp_path / "straight", iters=planned, fast=True, warmup=40)
    _same_tensors(tmp_path / "straight", tmp_path / "split", "model.safetensors")
    _same_tensors(tmp_path / "straight", tmp_path / "split", "resume.safetensors")


def test_a_run_saved_before_plans_existed_continues_in_a_new_phase(images, tmp_path):
    """Like the seed checkpoint: budgeted in minutes, one schedule, no horizon. Its history becomes a legacy
    phase; continuing it needs a new phase (planned by --iters or a budget) and may change batch and lr."""
    from srbench.data.sets import sha256_file

    out = tmp_path / "old"
    _run(images, out, iters=3, fast=True)
    meta = json.loads((out / "resume.json").read_text())
    meta["hyper"]["iters"] = None
    meta["hyper"]["schedule"] = {"kind": "cosine", "base_lr": 3e-4, "milestones": [], "warmup_steps": 200,
                                 "min_lr_ratio": 0.01}
    assert meta["tensors_sha256"] == sha256_file(out / "resume.safetensors")
    (out / "resume.json").write_text(json.dumps(meta))
    with pytest.raises(SrbenchError, match="at iteration 3, the end of its plan: give --iters N .* or --budget-minutes"):
        _resume(out, images)
    result = _resume(out, images, FakeClock(0.05), budget_minutes=0.05, batch=2, lr=6e-4, warmup=20)
    assert result.stop_reason in ("completed", "budget") and result.iterations > 3
    phases = json.loads((out / "model.json").read_text())["hyper"]["schedule"]["phases"]
    assert [(p["kind"], p["start"], p["batch"], p["planned_by"]) for p in phases] == [
        ("legacy-budget", 0, 4, "legacy"), ("warmup-cosine", 3, 2, "budget")]
    assert phases[0]["end"] == 3 and phases[1]["end"] >= 3 + 21 and phases[1]["base_lr"] == 6e-4


@pytest.mark.slow
def test_the_committed_seed_checkpoint_resumes(images, tmp_path):
    """results/checkpoints/srresnet-mse (a GPU run saved before plans existed) resumes on the CPU for 2 iterations,
    writing back into (a copy of) its folder: a new phase, its history and counts kept."""
    import shutil

    seed = PROJECT_ROOT / "results" / "checkpoints" / "srresnet-mse"
    before = json.loads((seed / "model.json").read_text())
    copy = tmp_path / "srresnet-mse"
    shutil.copytree(seed, copy)
    few = tmp_path / "two"
    few.mkdir()
    for p in sorted(images.iterdir())[:2]:
        (few / p.name).symlink_to(p.resolve())
    result = train(TrainConfig(method="srresnet-mse", train_data=[str(few)], resume=str(copy),
                               iters=before["iterations"] + 2, batch=2, device="cpu", val_data="none", progress=False))
    assert result.out == copy and result.iterations == before["iterations"] + 2
    assert result.patches_seen == before["patches_seen"] + 4
    side = json.loads((copy / "model.json").read_text())
    phases = side["hyper"]["schedule"]["phases"]
    assert [(p["kind"], p["start"], p["end"], p["batch"]) for p in phases] == [
        ("legacy-budget", 0, before["iterations"], 64), ("warmup-cosine", before["iterations"], result.iterations, 2)]
    assert len(side["segments"]) == len(before["segments"]) + 1 and side["complete"] is True
    log = (copy / "train.log").read_text()
    assert log.startswith((seed / "train.log").read_text())  # appended to, not replaced
    assert "another device type than cpu: reseeded" in log


def test_no_host_device_sync_between_sync_points(images, tmp_path):
    """The loop reads values back from the device (``.item()``, ``float(t)``: aten._local_scalar_dense) only at
    sync points: every --sync-every steps and at log steps. (On the CPU the unfused Adam reads its own step
    counter; those reads are not counted: on CUDA --fast uses fused Adam, which reads nothing - see
    test_train_step.py::test_a_whole_step_with_fused_adam_reads_nothing_back.)"""
    import traceback

    from torch.utils._python_dispatch import TorchDispatchMode

    class CountReads(TorchDispatchMode):
        reads = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default or func.name().startswith("aten::nonzero"):
                if not any("torch/optim/" in f.filename for f in traceback.extract_stack()):
                    CountReads.reads += 1
            return func(*args, **(kwargs or {}))

    counts = {}
    for every in (1, 8):
        CountReads.reads = 0
        with CountReads():
            _run(images, tmp_path / f"s{every}", iters=32, sync_every=every, log_every=16, val_every=0, ckpt_every=0)
        counts[every] = CountReads.reads
    # each sync point reads 2 flags; each of the 2 log steps reads the mean loss and the step's content loss
    assert counts[8] == 2 * 32 // 8 + 2 * 2, counts
    assert counts[1] == 2 * 32 + 2 * 2, counts


def test_validation_on_several_sets_in_fp32(images, tmp_path, data_root):
    result = _run(images, tmp_path / "v", iters=2, val_data=f"{data_root / 'set5'},{data_root / 'set14'}", val_every=0)
    assert result.validation["dataset"] == "set5"
    side = json.loads((tmp_path / "v" / "model.json").read_text())
    assert [(r["dataset"], r["n"], r["step"]) for r in side["validation_history"]] == [("set5", 5, 2), ("set14", 14, 2)]
    assert set(side["validation_sets"]) == {"set5", "set14"} and side["validation"]["dataset"] == "set5"


def test_srgan_fast_is_the_papers_two_lr_phases_scaled_and_keeps_only_the_generator(images, tmp_path):
    """--fast SRGAN: 1e-4 for the first half of the planned run, 1e-5 for the second (the paper's 1e5 + 1e5
    iterations scaled); with --no-resume-state only the generator is written, and the sidecar says why."""
    _run(images, tmp_path / "pre", iters=1)
    _run(images, tmp_path / "gan", method="srgan-mse", init=str(tmp_path / "pre"), fast=True, iters=8, log_every=1,
         resume_state=False)
    records = [json.loads(line) for line in (tmp_path / "gan" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records if r["kind"] == "train"] == [1e-4] * 4 + [pytest.approx(1e-5)] * 4
    assert sorted(p.name for p in (tmp_path / "gan").iterdir()) == [
        "metrics.jsonl", "model.json", "model.safetensors", "train.log"]
    side = json.loads((tmp_path / "gan" / "model.json").read_text())
    note = side["resume_state"]
    assert note["kept"] is False and note["discriminator"]["kept"] is False
    assert "16 MiB per file" in note["discriminator"]["why"] and note["discriminator"]["parameters"] > 1e6
    assert side["hyper"]["schedule"]["phases"][0]["milestones"] == [[0.5, pytest.approx(0.1)]]
    assert side["hyper"]["batch"] == 4  # TINY's; --fast alone gives adversarial runs batch 64
    with pytest.raises(SrbenchError, match="holds no resume state"):
        _resume(tmp_path / "gan", images, iters=10)


def test_resume_refuses_changed_settings_and_finished_runs(images, tmp_path):
    _run(images, tmp_path / "r", iters=4, stop_after=2)  # interrupted inside its only phase
    base = dict(method="srresnet-mse", train_data=[str(images)], resume=str(tmp_path / "r"),
                device="cpu", val_data="none", progress=False)
    with pytest.raises(SrbenchError, match="--batch 8 differs from the current phase's 4"):
        train(TrainConfig(batch=8, **base))
    with pytest.raises(SrbenchError, match="--patch 64 differs from the resumed run's 32"):
        train(TrainConfig(patch=64, **base))
    with pytest.raises(SrbenchError, match="planned to iteration 4; --iters 3 would change its schedule"):
        train(TrainConfig(iters=3, **base))
    with pytest.raises(SrbenchError, match="already at iteration 2"):
        train(TrainConfig(iters=2, **base))
    with pytest.raises(SrbenchError, match="already holds a checkpoint"):
        _run(images, tmp_path / "r", iters=2)
    train(TrainConfig(**base))  # no flags: finishes its plan, writing back into the resumed folder
    with pytest.raises(SrbenchError, match="at iteration 4, the end of its plan: give --iters N"):
        train(TrainConfig(**base))


def test_resume_writes_back_into_its_folder_and_a_new_phase_may_change_the_batch(images, tmp_path):
    _run(images, tmp_path / "r", iters=2, fast=True, warmup=2)
    result = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], resume=str(tmp_path / "r"),
                               iters=5, batch=2, lr=5e-4, device="cpu", val_data="none", progress=False))
    assert result.out == tmp_path / "r" and (result.iterations, result.patches_seen) == (5, 2 * 4 + 3 * 2)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "metrics.jsonl", "model.json", "model.safetensors", "resume.json", "resume.safetensors", "train.log"]
    side = json.loads((tmp_path / "r" / "model.json").read_text())
    phases = side["hyper"]["schedule"]["phases"]
    assert [(p["start"], p["end"], p["batch"], p["base_lr"], p["kind"]) for p in phases] == [
        (0, 2, 4, pytest.approx(3e-4 * (4 / 64) ** 0.5), "warmup-cosine"), (2, 5, 2, 5e-4, "warmup-cosine")]
    assert side["complete"] is True and side["planned_iterations"] == 5
    assert [s["iterations"] for s in side["segments"]] == [[0, 2], [2, 5]]


def test_a_run_saved_on_the_gpu_resumes_on_the_cpu(images, tmp_path):
    """A GPU lease's checkpoint holds a CUDA (Philox, 16-byte) sampler state; the CPU generator cannot take it."""
    from safetensors.torch import save_file

    from srbench.data.sets import sha256_file

    out = tmp_path / "gpu"
    _run(images, out, iters=2)
    tensors = load_file(str(out / "resume.safetensors"))
    assert tensors["rng.sampler.0"].numel() != 16
    # torch.Generator("cuda").get_state() layout: 8-byte seed + 8-byte Philox offset
    tensors["rng.sampler.0"] = torch.tensor([7, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0], dtype=torch.uint8)
    save_file(tensors, str(out / "resume.safetensors"))
    meta = json.loads((out / "resume.json").read_text())
    meta["tensors_sha256"] = sha256_file(out / "resume.safetensors")
    (out / "resume.json").write_text(json.dumps(meta))
    resumed = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(out), resume=str(out),
                                iters=4, device="cpu", val_data="none", progress=False))
    assert resumed.iterations == 4
    assert "another device type than cpu: reseeded" in (out / "train.log").read_text()


def test_srgan_starts_from_init_and_resumes_exactly(images, tmp_path):
    """SRGAN-VGG22 (random VGG via the test-only API switch): D, both optimizers and RNGs survive a resume."""
    _run(images, tmp_path / "pre", iters=1)
    gan = dict(method="srgan-vgg22", init=str(tmp_path / "pre"), lr=1e-4, allow_random_vgg_for_tests=True,
               log_every=1)
    _run(images, tmp_path / "straight", iters=2, **gan)
    _run(images, tmp_path / "split", iters=2, stop_after=1, **gan)
    train(TrainConfig(method="srgan-vgg22", train_data=[str(images)], out=str(tmp_path / "split"),
                      resume=str(tmp_path / "split"), iters=2, device="cpu", val_data="none", progress=False,
                      allow_random_vgg_for_tests=True, log_every=1))
    _same_tensors(tmp_path / "straight", tmp_path / "split", "model.safetensors")
    _same_tensors(tmp_path / "straight", tmp_path / "split", "resume.safetensors")
    tensors = load_file(str(tmp_path / "split" / "resume.safetensors"))
    assert any(k.startswith("disc.") for k in tensors) and any(k.startswith("opt.d.") for k in tensors)
    side = json.loads((tmp_path / "split" / "model.json").read_text())
    assert side["init"]["path"].endswith("pre/model.safetensors") and len(side["init"]["sha256"]) == 64
    assert side["random_vgg_for_tests"] is True
    # one record per iteration (log_every 1), the second written by the resumed segment: the same
    # losses (generator total, content, adversarial, discriminator) and lr as the uninterrupted run
    logged = {}
    for run in ("straight", "split"):
        records = [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        logged[run] = [{k: r[k] for k in ("step", "loss", "content", "adv", "d_loss", "lr")}
                       for r in records if r["kind"] == "train"]
    assert [r["step"] for r in logged["split"]] == [1, 2]
    assert logged["split"] == logged["straight"]
    assert all(math.isfinite(r[k]) for r in logged["split"] for k in ("loss", "content", "adv", "d_loss"))


def test_srgan_without_srresnet_checkpoint_says_what_to_do(images, tmp_path, monkeypatch):
    import srbench.methods.training.trainer as trainer

    monkeypatch.setattr(trainer, "CHECKPOINT_ROOT", tmp_path / "empty")
    with pytest.raises(SrbenchError, match="starts from a trained srresnet-mse"):
        _run(images, tmp_path / "gan", iters=1, method="srgan-mse")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(images, tmp_path):
    # lr 1e30: the first update is finite, the second forward overflows
    with pytest.raises(TrainingDiverged, match="non-finite loss"):
        _run(images, tmp_path / "nan", iters=20, lr=1e30, ckpt_every=1)
    side = json.loads((tmp_path / "nan" / "model.json").read_text())
    assert side["iterations"] == 1
    weights = load_file(str(tmp_path / "nan" / "model.safetensors"))
    assert all(torch.isfinite(v.float()).all() for v in weights.values())
    assert "non-finite loss" in (tmp_path / "nan" / "train.log").read_text()


def test_validation_on_set5_is_logged(images, tmp_path, data_root):
    result = _run(images, tmp_path / "v", iters=2, val_data=str(data_root / "set5"), val_every=0)
    assert result.validation["dataset"] == "set5" and result.validation["n"] == 5
    assert result.validation["protocol"] == "paper"
    assert 5 < result.validation["psnr"] < 40  # an untrained tiny net: finite, far from bicubic's 28.4
    lines = [json.loads(line) for line in (tmp_path / "v" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines if m["kind"] == "validation"] == [2]
    side = json.loads((tmp_path / "v" / "model.json").read_text())
    assert side["validation"]["psnr"] == result.validation["psnr"]


# ---------------------------------------------------------------- the command line
def _cli(args: list[str], capsys) -> tuple[int, str]:
    code = cli_main(["train", *args])
    return code, capsys.readouterr().err


def test_cli_refuses_the_random_vgg_switch(images, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(RANDOM_VGG_ENV, "1")
    code, err = _cli(["--method", "srgan-vgg54", "--train-data", str(images), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "for tests only" in err
    assert not (tmp_path / "o").exists()


def test_cli_missing_vgg_weights_fails_before_any_work(images, tmp_path, capsys):
    start = time.monotonic()
    code, err = _cli(["--method", "srresnet-vgg22", "--train-data", str(images), "--out", str(tmp_path / "o"),
                      "--vgg-weights", str(tmp_path / "nope.pth"), "--device", "cpu"], capsys)
    assert code == 2 and "VGG19 ImageNet weights not found" in err and "\n" not in err.strip()
    assert not (tmp_path / "o").exists() and time.monotonic() - start < 10


def test_cli_trains_and_reports(images, tmp_path, capsys):
    code = cli_main(["train", "--method", "srresnet-mse", "--train-data", str(images), "--iters", "3", "--batch", "2",
                     "--patch", "32", "--blocks", "1", "--channels", "8", "--device", "cpu", "--val-data", "none",
                     "--out", str(tmp_path / "o"), "--no-progress", "--fast"])
    out = capsys.readouterr().out
    assert code == 0 and "completed at iteration 3 of 3 planned (6 patches)" in out
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "model.safetensors", "model.json", "resume.safetensors", "resume.json", "train.log", "metrics.jsonl"}


def test_cli_takes_a_planned_total_and_a_segment_budget_together(images, tmp_path, capsys):
    code = cli_main(["train", "--method", "srresnet-mse", "--train-data", str(images), "--iters", "3",
                     "--budget-minutes", "5", "--batch", "2", "--patch", "32", "--blocks", "1", "--channels", "8",
                     "--device", "cpu", "--val-data", "none", "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 0 and "completed at iteration 3 of 3 planned" in capsys.readouterr().out
    side = json.loads((tmp_path / "o" / "model.json").read_text())
    assert side["segments"][0]["budget_minutes"] == 5 and side["hyper"]["schedule"]["phases"][0]["planned_by"] == "iters"


@pytest.mark.parametrize("flags, message", [
    (["--lr", "nan"], "--lr must be a positive finite number"),
    (["--lr", "1e39"], "--lr must be a positive finite number"),  # overflowed Adam's float32 step
    (["--budget-minutes", "nan"], "--budget-minutes must be a positive finite number"),  # trained forever
    (["--budget-minutes", "inf"], "--budget-minutes must be a positive finite number"),
    (["--seed", "-1"], "--seed must be in 0 .. 2**32 - 1"),
    (["--seed", str(2**32)], "--seed must be in 0 .. 2**32 - 1"),
    (["--channels", "0"], "unusable size"),
])
def test_cli_refuses_unusable_numbers_with_one_line(images, tmp_path, capsys, flags, message):
    args = ["--method", "srresnet-mse", "--train-data", str(images), "--patch", "32", "--batch", "2", "--blocks", "1",
            "--channels", "8", "--device", "cpu", "--val-data", "none", "--out", str(tmp_path / "o"), "--no-progress"]
    if "--budget-minutes" not in flags:
        args += ["--iters", "1"]
    code, err = _cli(args + flags, capsys)
    assert code == 2 and message in err and "Traceback" not in err, err


def test_sigterm_writes_a_checkpoint_and_the_run_resumes(images, tmp_path):
    out = tmp_path / "sig"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "srbench", "train", "--method", "srresnet-mse", "--train-data", str(images),
         "--iters", "1000000", "--batch", "2", "--patch", "32", "--blocks", "1", "--channels", "8", "--device", "cpu",
         "--val-data", "none", "--out", str(out), "--no-progress", "--log-every", "5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ((out / "metrics.jsonl").is_file() and (out / "metrics.jsonl").read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "timeout"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    side = json.loads((out / "model.json").read_text())
    assert 5 <= side["iterations"] < 1_000_000 and side["complete"] is False
    assert "--resume" in err
    resumed = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], resume=str(out), stop_after=2,
                                device="cpu", val_data="none", progress=False))
    assert resumed.iterations == side["iterations"] + 2 and resumed.horizon == 1_000_000


def test_sigterm_during_the_final_validation_still_writes_the_final_checkpoint(images, tmp_path, data_root):
    """The lease's guard may fire while the last validation runs: the final checkpoint must still be written."""
    out = tmp_path / "late"
    script = f"""
import os, signal
import srbench.methods.training.validate as tv
real = tv.validate
def validate_then_sigterm(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)  # arrives while the final validation runs
    return real(*args, **kwargs)
tv.validate = validate_then_sigterm
from srbench.methods.training.trainer import TrainConfig, train
r = train(TrainConfig(method="srresnet-mse", train_data=[{str(images)!r}], out={str(out)!r}, iters=3, batch=2,
                      patch=32, blocks=1, channels=8, device="cpu", val_data={str(data_root / "set5")!r},
                      val_every=0, ckpt_every=0, progress=False))
print("done", r.stop_reason, r.iterations)
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "done completed 3" in proc.stdout, (proc.returncode, proc.stderr[-2000:])
    side = json.loads((out / "model.json").read_text())
    assert side["iterations"] == 3 and side["validation"]["step"] == 3


# ---------------------------------------------------------------- fast-mode pieces, benchmark, lease script
def test_resumed_optimizer_moments_follow_channels_last_parameters():
    """A resumed fast run loads Adam's moments NCHW; fused Adam (CUDA in --fast) needs them NHWC like the weights."""
    from srbench.methods.specs import TRAIN_SPECS, build_network
    from srbench.methods.training.state import flatten_optimizer, unflatten_optimizer
    from srbench.methods.training.step import StepRunner, make_adam

    spec = TRAIN_SPECS["srresnet-mse"]
    torch.manual_seed(0)
    batches = [(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)) for _ in range(4)]

    def run(fused: bool) -> torch.Tensor:
        torch.manual_seed(1)
        g = build_network(spec, {"num_blocks": 1, "channels": 8})
        opt = make_adam(g.parameters(), lr=1e-2, betas=(0.9, 0.999), fused=False)
        first = StepRunner(spec, g, opt, torch.nn.MSELoss(), device=torch.device("cpu"))
        first.step(*batches[0])  # the first invocation, NCHW (saved, then resumed below)
        tensors, meta = flatten_optimizer(opt.state_dict(), "opt.g")
        g.load_state_dict({k: v.clone() for k, v in g.state_dict().items()})
        opt2 = make_adam(g.parameters(), lr=1e-2, betas=(0.9, 0.999), fused=fused)
        opt2.load_state_dict(unflatten_optimizer(tensors, meta, "opt.g"))
        runner = StepRunner(spec, g, opt2, torch.nn.MSELoss(), device=torch.device("cpu"), channels_last=True)
        # CUDA's fused Adam refuses ("must have same dtype, device, and layout") moments strided unlike the weights
        for p, state in opt2.state.items():
            assert state["exp_avg"].stride() == p.stride() and state["exp_avg_sq"].stride() == p.stride()
        for lr_img, hr in batches[1:]:
            runner.step(lr_img, hr)
        return torch.cat([p.detach().flatten() for p in g.parameters()])

    reference, fused = run(False), run(True)
    assert torch.allclose(fused, reference, atol=1e-6), (fused - reference).abs().max()


def _bar_frames(stderr: str, method: str = "srresnet-mse") -> list[tuple[int, int | None]]:
    """(position, total) of every frame tqdm drew for the training bar (``desc`` = the method's name)."""
    import re

    frames = re.findall(rf"{method}[^:\r\n|]*: +(?:\d+%\|[^|]*\| )?(\d+)(?:/(\d+))?", stderr)
    return [(int(n), int(total) if total else None) for n, total in frames]


def test_the_progress_bar_counts_the_runs_iterations_towards_its_total_across_a_resume(images, tmp_path, capsys):
    """A budget-planned --fast run interrupted during its speed probe, then resumed: the resumed bar starts at the
    run's iteration (not 0) and, once the probe fixes the plan, ends at total/total."""
    quiet = {**TINY, "progress": True}
    train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(tmp_path / "r"), budget_minutes=0.1,
                      fast=True, warmup=40, stop_after=5, **quiet), clock=FakeClock(0.05))
    first = _bar_frames(capsys.readouterr().err)
    assert first[0] == (0, None) and first[-1] == (5, None), first  # no total before the probe has measured
    result = train(TrainConfig(method="srresnet-mse", train_data=[str(images)], resume=str(tmp_path / "r"),
                               budget_minutes=0.1, device="cpu", val_data="none", progress=True),
                   clock=FakeClock(0.05))
    frames = _bar_frames(capsys.readouterr().err)
    assert frames[0] == (5, None), frames  # continues at the run's iteration 5
    assert result.horizon and frames[-1][1] == result.horizon and frames[-1][0] == result.iterations, frames
