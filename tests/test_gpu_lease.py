"""The prepared GPU commands on the CPU: bench/train_throughput.py (every variant, profile, choice) and
bench/gpu_lease.sh (prepare; the SRResNet lease resuming a run; the SRGAN lease keeping only the generator)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srbench.methods.training.trainer import TrainConfig, train

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TINY = dict(batch=4, patch=32, blocks=1, channels=8, device="cpu", val_data="none", progress=False)


@pytest.fixture(scope="module")
def images(train_root, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("train") / "t91"
    folder.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:8]:
        (folder / p.name).symlink_to(p)
    return folder


def _bench(args: list[str], images: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "train_throughput.py"), "--cpu-smoke",
                           "--train-data", str(images), "--out", str(out), *args],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_throughput_benchmark_cpu_smoke_measures_every_candidate_with_a_profile(images, tmp_path):
    out = tmp_path / "tp.json"
    proc = _bench(["--set", "smoke", "--compile"], images, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    names = [v["name"] for v in report["variants"]]
    assert names == ["baseline", "fast-b64", "eager-b256-pad8", "srgan-baseline", "srgan-fast-b64-pad8",
                     "compiled-b256-pad8"]
    assert report["mode"] == "cpu-smoke" and len(report["load_average"]) == 3
    for v in report["variants"]:
        assert v["patches_per_s"] > 0 and v["loss_finite"] and v["steps"] >= 2, v
        parts = set(v["profile_ms"])
        if v["method"] == "srresnet-mse":
            assert parts == {"data", "forward", "backward", "optimizer"}
        else:
            assert parts == {"data", "forward", "discriminator", "generator_loss", "backward", "optimizer"}
        assert sum(v["profile_share"].values()) == pytest.approx(1, abs=1e-3) and 0 < v["data_share"] < 1
    assert report["choice"]["srresnet"]["variant"] in ("eager-b256-pad8", "compiled-b256-pad8")
    flags = report["choice"]["srresnet"]["flags"]
    assert flags[:4] == ["--batch", "4", "--tail", "pad8"] and "--lr" in flags
    assert report["choice"]["srgan"]["variant"] == "srgan-fast-b64-pad8"
    assert "choice for srresnet" in proc.stdout and "patches/s" in proc.stdout


def test_throughput_benchmark_records_a_failing_variant_and_goes_on(images, tmp_path):
    """40 px crops suit SRResNet but not the discriminator (multiples of 16): that variant fails alone."""
    out = tmp_path / "tp.json"
    proc = _bench(["--patch", "40", "--only", "srgan-baseline,baseline", "--batch", "2"], images, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    variants = {v["name"]: v for v in json.loads(out.read_text())["variants"]}
    assert variants["baseline"]["patches_per_s"] > 0 and variants["baseline"]["steps"] >= 2
    assert variants["baseline"]["batch"] == 2
    assert "multiple of 16" in variants["srgan-baseline"]["error"]
    assert "srgan-baseline" in proc.stdout and "FAILED" in proc.stdout


def test_throughput_benchmark_deadline_skips_the_rest(images, tmp_path):
    out = tmp_path / "tp.json"
    proc = _bench(["--only", "baseline,fast-b64", "--deadline-s", "0"], images, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    variants = json.loads(out.read_text())["variants"]
    assert [v.get("skipped", "")[:8] for v in variants] == ["deadline", "deadline"]


def _lease(mode: str, out: Path, tmp_path: Path, train_root: Path, data_root: Path, **extra: str):
    env = {**os.environ, "GPU_LEASE_SMOKE": "1", "OUT": str(out), "CARRY": str(tmp_path / "no-carry"),
           "OMP_NUM_THREADS": "1", "SRBENCH_TRAIN_DATA": str(train_root), "SRBENCH_DATA": str(data_root),
           "PYTHON": sys.executable, **extra}
    return subprocess.run(["bash", str(PROJECT_ROOT / "bench" / "gpu_lease.sh"), mode], env=env,
                          capture_output=True, text=True, timeout=400)


@pytest.mark.slow
def test_srresnet_lease_resumes_a_finished_run_with_a_new_phase_in_at_most_8_files(
        images, tmp_path, train_root, data_root):
    """Like the next GPU lease with the seed: the committed run's plan is finished, so the lease continues it in
    $OUT with a new phase planned to fit, with the benchmark's choice (compiled or eager), validating Set5+Set14."""
    committed = tmp_path / "committed"
    train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(committed), iters=6, fast=True,
                      warmup=2, **TINY))
    out = tmp_path / "lease"
    proc = _lease("srresnet", out, tmp_path, train_root, data_root, RESUME_FROM=str(committed))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {p.name for p in out.iterdir()} == {
        "lease.log", "throughput.json", "model.safetensors", "model.json", "resume.safetensors", "resume.json",
        "train.log", "metrics.jsonl"}
    side = json.loads((out / "model.json").read_text())
    phases = side["hyper"]["schedule"]["phases"]
    assert [(p["start"], p["planned_by"]) for p in phases] == [(0, "iters"), (6, "budget")]
    assert side["iterations"] > 6 and phases[1]["end"] == side["planned_iterations"]
    assert [s["iterations"][0] for s in side["segments"]] == [0, 6]
    assert set(side["validation_sets"]) == {"set5", "set14"}
    assert all(v["protocol"] == "paper" for v in side["validation_sets"].values())
    choice = json.loads((out / "throughput.json").read_text())["choice"]["srresnet"]
    assert side["segments"][-1]["compile"] == ("default" if choice["variant"].startswith("compiled") else None)
    log = (out / "lease.log").read_text()
    assert "plan to 6 finished: a new phase" in log and "result: srresnet-mse" in log
    assert log.rstrip().endswith("train.log")  # the final listing reached lease.log
    assert (out / "train.log").read_text().startswith((committed / "train.log").read_text())


@pytest.mark.slow
def test_srresnet_lease_finishes_an_interrupted_phase_then_plans_a_new_one(tmp_path, images, train_root, data_root):
    committed = tmp_path / "committed"
    train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(committed), iters=40, fast=True,
                      warmup=2, stop_after=30, **TINY))
    out = tmp_path / "lease"
    proc = _lease("srresnet", out, tmp_path, train_root, data_root, RESUME_FROM=str(committed),
                  LEASE_COMPILE="0", LEASE_SECONDS="400")
    assert proc.returncode == 0, proc.stdout[-3000:]
    side = json.loads((out / "model.json").read_text())
    phases = side["hyper"]["schedule"]["phases"]
    assert [(p["start"], p["end"]) for p in phases][:1] == [(0, 40)] and len(phases) == 2
    assert [s["iterations"] for s in side["segments"]][1] == [30, 40]  # the same schedule, finished first
    assert "inside its plan, which ends at 40" in proc.stdout and "a new phase" in proc.stdout


@pytest.mark.slow
def test_srgan_lease_trains_from_the_srresnet_and_keeps_only_the_generator(tmp_path, images, train_root, data_root):
    pre = tmp_path / "srresnet"
    train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(pre), iters=2, **TINY))
    out = tmp_path / "gan"
    proc = _lease("srgan", out, tmp_path, train_root, data_root, INIT_FROM=str(pre), LEASE_COMPILE="0")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {p.name for p in out.iterdir()} == {
        "lease.log", "throughput.json", "model.safetensors", "model.json", "train.log", "metrics.jsonl"}
    side = json.loads((out / "model.json").read_text())
    assert side["method"] == "srgan-mse" and side["init"]["path"] == str(pre / "model.safetensors")
    assert side["resume_state"]["kept"] is False and side["resume_state"]["discriminator"]["kept"] is False
    phase = side["hyper"]["schedule"]["phases"][0]
    assert phase["kind"] == "piecewise" and phase["milestones"] == [[0.5, pytest.approx(0.1)]]
    assert phase["planned_by"] == "budget" and phase["end"] is not None  # the probe planned the whole run
    tp = json.loads((out / "throughput.json").read_text())
    assert [v["name"] for v in tp["variants"]] == ["srgan-baseline", "srgan-fast-b64-pad8"]
    assert tp["choice"]["srgan"]["patches_per_s"] > 0
    assert set(side["validation_sets"]) == {"set5", "set14"}


@pytest.mark.slow
def test_srresnet_lease_seeds_a_fast_run_from_a_paper_mode_checkpoint(tmp_path, images, train_root, data_root):
    """Resuming a paper-mode run would keep batch 16 and fp32 on the GPU: the lease starts a fast run from it."""
    paper = tmp_path / "paper"
    train(TrainConfig(method="srresnet-mse", train_data=[str(images)], out=str(paper), iters=2, **TINY))
    out = tmp_path / "lease"
    proc = _lease("srresnet", out, tmp_path, train_root, data_root, RESUME_FROM=str(paper), LEASE_COMPILE="0")
    assert proc.returncode == 0, proc.stdout[-3000:]
    side = json.loads((out / "model.json").read_text())
    assert side["hyper"]["fast"] and side["init"]["path"] == str(paper / "model.safetensors")
    assert "not a resumable fast run" in proc.stdout


def test_prepare_copies_the_carry_and_states_the_travel(tmp_path):
    carry = tmp_path / "carry"
    env = {**os.environ, "CARRY": str(carry), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(PROJECT_ROOT / "bench" / "gpu_lease.sh"), "prepare"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (carry / "train").iterdir()) == ["bsd200", "bsds500_test", "t91"]
    assert sorted(p.name for p in (carry / "benchmark").iterdir()) == ["set14", "set5"]
    line = [x for x in proc.stdout.splitlines() if x.startswith("travel:")][0]
    total = float(line.split("=")[1].split("MiB")[0])
    assert total < 64, line
    shutil.rmtree(carry)
