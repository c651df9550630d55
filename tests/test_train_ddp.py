"""``srbench train`` under torchrun: 2 CPU processes, gloo backend, DistributedDataParallel, tiny network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent


TINY = ["--batch", "4", "--patch", "32", "--blocks", "1", "--channels", "8", "--device", "cpu",
        "--val-data", "none", "--no-progress"]


def _images(train_root: Path, tmp_path: Path) -> Path:
    images = tmp_path / "t91"
    images.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:8]:
        (images / p.name).symlink_to(p)
    return images


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "srbench", "train", *args, *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_two_process_training_learns_and_rank0_alone_writes(train_root, tmp_path):
    images = _images(train_root, tmp_path)
    out = tmp_path / "run"
    proc = _torchrun(["--method", "srresnet-mse", "--train-data", str(images), "--iters", "80", "--lr", "1e-3",
                      "--log-every", "10", "--ckpt-every", "40", "--out", str(out)], tmp_path)
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
def test_two_process_srgan_step(train_root, tmp_path):
    """The adversarial step (D on real and fake, then G through a frozen D) under DDP."""
    from srbench.methods.train import TrainConfig, train

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
