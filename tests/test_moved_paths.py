"""Old import paths of modules that moved into packages still work, as the same objects, and warn once."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from srbench.runner import run_benchmark
    import srbench.runner
    from srbench.registry import register_method
    from srbench.upscale import upscale_files
    from srbench.resize import imresize
    from srbench.data import load_dataset
    from srbench.data import load_dataset as again
import srbench.data.resize, srbench.data.sets, srbench.run.registry, srbench.run.runner, srbench.run.upscale
assert srbench.runner is srbench.run.runner and run_benchmark is srbench.run.runner.run_benchmark
assert srbench.run.runner.__spec__.name == "srbench.run.runner"
assert register_method is srbench.run.registry.register_method
assert upscale_files is srbench.run.upscale.upscale_files and imresize is srbench.data.resize.imresize
assert load_dataset is again is srbench.data.sets.load_dataset
for w in caught:
    print(w.category.__name__, w.filename == "<string>", str(w.message).split(";")[0])
"""


def test_old_import_paths_alias_the_moved_modules_and_warn_once():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        "DeprecationWarning True srbench.runner moved to srbench.run.runner",
        "DeprecationWarning True srbench.registry moved to srbench.run.registry",
        "DeprecationWarning True srbench.upscale moved to srbench.run.upscale",
        "DeprecationWarning True srbench.resize moved to srbench.data.resize",
        "DeprecationWarning True srbench.data.load_dataset moved to srbench.data.sets.load_dataset",
    ]


def test_unknown_names_stay_unknown():
    import pytest

    import srbench.data

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        srbench.data.nope  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        import srbench.stats_that_never_was  # noqa: F401
