"""Model checkpoints: ``<name>.safetensors`` (tensors) + ``<name>.json`` (sidecar).

The tensors are stored with safetensors (no pickle, safe to load from
anywhere). The sidecar is a JSON object describing how the weights were made
(method, iterations, data, git revision, torch version, device, ...); it is
stored twice: inside the safetensors header (key ``srbench.sidecar``) and as a
readable ``<name>.json`` beside it. The safetensors file is therefore
self-consistent and is committed with one atomic ``os.replace``; the JSON copy
is written right after it. :func:`load_checkpoint` trusts the copy inside the
safetensors file, so a crash between the two writes can never pair weights
with another run's description.

Any ``dict[str, torch.Tensor]`` can be saved (a model's ``state_dict()``,
optimizer moments flattened by a trainer, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

from srbench.atomicio import atomic_path, write_atomic
from srbench.data.sets import sha256_file as file_sha256  # noqa: F401  (public name of this module)
from srbench.run.stamp import code_record, git_revision
from srbench.errors import SrbenchError

SIDECAR_KEY = "srbench.sidecar"


class CheckpointError(SrbenchError):
    """A checkpoint is missing, corrupt or does not fit the network."""


def checkpoint_paths(directory: str | os.PathLike, name: str = "model") -> tuple[Path, Path]:
    """``(directory/<name>.safetensors, directory/<name>.json)``."""
    directory = Path(directory)
    return directory / f"{name}.safetensors", directory / f"{name}.json"


def save_checkpoint(
    directory: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    sidecar: dict,
    *,
    name: str = "model",
) -> Path:
    """Write ``state_dict`` and ``sidecar`` atomically; return the ``.safetensors`` path.

    Tensors are copied to the CPU and made contiguous; tensors sharing storage
    are stored as separate copies. ``sidecar`` must be JSON-serialisable.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, json_path = checkpoint_paths(directory, name)
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise TypeError(f"state_dict values must be tensors; not tensors: {bad[:5]}")
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    sidecar_text = json.dumps(sidecar, indent=2, sort_keys=True)

    with atomic_path(weights_path) as tmp:
        save_file(tensors, str(tmp), metadata={SIDECAR_KEY: sidecar_text})
    write_atomic(json_path, sidecar_text + "\n")
    return weights_path


@dataclass(frozen=True)
class Checkpoint:
    """One loaded checkpoint: CPU tensors, sidecar, the file read and the SHA-256 of its bytes."""

    state_dict: dict[str, torch.Tensor]
    sidecar: dict
    path: Path
    sha256: str


def load_checkpoint(path: str | os.PathLike, *, name: str = "model") -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``(state_dict, sidecar)`` from a ``.safetensors`` file or a directory holding ``<name>.safetensors``.

    See :func:`read_checkpoint` (which also returns the file's path and hash).
    """
    ckpt = read_checkpoint(path, name=name)
    return ckpt.state_dict, ckpt.sidecar


def read_checkpoint(path: str | os.PathLike, *, name: str = "model") -> Checkpoint:
    """Read a checkpoint file once: tensors (on the CPU), sidecar and the SHA-256 of exactly those bytes.

    ``path`` is a ``.safetensors`` file or a directory holding
    ``<name>.safetensors``. The sidecar comes from the safetensors header;
    files without one (made elsewhere) fall back to the ``.json`` beside
    them, else ``{}``. Raises :class:`CheckpointError` for missing or
    corrupt files.
    """
    from safetensors.torch import load as load_safetensors

    path = Path(path)
    is_file = path.suffix == ".safetensors" and not path.is_dir()
    weights_path = path if is_file else checkpoint_paths(path, name)[0]
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint not found: {weights_path}")
    data = weights_path.read_bytes()
    try:
        tensors = load_safetensors(data)
        metadata = _safetensors_metadata(data)
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"corrupt checkpoint {weights_path}: {exc}") from exc

    if SIDECAR_KEY in metadata:
        try:
            sidecar = json.loads(metadata[SIDECAR_KEY])
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"corrupt sidecar inside {weights_path}: {exc}") from exc
    else:
        json_path = weights_path.with_suffix(".json")
        sidecar = {}
        if json_path.is_file():
            try:
                sidecar = json.loads(json_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CheckpointError(f"corrupt sidecar {json_path}: {exc}") from exc
    if not isinstance(sidecar, dict):
        raise CheckpointError(f"sidecar of {weights_path} is not a JSON object")
    return Checkpoint(tensors, sidecar, weights_path, hashlib.sha256(data).hexdigest())


def check_checkpoint_file(path: str | os.PathLike) -> dict:
    """Check a ``.safetensors`` file's structure without loading its tensors; return its sidecar.

    Reads only the header: its length field, its JSON, every tensor's byte
    range (which must fit the dtype and shape and end exactly at the file's
    end: a truncated or padded file fails) and the sidecar inside it. Raises
    :class:`CheckpointError` naming what is wrong. Costs one small read.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path} is truncated ({size} bytes; not even a safetensors header)")
            (length,) = struct.unpack("<Q", head)
            if f.read(1) != b"{":  # a safetensors header is a JSON object
                raise CheckpointError(f"{path} is not a safetensors file (it does not start with a safetensors "
                                      "header: 8 length bytes, then JSON)")
            f.seek(8)
            if length > size - 8:
                raise CheckpointError(f"{path} is truncated: its header says {length} header bytes, "
                                      f"the file has {size - 8} after the length field")
            header = json.loads(f.read(length))
    except OSError as exc:
        raise CheckpointError(f"cannot read {path} ({exc.strerror or exc})") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not a safetensors file (unreadable header: {exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not a JSON object)")
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = (int(x) for x in entry["data_offsets"])
        except (TypeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"{path} is not a safetensors file (tensor {name!r} has no data_offsets)") from exc
        end = max(end, stop)
    have = size - 8 - length
    if have < end:
        raise CheckpointError(f"{path} is truncated: its tensors need {end} bytes after the header, "
                              f"the file has {have} (an interrupted copy or download?)")
    if have > end:
        raise CheckpointError(f"{path} has {have - end} unexpected bytes after its tensors (not a safetensors file "
                              "written as a whole)")
    metadata = header.get("__metadata__") or {}
    text = metadata.get(SIDECAR_KEY) if isinstance(metadata, dict) else None
    if text is None:
        return {}
    try:
        sidecar = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"corrupt sidecar inside {path}: {exc}") from exc
    if not isinstance(sidecar, dict):
        raise CheckpointError(f"sidecar of {path} is not a JSON object")
    return sidecar


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` object of a safetensors file (format: u64 LE header size, JSON header)."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("__metadata__ is not an object")
    return metadata


def device_name(device: str | torch.device) -> str:
    """Human-readable device: the GPU's name for CUDA devices, else the CPU's architecture."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine() or 'unknown'})"


def environment_fields(device: str | torch.device = "cpu") -> dict:
    """The sidecar's common provenance fields: git revision, torch version, device name (and the
    changed code files when the revision is ``+dirty``)."""
    code = code_record()
    fields = {
        "git_revision": code["code_revision"],
        "torch_version": torch.__version__,
        "device": device_name(device),
    }
    if "code_changes" in code:  # a +dirty revision names the changed files
        fields["code_changes"] = code["code_changes"]
    return fields
