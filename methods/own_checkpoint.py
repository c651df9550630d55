"""``checkpoint:LABEL=DIR``: benchmark a checkpoint you trained, beside the committed one.

``DIR`` holds ``model.safetensors`` (with its sidecar inside, as ``srbench
train --out DIR`` writes it, or a ``model.json`` beside it); the sidecar's
``"method"`` names the architecture (``espcn``, ``srresnet-mse``, ...), and
an ``"architecture"`` object any size overrides. The method runs exactly like
the built-in method of that architecture (same network, same tiled
inference), but reads the weights from ``DIR`` and is called
``checkpoint:LABEL`` in every CSV, so that ``srbench report`` can show it as
a row of its own ("ESPCN (my-espcn)") under the paper row of its
architecture, beside the committed model.

``LABEL`` must match ``^[A-Za-z0-9_.-]+$``, must not be a built-in method's
name or alias (nor ``hr``), and is compared case-insensitively (two specs
with one label in one run are refused by the runner).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .checkpoint import CheckpointError, check_checkpoint_file, checkpoint_paths
from .neural import NeuralMethod
from .specs import TRAIN_SPECS
from srbench.errors import SrbenchError
from srbench.paths import display_path
from srbench.run.registry import is_registered

PREFIX = "checkpoint:"
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
RESERVED = ("hr", "all")


def parse_checkpoint_spec(text: str) -> tuple[str, Path]:
    """Split ``checkpoint:LABEL=DIR`` into ``(LABEL, Path(DIR))``; :class:`SrbenchError` if malformed."""
    text = text.strip()
    body = text[len(PREFIX):] if text.startswith(PREFIX) else text
    label, sep, directory = body.partition("=")
    label = label.strip()
    if not sep or not label or not directory.strip():
        raise SrbenchError(f"{PREFIX}{body!r}: write checkpoint:LABEL=DIR, e.g. checkpoint:my-espcn=results/runs/espcn "
                           "(LABEL names the row, DIR holds model.safetensors)")
    if not LABEL_PATTERN.match(label):
        raise SrbenchError(f"{PREFIX}{label}: the label may only contain letters, digits, '_', '.' and '-'")
    if label.lower() in RESERVED or is_registered(label):
        raise SrbenchError(f"{PREFIX}{label}: {label!r} is a built-in method's name; its rows would be confused "
                           "with the built-in one - pick another LABEL")
    return label, Path(directory.strip()).expanduser()


def architecture_of(directory: Path, label: str) -> str:
    """The method named by the checkpoint's sidecar in ``directory`` (checked: one srbench can build).

    Reads only the safetensors header (and ``model.json`` beside it); raises
    :class:`SrbenchError` for a missing folder or model, a corrupt file, a
    sidecar that names no method, names one srbench cannot build, or
    disagrees with the JSON copy beside it.
    """
    where = f"{PREFIX}{label}"
    if not directory.is_dir():
        raise SrbenchError(f"{where}: {display_path(directory)} is not a folder "
                           "(give the folder holding model.safetensors)")
    weights, json_path = checkpoint_paths(directory)
    if not weights.is_file():
        raise SrbenchError(f"{where}: no model.safetensors in {display_path(directory)} "
                           "(train into it with 'srbench train --out DIR')")
    try:
        sidecar = check_checkpoint_file(weights)
    except CheckpointError as exc:
        raise SrbenchError(f"{where}: unusable checkpoint: {exc}") from None
    beside = _json_sidecar(json_path, where)
    if not sidecar:
        sidecar = beside or {}
    elif beside is not None and beside.get("method") != sidecar.get("method"):
        raise SrbenchError(f"{where}: {json_path.name} names method {beside.get('method')!r} but the sidecar inside "
                           f"{weights.name} names {sidecar.get('method')!r}: the folder mixes two checkpoints")
    method = sidecar.get("method")
    if not isinstance(method, str) or not method:
        raise SrbenchError(f"{where}: the sidecar of {display_path(weights)} names no method, so its architecture is "
                           f"unknown (its \"method\" must be one of {', '.join(TRAIN_SPECS)})")
    if method not in TRAIN_SPECS:
        raise SrbenchError(f"{where}: the sidecar of {display_path(weights)} names method {method!r}, which is not a "
                           f"network srbench can build (one of {', '.join(TRAIN_SPECS)})")
    return method


def _json_sidecar(path: Path, where: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SrbenchError(f"{where}: unreadable sidecar {display_path(path)} ({exc})") from None
    if not isinstance(data, dict):
        raise SrbenchError(f"{where}: sidecar {display_path(path)} is not a JSON object")
    return data


class CheckpointMethod(NeuralMethod):
    """The network of the sidecar's method with the weights of ``DIR/model.safetensors``; named ``checkpoint:LABEL``."""

    def __init__(self, label: str, directory: str | os.PathLike, *, device=None, tile: int = 128,
                 overlap: int | None = None) -> None:
        directory = Path(directory)
        architecture = architecture_of(directory, label)
        super().__init__(TRAIN_SPECS[architecture], checkpoint_root=directory, device=device, tile=tile,
                         overlap=overlap)
        self.label = label
        self.architecture = architecture
        self.directory = directory
        self.name = f"{PREFIX}{label}"

    @property
    def weights_path(self) -> Path:
        """``DIR/model.safetensors``."""
        return checkpoint_paths(self.directory)[0]

    def checkpoint_info(self) -> dict:
        """The sidecar (with path, SHA-256, inference device) plus ``label`` and ``architecture``."""
        return dict(super().checkpoint_info(), label=self.label, architecture_method=self.architecture)


def family_member(spec: str, **settings) -> CheckpointMethod:
    """The ``checkpoint:`` family's factory (:func:`srbench.registry.get_method`): ``spec`` is ``LABEL=DIR``."""
    label, directory = parse_checkpoint_spec(PREFIX + spec)
    return CheckpointMethod(label, directory, **settings)
