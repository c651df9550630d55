"""Not part of srbench: this file runs only when Python takes the *checkout folder* for the package ``srbench``.

That happens when a script runs from the checkout's parent folder and the
checkout is called ``srbench`` (``git clone`` names it so): the parent folder
is on ``sys.path`` first, and without this file Python would import the
folder as an empty namespace package, so ``from srbench import evaluate``
failed with "cannot import name 'evaluate' from 'srbench' (unknown
location)". Here, the real package is used if it is installed (found by
the import system without the parent folder); otherwise one ``ImportError``
says what happened and what to do. (pytest imports this file as a package
named after the checkout folder: for any name but ``srbench`` it does nothing.)
"""

import importlib.machinery as _machinery
import importlib.util as _util
import os as _os
import sys as _sys

_checkout = _os.path.dirname(_os.path.realpath(__file__))
_parent = _os.path.realpath(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))  # as found (a link too)


def _other(spec) -> bool:
    """True for a spec of a real module file that is not this one."""
    return (spec is not None and spec.loader is not None and bool(spec.origin)
            and _os.path.realpath(spec.origin) != _os.path.realpath(__file__))


def _installed_spec():
    """The spec of an installed ``srbench`` (an editable install's finder, or site-packages), if any."""
    for finder in _sys.meta_path:
        if finder is _machinery.PathFinder or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(__name__, None)
        if _other(spec):
            return spec
    others = [p for p in _sys.path if _os.path.realpath(p or _os.getcwd()) != _parent]
    spec = _machinery.PathFinder.find_spec(__name__, others)
    return spec if _other(spec) else None


_spec = _installed_spec() if __name__ == "srbench" else None  # pytest imports this file as <folder name>: a no-op
if _spec is None and __name__ == "srbench":
    raise ImportError(
        f"'import srbench' found the checkout folder {_checkout} itself, not the package srbench/ inside it: "
        f"Python looks in {_parent} first (the folder of your script, or your working directory), and srbench "
        f"is not installed. Run the script from inside the checkout (cd {_os.path.basename(_checkout)}), or "
        f"install srbench (pip install -e {_checkout}), or move the script"
    )
if _spec is not None:
    _module = _util.module_from_spec(_spec)
    _sys.modules[__name__] = _module  # the import statement returns what sys.modules holds after this file ran
    _spec.loader.exec_module(_module)
