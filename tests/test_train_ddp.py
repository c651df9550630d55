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


@pytest.mark.slow
def test_two_process_training_learns_and_rank0_alone_writes(train_root, tmp_path):
    images = tmp_path / "t91"
    images.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:8]:
        (images / p.name).symlink_to(p)
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
        "-m", "srbench", "train", "--method", "srresnet-mse", "--train-data", str(images), "--iters", "40",
        "--batch", "4", "--patch", "32", "--blocks", "1", "--channels", "8", "--lr", "1e-3", "--device", "cpu",
        "--val-data", "none", "--no-progress", "--log-every", "5", "--ckpt-every", "20", "--out", str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("completed at iteration 40") == 1  # only rank 0 reports

    # exactly one checkpoint (and its resume state), nothing written by rank 1
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.jsonl", "model.json", "model.safetensors", "resume.json", "resume.safetensors", "train.log"]
    assert not list(tmp_path.glob("**/.tmp*"))
    log = (out / "train.log").read_text()
    assert log.count("train srresnet-mse:") == 1 and "x 2 ranks" in log

    side = json.loads((out / "model.json").read_text())
    assert side["distributed"]["world_size"] == 2
    assert (side["iterations"], side["patches_seen"]) == (40, 40 * 4 * 2)

    # both ranks' crop generators are saved, and they differ (per-rank seeds)
    state = load_file(str(out / "resume.safetensors"))
    assert not (state["rng.sampler.0"] == state["rng.sampler.1"]).all()

    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:2]) / 2, losses
