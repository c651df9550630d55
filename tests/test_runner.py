"""`srbench run` end to end on the real Set5 files (fast methods only)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import srbench
from srbench.run import registry
from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.run.runner import PER_IMAGE_COLUMNS, format_summary, parse_list, run_benchmark


# Values measured by tools outside srbench, for the cells test_run_writes_exact_tables checks:
# Set5 baby.png nearest, paper protocol, printed by the daala tools (tests/test_metrics_paper.py's
# DAALA_TOOL_ANCHORS) and the matlab-protocol Set5 means in ../shared/reference/protocols.md
# (checked against SelfExSR's per-image MATLAB results).
DAALA_BABY_NEAREST = (29.196954625114, 0.853307932734)
MATLAB_SET5_MEANS = {"nearest": (26.250, 0.7372), "bicubic": (28.419, 0.8102)}


def test_run_writes_exact_tables(data_root, tmp_path):
    from srbench.data.sets import load_dataset
    from srbench.methods import get_method
    from srbench.metrics import evaluate

    out = tmp_path / "run"
    result = run_benchmark(["nn", "bicubic"], ["Set5"], data_root=data_root, out_dir=out, progress=False)
    header = (out / "per_image.csv").read_text().splitlines()[0]
    assert header == "dataset,image,method,protocol,psnr,ssim"
    per_image = pd.read_csv(out / "per_image.csv")
    assert list(per_image.columns) == PER_IMAGE_COLUMNS
    assert len(per_image) == 5 * 2 * 2  # images x methods x protocols
    assert set(per_image.method) == {"nearest", "bicubic"}  # alias resolved
    assert set(per_image.dataset) == {"set5"}
    assert not (out / "per_image.csv.partial").exists()

    # Every row holds the value of ITS image, method and protocol: measured again here, one image at
    # a time, outside the runner (its rows are written by worker processes in completion order).
    # The CSV prints 6 decimals, so it is within 5e-7 of the full-precision value; margin 1e-6.
    rows = per_image.set_index(["image", "method", "protocol"])
    assert rows.index.is_unique
    for image in load_dataset("set5", data_root):
        for method in ("nearest", "bicubic"):
            sr = get_method(method).upscale(image.lr, dataset="set5", name=image.name)
            for protocol in ("paper", "matlab"):
                psnr, ssim = evaluate(sr, image.hr, protocol=protocol, is_gray=image.is_gray)
                row = rows.loc[(image.name, method, protocol)]
                assert (row.psnr, row.ssim) == pytest.approx((psnr, ssim), abs=1e-6), (image.name, method, protocol)
    baby = rows.loc[("baby.png", "nearest", "paper")]
    assert (baby.psnr, baby.ssim) == pytest.approx(DAALA_BABY_NEAREST, abs=1e-6)

    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 * 2
    assert (summary.n == 5).all() and (summary.n_expected == 5).all()
    for (method, protocol), group in per_image.groupby(["method", "protocol"]):
        row = summary[(summary.method == method) & (summary.protocol == protocol)].iloc[0]
        # means of the full-precision values, printed to 6 decimals: 1e-6 covers both roundings
        assert (row.psnr, row.ssim) == pytest.approx((group.psnr.mean(), group.ssim.mean()), abs=1e-6)
    for method, (psnr, ssim) in MATLAB_SET5_MEANS.items():
        row = summary[(summary.method == method) & (summary.protocol == "matlab")].iloc[0]
        # protocols.md's acceptance (per image within 0.005 dB of MATLAB), as in test_metrics_matlab;
        # measured: nearest 26.2497 / 0.73717, bicubic 28.4177 / 0.81008
        assert abs(row.psnr - psnr) <= 0.005 and abs(row.ssim - ssim) <= 0.0002, (method, row.psnr, row.ssim)
    record = json.loads((out / "run.json").read_text())
    assert record["protocols"] == ["paper", "matlab"]
    assert len(record["datasets"]["set5"]["manifest_sha256"]) == 64
    assert "bicubic" in format_summary(result.summary)


def test_save_images_and_refuse_overwrite(data_root, tmp_path):
    out = tmp_path / "run"
    run_benchmark(["nearest"], ["set5"], data_root=data_root, out_dir=out, protocols=["matlab"],
                  save_images=True, progress=False)
    assert (out / "images" / "nearest" / "set5" / "baby.png").is_file()
    # run.json records every saved file's SHA-256 (srbench view checks the images against it)
    saved = json.loads((out / "run.json").read_text())["saved_images"]
    assert sorted(saved) == [f"nearest/set5/{n}" for n in ("baby.png", "bird.png", "butterfly.png", "head.png",
                                                           "woman.png")]
    assert saved["nearest/set5/baby.png"] == hashlib.sha256((out / "images/nearest/set5/baby.png").read_bytes()
                                                            ).hexdigest()
    with pytest.raises(SrbenchError, match="already holds a run"):
        run_benchmark(["nearest"], ["set5"], data_root=data_root, out_dir=out, progress=False)


def test_all_lists_skipped_methods(data_root, tmp_path, capsys, monkeypatch):
    # A checkpoint folder holding only ESPCN's checkpoint: every other learned method must be skipped,
    # whatever results/checkpoints holds today.
    from srbench.methods import all_method_names
    from srbench.methods.specs import TRAIN_SPECS

    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(Path(__file__).resolve().parent.parent / "results" / "checkpoints" / "espcn", checkpoints / "espcn")
    monkeypatch.setenv("SRBENCH_CHECKPOINTS", str(checkpoints))
    rc = main(["run", "--methods", "all", "--datasets", "set5", "--protocol", "matlab",
               "--data-root", str(data_root), "--out", str(tmp_path / "r"), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    per_image = pd.read_csv(tmp_path / "r" / "per_image.csv")
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    learned = set(TRAIN_SPECS)
    assert {"srcnn", "srresnet-mse", "srgan-vgg54"} <= learned
    assert set(record["skipped"]) == learned - {"espcn"}
    assert set(per_image.method) == set(all_method_names()) - set(record["skipped"])
    assert {"nearest", "bicubic", "espcn"} <= set(per_image.method)
    for name, reason in record["skipped"].items():
        assert reason.startswith(f"no checkpoint at {checkpoints / name / 'model.safetensors'}"), reason
        assert f"skipped {name}: {reason}" in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--methods", "lanczos"], "unknown method 'lanczos'"),
        (["--datasets", "urban100"], "unknown dataset 'urban100'"),
        (["--protocol", "ssim-ish"], "unknown protocol 'ssim-ish'"),
        (["--data-root", "/nonexistent/srbench"], "does not exist"),
    ],
)
def test_bad_flags_are_one_line_errors(data_root, tmp_path, capsys, argv, message):
    base = {"--methods": "nn", "--datasets": "set5", "--data-root": str(data_root)}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value
    args = ["run", "--out", str(tmp_path / "r"), "--no-progress"] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_parse_list():
    assert parse_list(" set5, set14,,set5 ") == ["set5", "set14"]


def test_worker_processes_give_identical_rows(data_root, tmp_path):
    inline = run_benchmark(["bicubic"], ["set5"], data_root=data_root, out_dir=tmp_path / "a",
                           progress=False, jobs=1)
    pooled = run_benchmark(["bicubic"], ["set5"], data_root=data_root, out_dir=tmp_path / "b",
                           progress=False, jobs=2)
    pd.testing.assert_frame_equal(inline.per_image, pooled.per_image)
    assert (tmp_path / "a" / "per_image.csv").read_bytes() == (tmp_path / "b" / "per_image.csv").read_bytes()


def test_partially_covered_external_set_is_never_averaged(data_root, tmp_path, capsys):
    saved = tmp_path / "saved"
    run_benchmark(["bicubic"], ["set5"], data_root=data_root, out_dir=saved, protocols=["matlab"],
                  save_images=True, progress=False)
    folder = saved / "images" / "bicubic"
    (folder / "set5" / "bird.png").unlink()
    (folder / "set5" / "notes.txt").write_text("not an image")
    out = tmp_path / "ext"
    rc = main(["run", "--methods", f"external:mine={folder}", "--datasets", "set5", "--protocol", "matlab",
               "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "external:mine covers 4/5 of set5 (missing bird.png)" in printed
    assert "notes.txt" in printed
    assert "partial 4/5" in printed
    summary = pd.read_csv(out / "summary.csv")
    row = summary.iloc[0]
    assert (row.method, row.n, row.n_expected) == ("mine", 4, 5)
    assert pd.isna(row.psnr) and pd.isna(row.ssim)
    per_image = pd.read_csv(out / "per_image.csv")
    assert len(per_image) == 4 and "bird.png" not in set(per_image.image)
    assert json.loads((out / "run.json").read_text())["missing"] == {"mine/set5": ["bird.png"]}


def test_out_that_is_a_file_is_a_one_line_error(data_root, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    for out, message in [(blocker, "is a file, not a folder"), (blocker / "run", "cannot write the run into --out")]:
        rc = main(["run", "--methods", "nn", "--datasets", "set5", "--data-root", str(data_root),
                   "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1


def test_progress_bar_is_quiet_when_stderr_is_not_a_terminal(data_root, tmp_path, capfd):
    # capfd: stderr is a pipe, as in CI logs, where each redraw becomes a new line
    run_benchmark(["nn"], ["set14"], data_root=data_root, out_dir=tmp_path / "r", protocols=["matlab"],
                  progress=True, jobs=1)
    err = capfd.readouterr().err
    redraws = err.count("srbench run:")
    assert 1 <= redraws <= 3, err  # the initial line and the final one, not one per image
    assert "14/14" in err


def _start_pooled_run(data_root, out):
    """``srbench run`` with 2 worker processes in its own process group, returned once the workers are busy."""
    env = {**os.environ, "SRBENCH_DATA": str(data_root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "srbench", "run", "--methods", "nn,bicubic", "--datasets", "set5,set14,bsd100",
         "--protocol", "matlab", "--out", str(out), "--jobs", "2", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    partial = out / "per_image.csv.partial"
    deadline = time.monotonic() + 120
    # set5's nearest rows are written once the workers measured them: they are up and running
    while proc.poll() is None and time.monotonic() < deadline:
        if partial.is_file() and len(partial.read_text().splitlines()) > 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before the test could act on it"
    return proc


def _stderr_when_done(proc: subprocess.Popen) -> str:
    """Wait (60 s at most) for a run started by :func:`_start_pooled_run`; return its stderr."""
    try:
        return proc.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_ctrl_c_stops_workers_quietly_and_leaves_only_the_partial_file(data_root, tmp_path):
    """SIGINT to the whole process group (what Ctrl-C does) while worker processes are running."""
    out = tmp_path / "run"
    proc = _start_pooled_run(data_root, out)
    os.killpg(proc.pid, signal.SIGINT)
    err = _stderr_when_done(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    last = err.strip().splitlines()[-2:]
    assert last[0] == "srbench run: interrupted"
    rows = len((out / "per_image.csv.partial").read_text().splitlines()) - 1
    assert last[1] == (f"  the {rows} rows measured before it stopped are kept in {out / 'per_image.csv.partial'} "
                       "(an unfinished run: no per_image.csv, summary.csv or run.json); run the same command again to "
                       "continue from them (--fresh starts over)")
    assert sorted(p.name for p in out.iterdir()) == ["per_image.csv.partial", "run.partial.json"]


def test_external_wrong_size_image_is_refused_up_front_in_one_line(data_root, tmp_path, capsys):
    folder = tmp_path / "mine" / "set5"
    folder.mkdir(parents=True)
    for path in (data_root / "set5" / "HR").glob("*.png"):
        shutil.copy(path, folder / path.name)
    with Image.open(folder / "bird.png") as im:  # 288x288 HR, cropped by 4 columns
        im.crop((0, 0, im.width - 4, im.height)).save(folder / "bird.png")
    out = tmp_path / "run"
    rc = main(["run", "--methods", f"nn,external:mine={folder.parent}", "--datasets", "set5",
               "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "bird.png (284x288, expected 288x288)" in err and str(folder.parent) in err
    assert not out.exists()  # refused before any image was measured


def test_two_external_folders_with_one_name_are_refused(data_root, tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    out = tmp_path / "run"
    rc = main(["run", "--methods", f"external:mine={first},external:mine={second}", "--datasets", "set5",
               "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "two methods are named 'mine'" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_default_jobs_follow_the_cpu_affinity_not_the_machine():
    # a child pinned to one core (as taskset or a batch scheduler would) must not spawn a worker per machine core
    code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); " \
           "from srbench.run.runner import usable_cpus; print(usable_cpus())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"


def test_external_coverage_is_printed_before_measuring(data_root, tmp_path, capsys):
    # the coverage lines come first, so they are there even when the run then stops (here: no set5 in the data root)
    folder = tmp_path / "mine" / "set5"
    folder.mkdir(parents=True)
    shutil.copy(data_root / "set5" / "HR" / "baby.png", folder / "baby.png")
    empty_root = tmp_path / "root"
    empty_root.mkdir()
    rc = main(["run", "--methods", f"external:mine={folder.parent}", "--datasets", "set5",
               "--data-root", str(empty_root), "--out", str(tmp_path / "run"), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 2 and "has no 'set5' folder" in captured.err
    assert "external:mine covers 1/5 of set5 (missing bird.png, butterfly.png, head.png, woman.png)" in captured.out


def _worker_pids(parent: int) -> list[int]:
    """Pool worker processes (children running multiprocessing's spawn_main) of ``parent``, from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        if ppid == parent and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc (Linux)")
def test_a_killed_worker_is_a_one_line_error(data_root, tmp_path):
    """A worker killed from outside (as the OOM killer does) stops the run with one clear line."""
    out = tmp_path / "run"
    proc = _start_pooled_run(data_root, out)
    os.kill(_worker_pids(proc.pid)[0], signal.SIGKILL)
    err = _stderr_when_done(proc)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("srbench run: error: a metric worker"), err
    assert not (out / "per_image.csv").exists()


class _FailsAt(srbench.Method):
    """SYNTHETIC: nearest neighbour, but raises ``error`` when it reaches the image ``at``."""

    def __init__(self, name, at, error):
        self.name, self.at, self.error = name, at, error

    def upscale(self, lr, *, dataset="", name=""):
        if name == self.at:
            raise self.error
        return srbench.get_method("nearest").upscale(lr, dataset=dataset, name=name)


@pytest.fixture
def failing_methods():
    names = {"synthetic-fails-at-head": ("head.png", SrbenchError("SYNTHETIC failure at head.png")),
             "synthetic-ctrl-c-at-baby": ("baby.png", KeyboardInterrupt())}
    for name, (at, error) in names.items():
        registry.register_method(name, lambda name=name, at=at, error=error: _FailsAt(name, at, error),
                                 description="SYNTHETIC")
    yield
    for name in names:
        registry._unregister(name)


def test_a_failed_run_keeps_its_measured_rows_and_says_where(failing_methods, data_root, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["run", "--methods", "bicubic,synthetic-fails-at-head", "--datasets", "set5", "--protocol", "matlab",
               "--data-root", str(data_root), "--out", str(out), "--no-progress", "--jobs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    partial = out / "per_image.csv.partial"
    assert err[0] == (f"srbench run: error: SYNTHETIC failure at head.png; the 5 rows measured before it stopped are "
                      f"kept in {partial} (an unfinished run: no per_image.csv, summary.csv or run.json); run the same "
                      "command again to continue from them (--fresh starts over)")
    assert len(partial.read_text().splitlines()) == 1 + 5 and sorted(os.listdir(out)) == ["per_image.csv.partial", "run.partial.json"]


def test_a_run_stopped_before_any_row_leaves_nothing(failing_methods, data_root, tmp_path, capsys):
    out = tmp_path / "new" / "run"
    rc = main(["run", "--methods", "synthetic-ctrl-c-at-baby", "--datasets", "set5", "--data-root", str(data_root),
               "--out", str(out), "--no-progress", "--jobs", "1"])
    assert rc == 130 and capsys.readouterr().err.strip() == "srbench run: interrupted"
    assert not out.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "notes.txt").write_text("the user's")
    assert main(["run", "--methods", "synthetic-ctrl-c-at-baby", "--datasets", "set5", "--data-root", str(data_root),
                 "--out", str(existing), "--no-progress", "--jobs", "1"]) == 130
    assert sorted(os.listdir(existing)) == ["notes.txt"]  # an existing folder stays, without our partial file


def test_a_checksum_failure_leaves_no_empty_out_folder(data_root, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(data_root / "set5", root / "set5")
    target = root / "set5" / "LR_bicubic_x4" / "bird.png"
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF  # SYNTHETIC damage: one byte of the real file flipped
    target.write_bytes(bytes(data))
    out = tmp_path / "run"
    rc = main(["run", "--methods", "bicubic", "--datasets", "set5", "--data-root", str(root), "--out", str(out),
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "checksum mismatch" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_unknown_method_names_everything_one_can_write(data_root, tmp_path, capsys):
    rc = main(["run", "--methods", "lanczos", "--datasets", "set5", "--data-root", str(data_root),
               "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    for part in ("registered: nearest, bicubic", "aliases: nn = nearest", "families: external:NAME=DIR", "'all'"):
        assert part in err, err


def test_list_methods_shows_aliases_and_families(capsys):
    assert main(["run", "--list-methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["nearest", "(nn)", "ready"]
    assert any(line.startswith("external:NAME=DIR ") for line in lines)
    assert lines[-1].startswith("all ")


def test_a_truncated_checkpoint_is_not_ready_and_all_skips_it(data_root, tmp_path, capsys, monkeypatch):
    """A copy of the committed ESPCN checkpoint cut short (an interrupted copy): listed and skipped with why."""
    source = Path(__file__).resolve().parent.parent / "results" / "checkpoints" / "espcn" / "model.safetensors"
    (tmp_path / "ckpt" / "espcn").mkdir(parents=True)
    data = source.read_bytes()
    (tmp_path / "ckpt" / "espcn" / "model.safetensors").write_bytes(data[: len(data) - 1000])
    monkeypatch.setenv("SRBENCH_CHECKPOINTS", str(tmp_path / "ckpt"))
    (tmp_path / "no-release").mkdir()  # the authors' images not installed: 'all' is nearest, bicubic and espcn
    monkeypatch.setenv("SRBENCH_PUBLISHED", str(tmp_path / "no-release"))
    assert main(["run", "--list-methods"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("espcn ")]
    assert len(listed) == 1 and "unavailable: unusable checkpoint" in listed[0] and "is truncated" in listed[0]
    rc = main(["run", "--methods", "all", "--datasets", "set5", "--protocol", "matlab", "--data-root", str(data_root),
               "--out", str(tmp_path / "r"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "skipped espcn: unusable checkpoint" in out and "is truncated" in out
    assert set(pd.read_csv(tmp_path / "r" / "per_image.csv").method) == {"nearest", "bicubic"}
    rc = main(["run", "--methods", "espcn", "--datasets", "set5", "--data-root", str(data_root),
               "--out", str(tmp_path / "r2"), "--no-progress"])
    assert rc == 2 and "method espcn cannot run: unusable checkpoint" in capsys.readouterr().err
