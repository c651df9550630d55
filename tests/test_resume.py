"""An interrupted 'srbench run' continues where it stopped; its final CSVs equal an uninterrupted run's bytes.

The interruptions are real: a SYNTHETIC method that raises KeyboardInterrupt after k images (as Ctrl-C
does inside it), and a SIGINT sent to a real 'srbench run' subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from srbench.run import registry
from srbench.run.registry import Method, register_method
from srbench.run.resume import JOURNAL_NAME
from srbench.run.runner import run_benchmark

COUNTDOWN = "synthetic-countdown"
CALLS = {"n": 0, "stop_after": None}


class Countdown(Method):
    """SYNTHETIC: nearest-neighbour 4x; raises KeyboardInterrupt on the call after ``CALLS['stop_after']``."""

    name = COUNTDOWN

    def upscale(self, lr, *, dataset, name):
        CALLS["n"] += 1
        if CALLS["stop_after"] is not None and CALLS["n"] > CALLS["stop_after"]:
            raise KeyboardInterrupt
        return np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)


@pytest.fixture(autouse=True)
def countdown_method():
    register_method(COUNTDOWN, lambda: Countdown(), label="SYNTHETIC countdown")
    CALLS.update(n=0, stop_after=None)
    yield
    registry._unregister(COUNTDOWN)


def _run(data_root, out, **kw):
    return run_benchmark(["bicubic", COUNTDOWN], ["set5", "set14"], data_root=data_root, out_dir=out,
                         progress=False, jobs=1, **kw)


def _interrupt(data_root, out, after: int) -> None:
    CALLS.update(n=0, stop_after=after)
    with pytest.raises(KeyboardInterrupt) as info:
        _run(data_root, out)
    assert "run the same command again to continue" in " ".join(getattr(info.value, "__notes__", []))
    CALLS.update(n=0, stop_after=None)


def test_interrupted_run_continues_and_matches_bytes(tmp_path, data_root):
    _run(data_root, tmp_path / "whole")
    assert CALLS["n"] == 19  # 5 + 14 images
    _interrupt(data_root, tmp_path / "cut", after=8)  # set5 done; set14's bicubic done; countdown stopped at 3
    journal = json.loads((tmp_path / "cut" / JOURNAL_NAME).read_text())
    assert [(g["dataset"], g["method"]) for g in journal["groups"]] == [
        ("set5", "bicubic"), ("set5", COUNTDOWN), ("set14", "bicubic")]
    assert not (tmp_path / "cut" / "per_image.csv").exists()
    lines: list[str] = []
    _run(data_root, tmp_path / "cut", log=lines.append)
    assert CALLS["n"] == 14  # only set14's countdown group is upscaled again
    assert any("reusing 3 finished" in line for line in lines)
    for name in ("per_image.csv", "summary.csv"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert not (tmp_path / "cut" / JOURNAL_NAME).exists() and not (tmp_path / "cut" / "per_image.csv.partial").exists()


def test_fresh_measures_everything_again(tmp_path, data_root):
    _interrupt(data_root, tmp_path / "cut", after=8)
    _run(data_root, tmp_path / "cut", fresh=True)
    assert CALLS["n"] == 19


def test_changed_key_is_not_reused(tmp_path, data_root):
    _interrupt(data_root, tmp_path / "cut", after=8)
    lines: list[str] = []
    run_benchmark(["bicubic", COUNTDOWN], ["set5", "set14"], data_root=data_root, out_dir=tmp_path / "cut",
                  progress=False, jobs=1, protocols=["paper"], log=lines.append)
    assert CALLS["n"] == 19
    assert any("differs in protocols" in line for line in lines)


def test_changed_checkpoint_is_not_reused(tmp_path, data_root):
    """A group's key holds its checkpoint's SHA-256: other weights in the same folder are measured again."""
    import torch

    from srbench.methods.checkpoint import save_checkpoint
    from srbench.methods.reference_family import build_espcn

    def checkpoint(seed):
        torch.manual_seed(seed)
        save_checkpoint(tmp_path / "ck", build_espcn().state_dict(), {"method": "espcn", "note": "SYNTHETIC"})

    spec = f"checkpoint:mine={tmp_path / 'ck'}"

    def attempt(stop_after, **kw):
        CALLS.update(n=0, stop_after=stop_after)
        lines: list[str] = []
        run_benchmark([spec, COUNTDOWN], ["set5"], data_root=data_root, out_dir=tmp_path / "cut", progress=False,
                      jobs=1, protocols=["paper"], method_settings={"device": "cpu"}, log=lines.append, **kw)
        return lines

    checkpoint(1)
    with pytest.raises(KeyboardInterrupt):
        attempt(2)  # the checkpoint's group is finished, the countdown's is not
    assert any("reusing 1 finished" in line for line in attempt(None))  # same weights: reused
    with pytest.raises(KeyboardInterrupt):
        attempt(2, overwrite=True)
    checkpoint(2)  # other weights, same folder
    assert any("reusing 0 finished" in line for line in attempt(None, overwrite=True))


def test_sigint_to_a_real_run_then_rerun(tmp_path, data_root):
    env = dict(os.environ, SRBENCH_DATA=str(data_root))
    cmd = [sys.executable, "-m", "srbench", "run", "--methods", "bicubic,nearest", "--datasets", "set5,set14",
           "--protocol", "paper", "--no-progress"]
    whole = subprocess.run(cmd + ["--out", str(tmp_path / "whole")], env=env, capture_output=True, text=True,
                           timeout=600)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "cut"
    proc = subprocess.Popen(cmd + ["--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            groups = json.loads((out / JOURNAL_NAME).read_text())["groups"]
        except (OSError, ValueError, KeyError):
            groups = []
        if len(groups) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGINT arrived (machine too fast for this check)")
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    again = subprocess.run(cmd + ["--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout
    for name in ("per_image.csv", "summary.csv"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_without_out_the_newest_unfinished_run_of_the_same_request_continues(tmp_path, data_root, monkeypatch):
    from srbench.run import runner

    monkeypatch.setattr(runner, "RUNS_DIR", tmp_path / "runs")
    CALLS.update(n=0, stop_after=8)
    with pytest.raises(KeyboardInterrupt):
        _run(data_root, None)
    (started,) = (tmp_path / "runs").iterdir()
    CALLS.update(n=0, stop_after=None)
    lines: list[str] = []
    result = _run(data_root, None, log=lines.append)
    assert result.out_dir == started and CALLS["n"] == 14 and any("resuming" in line for line in lines)
    assert (started / "per_image.csv").is_file() and list((tmp_path / "runs").iterdir()) == [started]
