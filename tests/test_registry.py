"""The public API and the method registry (srbench/run/registry.py): metadata, settings, capabilities, startup cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import srbench
from srbench.run import registry
from srbench.errors import SrbenchError

ROOT = Path(__file__).resolve().parent.parent


def test_public_api_names():
    from srbench import evaluate, get_method, list_methods, register_method, run_benchmark  # noqa: F401

    assert srbench.evaluate is srbench.metrics.evaluate and srbench.run_benchmark is srbench.run.runner.run_benchmark
    assert srbench.get_method is registry.get_method and srbench.Method is registry.Method
    with pytest.raises(AttributeError):
        srbench.no_such_name  # noqa: B018


def test_builtin_metadata():
    infos = {i.name: i for i in srbench.list_methods()}
    assert list(infos)[:2] == ["nearest", "bicubic"]
    assert infos["nearest"].aliases == ("nn",) and infos["nearest"].kind == "classic"
    mse = infos["srresnet-mse"]
    assert (mse.kind, mse.trainable, mse.needs_checkpoint, mse.label) == ("learned", True, True, "SRResNet-MSE")
    assert [(r.table, r.row, r.category) for r in mse.paper_rows] == [(1, "SRResNet-MSE", "SRResNet"),
                                                                       (2, "SRResNet", None)]
    assert infos["bicubic"].settings == () and "device" in mse.settings
    families = {i.name: i for i in srbench.list_methods(families=True) if i.family}
    assert set(families["external"].members) == {"selfexsr", "drcn"}


def test_names_aliases_and_keys():
    assert registry.canonical_name(" NN ") == "nearest"
    assert registry.method_key("NN") == "nearest" and registry.method_key("External:SelfEx=/x/y") == "external:selfex"
    assert registry.method_key("someone-elses-method") == "someone-elses-method"  # plugin not installed here
    with pytest.raises(SrbenchError, match="unknown method 'bicubik'.*registered: nearest, bicubic.*"
                                           "aliases: nn = nearest; families: external:NAME=DIR"):
        srbench.get_method("bicubik")
    assert "external:NAME=DIR" in [i.usage for i in srbench.list_methods(families=True) if i.family]


def test_settings_reach_the_method_and_unknown_ones_are_named(tmp_path):
    method = srbench.get_method("srcnn", checkpoint_root=tmp_path, device="cpu", tile=64)
    assert (method.checkpoint_root, str(method.device), method.tile) == (tmp_path, "cpu", 64)
    assert str(tmp_path / "srcnn" / "model.safetensors") in method.availability()
    with pytest.raises(SrbenchError, match=r"srcnn takes no setting tiles \(accepted: checkpoint_root, device, tile"):
        srbench.get_method("srcnn", tiles=64)
    with pytest.raises(SrbenchError, match=r"bicubic takes no setting device \(accepted: none\)"):
        srbench.get_method("bicubic", device="cpu")


def test_run_settings_go_to_the_methods_that_take_them(tmp_path, data_root):
    from srbench.run.runner import select_methods

    chosen, skipped = select_methods(["all"], {"checkpoint_root": tmp_path / "none", "device": "cpu",
                                               "published_root": tmp_path / "nopub"})
    assert [m.name for m in chosen] == ["nearest", "bicubic"]  # no checkpoint, no published images under the roots
    assert "srcnn" in skipped and str(tmp_path / "none") in skipped["srcnn"]
    assert str(tmp_path / "nopub") in skipped["published:srgan-vgg54"]
    with pytest.raises(SrbenchError, match="no chosen method takes the setting"):
        select_methods(["bicubic"], {"device": "cpu"})


class _Synthetic(srbench.Method):
    """SYNTHETIC: bicubic plus zero, with no optional capability."""

    name = "synthetic-bicubic-plus-zero"

    def upscale(self, lr, *, dataset="", name=""):
        from srbench.data.resize import imresize

        return imresize(lr, 4, kernel="bicubic") + np.uint8(0)


@pytest.fixture
def synthetic_method():
    @srbench.register_method("synthetic-bicubic-plus-zero", aliases=("synthetic-bpz",), kind="classic",
                             description="SYNTHETIC test method")
    def build():
        return _Synthetic()

    yield build
    registry._unregister("synthetic-bicubic-plus-zero")


def test_registered_method_runs_with_default_capabilities(synthetic_method, tmp_path, data_root):
    method = srbench.get_method("SYNTHETIC-BPZ")
    assert method.check_coverage(["set5"]) is None and method.checkpoint_info() is None
    assert method.availability() is None
    result = srbench.run_benchmark(["synthetic-bpz", "bicubic"], ["set5"], data_root=data_root,
                                   out_dir=tmp_path / "run", protocols=["matlab"], progress=False)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["methods"]["synthetic-bicubic-plus-zero"] == {"checkpoint": None}
    by = result.per_image.groupby("method").psnr.apply(list)
    assert by["synthetic-bicubic-plus-zero"] == by["bicubic"]


def test_registration_errors(synthetic_method):
    with pytest.raises(ValueError, match="already registered"):
        srbench.register_method("bicubic")(lambda: None)
    with pytest.raises(ValueError, match="already registered"):
        srbench.register_method("other", aliases=("nn",))(lambda: None)
    with pytest.raises(ValueError, match="kind must be one of"):
        srbench.register_method("other", kind="magic")(lambda: None)

    @srbench.register_method("synthetic-not-a-method")
    def wrong():
        return object()

    try:
        with pytest.raises(SrbenchError, match="returned a object, not a srbench.Method"):
            srbench.get_method("synthetic-not-a-method")
    finally:
        registry._unregister("synthetic-not-a-method")


LIGHT_COMMANDS = """
import json, sys
from pathlib import Path
heavy = ("torch", "torchvision")
seen = {}
from srbench.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
seen["--version"] = sorted(m for m in ("torch", "numpy", "pandas", "scipy") if m in sys.modules)
import srbench
srbench.list_methods()
seen["list_methods"] = sorted(m for m in heavy if m in sys.modules)
main(["datasets", "list", "--data-root", sys.argv[1]])
seen["datasets list"] = sorted(m for m in heavy if m in sys.modules)
main(["report", "--runs", sys.argv[2], "--out", sys.argv[3]])
seen["report"] = sorted(m for m in heavy if m in sys.modules)
main(["datasets", "verify", "--datasets", "set5", "--data-root", sys.argv[1]])
main(["datasets", "fetch", "--datasets", "set5", "--source", sys.argv[1], "--data-root", sys.argv[3] + "-data",
      "--no-progress"])
seen["datasets verify, fetch"] = sorted(m for m in heavy if m in sys.modules)
for command in (["run"], ["upscale"], ["train"], ["mos", "create"], ["report"], ["datasets", "fetch"]):
    try:
        main([*command, "--help"])
    except SystemExit:
        pass
seen["--help"] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(seen))
"""


def test_version_list_methods_datasets_and_report_do_not_import_torch(tmp_path, data_root):
    """Naming methods never builds a network: --version imports nothing heavy, and report/datasets no torch."""
    run = ROOT / "tests" / "fixtures" / "report" / "synthetic-classic"
    proc = subprocess.run([sys.executable, "-c", LIGHT_COMMANDS, str(data_root), str(run), str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"--version": [], "list_methods": [], "datasets list": [], "report": [],
                    "datasets verify, fetch": [], "--help": []}


def test_startup_benchmark_smoke():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_startup.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    assert {"srbench --version", "srbench --help", "list_methods()", "load average"} <= set(lines)
