"""The installed layout: one import name, ``srbench``, for the checkout's top-level folders.

``methods/`` is ``srbench.methods``, ``mos_app/`` is ``srbench.mos_app`` and
``datasets/manifests/`` is the data package ``srbench.manifests`` (see
``pyproject.toml``). Checked three ways: in this (editable) environment from
the checkout root, where ``./srbench`` on ``sys.path`` shadows the installed
package; from an uninstalled checkout with ``PYTHONPATH=.`` (the GPU lease);
and as a non-editable wheel in a fresh virtual environment, used from
another working directory.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import importlib.util, json, sys
import srbench, srbench.methods, srbench.mos_app.store, srbench.manifests
from srbench import paths
from srbench.data.sets import load_manifest
editable = [f for f in sys.meta_path if getattr(f, "__module__", "").startswith("__editable__")]
spec = editable[0].find_spec("srbench.methods", None) if editable else None
print(json.dumps({
    "srbench": srbench.__file__,
    "methods": srbench.methods.__file__,
    "mos_app": srbench.mos_app.store.__file__,
    "set5": load_manifest("set5")["count"],
    "editable_methods": spec.origin if spec else None,
    "top_level": [n for n in ("methods", "mos_app") if importlib.util.find_spec(n) is not None],
    "checkout": str(paths.CHECKOUT),
    "project_root": str(paths.PROJECT_ROOT),
}))
"""


def _probe(cwd: Path, env: dict | None = None, python: str = sys.executable) -> dict:
    proc = subprocess.run([python, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_subpackages_resolve_from_the_checkout_root():
    """``python -c`` in the checkout puts ./srbench first; srbench.methods still comes from methods/."""
    found = _probe(ROOT)
    assert found["srbench"] == str(ROOT / "srbench" / "__init__.py")
    assert found["methods"] == str(ROOT / "methods" / "__init__.py")
    assert found["mos_app"] == str(ROOT / "mos_app" / "store.py")
    assert found["set5"] == 5
    if found["editable_methods"] is None:
        pytest.skip("srbench is not installed in editable mode here")
    # resolved by setuptools' editable finder, not only by srbench/_checkout.py's fallback
    assert found["editable_methods"] == str(ROOT / "methods" / "__init__.py")


def test_no_generic_top_level_import_names(tmp_path):
    found = _probe(tmp_path)
    assert found["top_level"] == []
    assert found["methods"] == str(ROOT / "methods" / "__init__.py")


def test_uninstalled_checkout_with_pythonpath():
    """The GPU lease runs the working tree with PYTHONPATH=. and no install: srbench/_checkout.py maps the folders."""
    # -S: no site-packages processing, so no editable finder; the dependencies come after the checkout
    deps = [p for p in sys.path if p.endswith("site-packages") and not (Path(p) / "srbench").exists()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *deps])}
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["methods"] == str(ROOT / "methods" / "__init__.py")
    assert found["editable_methods"] is None and found["set5"] == 5


def _copy_project(dest: Path) -> Path:
    """The files a wheel is built from, copied so the build writes nothing into the checkout."""
    for name in ("srbench", "methods", "mos_app"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "datasets" / "manifests", dest / "datasets" / "manifests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.slow
def test_wheel_installs_and_runs_from_any_directory(tmp_path, data_root):
    """Build the wheel, install it (not editable) into a fresh venv, run bicubic on Set5 elsewhere.

    The fresh venv reaches the current environment's packages (torch, numpy, ...)
    through a .pth file instead of downloading them; srbench itself comes from
    the wheel only. The numbers must equal the committed results.
    """
    src = _copy_project(tmp_path / "src")
    wheels = tmp_path / "wheels"
    from test_plugins import _can_build_offline

    isolation = ["--no-build-isolation"] if _can_build_offline() else []  # else pip fetches setuptools>=68
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(wheels),
                            str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("srbench-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "_deps.pth").write_text("\n".join(deps) + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SRBENCH_DATA")}
    found = _probe(work, env, str(python))
    assert found["srbench"] == str(site / "srbench" / "__init__.py")
    assert found["methods"] == str(site / "srbench" / "methods" / "__init__.py")
    assert found["top_level"] == [] and found["set5"] == 5
    assert found["checkout"] == "None" and found["project_root"] == str(work)  # defaults under the cwd

    out = work / "run"
    run = subprocess.run([str(env_dir / "bin" / "srbench"), "run", "--methods", "bicubic", "--datasets", "set5",
                          "--data-root", str(data_root.resolve()), "--out", str(out), "--no-progress"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(ROOT / "results" / "metrics" / "classic" / "per_image.csv") as f:  # its PSNR/SSIM rows (not NIQE's)
        committed = [{k: r[k] for k in ("dataset", "image", "method", "protocol", "psnr", "ssim")}
                     for r in csv.DictReader(f) if r["method"] == "bicubic" and r["dataset"] == "set5" and r["protocol"]]
    with open(out / "per_image.csv") as f:
        now = list(csv.DictReader(f))
    assert len(committed) == 10 and sorted(map(dict.items, now)) == sorted(map(dict.items, committed))
