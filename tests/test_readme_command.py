"""The README's test command works as printed, and CI runs exactly that command (issue 15, item 1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _readme_pytest_line(text: str) -> str:
    """The README line that runs pytest, found independently of .ci/readme_command.py (a plain search)."""
    lines = [line.strip() for line in text.splitlines() if "-m pytest" in line and not line.lstrip().startswith("#")
             and "`" not in line]
    assert len(lines) == 1, lines
    return lines[0]


def _dry_run(checkout: Path) -> str:
    proc = subprocess.run(["bash", str(checkout / ".ci" / "run"), "--dry-run"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _readme_install_line(text: str) -> str:
    """The README line that runs pip install, found independently of .ci/readme_command.py (a plain search)."""
    lines = [line.strip() for line in text.splitlines() if "pip install" in line and "`" not in line
             and not line.lstrip().startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def test_ci_runs_the_readme_install_and_test_commands_as_printed():
    text = README.read_text(encoding="utf-8")
    assert _dry_run(ROOT) == _readme_pytest_line(text)
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "run"), "--print-install"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == _readme_install_line(text), proc.stderr
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    code = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    # CI neither sets the data variables itself, nor calls pytest or pip any other way
    assert not [line for line in code if "pytest" in line or "SRBENCH_" in line or "pip " in line]
    assert 'bash -euo pipefail -c "$INSTALL_COMMAND && $TEST_COMMAND"' in ci


def test_the_readme_installs_through_the_committed_lock():
    """Issue 22: what CI tests is what a new user gets - the install takes its versions from requirements.lock,
    which pins every distribution (name==version) the project and its test extra need, torch included."""
    assert "-c requirements.lock" in _readme_install_line(README.read_text(encoding="utf-8"))
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and " " not in line, line
            pins[name.lower().replace("_", "-")] = version
    for needed in ("torch", "torchvision", "numpy", "pillow", "scipy", "scikit-image", "pandas", "matplotlib",
                   "fonttools", "streamlit", "tqdm", "safetensors", "pypdfium2", "pytest", "playwright"):
        assert needed in pins, needed
    assert "srbench" not in pins  # the project itself is installed from the checkout


def test_readme_command_finds_one_install_line(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_command", ROOT / ".ci" / "readme_command.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.runs_pip_install('python3 -m venv .venv && . .venv/bin/activate && pip install -c x -e ".[test]"')
    assert module.runs_pip_install("python -m pip install srbench")
    assert not module.runs_pip_install("srbench run --methods all  # pip install later")
    readme = tmp_path / "README.md"
    readme.write_text("```bash\npip install -e .\npip install torch\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected exactly one pip install command"):
        module.install_command(readme)


def test_ci_follows_a_changed_readme_command(tmp_path):
    """Another engineer adds a variable (and a continuation line): CI runs the new command."""
    (tmp_path / ".ci").mkdir()
    for name in ("run", "readme_command.py"):
        shutil.copy(ROOT / ".ci" / name, tmp_path / ".ci" / name)
    text = README.read_text(encoding="utf-8")
    old = _readme_pytest_line(text)
    new_line = "SRBENCH_NIQE_MODEL=../shared/reference/niqe_model.json \\\n  " + old
    (tmp_path / "README.md").write_text(text.replace(old, new_line), encoding="utf-8")
    assert _dry_run(tmp_path) == "SRBENCH_NIQE_MODEL=../shared/reference/niqe_model.json " + old

    (tmp_path / "README.md").write_text(text.replace(old, old + "\n" + old), encoding="utf-8")
    proc = subprocess.run(["bash", str(tmp_path / ".ci" / "run"), "--dry-run"], capture_output=True, text=True)
    assert proc.returncode != 0 and "expected exactly one pytest command" in proc.stderr


def test_paths_from_the_environment_work_from_anywhere(data_root, train_root, tmp_path):
    """What the README's relative paths broke: symlinks to training images and subprocesses started elsewhere.

    Run directly it checks the suite's own environment; ``test_the_readme_command_passes_as_written``
    runs it again under the README's command line with its relative ``../shared`` paths.
    """
    for name in ("SRBENCH_DATA", "SRBENCH_TRAIN_DATA"):
        if os.environ.get(name):
            assert os.path.isabs(os.environ[name]), f"${name} = {os.environ[name]} is still relative"
    image = sorted((train_root / "t91").glob("*.webp"))[0]
    link = tmp_path / "t91" / image.name
    link.parent.mkdir()
    link.symlink_to(Path(os.environ.get("SRBENCH_TRAIN_DATA", train_root)) / "t91" / image.name)
    assert link.resolve().is_file()
    probe = "import os, sys; sys.exit(0 if os.path.isdir(os.path.join(os.environ.get('SRBENCH_DATA', sys.argv[1]), 'set5')) else 1)"
    assert subprocess.run([sys.executable, "-c", probe, str(data_root)], cwd=tmp_path).returncode == 0


@pytest.mark.skipif(not (ROOT.parent / "shared" / "datasets").is_dir(),
                    reason="the README's command expects ../shared beside the checkout")
def test_the_readme_command_passes_as_written():
    """The README's command, pasted into bash at the checkout root (only this file's path test selected)."""
    command = _readme_pytest_line(README.read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRBENCH_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # `python` = this interpreter
    selection = " tests/test_readme_command.py::test_paths_from_the_environment_work_from_anywhere -q -p no:cacheprovider"
    proc = subprocess.run(["bash", "-c", command + selection], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


def _readme_train_lines(text: str) -> list[str]:
    """The ``srbench train`` command lines of the README's Training section (comments dropped)."""
    section = text.split("## Training", 1)[1].split("\n## ", 1)[0]
    return [line.split("#", 1)[0].strip() for line in section.splitlines() if line.startswith("srbench train ")]


def test_the_readme_training_examples_start_in_a_fresh_clone(train_root, tmp_path, monkeypatch):
    """Every README training line passes the trainer's start-up checks (output folder, --init/--resume, flags) from a
    clone's root, and none writes into a committed checkpoint folder (issue 15, item 5: the first example used to
    be refused there: "results/checkpoints/srresnet-mse already holds a checkpoint").

    The clone is tmp_path with results/ linked to this checkout's (only read here): nothing is trained.
    """
    from srbench.cli import build_parser
    from srbench.cli.train import config_from_args
    from srbench.methods.training.trainer import Trainer

    lines = _readme_train_lines(README.read_text(encoding="utf-8"))
    assert len(lines) >= 4, lines
    trained = {line.split("--method ", 1)[1].split()[0] for line in lines if "--method " in line}
    assert {"srresnet-mse", "srgan-mse"} <= trained, lines  # the paper's two stages, at least
    assert all("--method " in line and "--train-data " in line and "--out " in line for line in lines), lines
    (tmp_path / "results").symlink_to(ROOT / "results")
    monkeypatch.chdir(tmp_path)
    committed = (ROOT / "results" / "checkpoints").resolve()
    parser = build_parser("train")
    for line in lines:
        argv = [word.replace("DATA/", f"{train_root}/") for word in line.split()[1:]]
        trainer = Trainer(config_from_args(parser.parse_args(argv)))  # raises SrbenchError if refused
        out = trainer.out.resolve()
        assert committed not in (out, *out.parents), f"{line}: writes into the committed {out}"
