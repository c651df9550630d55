"""Dependencies point down: core <- srbench.methods <- srbench.mos_app <- srbench.report <- srbench.view <- srbench.cli.

Two checks of every module:

* at import: each layer's modules are imported in a fresh interpreter in
  which every layer above it is blocked (``sys.modules[name] = None``, so
  importing it fails);
* in the source: every ``import`` statement of every module, also those
  inside functions (imported only when they run), and the Streamlit page
  ``mos_app/app.py`` (a script, not importable outside Streamlit), names
  no module of a higher layer.

The core reaches the built-in methods only by name, through the registry
(``srbench.run.registry.BUILTIN_PACKAGE``), never by an import statement.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "srbench.methods", "srbench.mos_app", "srbench.report", "srbench.view", "srbench.cli")
FOLDERS = {  # package -> folder in the checkout (pyproject.toml maps methods/ and mos_app/)
    "srbench": ROOT / "srbench",
    "srbench.methods": ROOT / "methods",
    "srbench.mos_app": ROOT / "mos_app",
}
SCRIPTS = {"srbench.mos_app.app", "srbench.view.page", "srbench.__main__"}  # run, not imported


def layer_of(module: str) -> int:
    """Rank of ``module``'s layer: 0 core ... 5 CLI (``srbench.__main__`` belongs to the CLI)."""
    if module == "srbench.__main__":
        return LAYERS.index("srbench.cli")
    for rank in range(len(LAYERS) - 1, 0, -1):
        if module == LAYERS[rank] or module.startswith(LAYERS[rank] + "."):
            return rank
    return 0


def all_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name, from the checkout's files."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            if package == "srbench" and rel.parts[0] in ("methods", "mos_app"):
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def imported_names(module: str, path: Path) -> list[tuple[int, list[str]]]:
    """Per import statement of ``path``: its line and the absolute module names it may load.

    ``from X import y`` may load ``X`` and the submodule ``X.y``; relative
    imports are resolved against ``module``.
    """
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.append((node.lineno, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, [target] + [f"{target}.{alias.name}" for alias in node.names]))
    return out


def upward_imports(modules: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in modules.items():
        rank = layer_of(module)
        for line, names in imported_names(module, path):
            up = [n for n in names if n.split(".")[0] == "srbench" and layer_of(n) > rank]
            if up:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                problems.append(f"{where}:{line}: {module} ({LAYERS[rank]}) imports {up[0]} "
                                f"({LAYERS[layer_of(up[0])]})")
    return problems


def test_no_import_statement_points_up():
    modules = all_modules()
    assert {"srbench.run.registry", "srbench.data.sets", "srbench.ratings.screening", "srbench.methods.classic",
            "srbench.mos_app.app", "srbench.report.build", "srbench.cli.run", "srbench.cli.mos",
            "srbench.cli.train"} <= set(modules)
    assert layer_of("srbench.data.sets") == layer_of("srbench.ratings.stats") == layer_of("srbench.run.runner") == 0
    assert layer_of("srbench.cli.mos") == layer_of("srbench.cli.train") == LAYERS.index("srbench.cli")
    assert upward_imports(modules) == []


def test_the_source_check_catches_an_upward_import(tmp_path):
    """The check itself: a core module that imports the MOS app (even inside a function) is reported."""
    bad = tmp_path / "stats.py"
    bad.write_text("def screen():\n    from srbench.mos_app.admin import screening_config\n")
    relative = tmp_path / "create.py"
    relative.write_text("from ..report import build_report\n")
    problems = upward_imports({"srbench.ratings.stats": bad, "srbench.mos_app.create": relative})
    assert len(problems) == 2 and "imports srbench.mos_app.admin" in problems[0]
    assert "imports srbench.report" in problems[1]


IMPORT_WITH_BLOCKED = """
import importlib, sys
blocked, modules = sys.argv[1].split(","), sys.argv[2].split(",")
for name in blocked:
    sys.modules[name] = None  # importing it (or anything in it) now fails
failed = []
for name in modules:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append(f"{name}: {exc}")
print("\\n".join(failed))
raise SystemExit(1 if failed else 0)
"""


def _import_layer(rank: int, modules: list[str]) -> subprocess.CompletedProcess:
    blocked = ",".join(LAYERS[rank + 1:])
    return subprocess.run([sys.executable, "-c", IMPORT_WITH_BLOCKED, blocked, ",".join(modules)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("rank", range(len(LAYERS) - 1), ids=LAYERS[:-1])
def test_each_layer_imports_with_the_layers_above_blocked(rank):
    modules = sorted(m for m in all_modules() if layer_of(m) == rank and m not in SCRIPTS)
    assert modules
    proc = _import_layer(rank, modules)
    assert proc.returncode == 0, f"imports of a blocked upper layer:\n{proc.stdout}{proc.stderr[-2000:]}"


def test_blocking_catches_an_upward_import(tmp_path, monkeypatch):
    """The runtime check itself: a module importing a blocked layer fails to import."""
    (tmp_path / "srbench_layer_probe.py").write_text("import srbench.report\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    proc = _import_layer(0, ["srbench.run.registry", "srbench_layer_probe"])
    assert proc.returncode == 1 and "srbench_layer_probe" in proc.stdout
