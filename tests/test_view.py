"""``srbench view`` without a browser: run checks (one clear line each), sorting, URL state, regeneration, export.

The runs are real: ``srbench run`` of nearest and bicubic on Set5 (and nearest
on Set14) with ``--save-images``, in a temporary folder. The page itself is
tested in a real Chromium in ``test_view_browser.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from srbench.data.imageio import read_image
from srbench.run.runner import run_benchmark
from srbench.view import export
from srbench.view.images import ImageStore, difference, regeneration_problem
from srbench.view.runs import SortKey, ViewError, open_runs, sort_images
from srbench.view.state import ViewState, parse_params, region_side

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root) -> dict[str, Path]:
    """Real runs with saved images: nearest/Set5, bicubic/Set5, nearest/Set14."""
    base = tmp_path_factory.mktemp("viewruns")
    out = {}
    for name, method, dataset in (("nn5", "nearest", "set5"), ("bic5", "bicubic", "set5"),
                                  ("nn14", "nearest", "set14")):
        run_benchmark([method], [dataset], data_root=data_root, out_dir=base / name, save_images=True,
                      progress=False, jobs=1)
        out[name] = base / name
    return out


def view_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "srbench", "view", *args, "--check"], capture_output=True, text=True,
                          env=dict(os.environ), cwd=ROOT, timeout=300)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("srbench view: error: "), proc.stderr
    return lines[0]


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_good_runs_pass_the_check(runs):
    proc = view_check(str(runs["nn5"]), str(runs["bic5"]))
    assert proc.returncode == 0, proc.stderr
    assert "2 method(s) of 2 run(s); sets set5" in proc.stderr


def test_run_without_saved_images_says_how_to_save_or_regenerate():
    line = one_error_line(view_check(str(ROOT / "results/metrics/classic")))
    assert "has no saved images" in line and "--save-images" in line and "--regenerate" in line


def test_runs_of_different_sets_are_refused(runs, tmp_path):
    line = one_error_line(view_check(str(runs["nn5"]), str(runs["nn14"])))
    assert "runs of different sets" in line and "set5" in line and "set14" in line


def test_an_image_missing_in_one_run_is_refused(runs, tmp_path):
    # the run has no row for bird.png (partial coverage)
    partial = copy_run(runs["bic5"], tmp_path / "partial")
    rows = pd.read_csv(partial / "per_image.csv")
    rows[rows.image != "bird.png"].to_csv(partial / "per_image.csv", index=False)
    line = one_error_line(view_check(str(runs["nn5"]), str(partial)))
    assert "image bird.png of set5 is missing in run" in line and "4 of 5 images" in line
    # the run measured bird.png but its saved file is gone
    gone = copy_run(runs["bic5"], tmp_path / "gone")
    (gone / "images/bicubic/set5/bird.png").unlink()
    line = one_error_line(view_check(str(runs["nn5"]), str(gone)))
    assert "images/bicubic/set5/bird.png is missing" in line


def test_an_image_that_does_not_match_its_recorded_checksum_is_refused(runs, tmp_path):
    changed = copy_run(runs["bic5"], tmp_path / "changed")
    path = changed / "images/bicubic/set5/head.png"
    pixels, _ = read_image(path)
    pixels = pixels.copy()
    pixels[0, 0, 0] ^= 1
    Image.fromarray(pixels).save(path)
    line = one_error_line(view_check(str(runs["nn5"]), str(changed)))
    assert "images/bicubic/set5/head.png does not match the SHA-256 the run recorded" in line


def test_methods_are_run_first_with_their_images_saved(tmp_path):
    out = tmp_path / "made"
    proc = view_check("--methods", "nn", "--datasets", "set5", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 method(s) of 1 run(s); sets set5" in proc.stderr
    saved = json.loads((out / "run.json").read_text())["saved_images"]
    assert len(saved) == 5 and (out / "images/nearest/set5/baby.png").is_file()


def test_not_a_run_folder_and_an_unfinished_run(tmp_path):
    line = one_error_line(view_check(str(tmp_path)))
    assert "is not a run folder: no per_image.csv" in line
    (tmp_path / "per_image.csv.partial").write_text("dataset,image,method,protocol,psnr,ssim\n")
    line = one_error_line(view_check(str(tmp_path)))
    assert "an unfinished run: only per_image.csv.partial" in line


def test_sorting_by_a_method_and_by_a_difference_matches_the_csv(runs):
    collection = open_runs([runs["nn5"], runs["bic5"]])
    nn = pd.read_csv(runs["nn5"] / "per_image.csv")
    bic = pd.read_csv(runs["bic5"] / "per_image.csv")
    nn = nn[nn.protocol == "paper"].set_index("image")
    bic = bic[bic.protocol == "paper"].set_index("image")
    gain = (bic.psnr - nn.psnr).sort_values(ascending=False)
    assert sort_images(collection, "set5", SortKey("psnr", "bicubic", "nearest", True)) == list(gain.index)
    assert sort_images(collection, "set5", SortKey("ssim", "nearest")) == list(nn.ssim.sort_values().index)
    assert sort_images(collection, "set5", SortKey()) == list(nn.index)  # the set's own order


def test_niqe_is_joined_where_measured_and_sortable(data_root, niqe_model_path, tmp_path):
    out = tmp_path / "niqe"
    run_benchmark(["nearest"], ["set5"], data_root=data_root, out_dir=out, save_images=True, progress=False, jobs=1,
                  metrics=["psnr", "ssim", "niqe"], niqe_model=niqe_model_path)
    collection = open_runs([out])
    assert [c.key for c in collection.columns] == ["nearest"]  # the HR images' NIQE rows are no column
    rows = pd.read_csv(out / "per_image.csv")
    niqe = rows[(rows.method == "nearest") & rows.protocol.isna()].set_index("image").niqe.astype(float)
    table = collection.table("set5")
    assert np.allclose(table[("nearest", "niqe")].loc[niqe.index], niqe)
    assert sort_images(collection, "set5", SortKey("niqe", "nearest")) == list(niqe.sort_values().index)


def test_url_state_round_trip_and_bad_values_fall_back():
    state = ViewState("set5", "bird.png", ("nearest", "bicubic"), 40, 56, 4, True, "psnr", "bicubic", "nearest", True)
    assert parse_params(state.to_params()) == state
    bad = parse_params({"zoom": "3", "x": "abc", "sort": "mse", "diff": "yes"})
    assert (bad.zoom, bad.x, bad.sort, bad.diff) == (2, -1, "", False)
    assert ViewState(zoom=8, x=10**6, y=-1).clamped(512, 512) == ViewState(zoom=8, x=464, y=232)
    assert region_side(1, 481, 321) == 321 and region_side(4, 512, 512) == 96


def test_regenerated_images_are_the_measured_ones_and_a_changed_checkpoint_is_refused(data_root, tmp_path):
    # the committed classic run saved no images: nearest is regenerated and checked against its rows
    collection = open_runs([ROOT / "results/metrics/classic"], regenerate=True,
                           can_regenerate=lambda c: regeneration_problem(c, {}))
    store = ImageStore(collection, data_root)
    sr = store.sr("set5", "bird.png", "nearest")
    hr = store.hr("set5", "bird.png")
    assert sr.shape == hr.shape
    assert np.array_equal(difference(sr, hr), np.abs(sr.astype(int) - hr.astype(int)).astype(np.uint8))
    # a run whose recorded checkpoint is not the one in results/checkpoints: srcnn is left out with the reason
    reference = copy_run(ROOT / "results/metrics/reference", tmp_path / "reference")
    record = json.loads((reference / "run.json").read_text())
    record["methods"]["srcnn"]["checkpoint"]["checkpoint_sha256"] = "0" * 64
    (reference / "run.json").write_text(json.dumps(record))
    collection = open_runs([reference], regenerate=True, can_regenerate=lambda c: regeneration_problem(c, {}))
    assert [c.key for c in collection.columns] == ["espcn"]
    assert collection.notes and "srcnn: left out" in collection.notes[0] and "is not the checkpoint" in collection.notes[0]


def test_a_regenerated_image_that_does_not_reproduce_its_row_is_refused(data_root, tmp_path):
    classic = copy_run(ROOT / "results/metrics/classic", tmp_path / "classic")
    rows = pd.read_csv(classic / "per_image.csv")
    hit = (rows.dataset == "set5") & (rows.image == "bird.png") & (rows.method == "nearest") & (rows.protocol == "paper")
    rows.loc[hit, "psnr"] += 0.01  # a row another image would have given
    rows.to_csv(classic / "per_image.csv", index=False)
    collection = open_runs([classic], regenerate=True, can_regenerate=lambda c: regeneration_problem(c, {}))
    store = ImageStore(collection, data_root)
    with pytest.raises(ViewError, match="nearest on set5/bird.png: the image regenerated here measures .* not the "
                                        "run's row"):
        store.sr("set5", "bird.png", "nearest")
    assert store.sr("set5", "baby.png", "nearest").shape == (512, 512, 3)  # the other rows are reproduced


def test_same_method_in_two_runs_gets_the_run_name(runs, tmp_path):
    again = copy_run(runs["nn5"], tmp_path / "again")
    collection = open_runs([runs["nn5"], again])
    assert [c.key for c in collection.columns] == ["nearest@nn5", "nearest@again"]


def test_export_grid_holds_the_crops_and_the_labels(runs, data_root):
    collection = open_runs([runs["nn5"], runs["bic5"]])
    store = ImageStore(collection, data_root)
    hr = store.hr("set5", "bird.png")
    region = export.Region("set5", "bird.png", 40, 52, region_side(4, *hr.shape[1::-1]), 4)
    panels = [export.panel(k, collection.value("set5", "bird.png", k, "psnr"),
                           collection.value("set5", "bird.png", k, "ssim"), store.sr("set5", "bird.png", k))
              for k in ("nearest", "bicubic")] + [export.panel("HR", None, None, hr)]
    png = np.asarray(Image.open(io.BytesIO(export.export_png(hr, panels, region))).convert("RGB"))
    boxes = export.layout(hr.shape, len(panels), region)
    for (left, top, w, h), p in zip(boxes[1:], panels):
        want = np.repeat(np.repeat(p.pixels[52:52 + region.side, 40:40 + region.side], 4, 0), 4, 1)
        assert np.array_equal(png[top:top + h, left:left + w], want)
    psnr = collection.value("set5", "bird.png", "bicubic", "psnr")
    assert panels[1].title == f"bicubic\n({psnr:.2f}dB/{collection.value('set5', 'bird.png', 'bicubic', 'ssim'):.4f})"
    assert region.text().startswith("set5/bird.png x=40 y=52 w=96 h=96 zoom=4x")


def test_saved_image_checksums_are_file_sha256(runs):
    record = json.loads((runs["nn5"] / "run.json").read_text())
    path = runs["nn5"] / "images/nearest/set5/woman.png"
    assert record["saved_images"]["nearest/set5/woman.png"] == hashlib.sha256(path.read_bytes()).hexdigest()
