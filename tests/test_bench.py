"""Every benchmark script under bench/ runs in its tiny smoke mode, so none can rot unnoticed.

Scripts with a smoke test elsewhere (next to the code they measure) are listed in
``SMOKE_TESTED_ELSEWHERE``; :func:`test_every_bench_script_has_a_smoke_test` fails for a new
script that has neither, and for a listed test that no longer runs the script.
The figures a smoke run prints mean nothing (tiny inputs, a shared machine); only their
presence, and values that do not depend on timing, are checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH = PROJECT_ROOT / "bench"

# script -> the test file that runs it in smoke mode
SMOKE_TESTED_ELSEWHERE = {
    "gpu_lease.sh": "test_gpu_lease.py",
    "train_throughput.py": "test_gpu_lease.py",
    "subject_model_study.py": "test_subject_model.py",
    "bench_niqe.py": "test_niqe.py",
    "bench_run_niqe.py": "test_run_niqe.py",
    "bench_startup.py": "test_registry.py",
    "bench_mos_latency.py": "test_mos_browser.py",
    "bench_mos_load.py": "test_mos_browser.py",
    "bench_view.py": "test_view_browser.py",
    "bench_upscale.py": "test_upscale.py",
    "bench_screening.py": "test_screening_rules.py",
}
SMOKE_TESTED_HERE = ("bench_inference_cpu.py", "bench_paper_metric.py", "bench_run.py")


def _smoke(script: str, data_root: Path, *args: str) -> str:
    env = {**os.environ, "SRBENCH_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(BENCH / script), "--smoke", *args], capture_output=True,
                          text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_every_bench_script_has_a_smoke_test():
    scripts = sorted(p.name for p in BENCH.iterdir() if p.suffix in (".py", ".sh"))
    covered = set(SMOKE_TESTED_ELSEWHERE) | set(SMOKE_TESTED_HERE)
    assert not set(scripts) - covered, f"bench scripts without a smoke test: {sorted(set(scripts) - covered)}"
    for script, test_file in SMOKE_TESTED_ELSEWHERE.items():
        if script in scripts:
            text = (PROJECT_ROOT / "tests" / test_file).read_text()
            assert re.search(rf"[\"']{re.escape(script)}[\"']", text), f"{test_file} no longer runs bench/{script}"


def test_bench_inference_cpu_smoke(data_root):
    out = _smoke("bench_inference_cpu.py", data_root, "--threads", "1")
    assert "1 threads, Set5 (1 images)" in out and "smoke" in out
    for layout in ("contiguous", "channels_last"):
        line = next(line for line in out.splitlines() if line.startswith(layout))
        wall = float(re.search(r"wall ([0-9.]+) s", line).group(1))
        assert wall > 0 and "butterfly.png 64x64" in line  # Set5's smallest LR image


def test_bench_paper_metric_smoke(data_root):
    out = _smoke("bench_paper_metric.py", data_root)
    # baby.png alone: the values the daala tools print for it (tests/test_metrics_paper.py), to the
    # 4 / 5 decimals the script prints
    assert re.search(r"^nearest +set5 +n= +1 +29\.1970 dB / 0\.85331 ", out, re.M), out
    assert re.search(r"^bicubic +set5 +n= +1 ", out, re.M), out
    assert re.search(r"^all methods: [0-9.]+ s wall", out, re.M), out


@pytest.mark.slow
def test_bench_run_smoke(data_root):
    out = _smoke("bench_run.py", data_root)
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    assert lines[0].startswith("smoke srbench run (2 methods x set5 x 2 protocols):")
    # set5: 5 images x 2 methods x 2 protocols
    assert "srbench metrics only, 20 evaluations:" in lines[1] and "scikit-image SSIM+PSNR on Y, 20 evaluations:" in lines[2]
    assert all(float(re.search(r"([0-9.]+) s", line).group(1)) > 0 for line in lines)
