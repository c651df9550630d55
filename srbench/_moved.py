"""Old import paths of modules that moved into packages: aliases that warn once.

``srbench.runner`` became ``srbench.run.runner`` (and so on, see
:data:`MOVED`). No file remains at an old path: a finder at the end of
``sys.meta_path`` (installed by ``srbench/__init__.py``) answers an import of
an old path with the new module itself, so ``from srbench.runner import
run_benchmark`` and a ``monkeypatch`` of the old name reach the very same
objects, and emits one ``DeprecationWarning`` pointing at the importing line.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "srbench.registry": "srbench.run.registry",
    "srbench.runner": "srbench.run.runner",
    "srbench.upscale": "srbench.run.upscale",
    "srbench.resize": "srbench.data.resize",
}
"""Old module path -> new module path, for the old paths the README and plugin authors used."""


def _importer_stacklevel() -> int:
    """``stacklevel`` of the first frame outside this module (importlib's frames are skipped by ``warnings``)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib" in name and "_bootstrap" in name:  # frames warnings.warn itself skips
            frame = frame.f_back
            continue
        if name != __file__:
            return level
        frame, level = frame.f_back, level + 1
    return 1


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path as the module at its new path (imported if needed), warning once."""

    def create_module(self, spec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old path will be removed)",
                      DeprecationWarning, stacklevel=_importer_stacklevel())
        module = importlib.import_module(new)
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._real_spec  # the import system set the alias's spec; keep the module's own


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of :data:`MOVED` (and nothing else)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader())


def install() -> None:
    """Append the finder once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
