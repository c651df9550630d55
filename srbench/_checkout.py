"""Import ``srbench.methods``, ``srbench.mos_app`` and ``srbench.manifests`` from an uninstalled checkout.

Installed (``pip install .`` or ``-e .``), these subpackages are the checkout's
top-level folders ``methods/``, ``mos_app/`` and ``datasets/manifests/``,
mapped in ``pyproject.toml``. A machine that cannot install the project runs it
from the working tree with ``PYTHONPATH=.`` (the GPU lease does); there no
installer maps the folders, so this finder does, as the last resort on
``sys.meta_path``: installed copies always win.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "srbench.methods": CHECKOUT / "methods",
    "srbench.mos_app": CHECKOUT / "mos_app",
    "srbench.manifests": CHECKOUT / "datasets" / "manifests",
}


class CheckoutFinder:
    """A meta path finder (``find_spec``) for the three mapped subpackages in the checkout's top-level folders."""

    def find_spec(self, fullname, path=None, target=None):
        folder = FOLDERS.get(fullname)
        if folder is None or not (folder / "__init__.py").is_file():
            return None
        import importlib.util

        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )


def install() -> None:
    """Append the finder once, if this package sits in a checkout (beside ``pyproject.toml``)."""
    if not (CHECKOUT / "pyproject.toml").is_file() or (Path(__file__).parent / "methods").is_dir():
        return
    if not any(isinstance(f, CheckoutFinder) for f in sys.meta_path):
        sys.meta_path.append(CheckoutFinder())
