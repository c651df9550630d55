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


CODE_PATHS = ("srbench", "methods", "mos_app", "datasets/manifests", "pyproject.toml")
"""What runs when srbench runs: a change here (tracked or new, not ignored) makes a revision ``+dirty``.

Outputs (``results/``, ``tests/``, ``bench/``, the README) are not code: regenerating a report in a
clean checkout leaves the revision clean.
"""


def code_changes(root: str | os.PathLike | None = CHECKOUT) -> list[str] | None:
    """Files of :data:`CODE_PATHS` that differ from ``HEAD`` (changed, added, deleted or untracked),
    sorted, as paths relative to ``root``; ``None`` when ``root`` is no git work tree (or git is missing)."""
    if root is None:
        return None
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *CODE_PATHS],
            cwd=root, capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    changed, entries = set(), status.stdout.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            changed.add(entry[3:])
            if entry[0] in "RC":  # a rename or copy is followed by its source path
                changed.add(entries[i + 1])
                i += 1
        i += 1
    return sorted(changed)


def _head(root: str | os.PathLike | None) -> str | None:
    """The ``HEAD`` commit of the git work tree at ``root``, or ``None``."""
    if root is None:
        return None
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() if rev.returncode == 0 else None


def git_revision(root: str | os.PathLike | None = CHECKOUT) -> str:
    """The checkout's ``HEAD`` commit, with ``+dirty`` if its code differs (:func:`code_changes`), or ``unknown``.

    ``root`` defaults to the checkout srbench runs from; an installed wheel has
    none (``unknown``: the version is in :func:`environment`).
    """
    return code_record(root)["code_revision"]


def code_record(root: str | os.PathLike | None = CHECKOUT) -> dict:
    """``{"code_revision": ...}`` as :func:`git_revision` gives it, plus ``"code_changes"`` (the changed
    files) when the revision is ``+dirty``: what a run, a checkpoint or an upscale folder records."""
    head = _head(root)
    if head is None:
        return {"code_revision": "unknown"}
    changes = code_changes(root)
    if not changes:
        return {"code_revision": head}
    return {"code_revision": head + "+dirty", "code_changes": changes}


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
