"""Shared fixtures. The real benchmark data is read from ``$SRBENCH_DATA``
(the README's test command points it at ``../shared/datasets/benchmark``), else from that default.

The README's test command gives relative paths (``SRBENCH_DATA=../shared/...``).
Every ``SRBENCH_*`` variable whose value is an existing relative path is made
absolute here, once, before any test runs: tests symlink these files, change
directory and start subprocesses elsewhere, where a relative path would point
nowhere (a variable added later, such as a model file's path, is covered too).

NIQE's model is ``$SRBENCH_NIQE_MODEL`` (the README's test command sets it to
``../shared/reference/niqe_modelparameters.mat``), else that shared file when present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared" / "datasets"
SHARED_NIQE_MODEL = PROJECT_ROOT.parent / "shared" / "reference" / "niqe_modelparameters.mat"

if not os.environ.get("SRBENCH_NIQE_MODEL") and SHARED_NIQE_MODEL.is_file():
    os.environ["SRBENCH_NIQE_MODEL"] = str(SHARED_NIQE_MODEL)


def absolute_path_variables(environ: dict) -> dict[str, str]:
    """``SRBENCH_*`` variables holding an existing relative path -> their absolute form."""
    return {name: os.path.abspath(value) for name, value in environ.items()
            if name.startswith("SRBENCH_") and name != "SRBENCH_PLUGINS" and value and not os.path.isabs(value) and os.path.exists(value)}


os.environ.update(absolute_path_variables(dict(os.environ)))


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding set5/, set14/, bsd100/ (the real benchmark files)."""
    root = Path(os.environ.get("SRBENCH_DATA") or SHARED / "benchmark").resolve()
    if not (root / "set5").is_dir():
        pytest.fail(f"benchmark data not found at {root}: set SRBENCH_DATA")
    return root


@pytest.fixture(scope="session")
def train_root() -> Path:
    """Folder holding the training images (t91/, bsd200/, ...)."""
    root = Path(os.environ.get("SRBENCH_TRAIN_DATA") or SHARED / "train").resolve()
    if not (root / "t91").is_dir():
        pytest.fail(f"training data not found at {root}: set SRBENCH_TRAIN_DATA")
    return root


@pytest.fixture(scope="session")
def reference_root(data_root) -> Path:
    """``../shared/reference`` (the paper's tables, protocol notes): ``$SRBENCH_REFERENCE``, else the
    ``reference/`` folder two levels above the benchmark data root, else next to the checkout."""
    candidates = [Path(os.environ["SRBENCH_REFERENCE"])] if os.environ.get("SRBENCH_REFERENCE") else []
    candidates += [data_root.parent.parent / "reference", PROJECT_ROOT.parent / "shared" / "reference"]
    for root in candidates:
        if (root / "paper_tables.csv").is_file():
            return root.resolve()
    pytest.fail(f"reference files not found (looked in {', '.join(map(str, candidates))}): set SRBENCH_REFERENCE")


@pytest.fixture()
def unwritable_dir(tmp_path) -> Path:
    """An existing folder in which nothing can be created: read-only for a normal user, /sys for root."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    folder = Path("/sys")
    try:
        (folder / "srbench-write-probe").mkdir()
    except OSError:
        yield folder
        return
    pytest.skip("no unwritable folder found for root")  # pragma: no cover


@pytest.fixture(scope="session")
def published_root(data_root) -> Path:
    """Folder holding the published release ledig2017/ (``$SRBENCH_PUBLISHED``, else found from the data root:
    ``../shared/datasets/published`` beside ``../shared/datasets/benchmark``)."""
    from srbench.data.releases import published_root_choice

    root, origin = published_root_choice(None, data_root)
    if not (root / "ledig2017").is_dir():
        pytest.fail(f"the published release ledig2017 was not found in {root} ({origin}): set SRBENCH_PUBLISHED")
    return root.resolve()


@pytest.fixture(scope="session")
def niqe_model_path() -> Path:
    """NIQE's pristine model (``$SRBENCH_NIQE_MODEL``, resolved above)."""
    path = Path(os.environ.get("SRBENCH_NIQE_MODEL") or SHARED_NIQE_MODEL)
    if not path.is_file():
        pytest.fail(f"NIQE model not found at {path}: set SRBENCH_NIQE_MODEL")
    return path


@pytest.fixture()
def one_torch_thread():
    """Run the test on one torch thread (tiny CPU steps are fastest and reproducible so, like each DDP rank
    under OMP_NUM_THREADS=1); the previous thread count is restored afterwards. Opt in per module with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
