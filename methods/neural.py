"""Checkpoint-backed registry methods: any :class:`srbench.methods.specs.TrainSpec` becomes an upscaler.

``NeuralMethod(spec)`` finds ``<checkpoint_root>/<spec.name>/model.safetensors``
(default root: ``$SRBENCH_CHECKPOINTS`` if set, else
``<project>/results/checkpoints``), builds the network with
``spec.build_generator()``, loads the weights (strictly: every key, every
shape) and runs tiled fp32 inference on CUDA when available, else the CPU.
The network is loaded on first use and cached.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .checkpoint import CheckpointError, check_checkpoint_file, checkpoint_paths, device_name, read_checkpoint
from .specs import TrainSpec, build_network
from .tiling import default_overlap, upscale_tiled
from srbench.paths import CHECKPOINTS_DIR, display_path
from srbench.run.registry import Method

DEFAULT_CHECKPOINT_ROOT = CHECKPOINTS_DIR
CHECKPOINT_ENV_VAR = "SRBENCH_CHECKPOINTS"


def default_checkpoint_root() -> Path:
    """``$SRBENCH_CHECKPOINTS`` if set, else ``<project>/results/checkpoints``."""
    override = os.environ.get(CHECKPOINT_ENV_VAR)
    return Path(override) if override else DEFAULT_CHECKPOINT_ROOT


def default_device() -> torch.device:
    """CUDA if available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_from_checkpoint(spec: TrainSpec, weights_path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """The spec's network with the checkpoint's weights (fp32, eval mode, CPU) and its sidecar.

    The returned sidecar also holds ``checkpoint_sha256``, the hash of the
    bytes the weights were read from.

    A sidecar ``"architecture"`` object (the trainer's ``--blocks/--channels``
    overrides) selects the network's size; it stays visible in the sidecar,
    which the runner records for every run.
    """
    ckpt = read_checkpoint(weights_path)
    state, sidecar = ckpt.state_dict, dict(ckpt.sidecar, checkpoint_sha256=ckpt.sha256)
    trained_for = sidecar.get("method")
    if trained_for is not None and trained_for != spec.name:
        raise CheckpointError(f"{weights_path} holds a {trained_for!r} model, not {spec.name!r}")
    architecture = sidecar.get("architecture")
    model = build_network(spec, architecture if isinstance(architecture, dict) else None)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{weights_path} does not fit the {spec.name} network ({first[0] if first else exc}"
            + (f"; {first[1].strip()}" if len(first) > 1 else "") + ")"
        ) from exc
    return model.float().eval(), sidecar


class NeuralMethod(Method):
    """A registry method backed by a trained checkpoint (see the module docstring)."""

    def __init__(
        self,
        spec: TrainSpec,
        *,
        checkpoint_root: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        tile: int = 128,
        overlap: int | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.checkpoint_root = Path(checkpoint_root) if checkpoint_root is not None else default_checkpoint_root()
        self.device = torch.device(device) if device is not None else default_device()
        self.tile = tile
        self.overlap = overlap
        self._model: nn.Module | None = None
        self._sidecar: dict | None = None

    @property
    def weights_path(self) -> Path:
        """``<checkpoint_root>/<name>/model.safetensors``."""
        return checkpoint_paths(self.checkpoint_root / self.name)[0]

    def availability(self) -> str | None:
        """None when a structurally sound checkpoint of this method exists, else why the method cannot run.

        Only the file's header is read (:func:`check_checkpoint_file`): a truncated file, a
        header that does not match the file's size, or another method's weights make it unavailable.
        """
        if not self.weights_path.is_file():
            return (f"no checkpoint at {display_path(self.weights_path)} "
                    f"(train it with 'srbench train --method {self.name} ...')")
        try:
            sidecar = check_checkpoint_file(self.weights_path)
        except CheckpointError as exc:
            return f"unusable checkpoint: {exc}"
        if sidecar.get("method") not in (None, self.spec.name):
            return f"{display_path(self.weights_path)} holds a {sidecar['method']!r} model, not {self.spec.name!r}"
        return None

    def _load(self) -> nn.Module:
        if self._model is None:
            if not self.weights_path.is_file():
                raise CheckpointError(self.availability() or f"no checkpoint at {self.weights_path}")
            model, sidecar = build_from_checkpoint(self.spec, self.weights_path)
            self._model = model.to(self.device)
            self._sidecar = dict(
                sidecar,
                checkpoint=display_path(self.weights_path),
                inference_device=device_name(self.device),
            )
        return self._model

    def checkpoint_info(self) -> dict:
        """The checkpoint's sidecar plus its path, SHA-256 and the inference device (loads it if needed)."""
        self._load()
        assert self._sidecar is not None
        return dict(self._sidecar)

    def receptive_radius(self) -> int:
        """The ``overlap`` setting, else the network's declared receptive radius in LR pixels (loads it)."""
        return int(self.overlap) if self.overlap is not None else default_overlap(self._load())

    def upscale(self, lr: np.ndarray, *, dataset: str = "", name: str = "") -> np.ndarray:
        """uint8 ``(h, w, 3)`` RGB -> uint8 ``(4h, 4w, 3)`` RGB (``dataset``/``name`` unused)."""
        model = self._load()
        return upscale_tiled(
            model, lr, tile=self.tile, overlap=self.overlap, device=self.device, output_range=self.spec.output_range
        )

