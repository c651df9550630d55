"""Benchmark datasets: where they live, what they must contain, how to load them.

A *data root* holds one folder per set with the layout of the SelfExSR
release, renamed::

    ROOT/<set>/HR/NAME.png             ground truth, sides multiples of 4
    ROOT/<set>/LR_bicubic_x4/NAME.png  MATLAB-bicubic 4x shrink of HR, uint8

The expected files, their SHA-256 and sizes are listed in the manifests
``datasets/manifests/<set>.json`` (committed; the images are not), installed
as the data package ``srbench.manifests`` and read through importlib.resources.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from srbench import SCALE
from srbench.errors import DataError
from srbench.paths import DATA_CACHE

if TYPE_CHECKING:  # numpy and PIL are imported when images are loaded, not to name the sets
    import numpy as np

MANIFEST_DIR = resources.files("srbench.manifests")  # datasets/manifests/ of the checkout
DEFAULT_CACHE = DATA_CACHE  # <project root>/datasets/cache, see srbench.paths
DATASETS = ("set5", "set14", "bsd100")
ENV_VAR = "SRBENCH_DATA"


@dataclass(frozen=True)
class BenchImage:
    """One LR/HR pair of a benchmark set (uint8 RGB arrays, LR is HR/4)."""

    dataset: str
    name: str
    hr: np.ndarray
    lr: np.ndarray
    is_gray: bool


def data_root_choice(flag: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``(root, origin)``: ``--data-root`` flag, else ``$SRBENCH_DATA``, else the cache.

    The folder need not exist (``srbench datasets fetch`` creates it).
    """
    if flag:
        return Path(flag), "--data-root"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    return DEFAULT_CACHE, "the default cache"


def resolve_data_root(flag: str | os.PathLike | None = None) -> Path:
    """The existing data root chosen by :func:`data_root_choice`.

    Raises :class:`DataError` (with how to fetch the data) if it does not exist.
    """
    root, origin = data_root_choice(flag)
    if root.exists() and not root.is_dir():
        raise DataError(f"data root {root} (from {origin}) is a file, not a folder holding set5/, set14/, bsd100/")
    if not root.is_dir():
        raise DataError(
            f"data root {root} (from {origin}) does not exist. Fetch the benchmark sets with "
            f"'srbench datasets fetch' (installs into {DEFAULT_CACHE}), or point --data-root / "
            f"${ENV_VAR} at a folder holding set5/, set14/, bsd100/"
        )
    return root


@lru_cache(maxsize=None)
def load_manifest(dataset: str) -> dict:
    """Return the parsed manifest of ``dataset`` (one of :data:`DATASETS`)."""
    return read_packaged_manifest(MANIFEST_DIR / f"{normalize_dataset_name(dataset)}.json")


def read_packaged_manifest(path: Path) -> dict:
    """Parse one of the JSON manifests installed with srbench; DataError if the installation lacks it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DataError(f"manifest {path} is missing from this installation") from exc


def normalize_dataset_name(name: str) -> str:
    """Lower-case a set name and check that it is known (Set5 -> set5)."""
    key = name.strip().lower()
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return key


def dataset_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """Normalised set names, ``all`` standing for every benchmark set; duplicates dropped, order kept."""
    out: list[str] = []
    for name in names:
        out += list(DATASETS) if name.strip().lower() == "all" else [normalize_dataset_name(name)]
    return list(dict.fromkeys(out))


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_dataset(dataset: str, root: str | os.PathLike, *, verify: bool = True) -> list[BenchImage]:
    """Load every LR/HR pair of ``dataset`` listed in its manifest, in manifest order.

    With ``verify`` each file's SHA-256 is checked against the manifest (about
    0.1 s for all three sets). Raises :class:`DataError` for a missing set
    folder, a missing file, a checksum mismatch, an unreadable image, or an
    LR whose size times 4 is not the HR size.
    """
    from srbench.data.imageio import read_image

    dataset = normalize_dataset_name(dataset)
    manifest = load_manifest(dataset)
    set_dir = Path(root) / dataset
    if not set_dir.is_dir():
        hint = f"(run 'srbench datasets fetch --datasets {dataset}' or check --data-root)"
        if (Path(root) / "HR").is_dir():
            hint = f"- {root} has HR/, so it looks like one set's folder: use the folder above it as the data root"
        raise DataError(f"{set_dir} not found: the data root has no '{dataset}' folder {hint}")
    images = []
    for entry in manifest["images"]:
        arrays = {}
        for kind in ("hr", "lr"):
            path = set_dir / entry[kind]["path"]
            if not path.is_file():
                raise DataError(f"{path}: missing ({dataset} must have {manifest['count']} {kind.upper()} images)")
            if verify and sha256_file(path) != entry[kind]["sha256"]:
                raise DataError(
                    f"{path}: checksum mismatch (expected sha256 {entry[kind]['sha256'][:16]}...); "
                    "the file was altered or is from another release - re-fetch with 'srbench datasets fetch'"
                )
            arrays[kind], gray = read_image(path)
            if kind == "hr":
                is_gray = gray
        check_pair_sizes(arrays["lr"], arrays["hr"], f"{dataset}/{entry['name']}")
        images.append(BenchImage(dataset, entry["name"], arrays["hr"], arrays["lr"], is_gray))
    return images


def check_pair_sizes(lr: np.ndarray, hr: np.ndarray, label: str) -> None:
    """Raise :class:`DataError` unless ``lr`` is exactly ``hr`` shrunk by :data:`SCALE`."""
    lh, lw = lr.shape[:2]
    hh, hw = hr.shape[:2]
    if (lh * SCALE, lw * SCALE) != (hh, hw):
        raise DataError(
            f"{label}: LR is {lw}x{lh} but HR is {hw}x{hh}; LR x{SCALE} must equal the HR size"
        )
