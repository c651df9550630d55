"""NIQE as a registered no-reference metric (:mod:`srbench.metrics.registry`): prepare, compute, record.

NIQE is computed on the SR image alone with MATLAB ``rgb2gray`` luma
(:data:`srbench.metrics.NIQE_LUMA`), no border crop and the authors'
pristine model (loaded and checksum-verified once, before any work).
"""

from __future__ import annotations

import os
from pathlib import Path

from srbench.metrics import NIQE_BORDER, NIQE_LUMA


def prepare(model_path: str | os.PathLike | None = None):
    """The pristine model: ``model_path``, else ``$SRBENCH_NIQE_MODEL``, else the data cache
    (:class:`srbench.metrics.niqe_model.NiqeModelError` naming the fetch command if missing)."""
    from srbench.metrics.niqe_model import load_model

    return load_model(model_path)


def compute(sr, model) -> tuple[float | None, str]:
    """``(NIQE, "")`` of a uint8 RGB image (lower = more natural), or ``(None, reason)``."""
    from srbench.metrics.niqe import niqe

    result = niqe(sr, model=model, luma=NIQE_LUMA, border=NIQE_BORDER)
    return result.value, result.reason


def record(model) -> dict:
    """What ``run.json`` records under ``niqe``: the model's checksum and file, and the settings."""
    return {"model_sha256": model.sha256, "model_file": Path(model.path).name, "luma": NIQE_LUMA,
            "border": NIQE_BORDER, "block": 96, "hr_measured": True}
