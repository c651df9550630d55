"""A run is ``+dirty`` only when the code differs from the commit, and then names the changed files (issue 22)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from srbench.run.stamp import CODE_PATHS, code_changes, code_record, git_revision

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A SYNTHETIC checkout: one file of code in each code path, a committed result and a test."""
    root = tmp_path / "checkout"
    for name in ("srbench/core.py", "methods/m.py", "mos_app/app.py", "datasets/manifests/set5.json",
                 "pyproject.toml", "results/report/figure2.pdf", "tests/test_a.py", "README.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"{name}\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "synthetic")
    return root


def test_a_clean_checkout_is_clean(checkout):
    head = _git(checkout, "rev-parse", "HEAD").strip()
    assert git_revision(checkout) == head
    assert code_changes(checkout) == []
    assert code_record(checkout) == {"code_revision": head}


def test_regenerated_outputs_are_not_code(checkout):
    head = _git(checkout, "rev-parse", "HEAD").strip()
    (checkout / "results" / "report" / "figure2.pdf").write_text("another encoding of the same figure\n")
    (checkout / "results" / "runs" / "new").mkdir(parents=True)
    (checkout / "results" / "runs" / "new" / "run.json").write_text("{}\n")
    (checkout / "tests" / "test_a.py").write_text("changed\n")
    (checkout / "README.md").write_text("changed\n")
    (checkout / "srbench" / "__pycache__").mkdir()
    (checkout / "srbench" / "__pycache__" / "core.pyc").write_bytes(b"ignored")
    assert git_revision(checkout) == head


@pytest.mark.parametrize("path", CODE_PATHS)
def test_each_code_path_makes_the_revision_dirty_and_is_named(checkout, path):
    target = checkout / path
    changed = target if target.is_file() else next(p for p in sorted(target.rglob("*")) if p.is_file())
    changed.write_text("changed\n")
    head = _git(checkout, "rev-parse", "HEAD").strip()
    rel = changed.relative_to(checkout).as_posix()
    assert git_revision(checkout) == head + "+dirty"
    assert code_record(checkout) == {"code_revision": head + "+dirty", "code_changes": [rel]}


def test_new_deleted_and_renamed_code_files_are_named(checkout):
    (checkout / "srbench" / "new module.py").write_text("x = 1\n")  # untracked, with a space in its name
    (checkout / "methods" / "m.py").unlink()
    _git(checkout, "mv", "mos_app/app.py", "mos_app/page.py")
    assert code_changes(checkout) == ["methods/m.py", "mos_app/app.py", "mos_app/page.py",
                                      "srbench/new module.py"]


def test_no_git_work_tree_is_unknown(tmp_path):
    assert git_revision(tmp_path) == "unknown"
    assert code_record(tmp_path) == {"code_revision": "unknown"}
    assert code_changes(tmp_path) is None
    assert git_revision(None) == "unknown"
