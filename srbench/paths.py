"""Where srbench reads and writes by default: one project root.

:data:`PROJECT_ROOT` is, in this order,

1. ``$SRBENCH_HOME`` if it is set;
2. the checkout this package runs from (an editable install, or ``PYTHONPATH=.``
   in the working tree): the folder holding ``pyproject.toml``, ``srbench/``,
   ``methods/``, ``mos_app/`` and ``datasets/manifests/``;
3. otherwise (a wheel installed into site-packages: there is no checkout)
   the current working directory when srbench is first imported.

Below it: ``datasets/cache/`` (the default data root), ``results/runs/``
(default ``srbench run`` folders), ``results/checkpoints/`` (the default
checkpoint root), ``results/metrics/``, ``results/ratings/`` and
``results/report/`` (what ``srbench report`` reads and rebuilds). Every
default can also be overridden by its own flag or variable (``--data-root`` /
``$SRBENCH_DATA``, ``--out``, ``$SRBENCH_CHECKPOINTS``).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV_VAR = "SRBENCH_HOME"


def find_checkout(package_dir: Path | None = None) -> Path | None:
    """The checkout holding ``package_dir`` (default: this package's folder), or None when installed."""
    root = (package_dir or Path(__file__).resolve().parent).parent
    markers = ("pyproject.toml", "methods/__init__.py", "mos_app/__init__.py", "datasets/manifests")
    return root if all((root / m).exists() for m in markers) else None


CHECKOUT: Path | None = find_checkout()
"""The source checkout srbench runs from, or None for a non-editable install (then there is no git revision)."""

PROJECT_ROOT: Path = Path(os.environ[HOME_ENV_VAR]) if os.environ.get(HOME_ENV_VAR) else (CHECKOUT or Path.cwd())
RESULTS_DIR = PROJECT_ROOT / "results"
RUNS_DIR = RESULTS_DIR / "runs"
CHECKPOINTS_DIR = RESULTS_DIR / "checkpoints"
REPORT_DIR = RESULTS_DIR / "report"
DATA_CACHE = PROJECT_ROOT / "datasets" / "cache"


def display_path(path: str | os.PathLike) -> str:
    """``path`` relative to :data:`PROJECT_ROOT` when inside it (as messages show it), else absolute."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return str(path)
