"""One atomic writer (srbench/atomicio.py) with one file mode, used by every writer; one project root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srbench.atomicio import atomic_path, make_staging_dir, write_atomic
from srbench.data.imageio import write_png

ROOT = Path(__file__).resolve().parent.parent


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_write_atomic_gives_open_mode_and_leaves_no_temp_file(tmp_path, umask_022):
    write_atomic(tmp_path / "a.csv", "x,y\n1,2\n")
    write_atomic(tmp_path / "a.csv", b"replaced\n")
    assert (tmp_path / "a.csv").read_bytes() == b"replaced\n"
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("as open() makes it")
    assert _mode(tmp_path / "a.csv") == _mode(tmp_path / "plain.txt") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "plain.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".png"  # writers pick the format from it
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_a_library_that_recreates_the_file_still_gets_the_usual_mode(tmp_path, umask_022):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file  # writes its files 0600

    with atomic_path(tmp_path / "w.safetensors") as tmp:
        save_file({"a": torch.zeros(2)}, str(tmp))
    assert _mode(tmp_path / "w.safetensors") == 0o644


def test_png_and_staging_folder_modes(tmp_path, umask_022):
    write_png(tmp_path / "img.png", np.zeros((4, 4, 3), np.uint8))
    assert _mode(tmp_path / "img.png") == 0o644  # was 0600 (mkstemp) before one helper
    assert _mode(make_staging_dir(tmp_path, ".tmp-study-")) == 0o755  # mkdtemp gives 0700


def test_report_files_are_world_readable(tmp_path, umask_022):
    """srbench report wrote its files through mkstemp (0600) while run files were 0644."""
    from srbench import report

    fixtures = ROOT / "tests" / "fixtures" / "report"
    written = report.build_report([fixtures / "synthetic-classic"], [], tmp_path / "r")
    assert written and {_mode(p) for p in written} == {0o644}


def test_project_root_of_an_installed_copy_is_the_working_directory(tmp_path):
    """Outside a checkout (a wheel) the defaults live under the working directory, or $SRBENCH_HOME."""
    code = ("import sys; from pathlib import Path; from srbench import paths; "
            "print(paths.find_checkout(Path(sys.argv[1])), paths.PROJECT_ROOT, paths.RUNS_DIR, paths.DATA_CACHE)")
    fake_site = tmp_path / "site-packages" / "srbench"
    fake_site.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "SRBENCH_HOME"}
    out = subprocess.run([sys.executable, "-c", code, str(fake_site)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    # this test runs from the checkout, so PROJECT_ROOT is the checkout; a copy without one has no checkout
    assert out == ["None", str(ROOT), str(ROOT / "results" / "runs"), str(ROOT / "datasets" / "cache")]
    home = tmp_path / "home"
    out = subprocess.run([sys.executable, "-c", code, str(fake_site)], cwd=tmp_path,
                         env={**env, "SRBENCH_HOME": str(home)}, capture_output=True, text=True, check=True).stdout
    assert out.split()[1:] == [str(home), str(home / "results" / "runs"), str(home / "datasets" / "cache")]
