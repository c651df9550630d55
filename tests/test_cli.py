"""The ``srbench`` command line's own paths: no subcommand, --version, run --overwrite / --list-methods /
the default output folder, report with no arguments, and operating-system errors anywhere in a command.

OS errors are injected two ways: real ones that even root cannot bypass (a folder where a file is
expected) and simulated ones (``os.replace`` or ``open`` raising PermissionError / ENOSPC for one
file) where no real fault can be made on this machine (the tests run as root, which ignores
permission bits, and no small full disk is available).
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

from srbench.cli import main

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("run", "datasets", "train", "report", "mos", "view")
RUN = ["run", "--methods", "nn", "--datasets", "set5", "--protocol", "matlab", "--no-progress"]


def _srbench(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m srbench ARGS`` in a fresh interpreter (what the console script runs)."""
    return subprocess.run([sys.executable, "-m", "srbench", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd or PROJECT_ROOT, timeout=300)


def _one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"srbench {command}: error: "), err
    return lines[0]


# ---------------------------------------------------------------- no subcommand, --version
def test_no_subcommand_prints_the_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: srbench")
    for command in SUBCOMMANDS:
        assert re.search(rf"^\s+{command}\s", out, re.M), command


def test_version_is_the_installed_distribution_version(capsys):
    expected = f"srbench {version('srbench')}"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == expected
    proc = _srbench("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == expected and proc.stderr == ""


# ---------------------------------------------------------------- run
def test_run_overwrite_replaces_the_earlier_run(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    args = [*RUN, "--data-root", str(data_root), "--out", str(out)]
    assert main(args) == 0
    first = (out / "per_image.csv").read_bytes()
    capsys.readouterr()
    # a second run into the same folder is refused, and the first run is left as it was
    again = ["run", "--methods", "bicubic", "--datasets", "set5", "--protocol", "matlab", "--no-progress",
             "--data-root", str(data_root), "--out", str(out)]
    assert main(again) == 2
    assert "already holds a run" in _one_error_line(capsys.readouterr().err, "run")
    assert (out / "per_image.csv").read_bytes() == first
    # --overwrite: every table is the new run's
    assert main([*again, "--overwrite"]) == 0
    per_image = pd.read_csv(out / "per_image.csv")
    assert set(per_image.method) == {"bicubic"} and len(per_image) == 5
    assert set(pd.read_csv(out / "summary.csv").method) == {"bicubic"}
    assert list(json.loads((out / "run.json").read_text())["methods"]) == ["bicubic"]
    assert sorted(p.name for p in out.iterdir()) == ["per_image.csv", "run.json", "summary.csv"]


def test_list_methods_names_every_method_and_why_it_cannot_run(tmp_path, capsys, monkeypatch):
    from srbench.run.registry import all_method_names

    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(PROJECT_ROOT / "results" / "checkpoints" / "espcn", checkpoints / "espcn")
    monkeypatch.setenv("SRBENCH_CHECKPOINTS", str(checkpoints))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--list-methods"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # "NAME (ALIAS, ...)   STATE" per method, "PATTERN   family (KIND): ..." per family, the family's
    # members (those 'all' includes) indented under it, and the closing 'all' line
    assert lines[-1].split()[0] == "all"
    families = [line for line in lines[:-1] if re.match(r"\S+ +family \(", line)]
    assert "external:NAME=DIR" in [line.split()[0] for line in families]
    parsed = [re.fullmatch(r" *(\S+)(?: \(([^)]*)\))? +(.*)", line).groups()
              for line in lines[:-1] if line not in families]
    listed = {name: state for name, _aliases, state in parsed}
    assert list(listed) == all_method_names()  # one line each, in registration order
    assert dict((name, aliases) for name, aliases, _ in parsed)["nearest"] == "nn"
    own = {name: state for name, state in listed.items() if ":" not in name}  # not a family's member
    assert {name for name, state in own.items() if state == "ready"} == {"nearest", "bicubic", "espcn"}
    for name, state in own.items():
        if state != "ready":
            assert state == f"unavailable: no checkpoint at {checkpoints / name / 'model.safetensors'} " \
                            f"(train it with 'srbench train --method {name} ...')", state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]  # nothing run, nothing written


def test_run_without_out_writes_a_new_folder_under_results_runs(data_root, tmp_path):
    home = tmp_path / "home"  # $SRBENCH_HOME: the project root, so the checkout's results/ stay untouched
    proc = _srbench(*RUN, env={"SRBENCH_HOME": str(home), "SRBENCH_DATA": str(data_root)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = list((home / "results" / "runs").iterdir())
    assert len(runs) == 1 and re.fullmatch(r"\d{8}-\d{6}", runs[0].name), runs
    assert sorted(p.name for p in runs[0].iterdir()) == ["per_image.csv", "run.json", "summary.csv"]
    assert f"wrote {runs[0]}/per_image.csv" in proc.stdout


def test_default_run_folders_never_collide(tmp_path, monkeypatch):
    from srbench.run import runner

    monkeypatch.setattr(runner, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(runner.time, "strftime", lambda fmt: "20260101-120000")  # two runs in one second
    first = runner.default_out_dir()
    assert first == tmp_path / "20260101-120000"
    first.mkdir()
    second = runner.default_out_dir()
    assert second == tmp_path / "20260101-120000-2"
    second.mkdir()
    assert runner.default_out_dir() == tmp_path / "20260101-120000-3"


# ---------------------------------------------------------------- report
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists(),
                    reason="needs git and a git checkout")
def test_report_without_arguments_leaves_a_fresh_clone_clean(tmp_path):
    """``srbench report`` alone in a fresh clone (its project root via $SRBENCH_HOME) rebuilds results/report/
    from every committed results/metrics/*/ and results/ratings/*, and git then sees no change at all (issue 22):
    the tables, CSVs and PNGs come out as the same bytes, and each PDF that shows the same as the committed one
    (:mod:`srbench.report.pdf_content`) is left as it was, whichever fontTools encoded it.

    Written afresh into an empty folder, every file is the committed one: the PDFs by what they show."""
    from srbench.report.pdf_content import pdf_difference

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True, timeout=120)
    git_status = ["git", "status", "--porcelain", "--untracked-files=all"]
    # without the benchmark images (none fetched into the clone, no $SRBENCH_DATA) Figure 2/6 cannot be redrawn:
    # one line, and the committed figure is not deleted
    no_data = {k: v for k, v in os.environ.items() if k != "SRBENCH_DATA"}
    proc = subprocess.run([sys.executable, "-m", "srbench", "report"], capture_output=True, text=True, timeout=300,
                          env={**no_data, "SRBENCH_HOME": str(clone)}, cwd=tmp_path)
    assert proc.returncode == 2 and "cannot be redrawn here" in _one_error_line(proc.stderr, "report")
    assert subprocess.run(git_status, cwd=clone, capture_output=True, text=True, check=True).stdout == ""

    proc = _srbench("report", env={"SRBENCH_HOME": str(clone)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 23 files" in proc.stderr
    assert subprocess.run(git_status, cwd=clone, capture_output=True, text=True, check=True).stdout == ""

    committed = clone / "results" / "report"
    fresh = tmp_path / "fresh"
    proc = _srbench("report", "--out", str(fresh), env={"SRBENCH_HOME": str(clone)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in fresh.iterdir())
    assert [n for n in names if n.endswith(".pdf")] == ["figure2.pdf", "perception_bsd100.pdf",
                                                         "perception_set14.pdf", "perception_set5.pdf"]
    for name in names:
        if name.endswith(".pdf"):
            assert pdf_difference(fresh / name, committed / name) is None, name
        else:
            assert (fresh / name).read_bytes() == (committed / name).read_bytes(), name
    # and with nothing to report: one clear line
    empty = _srbench("report", env={"SRBENCH_HOME": str(tmp_path / "empty")}, cwd=tmp_path)
    assert empty.returncode == 2 and "nothing to report" in _one_error_line(empty.stderr, "report")


# ---------------------------------------------------------------- OS errors anywhere
@pytest.fixture
def fail_on(monkeypatch):
    """``fail_on(call, name, errno)``: make ``os.replace`` (the atomic writers' last step) or ``open``
    raise an OSError with ``errno`` when the file it targets is called ``name``; other calls go through."""

    def install(call: str, name: str, code: int) -> None:
        real = os.replace if call == "replace" else builtins.open

        def faulty(*args, **kwargs):
            target = args[1] if call == "replace" else args[0]
            if isinstance(target, (str, os.PathLike)) and Path(target).name == name:
                raise OSError(code, os.strerror(code), str(target))
            return real(*args, **kwargs)

        if call == "replace":
            monkeypatch.setattr(os, "replace", faulty)
        else:
            monkeypatch.setattr(builtins, "open", faulty)

    return install


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC], ids=["permission", "disk-full"])
def test_os_error_writing_run_tables_is_one_line(data_root, tmp_path, capsys, fail_on, code):
    fail_on("replace", "summary.csv", code)
    out = tmp_path / "run"
    assert main([*RUN, "--data-root", str(data_root), "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err, "run")
    assert line == f"srbench run: error: {os.strerror(code)}: {out / 'summary.csv'}"


def test_os_error_reading_an_image_is_one_line(data_root, tmp_path, capsys):
    # real fault: a folder where the HR image should be (root cannot read a folder as a file either)
    root = tmp_path / "data"
    shutil.copytree(data_root / "set5", root / "set5")
    (root / "set5" / "HR" / "bird.png").unlink()
    (root / "set5" / "HR" / "bird.png").mkdir()
    assert main([*RUN, "--data-root", str(root), "--out", str(tmp_path / "run")]) == 2
    assert "bird.png" in _one_error_line(capsys.readouterr().err, "run")


def test_os_error_writing_the_report_is_one_line(tmp_path, capsys, fail_on):
    fail_on("replace", "table2.tex", errno.EACCES)
    runs = [str(PROJECT_ROOT / "tests" / "fixtures" / "report" / "synthetic-classic")]
    assert main(["report", "--runs", *runs, "--out", str(tmp_path / "out")]) == 2
    line = _one_error_line(capsys.readouterr().err, "report")
    assert line == f"srbench report: error: Permission denied: {tmp_path / 'out' / 'table2.tex'}"


def test_os_error_verifying_datasets_is_one_line(data_root, tmp_path, capsys, fail_on):
    root = tmp_path / "data"
    shutil.copytree(data_root / "set5", root / "set5")
    fail_on("open", "woman.png", errno.EACCES)
    # verify reports an unreadable file as one of its problems (stdout, exit 1) and goes on with the others
    assert main(["datasets", "verify", "--datasets", "set5", "--data-root", str(root)]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == ["set5/HR/woman.png: cannot read (Permission denied)",  # HR and LR files
                                         "set5/LR_bicubic_x4/woman.png: cannot read (Permission denied)",
                                         "2 problem(s); 'srbench datasets fetch --datasets NAME --force' replaces "
                                         "a damaged set or release"]


def test_os_error_saving_a_training_checkpoint_is_one_line(train_root, tmp_path, capsys, fail_on):
    images = tmp_path / "t91"
    images.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:4]:
        (images / p.name).symlink_to(p)
    fail_on("replace", "model.safetensors", errno.ENOSPC)
    rc = main(["train", "--method", "srresnet-mse", "--train-data", str(images), "--iters", "1", "--batch", "2",
               "--patch", "32", "--blocks", "1", "--channels", "8", "--device", "cpu", "--val-data", "none",
               "--no-progress", "--out", str(tmp_path / "ckpt")])
    assert rc == 2
    line = _one_error_line(capsys.readouterr().err, "train")
    assert line.startswith("srbench train: error: No space left on device: ") and "model.safetensors" in line
    assert "no checkpoint was written by this invocation; what it logged is in" in line  # issue 15, item 4
