"""srbench: reproducible 4x single-image super-resolution benchmark (SRGAN re-creation).

The public API (imported on first use, so ``import srbench`` stays light)::

    from srbench import evaluate, run_benchmark, list_methods, get_method, register_method

* :func:`evaluate` - Y-PSNR/SSIM of one SR image under a protocol (``srbench.metrics``);
* :func:`run_benchmark` - super-resolve benchmark sets and write per-image metrics (``srbench.runner``);
* :func:`list_methods`, :func:`get_method`, :func:`register_method`, :class:`Method`,
  :class:`MethodInfo`, :class:`PaperRow` - the method registry (``srbench.registry``).

Conventions used throughout the project:

* Images are ``numpy.ndarray`` of dtype ``uint8``, shape ``(H, W, 3)``, RGB
  channel order, values 0..255, unless a docstring says otherwise.
* Torch tensors are ``float32`` NCHW RGB in ``[0, 1]`` unless stated.
* The scale factor is 4 everywhere (the paper's setting).

Layers (each imports only the ones before it; ``tests/test_layers.py`` checks):
core (``srbench.*`` modules) <- ``srbench.methods`` <- ``srbench.mos_app`` <-
``srbench.report`` <- ``srbench.cli``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
SCALE = 4

_API = {
    "evaluate": "srbench.metrics",
    "run_benchmark": "srbench.runner",
    "RunResult": "srbench.runner",
    "list_methods": "srbench.registry",
    "get_method": "srbench.registry",
    "register_method": "srbench.registry",
    "register_family": "srbench.registry",
    "load_plugins": "srbench.registry",
    "Method": "srbench.registry",
    "MethodInfo": "srbench.registry",
    "PaperRow": "srbench.registry",
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


from srbench import _checkout  # noqa: E402

_checkout.install()  # PYTHONPATH=. on an uninstalled checkout (see srbench/_checkout.py)
