"""Periodic validation during training: Y-PSNR/SSIM on a benchmark set under the ``paper`` protocol.

The validation folder has the benchmark layout ``HR/NAME.png`` +
``LR_bicubic_x4/NAME.png`` (e.g. ``$SRBENCH_DATA/set5``). A folder named
like a known set (set5, set14, bsd100) is loaded through
:func:`srbench.data.sets.load_dataset`, which checks every file against the
committed manifest; any other folder is read pair by pair (sorted names).

The generator is evaluated in fp32 eval mode with tiled inference
(:func:`srbench.methods.tiling.upscale_tiled`), outside any autocast, exactly as the
benchmark runs it; the caller puts it back into training mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from srbench.data.sets import DATASETS, DEFAULT_CACHE, ENV_VAR, check_pair_sizes, load_dataset
from srbench.errors import DataError
from srbench.data.imageio import read_image
from srbench.metrics import evaluate

PROTOCOL = "paper"


@dataclass(frozen=True)
class ValidationSet:
    """A named list of ``(image name, lr, hr, is_gray)`` uint8 RGB pairs."""

    name: str
    folder: Path
    pairs: tuple[tuple[str, np.ndarray, np.ndarray, bool], ...]


def default_validation_folder() -> Path | None:
    """``$SRBENCH_DATA/set5`` if set, else the default data cache's ``set5``; None if absent."""
    root = Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else DEFAULT_CACHE
    folder = root / "set5"
    return folder if folder.is_dir() else None


def load_validation(folder: str | os.PathLike) -> ValidationSet:
    """Load a validation folder (see the module docstring); :class:`DataError` if unusable."""
    folder = Path(folder)
    if folder.is_file():
        raise DataError(f"--val-data {folder} is a file; give a folder holding HR/ and LR_bicubic_x4/ (or 'none')")
    if not folder.is_dir():
        raise DataError(f"validation folder {folder} does not exist")
    key = folder.name.lower()
    if key in DATASETS:
        images = load_dataset(key, folder.parent, verify=True)
        pairs = tuple((im.name, im.lr, im.hr, im.is_gray) for im in images)
        return ValidationSet(key, folder, pairs)
    hr_dir, lr_dir = folder / "HR", folder / "LR_bicubic_x4"
    if not hr_dir.is_dir() or not lr_dir.is_dir():
        raise DataError(f"validation folder {folder} needs HR/ and LR_bicubic_x4/ subfolders")
    pairs = []
    for hr_path in sorted(hr_dir.glob("*.png")):
        lr_path = lr_dir / hr_path.name
        if not lr_path.is_file():
            raise DataError(f"{lr_path}: missing (every HR image needs its LR_bicubic_x4 twin)")
        hr, gray = read_image(hr_path)
        lr, _ = read_image(lr_path)
        check_pair_sizes(lr, hr, f"{folder.name}/{hr_path.name}")
        pairs.append((hr_path.stem, lr, hr, gray))
    if not pairs:
        raise DataError(f"validation folder {folder} holds no HR/*.png images")
    return ValidationSet(folder.name, folder, tuple(pairs))


def validate(
    generator: nn.Module, vset: ValidationSet, *, output_range: tuple[float, float], device: torch.device
) -> dict:
    """Mean Y-PSNR (dB) and SSIM under the ``paper`` protocol; leaves ``generator`` in eval mode."""
    from ..tiling import upscale_tiled

    psnrs, ssims = [], []
    with torch.autocast(device.type, enabled=False):
        for _, lr, hr, _gray in vset.pairs:
            sr = upscale_tiled(generator, lr, device=device, output_range=output_range)
            psnr, ssim = evaluate(sr, hr, protocol=PROTOCOL)
            psnrs.append(psnr)
            ssims.append(ssim)
    return {
        "dataset": vset.name,
        "protocol": PROTOCOL,
        "n": len(psnrs),
        "psnr": float(np.mean(psnrs)),
        "ssim": float(np.mean(ssims)),
    }
