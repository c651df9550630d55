"""Shared fixtures. The real benchmark data is read from ``$SRBENCH_DATA``
(CI points it at ``../shared/datasets/benchmark``), else from that default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding set5/, set14/, bsd100/ (the real benchmark files)."""
    root = Path(os.environ.get("SRBENCH_DATA") or SHARED / "benchmark").resolve()
    if not (root / "set5").is_dir():
        pytest.fail(f"benchmark data not found at {root}: set SRBENCH_DATA")
    return root


@pytest.fixture(scope="session")
def train_root() -> Path:
    """Folder holding the training images (t91/, bsd200/, ...)."""
    root = Path(os.environ.get("SRBENCH_TRAIN_DATA") or SHARED / "train").resolve()
    if not (root / "t91").is_dir():
        pytest.fail(f"training data not found at {root}: set SRBENCH_TRAIN_DATA")
    return root
