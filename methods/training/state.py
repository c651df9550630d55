"""Resume state without pickle (the learning-rate plan is in :mod:`.schedule`).

A run's resume state lives next to its generator checkpoint::

    OUT/resume.safetensors   every tensor: optimizer moments, the
                             discriminator's weights, RNG states
    OUT/resume.json          every scalar: step, patches seen, optimizer
                             hyper-parameters, python/numpy RNG, the run's
                             segments (one per invocation)

Optimizer state dicts are flattened by hand (``<name>.state.<param>.<key>``
tensors + JSON for the rest), so loading never unpickles anything. Both
files are written atomically (temp file + ``os.replace``); the JSON is
written last and names the tensor file's SHA-256, so a half-written pair is
detected instead of silently mixed.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from srbench.atomicio import atomic_path, write_atomic
from srbench.data.sets import sha256_file
from srbench.errors import SrbenchError

RESUME_TENSORS = "resume.safetensors"
RESUME_JSON = "resume.json"
FORMAT = "srbench-resume-1"
REQUIRED_KEYS = ("tensors_sha256", "step", "patches_seen", "hyper", "optimizers", "rng")


# ---------------------------------------------------------------- optimizer flattening
def flatten_optimizer(state: dict, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into safetensors-ready tensors and JSON-ready scalars."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    meta = {"param_groups": state["param_groups"], "scalars": scalars, "params": sorted(map(str, state["state"]))}
    return tensors, json.loads(json.dumps(meta))


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict, prefix: str) -> dict:
    """Inverse of :func:`flatten_optimizer`: a dict ``optimizer.load_state_dict`` accepts."""
    state: dict[int, dict[str, Any]] = {int(pid): dict(meta["scalars"].get(pid, {})) for pid in meta["params"]}
    head = f"{prefix}.state."
    for name, value in tensors.items():
        if name.startswith(head):
            pid, key = name[len(head):].split(".", 1)
            state[int(pid)][key] = value
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


# ---------------------------------------------------------------- RNG states
def capture_rng(sampler_generators: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """Global torch CPU/CUDA, numpy and python RNG states, plus the data samplers' generator states.

    ``sampler_generators`` holds one ``Generator.get_state()`` per rank (rank order).
    """
    tensors = {"rng.torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.torch_cuda.{i}"] = s
    for rank, s in enumerate(sampler_generators):
        tensors[f"rng.sampler.{rank}"] = s.cpu()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, py_state, gauss_next = random.getstate()
    meta = {
        "numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "state": list(py_state), "gauss_next": gauss_next},
    }
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Restore the global RNG states saved by :func:`capture_rng` (not the samplers')."""
    torch.set_rng_state(tensors["rng.torch_cpu"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.torch_cuda."))]
        for i, s in enumerate(states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)
    n = meta["numpy"]
    keys = tensors["rng.numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = meta["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


def sampler_state(tensors: dict[str, torch.Tensor], rank: int) -> torch.Tensor | None:
    """The saved data-sampler generator state of ``rank``, or None if that rank was not saved."""
    return tensors.get(f"rng.sampler.{rank}")


# ---------------------------------------------------------------- files
def save_resume(folder: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``resume.safetensors`` then ``resume.json`` (naming the former's SHA-256), atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / RESUME_TENSORS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
        digest = sha256_file(tmp)
    _write_json_atomic(folder / RESUME_JSON, {"format": FORMAT, "tensors_sha256": digest, **meta})


def load_resume(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a resume state saved by :func:`save_resume`; :class:`SrbenchError` if absent or inconsistent."""
    folder = Path(folder)
    if not folder.exists():
        raise SrbenchError(f"--resume {folder}: no such folder (give the checkpoint folder of the run to continue)")
    if not folder.is_dir():
        raise SrbenchError(f"--resume {folder} is a file; give the checkpoint folder of the run to continue")
    jpath, tpath = folder / RESUME_JSON, folder / RESUME_TENSORS
    if not jpath.is_file() or not tpath.is_file():
        raise SrbenchError(
            f"{folder} holds no resume state ({RESUME_JSON} + {RESUME_TENSORS}); "
            "use --init to start a new run from its weights instead"
        )
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SrbenchError(f"{jpath} is not valid JSON ({exc}); cannot resume from it") from None
    if not isinstance(meta, dict):
        raise SrbenchError(f"{jpath} is not a JSON object; cannot resume from it")
    if meta.get("format") != FORMAT:
        raise SrbenchError(f"{jpath}: unknown resume format {meta.get('format')!r}")
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    if missing:
        raise SrbenchError(f"{jpath} lacks {', '.join(missing)} (edited by hand?); cannot resume from it")
    if sha256_file(tpath) != meta["tensors_sha256"]:
        raise SrbenchError(f"{tpath} does not match {jpath} (interrupted write?); cannot resume from it")
    return load_file(str(tpath)), meta


def _write_json_atomic(path: Path, obj: dict) -> None:
    write_atomic(path, json.dumps(obj, indent=1) + "\n")


