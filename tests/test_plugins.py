"""Methods from outside the package: an installed entry point (group ``srbench.methods``) and ``--plugin MODULE``.

Both plugins are SYNTHETIC (bicubic or nearest plus zero), written into
tmp_path. The entry-point plugin is a real distribution installed with
``pip install --no-deps --target``; that folder on ``PYTHONPATH`` makes its
entry point visible to ``srbench``. Each is run end to end through the command
line: ``srbench run``, ``srbench mos create`` and ``srbench report``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ENTRY_POINT_PLUGIN = '''"""SYNTHETIC srbench plugin for the tests: bicubic plus zero."""

import numpy as np

from srbench import Method, PaperRow, register_method


class BicubicPlusZero(Method):
    name = "bicubic-plus-zero"

    def upscale(self, lr, *, dataset="", name=""):
        from srbench.data.resize import imresize

        return imresize(lr, 4, kernel="bicubic") + np.uint8(0)


@register_method("bicubic-plus-zero", aliases=("bpz",), kind="classic", paper_rows=(PaperRow(2, "bicubic"),),
                 description="SYNTHETIC: bicubic plus zero")
def build():
    return BicubicPlusZero()
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "srbench-synthetic-plugin"
version = "0.0.1"
description = "SYNTHETIC srbench plugin for the tests"

[project.entry-points."srbench.methods"]
bicubic-plus-zero = "srbench_synthetic_plugin"

[tool.setuptools]
py-modules = ["srbench_synthetic_plugin"]
'''

FLAG_PLUGIN = '''"""SYNTHETIC srbench plugin loaded with --plugin: nearest plus zero."""

import numpy as np

from srbench import Method, register_method


class NearestPlusZero(Method):
    name = "nearest-plus-zero"

    def upscale(self, lr, *, dataset="", name=""):
        return np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1) + np.uint8(0)


@register_method("nearest-plus-zero", kind="classic", description="SYNTHETIC: nearest plus zero")
def build():
    return NearestPlusZero()
'''


def _srbench(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "srbench", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def _committed(method: str) -> list[dict]:
    """The committed classic run's PSNR/SSIM rows of ``method`` on Set5 (its NIQE rows and columns left out)."""
    columns = ("dataset", "image", "method", "protocol", "psnr", "ssim")
    with open(ROOT / "results" / "metrics" / "classic" / "per_image.csv") as f:
        return [{k: r[k] for k in columns} for r in csv.DictReader(f)
                if r["method"] == method and r["dataset"] == "set5" and r["protocol"]]


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def _can_build_offline() -> bool:
    """This environment's setuptools can build a wheel of a pyproject.toml project (>= 61, plus bdist_wheel)."""
    import importlib.util

    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or (major >= 61 and importlib.util.find_spec("wheel") is not None)


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> Path:
    """The entry-point plugin, built and installed into a folder of its own (not into the test venv)."""
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "srbench_synthetic_plugin.py").write_text(ENTRY_POINT_PLUGIN)
    target = tmp_path_factory.mktemp("plugin-site")
    isolation = ["--no-build-isolation"] if _can_build_offline() else []  # else pip fetches setuptools
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation,
                           "--target", str(target), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (target / "srbench_synthetic_plugin.py").is_file()
    assert any(target.glob("srbench_synthetic_plugin-*.dist-info/entry_points.txt"))
    return target


def _env(*paths: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SRBENCH_PLUGINS",)}
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in paths] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return {**env, **extra}


@pytest.mark.slow
def test_entry_point_plugin_in_run_mos_create_and_report(installed_plugin, tmp_path, data_root):
    env = _env(installed_plugin)
    listing = _srbench(["run", "--list-methods"], env, tmp_path)
    assert listing.returncode == 0 and "bicubic-plus-zero" in listing.stdout

    run = tmp_path / "synthetic-plugin-run"
    proc = _srbench(["run", "--methods", "bpz", "--datasets", "set5", "--data-root", str(data_root),
                     "--out", str(run), "--no-progress"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(run / "per_image.csv")
    assert {r["method"] for r in rows} == {"bicubic-plus-zero"}
    # the same numbers as the committed bicubic results: plus zero changes nothing
    assert [{**r, "method": "bicubic"} for r in rows] == _committed("bicubic")

    study = tmp_path / "study"
    proc = _srbench(["mos", "create", "--name", "synthetic-plugin", "--methods", "bicubic-plus-zero,nearest",
                     "--datasets", "set5", "--calibration", "0", "--gold-rate", "0", "--data-root", str(data_root),
                     "--out", str(study)],
                    env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((study / "manifest.json").read_text())
    assert {i["method"] for i in manifest["items"]} == {"bicubic-plus-zero", "nearest", "hr"}

    report = tmp_path / "report"
    proc = _srbench(["report", "--runs", str(run), "--out", str(report)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cells = [r for r in _rows(report / "table2.csv") if r["label"] == "bicubic" and r["dataset"] == "set5"]
    # the plugin's metadata puts it in Table 2's bicubic row (the run holds no built-in bicubic)
    assert {r["method"] for r in cells} == {"bicubic-plus-zero"}
    psnr = next(r for r in cells if r["metric"] == "psnr")
    expected = [float(r["psnr"]) for r in _committed("bicubic") if r["protocol"] == "paper"]
    assert psnr["n"] == "5" and float(psnr["ours"]) == pytest.approx(sum(expected) / 5, abs=1e-6)


@pytest.mark.slow
def test_plugin_flag_and_environment_variable(tmp_path, data_root):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "srbench_synthetic_flag.py").write_text(FLAG_PLUGIN)
    env = _env(folder)
    run = tmp_path / "synthetic-flag-run"
    args = ["run", "--methods", "nearest-plus-zero", "--datasets", "set5", "--data-root", str(data_root),
            "--out", str(run), "--no-progress"]
    without = _srbench(args, env, tmp_path)
    assert without.returncode == 2 and "unknown method 'nearest-plus-zero'" in without.stderr
    proc = _srbench([*args, "--plugin", "srbench_synthetic_flag"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [{**r, "method": "nearest"} for r in _rows(run / "per_image.csv")] == _committed("nearest")

    study = tmp_path / "study"
    proc = _srbench(["mos", "create", "--plugin", "srbench_synthetic_flag", "--name", "synthetic-flag",
                     "--methods", "nearest-plus-zero", "--datasets", "set5", "--calibration", "0", "--gold-rate", "0",
                     "--data-root", str(data_root), "--out", str(study)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _srbench(["report", "--plugin", "srbench_synthetic_flag", "--runs", str(run), "--out",
                     str(tmp_path / "report")], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    listing = _srbench(["run", "--list-methods"], {**env, "SRBENCH_PLUGINS": "srbench_synthetic_flag"}, tmp_path)
    assert listing.returncode == 0 and "nearest-plus-zero" in listing.stdout
    broken = _srbench(["run", "--list-methods", "--plugin", "no_such_srbench_plugin"], env, tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.strip().splitlines() == [
        "srbench run: error: cannot load srbench plugin 'no_such_srbench_plugin' (--plugin): "
        "ModuleNotFoundError: No module named 'no_such_srbench_plugin'"]
