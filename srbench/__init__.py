"""srbench: reproducible 4x single-image super-resolution benchmark (SRGAN re-creation).

The public API (imported on first use, so ``import srbench`` stays light)::

    from srbench import evaluate, run_benchmark, list_methods, get_method, register_method

* :func:`evaluate` - Y-PSNR/SSIM of one SR image under a protocol (``srbench.metrics``);
* :func:`run_benchmark` - super-resolve benchmark sets and write per-image metrics (``srbench.run.runner``);
* :func:`list_methods`, :func:`get_method`, :func:`register_method`, :class:`Method`,
  :class:`MethodInfo`, :class:`PaperRow` - the method registry (``srbench.run.registry``).

Conventions used throughout the project:

* Images are ``numpy.ndarray`` of dtype ``uint8``, shape ``(H, W, 3)``, RGB
  channel order, values 0..255, unless a docstring says otherwise.
* Torch tensors are ``float32`` NCHW RGB in ``[0, 1]`` unless stated.
* The scale factor is 4 everywhere (the paper's setting).

Layers (each imports only the ones before it; ``tests/test_layers.py`` checks):
core (``srbench.data``, ``srbench.ratings``, ``srbench.run``, ``srbench.metrics`` and the
top-level plumbing modules) <- ``srbench.methods`` <- ``srbench.mos_app`` <-
``srbench.report`` <- ``srbench.cli``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
SCALE = 4

_API = {
    "evaluate": "srbench.metrics",
    "run_benchmark": "srbench.run.runner",
    "RunResult": "srbench.run.runner",
    "list_methods": "srbench.run.registry",
    "get_method": "srbench.run.registry",
    "register_method": "srbench.run.registry",
    "register_family": "srbench.run.registry",
    "load_plugins": "srbench.run.registry",
    "Method": "srbench.run.registry",
    "MethodInfo": "srbench.run.registry",
    "PaperRow": "srbench.run.registry",
    "SrbenchError": "srbench.errors",
}
__all__ = ["__version__", "SCALE", *_API]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


from srbench import _checkout, _moved  # noqa: E402

_checkout.install()  # PYTHONPATH=. on an uninstalled checkout (see srbench/_checkout.py)
_moved.install()  # old import paths of moved modules, e.g. srbench.runner (see srbench/_moved.py)
