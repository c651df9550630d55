"""A script run from the checkout's parent folder, the checkout being called ``srbench`` (as 'git clone' names it):
one clear ImportError when srbench is not installed, the installed package when it is (never the empty
namespace package's "cannot import name 'evaluate' from 'srbench' (unknown location)")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def _parent_with_script(tmp_path: Path) -> Path:
    (tmp_path / "srbench").symlink_to(CHECKOUT, target_is_directory=True)  # the clone, named srbench
    script = tmp_path / "script.py"
    script.write_text("from srbench import evaluate\nprint(evaluate.__module__)\n")
    return script


def test_not_installed_gives_one_clear_message(tmp_path):
    script = _parent_with_script(tmp_path)
    # -S: no site-packages, so no installed srbench (as in a fresh clone before 'pip install')
    proc = subprocess.run([sys.executable, "-S", str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: 'import srbench' found the checkout folder") and "unknown location" not in last
    assert "Run the script from inside the checkout" in last


def test_installed_package_is_used(tmp_path):
    script = _parent_with_script(tmp_path)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "srbench.metrics"
