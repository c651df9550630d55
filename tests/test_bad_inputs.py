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
    ("run --methods bicubic --jobs 0", "argument --jobs: must be at least 1, got 0"),
    ("run --methods bicubic --jobs 2.5", "argument --jobs: expected a whole number, got '2.5'"),
    ("run --methods external:mine --datasets set5", "write external:NAME=DIR"),
    ("run --methods external:mine=TXT --datasets set5", "is not a folder"),
    ("run --methods srgan-vgg54 --datasets set5", "method srgan-vgg54 cannot run: no checkpoint at"),
    ("run --plugin no_such_plugin_module --methods bicubic", "cannot load srbench plugin 'no_such_plugin_module'"),
    ("run --plugin '' --methods bicubic", "an empty plugin module name (--plugin)"),
    # srbench upscale
    ("upscale T/missing.png --method bicubic --out T/o", "no such file or folder"),
    ("upscale EMPTY --method bicubic --out T/o", "no PNG, JPEG, WebP, GIF, BMP or TIFF images in this folder"),
    ("upscale TXT --method bicubic --out T/o", "not an image file Pillow can read"),
    ("upscale T/fake.png --method bicubic --out T/o", "not an image file Pillow can read"),
    (f"upscale {LR}/baby.png --method external:x=EMPTY --out T/o", "cannot upscale other images"),
    (f"upscale {LR}/baby.png --method srgan-mse --out T/o", "method srgan-mse cannot run: no checkpoint"),
    (f"upscale {LR}/baby.png --method bicubic --tile -3", "argument --tile: must be at least 0 (0: whole images), got -3"),
    (f"upscale {LR}/baby.png --method bicubic --tile 2.5", "argument --tile: expected a whole number, got '2.5'"),
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
    # srbench view (runs of different sets, missing or changed images, no saved images: tests/test_view.py)
    ("view EMPTY --check", "is not a run folder: no per_image.csv"),
    ("view TXT --check", "is not a folder (give 'srbench run' output folders)"),
    ("view T/nowhere --check", "does not exist (give 'srbench run' output folders)"),
    ("view EMPTY --port 0", "--port 0 is not a TCP port (1..65535)"),
    ("view --methods lanczos --datasets set5 --out T/v --check", "unknown method 'lanczos'"),
    ("view --methods nn --datasets set6 --out T/v --check", "unknown dataset 'set6'"),
    ("view --methods nn --datasets set5 --data-root T/nowhere --out T/v --check", "does not exist. Fetch the benchmark"),
    ("view EMPTY --protocol psnr", "argument --protocol: invalid choice: 'psnr'"),
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


# The inputs each subcommand's cases must exercise (a word of some case line: an option or a sub-subcommand).
COVERED = {
    "run": {"--methods", "--datasets", "--protocol", "--data-root", "--out", "--jobs", "--plugin"},
    "upscale": {"--method", "--tile", "--out"},
    "datasets": {"fetch", "verify", "list", "--source", "--datasets", "--data-root", "--timeout"},
    "report": {"--runs", "--ratings", "--protocol", "--out"},
    "mos": {"create", "serve", "export", "--name", "--methods", "--calibration", "--repeats", "--train-data",
            "--study", "--out"},
    "view": {"--check", "--methods", "--datasets", "--port", "--protocol", "--data-root", "--out"},
}


def test_cases_cover_every_subcommand_and_its_inputs():
    """What the cases are, not only how many: every subcommand but train (TRAIN_CASES below) has cases, which
    exercise the inputs in COVERED; no command line is listed twice, and every fragment is a real message."""
    from srbench.cli import SUBCOMMANDS

    assert len(CASES) >= 30
    words: dict[str, set[str]] = {}
    for line, _ in CASES:
        command, *rest = shlex.split(line)
        words.setdefault(command, set()).update(rest)
    assert set(words) == set(SUBCOMMANDS) - {"train"} == set(COVERED)
    for command, needed in COVERED.items():
        assert needed <= words[command], (command, sorted(needed - words[command]))
    lines = [line for line, _ in CASES]
    assert len(set(lines)) == len(lines), [line for line in lines if lines.count(line) > 1]
    assert all(len(fragment) >= 8 and not fragment.startswith("srbench") for _, fragment in CASES)
    train = [args for args, _ in TRAIN_CASES]
    assert len(set(train)) == len(train) >= 30
    assert {"--out", "--train-data", "--val-data", "--init", "--resume", "--method", "--iters", "--lr",
            "--patch", "--budget-minutes", "--val-every"} <= {w for args in train for w in shlex.split(args)}


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


# ---------------------------------------------------------------- srbench train
TRAIN_DEFAULTS = ("--method srresnet-mse --train-data IMGS --out T/o --iters 1 --batch 2 --patch 32 --blocks 1 "
                  "--channels 8 --device cpu --val-data none --no-progress")


@pytest.fixture()
def train_place(place, tmp_path) -> dict[str, str]:
    """``place`` plus SYNTHETIC training inputs: IMGS (three random 48x48 PNGs), BADIMGS (one of them and a
    corrupt PNG), VALBAD (an HR/LR pair of the wrong sizes), BROKEN (a resume.json that is not JSON), FAKE (a
    .safetensors name on text) and SRCNN (the committed srcnn checkpoint, read only)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("imgs", "badimgs", "valbad/HR", "valbad/LR_bicubic_x4", "broken"):
        (tmp_path / name).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    Image.open(tmp_path / "imgs" / "0.png").save(tmp_path / "badimgs" / "good.png")
    (tmp_path / "badimgs" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # cut short
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "valbad" / "HR" / "a.png")
    Image.fromarray(rng.integers(0, 256, (11, 11, 3), dtype=np.uint8)).save(tmp_path / "valbad" / "LR_bicubic_x4" / "a.png")
    (tmp_path / "broken" / "resume.json").write_text("{\"format\": \"srbench-resume-1\", \n")  # cut short
    (tmp_path / "broken" / "resume.safetensors").write_bytes(b"\0" * 16)
    (tmp_path / "fake.safetensors").write_text("not a checkpoint\n")
    return {**place, "IMGS": str(tmp_path / "imgs"), "BADIMGS": str(tmp_path / "badimgs"),
            "VALBAD": str(tmp_path / "valbad"), "BROKEN": str(tmp_path / "broken"),
            "FAKE": str(tmp_path / "fake.safetensors"), "SRCNN": str(ROOT / "results" / "checkpoints" / "srcnn")}


TRAIN_CASES = [
    # where the output goes (these two were tracebacks: FileExistsError, PermissionError/FileNotFoundError)
    ("--out TXT", "is a file; give a folder for the checkpoint and logs"),
    ("--out RO/o", "cannot write --out"),
    ("--out SRCNN", "already holds a checkpoint; continue it with --resume"),
    # training images (a failure after the output folder was made used to leave empty train.log/metrics.jsonl)
    ("--train-data TXT", "is a file; give the folder(s) holding the training images"),
    ("--train-data T/nowhere", "training data folder"),
    ("--train-data EMPTY", "no training images (PNG, JPEG, WebP) found under"),
    ("--train-data ,", "no training data folder given"),
    ("--train-data BADIMGS", "bad.png: not an image file Pillow can read"),
    ("--patch 4096", "no training image is at least 4096x4096 pixels"),
    ("--patch 30", "--patch must be a multiple of 4"),
    # validation sets (item 4: a bad --val-data left empty log files)
    ("--val-data T/nowhere", "does not exist"),
    ("--val-data EMPTY", "needs HR/ and LR_bicubic_x4/ subfolders"),
    ("--val-data TXT", "is a file; give a folder holding HR/ and LR_bicubic_x4/"),
    ("--val-data VALBAD", "LR is 11x11 but HR is 48x48"),
    # --init names the path given, and is checked before any image is decoded
    ("--init TXT", "notes.txt is not a checkpoint: give a model.safetensors file"),
    ("--init EMPTY", "no model.safetensors in this folder"),
    ("--init T/nowhere", "nowhere: no such file or folder"),
    ("--init FAKE", "fake.safetensors is not a safetensors file"),
    ("--init SRCNN", "does not fit the srresnet-mse generator"),
    # --resume
    ("--resume EMPTY", "holds no resume state (resume.json + resume.safetensors)"),
    ("--resume T/nowhere", "no such folder"),
    ("--resume TXT", "is a file; give the checkpoint folder of the run to continue"),
    ("--resume BROKEN", "resume.json is not valid JSON"),  # was a JSONDecodeError traceback
    ("--resume SRCNN --out T/o --iters 9", "is a srcnn run, not srresnet-mse"),
    ("--resume SRCNN --init SRCNN", "--init and --resume exclude each other"),
    # names and numbers
    ("--method srresnet", "no trainable method 'srresnet'; trainable: espcn, srcnn"),
    ("--iters abc", "argument --iters: expected a whole number, got 'abc'"),
    ("--iters 1e30", "argument --iters: must be below 2**63"),
    ("--iters 0", "argument --iters: must be at least 1"),
    ("--lr -1", "--lr must be a positive finite number"),
    ("--budget-minutes 0", "--budget-minutes must be a positive finite number"),
    ("--val-every -5", "--val-every must be >= 0"),
    ("--method srresnet-vgg22 --vgg-weights TXT", "not a PyTorch weights file"),  # was "...notes.txt: 101"
]


@pytest.mark.parametrize("args, fragment", TRAIN_CASES, ids=[c[0][:60] for c in TRAIN_CASES])
def test_bad_train_input_is_one_clear_line_and_leaves_nothing(train_place, tmp_path, args, fragment, capsys):
    test_bad_input_is_one_clear_line(train_place, f"train {TRAIN_DEFAULTS} {args}", fragment, capsys)
    assert not (tmp_path / "o").exists(), sorted(p.name for p in (tmp_path / "o").iterdir())


def test_train_with_a_batch_beyond_memory_is_refused_not_killed(train_place, tmp_path):
    """A --batch whose patches cannot fit is refused before allocating; one that fails to allocate later is
    reported as out of memory. The child's address space is capped at 1 GiB above what its imports took, so
    neither can reach the OOM killer even without the checks (the old code then died with a traceback)."""
    child = ("import resource, sys\n"
             "from srbench.cli import main\n"
             "import srbench.methods.training.trainer\n"
             "size = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
             "resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))\n"
             "sys.exit(main(sys.argv[1:]))\n")
    args = [_expand(w, train_place) for w in shlex.split(f"train {TRAIN_DEFAULTS}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for batch, fragment in (("1000000000", "needs at least"), ("40000", "out of memory on cpu at batch 40000")):
        proc = subprocess.run([sys.executable, "-c", child, *args, "--batch", batch], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(err) == 1 and fragment in err[0], proc.stderr[-2000:]
        assert "lower --batch or --patch" in err[0]


def test_a_train_that_fails_after_logging_says_what_it_left(train_place, tmp_path, capsys):
    """Divergence (lr 1e30) with no checkpoint yet: the one error line names the logs this invocation wrote."""
    argv = [_expand(w, train_place) for w in shlex.split(f"train {TRAIN_DEFAULTS}")]
    rc = main([*argv, "--iters", "20", "--lr", "1e30", "--ckpt-every", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "non-finite loss" in err[0], err
    assert f"no checkpoint was written by this invocation; what it logged is in {tmp_path / 'o' / 'train.log'}" in err[0]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["metrics.jsonl", "train.log"]
