"""Where a number came from: code revision, library versions, data checksums."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys

from srbench import __version__
from srbench.data.sets import MANIFEST_DIR
from srbench.paths import CHECKOUT


def git_revision(root: str | os.PathLike | None = CHECKOUT) -> str:
    """The checkout's ``HEAD`` commit (with ``+dirty`` if tracked files changed), or ``unknown``.

    ``root`` defaults to the checkout srbench runs from; an installed wheel has
    none (``unknown``: the version is in :func:`environment`).
    """
    if root is None:
        return "unknown"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=30,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def manifest_sha256(dataset: str) -> str:
    """SHA-256 of a dataset's committed manifest (it pins every file's checksum)."""
    return hashlib.sha256((MANIFEST_DIR / f"{dataset}.json").read_bytes()).hexdigest()


def environment() -> dict:
    """Versions of srbench, Python, numpy, torch (if importable) and the platform."""
    import numpy

    info = {
        "srbench": __version__,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        info["torch"] = None
    return info
