"""Bad input as a new user types it, across every subcommand: one clear line on stderr, exit status 2.

Each case names the fragment its one error line must hold. Files the cases
need are made in tmp_path (``F`` below) from the real data or as plain text;
nothing is written outside tmp_path. The upscale, run, train and MOS test
files hold the cases that need more than one line to set up.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from srbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
LR = "DATA/set5/LR_bicubic_x4"


@pytest.fixture()
def place(tmp_path, data_root, unwritable_dir) -> dict[str, str]:
    """Names used in the cases: DATA (benchmark root), T (tmp), TXT (a text file), EMPTY (a folder), RO (unwritable)."""
    (tmp_path / "notes.txt").write_text("not an image, not a CSV of ratings\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a PNG signature and nothing else
    (tmp_path / "study").mkdir()
    return {"DATA": str(data_root), "T": str(tmp_path), "TXT": str(tmp_path / "notes.txt"),
            "EMPTY": str(tmp_path / "empty"), "RO": str(unwritable_dir)}


CASES = [
    # srbench run
    ("run --methods lanczos --datasets set5", "unknown method 'lanczos'; registered: nearest, bicubic"),
    ("run --methods bicubic --datasets set6", "unknown dataset 'set6'; choose from set5, set14, bsd100"),
    ("run --methods bicubic --datasets set5 --protocol psnr", "unknown protocol 'psnr'"),
    ("run --methods bicubic --datasets , --out T/r", "need at least one method, one dataset and one protocol"),
    ("run --methods bicubic --datasets set5 --data-root T/nowhere", "does not exist. Fetch the benchmark sets"),
    ("run --methods bicubic --datasets set5 --data-root TXT", "is a file, not a folder holding set5/"),
    ("run --methods bicubic --datasets set5 --data-root EMPTY --out T/r", "the data root has no 'set5' folder"),
    ("run --methods bicubic --datasets set5 --out TXT", "is a file, not a folder"),
    ("run --methods bicubic --datasets set5 --out RO/run", "cannot write the run into --out"),
    ("run --methods bicubic --jobs 0", "argument --jobs: expected a positive integer, got '0'"),
    ("run --methods external:mine --datasets set5", "write external:NAME=DIR"),
    ("run --methods external:mine=TXT --datasets set5", "is not a folder"),
    ("run --methods srgan-vgg54 --datasets set5", "method srgan-vgg54 cannot run: no checkpoint at"),
    ("run --plugin no_such_plugin_module --methods bicubic", "cannot load srbench plugin 'no_such_plugin_module'"),
    ("run --plugin '' --methods bicubic", "an empty plugin module name (--plugin)"),
    # srbench upscale
    ("upscale T/missing.png --method bicubic --out T/o", "no such file or folder"),
    ("upscale EMPTY --method bicubic --out T/o", "no PNG, JPEG or WebP images in this folder"),
    ("upscale TXT --method bicubic --out T/o", "not an image file Pillow can read"),
    ("upscale T/fake.png --method bicubic --out T/o", "not an image file Pillow can read"),
    (f"upscale {LR}/baby.png --method external:x=EMPTY --out T/o", "cannot upscale other images"),
    (f"upscale {LR}/baby.png --method srgan-mse --out T/o", "method srgan-mse cannot run: no checkpoint"),
    (f"upscale {LR}/baby.png --method bicubic --tile -3", "argument --tile: expected 0 (no tiling) or a positive"),
    (f"upscale {LR}/baby.png --method bicubic --out RO/up", "cannot write into --out"),
    (f"upscale {LR} --method bicubic --out {LR}", "would overwrite the input"),
    # srbench datasets
    ("datasets fetch --source T/nowhere --data-root T/d", "no such folder or file"),
    ("datasets fetch --source TXT --data-root T/d", "not a zip or tar archive"),
    ("datasets fetch --source ftp://example.org/sets.zip --data-root T/d", "ftp:// is not supported"),
    ("datasets fetch --source EMPTY --datasets set5 --data-root T/d", "set5/HR/baby.png: not found in folder"),
    ("datasets fetch --source DATA/set5 --datasets set5 --data-root T/d", "looks like one set's folder"),
    ("datasets fetch --datasets '' --data-root T/d", "--datasets '' names no set"),
    ("datasets fetch --timeout 0 --data-root T/d", "--timeout must be a positive number of seconds"),
    ("datasets fetch --source DATA --data-root TXT", "is a file; give a folder to install the sets into"),
    ("datasets fetch --source DATA --datasets set5 --data-root RO/data", "cannot write into the data root"),
    ("datasets verify --data-root T/nowhere", "does not exist"),
    ("datasets list --data-root TXT", "is a file, not a folder holding set5/"),
    ("datasets verify --datasets urban100", "unknown dataset 'urban100'"),
    # srbench report
    ("report --runs EMPTY --out T/rep", "no per_image.csv (is this an 'srbench run' output folder?)"),
    ("report --ratings T/nowhere.csv --out T/rep", "ratings file"),
    ("report --ratings TXT --out T/rep", "ratings CSV lacks columns"),
    ("report --runs DATA", "--out is required with --runs/--ratings"),
    ("report --protocol psnr", "argument --protocol: invalid choice: 'psnr'"),
    # srbench mos
    ("mos create --name 'my study' --methods nearest --datasets set5 --calibration 0 --out T/s1", "invalid study name"),
    ("mos create --name s --methods lanczos --datasets set5 --calibration 0 --out T/s1", "unknown method 'lanczos'"),
    ("mos create --name s --methods nearest,nn --datasets set5 --calibration 0 --out T/s1", "lists a method twice"),
    ("mos create --name s --methods hr --datasets set5 --calibration 0 --out T/s1", "names no method besides 'hr'"),
    ("mos create --name s --methods nearest --datasets set5 --calibration 0 --out T/study", "already exists"),
    ("mos create --name s --methods nearest --datasets set5 --calibration 0 --out RO/s", "is not writable"),
    ("mos create --name s --methods nearest --datasets set5 --calibration 2 --train-data EMPTY --out T/s1",
     "the training-data folder must hold bsd200/"),
    ("mos create --name s --methods nearest --datasets set5 --calibration 0 --repeats 99 --out T/s1",
     "--repeats 99 must be between 0 and the number of items (10)"),
    ("mos serve --study T/nowhere", "does not exist (create one with 'srbench mos create')"),
    ("mos serve --study TXT", "is a file; give the study folder"),
    ("mos serve --study EMPTY", "manifest.json is missing"),
    ("mos export --study EMPTY --out T/x.csv", "manifest.json is missing"),
]


@pytest.mark.parametrize("line, fragment", CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_is_one_clear_line(place, line, fragment, capsys):
    argv = [_expand(word, place) for word in shlex.split(line)]
    try:
        rc = main(argv)
        usage = False
    except SystemExit as exc:  # argparse: its usage lines, then one error line
        rc, usage = exc.code, True
    captured = capsys.readouterr()
    err = [l for l in captured.err.strip().splitlines() if l.strip()]
    assert rc == 2, (rc, captured.err[-2000:])
    if usage:
        assert err[0].startswith("usage: srbench"), err
        err = err[-1:]
    assert len(err) == 1 and err[0].startswith(f"srbench {argv[0]}"), err
    assert fragment in err[0], err[0]
    assert "Traceback" not in captured.err


def _expand(word: str, place: dict[str, str]) -> str:
    for name in sorted(place, key=len, reverse=True):
        if word == name or word.startswith(name + "/") or f"={name}" in word:
            return word.replace(name, place[name], 1)
    return word


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_a_closed_stdout_ends_quietly(data_root):
    """``srbench datasets list | head -0``: the reader is gone; no BrokenPipeError traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "srbench", "datasets", "list", "--data-root", str(data_root)],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
