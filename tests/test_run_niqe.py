"""`srbench run --metrics psnr,ssim,niqe`: NIQE rows beside PSNR/SSIM, HR and external folders, n/a, the model.

NIQE values are checked against :func:`srbench.metrics.niqe.niqe` called here
directly on the same pixels (the runner must only route them), PSNR/SSIM rows
against a run without NIQE (they must not move by a byte).
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench.run import runner
from srbench.cli import main
from srbench.data.sets import BenchImage
from srbench.errors import SrbenchError
from srbench.data.imageio import read_image
from srbench.metrics import parse_metrics
from srbench.metrics.niqe import niqe
from srbench.metrics.niqe_model import FETCH_COMMAND, load_model, manifest
from srbench.data.resize import imresize
from srbench.run.runner import run_benchmark
from srbench.run.registry import Method

PUBLISHED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "published" / "ledig2017"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def set5_runs(data_root, tmp_path_factory):
    """nearest+bicubic on Set5 with and without NIQE (one process: jobs=1)."""
    tmp = tmp_path_factory.mktemp("niqe-run")
    with_niqe = run_benchmark(["nearest", "bicubic"], ["set5"], data_root=data_root, out_dir=tmp / "with",
                              progress=False, jobs=1, metrics=["psnr", "ssim", "niqe"])
    without = run_benchmark(["nearest", "bicubic"], ["set5"], data_root=data_root, out_dir=tmp / "without",
                            progress=False, jobs=1)
    return with_niqe, without


def test_niqe_rows_sit_beside_psnr_ssim_once_per_image(set5_runs, data_root):
    result, _ = set5_runs
    out = result.out_dir
    lines = (out / "per_image.csv").read_text().splitlines()
    assert lines[0] == "dataset,image,method,protocol,psnr,ssim,niqe,niqe_note"
    rows = _rows(out / "per_image.csv")
    nr = [r for r in rows if r["protocol"] == ""]
    fr = [r for r in rows if r["protocol"] != ""]
    assert len(fr) == 5 * 2 * 2 and all(r["niqe"] == "" and r["niqe_note"] == "" for r in fr)
    # one no-reference row per image and method, and per HR image: never repeated per protocol
    assert sorted((r["method"], r["image"]) for r in nr) == sorted(
        (m, i) for m in ("nearest", "bicubic", "hr") for i in ("baby.png", "bird.png", "butterfly.png", "head.png",
                                                                "woman.png"))
    assert all(r["psnr"] == "" and r["ssim"] == "" and r["niqe_note"] == "" for r in nr)
    # the values are NIQE of exactly those pixels: HR files, and bicubic upscales of the LR files
    model = load_model()
    from srbench.data.sets import load_dataset

    images = {im.name: im for im in load_dataset("set5", data_root)}
    for r in nr:
        im = images[r["image"]]
        pixels = im.hr if r["method"] == "hr" else (imresize(im.lr, 4, kernel="bicubic") if r["method"] == "bicubic"
                                                   else None)
        if pixels is not None:
            assert float(r["niqe"]) == pytest.approx(niqe(pixels, model=model).value, abs=5e-7), r
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(summary.columns) == ["dataset", "method", "protocol", "n", "n_expected", "psnr", "ssim", "niqe",
                                     "niqe_note"]
    hr = summary[summary.method == "hr"]
    assert len(hr) == 1 and hr.iloc[0].protocol == "" and hr.iloc[0].psnr == ""
    per = pd.DataFrame(nr)
    for method in ("nearest", "bicubic", "hr"):
        mean = per[per.method == method].niqe.astype(float).mean()
        row = summary[(summary.method == method) & (summary.protocol == "")].iloc[0]
        assert float(row.niqe) == pytest.approx(mean, abs=1e-6) and row.n == row.n_expected == 5
    record = json.loads((out / "run.json").read_text())
    assert record["metrics"] == ["psnr", "ssim", "niqe"]
    assert record["niqe"]["model_sha256"] == manifest()["sha256"]
    assert (record["niqe"]["luma"], record["niqe"]["border"]) == ("gray", 0)
    assert "NIQE" in runner.format_summary(result.summary) and "hr       NIQE" in runner.format_summary(result.summary)


def test_psnr_ssim_rows_do_not_move_and_the_default_run_keeps_its_columns(set5_runs):
    result, without = set5_runs
    plain = (without.out_dir / "per_image.csv").read_text().splitlines()
    assert plain[0] == "dataset,image,method,protocol,psnr,ssim"  # default: byte-identical layout, no NIQE
    fr = [line for line in (result.out_dir / "per_image.csv").read_text().splitlines()[1:]
          if line.split(",")[3] != ""]
    assert [line[: -len(",,")] for line in fr] == plain[1:]
    plain_summary = (without.out_dir / "summary.csv").read_text().splitlines()
    fr_summary = [line[: -len(",,")] for line in (result.out_dir / "summary.csv").read_text().splitlines()[1:]
                  if line.split(",")[2] != ""]
    assert fr_summary == plain_summary[1:]
    assert json.loads((without.out_dir / "run.json").read_text())["metrics"] == ["psnr", "ssim"]
    assert "niqe" not in json.loads((without.out_dir / "run.json").read_text())


def test_worker_processes_give_the_same_niqe_rows(set5_runs, data_root, tmp_path):
    result, _ = set5_runs
    pooled = run_benchmark(["nearest", "bicubic"], ["set5"], data_root=data_root, out_dir=tmp_path / "pooled",
                           progress=False, jobs=2, metrics=["psnr", "ssim", "niqe"])
    assert (pooled.out_dir / "per_image.csv").read_bytes() == (result.out_dir / "per_image.csv").read_bytes()


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="needs ../shared/datasets/published")
def test_niqe_alone_on_an_external_folder_of_published_images(data_root, tmp_path, capsys):
    folder = PUBLISHED / "srgan-vgg54"
    out = tmp_path / "run"
    rc = main(["run", "--methods", f"external:ledig-srgan={folder}", "--datasets", "set5", "--metrics", "niqe",
               "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "ledig-srgan  NIQE" in printed
    rows = _rows(out / "per_image.csv")
    assert {r["protocol"] for r in rows} == {""}  # no protocol applies: no PSNR/SSIM rows at all
    assert {r["method"] for r in rows} == {"ledig-srgan", "hr"} and len(rows) == 10
    model = load_model()
    for r in rows:
        path = (folder / "set5" / r["image"]) if r["method"] != "hr" else (data_root / "set5" / "HR" / r["image"])
        pixels, _ = read_image(path)
        assert float(r["niqe"]) == pytest.approx(niqe(pixels, model=model).value, abs=5e-7)
    record = json.loads((out / "run.json").read_text())
    assert record["protocols"] == [] and record["metrics"] == ["niqe"]


def _synthetic_set(rng: np.random.Generator) -> list[BenchImage]:
    """SYNTHETIC Set5 stand-ins: noise images; bird.png is 80x120 (smaller than one 96x96 NIQE block)."""
    sizes = {"baby.png": (200, 200), "bird.png": (80, 120), "butterfly.png": (192, 192), "head.png": (200, 296),
             "woman.png": (228, 200)}
    out = []
    for name, (h, w) in sizes.items():
        hr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        out.append(BenchImage("set5", name, hr, imresize(hr, 0.25, kernel="bicubic"), False))
    return out


def test_an_image_smaller_than_a_niqe_block_is_na_with_its_reason(tmp_path, monkeypatch):
    """SYNTHETIC images through the whole run: n/a with the reason, never a crash, a zero or a mean over the rest."""
    images = _synthetic_set(np.random.default_rng(17))
    monkeypatch.setattr(runner, "load_dataset", lambda name, root: images)  # SYNTHETIC data, real pipeline
    out = tmp_path / "synthetic-run"
    result = run_benchmark(["nearest"], ["set5"], data_root=tmp_path, out_dir=out, progress=False, jobs=1,
                           metrics=["psnr", "ssim", "niqe"])
    rows = {(r["method"], r["image"]): r for r in _rows(out / "per_image.csv") if r["protocol"] == ""}
    for method in ("nearest", "hr"):
        bird = rows[(method, "bird.png")]
        assert bird["niqe"] == "n/a"
        assert "120x80 luma plane is smaller than one 96x96 NIQE block" in bird["niqe_note"]
        assert rows[(method, "baby.png")]["niqe"] not in ("", "n/a", "0.000000")
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    row = summary[(summary.method == "nearest") & (summary.protocol == "")].iloc[0]
    assert row.niqe == "n/a" and row.n == 4 and row.n_expected == 5
    assert "NIQE n/a for 1 of 5 images" in row.niqe_note and "not averaged" in row.niqe_note
    assert math.isnan(result.summary[(result.summary.method == "nearest")
                                     & (result.summary.protocol == "")].niqe.iloc[0])
    assert "n/a" in runner.format_summary(result.summary)
    # pandas reads "n/a" as missing: a consumer's mean skips it instead of averaging a zero
    per = pd.read_csv(out / "per_image.csv")
    assert per[(per.method == "nearest") & per.protocol.isna()].niqe.isna().sum() == 1


def test_a_missing_model_stops_the_run_before_any_work(data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SRBENCH_NIQE_MODEL", str(tmp_path / "nowhere" / "niqe_modelparameters.mat"))
    built = []

    def build(*args, **kwargs):
        built.append(args)
        raise AssertionError("a method was built before the model was checked")

    monkeypatch.setattr(runner, "select_methods", build)
    out = tmp_path / "run"
    rc = main(["run", "--methods", "nearest", "--datasets", "set5", "--metrics", "psnr,ssim,niqe",
               "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert FETCH_COMMAND in err and FETCH_COMMAND == "srbench datasets fetch --niqe-model"
    assert not out.exists() and not built


@pytest.mark.parametrize("argv, message", [
    (["--metrics", "psnr"], "psnr and ssim are computed together"),
    (["--metrics", "psnr,niqe"], "psnr and ssim are computed together"),
    (["--metrics", "lpips"], "unknown metric 'lpips'"),
    (["--metrics", ","], "no metric chosen"),
    (["--niqe-model", "x.mat"], "NIQE is not among the metrics"),
])
def test_bad_metric_flags_are_one_line_errors(data_root, tmp_path, capsys, argv, message):
    rc = main(["run", "--methods", "nearest", "--datasets", "set5", "--data-root", str(data_root),
               "--out", str(tmp_path / "r"), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_method_called_hr_is_refused(data_root, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rc = main(["run", "--methods", f"external:hr={folder}", "--datasets", "set5", "--metrics", "niqe",
               "--data-root", str(data_root), "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "stands for the HR images" in err, err


def test_parse_metrics():
    assert parse_metrics(["niqe", "SSIM", "psnr"]) == ("psnr", "ssim", "niqe")
    assert parse_metrics(["all"]) == ("psnr", "ssim", "niqe")
    assert parse_metrics(["niqe"]) == ("niqe",)
    with pytest.raises(SrbenchError):
        parse_metrics(["ssim"])


def test_datasets_fetch_niqe_model(niqe_model_path, tmp_path, monkeypatch):
    """Through the CLI: fetch from a local copy into $SRBENCH_NIQE_MODEL, verify, list; wrong flags and files."""
    env = {**os.environ, "SRBENCH_NIQE_MODEL": str(tmp_path / "models" / "niqe.mat")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "srbench", "datasets", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)

    listed = cli("list")
    assert listed.returncode == 0 and "not fetched ('srbench datasets fetch --niqe-model')" in listed.stdout
    missing = cli("verify", "--niqe-model")
    assert missing.returncode == 2 and "srbench datasets fetch --niqe-model" in missing.stderr
    wrong = tmp_path / "wrong.mat"
    wrong.write_bytes(niqe_model_path.read_bytes()[:-1] + b"\x00")
    bad = cli("fetch", "--niqe-model", "--source", str(wrong), "--no-progress")
    assert bad.returncode == 2 and "sha256" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "models" / "niqe.mat").exists()
    mixed = cli("fetch", "--niqe-model", "--datasets", "set5")
    assert mixed.returncode == 2 and "--datasets belongs to the sets" in mixed.stderr
    ok = cli("fetch", "--niqe-model", "--source", str(niqe_model_path), "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "models" / "niqe.mat").read_bytes() == niqe_model_path.read_bytes()
    assert "OK" in cli("verify", "--niqe-model").stdout
    assert "niqe.mat (from $SRBENCH_NIQE_MODEL) - OK" in cli("list").stdout


def test_bench_run_niqe_smoke(data_root, niqe_model_path):
    env = {**os.environ, "SRBENCH_DATA": str(data_root), "SRBENCH_NIQE_MODEL": str(niqe_model_path),
           "OMP_NUM_THREADS": "1"}
    script = Path(__file__).resolve().parent.parent / "bench" / "bench_run_niqe.py"
    assert script.name == "bench_run_niqe.py"
    proc = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("smoke srbench run --methods nearest --datasets set5")
    assert "0 NIQE evaluations" in lines[1] and "10 NIQE evaluations" in lines[2]  # 5 SR + 5 HR images
    assert lines[3].startswith("NIQE adds") and lines[4].startswith("load average before:")


def test_the_model_from_the_environment_is_found_from_any_directory(tmp_path):
    """The README's test command gives $SRBENCH_NIQE_MODEL relative to the checkout; conftest makes it absolute,
    so a subprocess working elsewhere (as several tests' are) still finds the model."""
    code = "from srbench.metrics.niqe_model import load_model; print(load_model().sha256)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == manifest()["sha256"]


class _FailsAtHead(Method):
    """SYNTHETIC method: nearest neighbour until it reaches head.png, where it fails."""

    name = "synthetic-niqe-fails-at-head"

    def upscale(self, lr, *, dataset="", name=""):
        if name == "head.png":
            raise SrbenchError("SYNTHETIC failure at head.png")
        return np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)


def test_a_failed_niqe_run_keeps_its_rows_in_the_partial_file_as_the_final_file_writes_them(tmp_path, monkeypatch,
                                                                                          capsys):
    """SYNTHETIC images (bird.png too small for NIQE): the partial file has NIQE's columns, empty cells and n/a."""
    from srbench.run import registry

    images = _synthetic_set(np.random.default_rng(5))
    monkeypatch.setattr(runner, "load_dataset", lambda name, root: images)  # SYNTHETIC data, real pipeline
    registry.register_method(_FailsAtHead.name, _FailsAtHead, description="SYNTHETIC")
    try:
        out = tmp_path / "run"
        rc = main(["run", "--methods", f"bicubic,{_FailsAtHead.name}", "--datasets", "set5", "--protocol", "matlab",
                   "--metrics", "psnr,ssim,niqe", "--data-root", str(tmp_path), "--out", str(out), "--no-progress",
                   "--jobs", "1"])
    finally:
        registry._unregister(_FailsAtHead.name)
    err = capsys.readouterr().err.strip().splitlines()
    partial = out / "per_image.csv.partial"
    assert rc == 2 and len(err) == 1 and "the 10 rows measured before it stopped are kept" in err[0], err
    assert sorted(os.listdir(out)) == ["per_image.csv.partial", "run.partial.json"]
    text = partial.read_text()
    assert text.splitlines()[0] == "dataset,image,method,protocol,psnr,ssim,niqe,niqe_note"
    assert "nan" not in text.lower()  # empty cells are empty, as in per_image.csv
    rows = _rows(partial)
    assert [r["method"] for r in rows] == ["bicubic"] * 10
    fr = [r for r in rows if r["protocol"] == "matlab"]
    nr = {r["image"]: r for r in rows if r["protocol"] == ""}
    assert len(fr) == 5 and all(r["niqe"] == r["niqe_note"] == "" and float(r["psnr"]) > 0 for r in fr)
    assert nr["bird.png"]["niqe"] == "n/a" and "smaller than one 96x96 NIQE block" in nr["bird.png"]["niqe_note"]
    model = load_model()
    by_name = {im.name: im for im in images}
    for name in ("baby.png", "butterfly.png", "head.png", "woman.png"):
        r = nr[name]
        assert r["psnr"] == r["ssim"] == r["niqe_note"] == ""
        sr = imresize(by_name[name].lr, 4, kernel="bicubic")
        assert float(r["niqe"]) == pytest.approx(niqe(sr, model=model).value, abs=1e-9)


@pytest.mark.skipif(not (Path(__file__).resolve().parent.parent.parent / "shared" / "reference").is_dir(),
                    reason="the README's command expects ../shared beside the checkout")
def test_the_readme_test_command_gives_the_tests_a_verified_niqe_model():
    """The README's test command (the one CI runs) names NIQE's model, and that file passes the checksum."""
    import shlex

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(root / ".ci" / "readme_command.py"), str(root / "README.md")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assignments = dict(word.split("=", 1) for word in shlex.split(proc.stdout) if "=" in word
                       and word.split("=", 1)[0].isidentifier())
    assert "SRBENCH_NIQE_MODEL" in assignments, proc.stdout
    path = (root / assignments["SRBENCH_NIQE_MODEL"]).resolve()
    assert load_model(path).sha256 == manifest()["sha256"]  # load_model refuses a file whose SHA-256 differs
