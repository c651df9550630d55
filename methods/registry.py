"""The method registry: names -> objects that turn an LR image into an SR image.

A method is anything with

* ``name`` (str): the registry name used in CSV files (``bicubic``, ``srresnet-mse``),
* ``availability() -> str | None``: ``None`` if it can run here, else the
  reason it cannot (for example "no checkpoint under results/checkpoints"),
* ``upscale(lr: np.ndarray, *, dataset: str, name: str) -> np.ndarray``:
  ``uint8`` ``(h, w, 3)`` RGB in, ``uint8`` ``(4h, 4w, 3)`` RGB out. ``dataset``
  and ``name`` (``set5``, ``baby.png``) identify the image; only methods that
  read stored results (``external:``) need them. A method that has no output
  for one image raises :class:`srbench.errors.MissingOutput`.

Besides registered names, ``external:NAME=DIR`` builds a method that reads
ready-made SR images from ``DIR`` (see ``methods/external.py``).

Modules register a zero-argument *factory* so that heavy objects (networks,
checkpoints) are only built when a method is actually used.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from srbench.errors import SrbenchError


class Method(Protocol):
    name: str

    def availability(self) -> str | None: ...

    def upscale(self, lr: np.ndarray, *, dataset: str, name: str) -> np.ndarray: ...


_FACTORIES: dict[str, Callable[[], Method]] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, factory: Callable[[], Method], *, aliases: tuple[str, ...] = ()) -> None:
    """Register ``factory`` under ``name`` (and optional aliases)."""
    if name in _FACTORIES:
        raise ValueError(f"method {name!r} registered twice")
    _FACTORIES[name] = factory
    for alias in aliases:
        _ALIASES[alias] = name


def canonical_name(name: str) -> str:
    """Resolve aliases (``nn`` -> ``nearest``) and check the name exists."""
    if name.strip().startswith("external:"):
        return name.strip()
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _FACTORIES:
        raise SrbenchError(f"unknown method {name!r}; registered: {', '.join(all_method_names())}")
    return key


def get_method(name: str) -> Method:
    """Build the method registered under ``name`` (or one of its aliases, or ``external:NAME=DIR``)."""
    key = canonical_name(name)
    if key.startswith("external:"):
        from .external import external_method

        return external_method(key)
    return _FACTORIES[key]()


def all_method_names() -> list[str]:
    """Every registered method name, in registration order."""
    return list(_FACTORIES)
