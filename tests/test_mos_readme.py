"""The MOS README's first command works on a fresh checkout (every method it names can run here, its
calibration images are found); run with Set5 only, fewer calibration images and a tmp --out/--links."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from srbench.cli import main
from srbench.run.registry import get_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")
README = Path(__file__).resolve().parent.parent / "mos_app" / "README.md"


def first_command() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    joined = re.sub(r"\\\n\s*", " ", block)
    line = next(l for l in joined.splitlines() if l.strip().startswith("srbench "))
    return shlex.split(line)[1:]


def _set(args: list[str], flag: str, value: str) -> None:
    args[args.index(flag) + 1] = value


def test_mos_readme_first_command_runs_on_a_fresh_checkout(tmp_path, data_root, train_root, monkeypatch):
    args = first_command()
    assert args[:2] == ["mos", "create"]
    methods = args[args.index("--methods") + 1].split(",")
    for name in methods:
        assert get_method(name).availability() is None, name
    train = Path(args[args.index("--train-data") + 1])
    assert (README.parent.parent / train / "bsd200").is_dir() or train.resolve() == train_root
    monkeypatch.delenv("SRBENCH_TRAIN_DATA", raising=False)  # a fresh shell: only what the command says
    monkeypatch.chdir(README.parent.parent)
    _set(args, "--datasets", "set5")
    _set(args, "--calibration", "2")
    _set(args, "--repeats", "2")
    _set(args, "--out", str(tmp_path / "study"))
    _set(args, "--links", str(tmp_path / "links.csv"))
    assert main(args + ["--data-root", str(data_root)]) == 0
    assert (tmp_path / "study" / "manifest.json").is_file()
