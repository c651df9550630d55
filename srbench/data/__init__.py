"""Benchmark data: the sets, image files, resizing, downloads and published releases.

* :mod:`srbench.data.sets` - the benchmark sets: data root, manifests, loading and checking images;
* :mod:`srbench.data.imageio` - reading and writing images (uint8 RGB, 8-bit PNG);
* :mod:`srbench.data.resize`, :mod:`srbench.data.resize_torch` - MATLAB-compatible bicubic resizing
  (numpy uint8, torch float);
* :mod:`srbench.data.fetch`, :mod:`srbench.data.archive` - installing the sets from a URL, folder or archive;
* :mod:`srbench.data.releases`, :mod:`srbench.data.releases_fetch` - other authors' published SR outputs;
* :mod:`srbench.data.set_coverage` - which images of each set a folder of stored SR images provides.

The folder also holds package data (``paper_tables.csv``, ``niqe_model.json``; see ``README.md`` here).
The names of :mod:`srbench.data.sets` (``load_dataset``, ``resolve_data_root``, ...) were once imported
from ``srbench.data`` itself; they still are, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import importlib
import warnings

_SETS_NAMES = frozenset({
    "BenchImage", "MANIFEST_DIR", "DEFAULT_CACHE", "DATASETS", "ENV_VAR", "data_root_choice", "resolve_data_root",
    "load_manifest", "read_packaged_manifest", "normalize_dataset_name", "sha256_file", "load_dataset",
    "check_pair_sizes",
})


def __getattr__(name: str):
    if name in _SETS_NAMES:
        warnings.warn(f"srbench.data.{name} moved to srbench.data.sets.{name}; import it from there "
                      "(the old path will be removed)", DeprecationWarning, stacklevel=2)
        value = globals()[name] = getattr(importlib.import_module("srbench.data.sets"), name)  # warn once
        return value
    raise AttributeError(f"module 'srbench.data' has no attribute {name!r}")
