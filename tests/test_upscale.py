"""``srbench upscale``: one's own images and folders, tiled with exact context, provenance, refusals.

Inputs are the real Set5/Set14 LR files, or conversions of them (JPEG, WebP,
RGBA, 16-bit: made in tmp_path from those files). Outputs go to tmp_path only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench import Method, get_method, register_method
from srbench.run import registry
from srbench.cli import main as cli_main
from srbench.errors import SrbenchError
from srbench.data.imageio import read_image
from srbench.data.resize import imresize
from srbench.run.upscale import PROVENANCE_NAME, upscale_array, upscale_files

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def lr_dir(data_root) -> Path:
    return data_root / "set5" / "LR_bicubic_x4"


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_files_and_folders_become_4x_pngs_with_provenance(lr_dir, data_root, tmp_path, capsys):
    out = tmp_path / "out"
    sub = tmp_path / "photos" / "sub"
    sub.mkdir(parents=True)
    shutil.copy(data_root / "set14" / "LR_bicubic_x4" / "comic.png", sub / "comic.png")
    rc = cli_main(["upscale", str(lr_dir / "baby.png"), str(tmp_path / "photos"), "--method", "bicubic",
                   "--out", str(out), "--no-progress"])
    assert rc == 0
    assert "wrote 2 image(s) with bicubic" in capsys.readouterr().out
    lr, _ = read_image(lr_dir / "baby.png")
    assert np.array_equal(_png(out / "baby.png"), imresize(lr, 4, kernel="bicubic"))
    assert _png(out / "sub" / "comic.png").shape[:2] == tuple(4 * s for s in read_image(sub / "comic.png")[0].shape[:2])
    record = json.loads((out / PROVENANCE_NAME).read_text())
    assert record["complete"] is True and record["method"]["name"] == "bicubic" and record["checkpoint"] is None
    assert record["code_revision"] and record["environment"]["srbench"]
    assert set(record["files"]) == {"baby.png", "sub/comic.png"}
    assert record["files"]["baby.png"]["lr_size"] == [128, 128] and record["files"]["baby.png"]["sr_size"] == [512, 512]


def test_a_learned_method_records_its_checkpoint(lr_dir, tmp_path):
    result = upscale_files([lr_dir / "bird.png"], "espcn", out_dir=tmp_path / "o", progress=False, device="cpu")
    record = json.loads(result.provenance.read_text())
    ckpt = record["checkpoint"]
    sidecar = json.loads((ROOT / "results" / "checkpoints" / "espcn" / "model.json").read_text())
    assert ckpt["method"] == "espcn" and ckpt["iterations"] == sidecar["iterations"]
    assert ckpt["git_revision"] == sidecar["git_revision"] and len(ckpt["checkpoint_sha256"]) == 64
    assert record["settings"]["device"] == "cpu" and record["settings"]["context_lr_pixels"] >= 1
    lr, _ = read_image(lr_dir / "bird.png")
    whole = get_method("espcn", device="cpu").upscale(lr, dataset="", name="bird.png")
    assert np.array_equal(_png(result.written[0]), whole)


@pytest.mark.parametrize("name", ["nearest", "bicubic"])
def test_tiles_give_exactly_the_whole_image_classic(lr_dir, name):
    lr, _ = read_image(lr_dir / "woman.png")  # 57 x 86: tiles of uneven sizes
    method = get_method(name)
    whole = method.upscale(lr, dataset="", name="woman.png")
    seen = []
    tiled = upscale_array(method, lr, tile=7, on_pixels=seen.append)
    assert np.array_equal(tiled, whole)
    assert sum(seen) == lr.shape[0] * lr.shape[1] and len(seen) > 50


@pytest.mark.parametrize("name, crop", [("espcn", 40), ("srcnn", 40), ("srresnet-mse", 20)])
def test_tiles_give_the_whole_image_learned(lr_dir, name, crop):
    lr, _ = read_image(lr_dir / "head.png")
    lr = np.ascontiguousarray(lr[:crop, :crop + 3])
    method = get_method(name, device="cpu", tile=2**31 - 1)
    whole = method.upscale(lr, dataset="", name="head.png")
    tiled = upscale_array(method, lr, tile=9)
    diff = np.abs(tiled.astype(int) - whole.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # float rounding of a different summation order at most


def test_jpeg_webp_gray_and_opaque_rgba_follow_the_image_policy(lr_dir, data_root, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rgb = Image.open(lr_dir / "bird.png").convert("RGB")
    rgb.save(src / "a.jpg", quality=95)
    rgb.save(src / "b.webp", lossless=True)
    rgb.convert("RGBA").save(src / "c.png")  # fully opaque alpha
    shutil.copy(data_root / "set14" / "LR_bicubic_x4" / "bridge.png", src / "d.png")  # stored as gray (L)
    (src / "notes.txt").write_text("not an image; ignored in folders")
    result = upscale_files([src], "bicubic", out_dir=tmp_path / "out", progress=False)
    assert sorted(p.name for p in result.written) == ["a.png", "b.png", "c.png", "d.png"]
    with Image.open(tmp_path / "out" / "d.png") as im:
        assert im.mode == "L"
    gray, is_gray = read_image(src / "d.png")
    assert is_gray and np.array_equal(_png(tmp_path / "out" / "d.png"), imresize(gray, 4, kernel="bicubic")[:, :, 0])
    assert np.array_equal(_png(tmp_path / "out" / "b.png"), imresize(np.asarray(rgb), 4, kernel="bicubic"))
    with Image.open(tmp_path / "out" / "c.png") as im:
        assert im.mode == "RGB"


def _nothing_done(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


def test_transparent_and_16_bit_inputs_are_refused_before_any_work(lr_dir, tmp_path):
    rgba = Image.open(lr_dir / "bird.png").convert("RGBA")
    alpha = np.full(rgba.size[::-1], 255, np.uint8)
    alpha[0, 0] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "transparent.png")
    deep = (np.asarray(Image.open(lr_dir / "bird.png").convert("L")).astype(np.uint16) * 257)
    Image.fromarray(deep).save(tmp_path / "deep.png")  # 16-bit gray PNG
    out = tmp_path / "out"
    with pytest.raises(SrbenchError, match="16-bit PNG is not supported"):
        upscale_files([lr_dir / "baby.png", tmp_path / "deep.png"], "bicubic", out_dir=out, progress=False)
    assert _nothing_done(out)
    with pytest.raises(SrbenchError, match="transparent pixels.*nothing was written"):
        upscale_files([tmp_path / "transparent.png"], "bicubic", out_dir=out, progress=False)
    assert not out.exists()


def test_inputs_are_never_overwritten_and_outputs_only_with_overwrite(lr_dir, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    shutil.copy(lr_dir / "bird.png", folder / "bird.png")
    before = (folder / "bird.png").read_bytes()
    with pytest.raises(SrbenchError, match="would overwrite the input"):
        upscale_files([folder], "nearest", out_dir=folder, progress=False)
    with pytest.raises(SrbenchError, match="would overwrite the input"):
        upscale_files([folder / "bird.png"], "nearest", out_dir=folder, progress=False)
    assert (folder / "bird.png").read_bytes() == before and sorted(folder.iterdir()) == [folder / "bird.png"]

    out = tmp_path / "out"
    upscale_files([folder], "nearest", out_dir=out, progress=False)
    first = (out / "bird.png").stat().st_mtime_ns
    with pytest.raises(SrbenchError, match="exist already.*--overwrite"):
        upscale_files([folder], "nearest", out_dir=out, progress=False)
    with pytest.raises(SrbenchError, match="outputs of another method"):
        upscale_files([lr_dir / "baby.png"], "bicubic", out_dir=out, progress=False)
    upscale_files([folder], "nearest", out_dir=out, progress=False, overwrite=True)
    assert (out / "bird.png").stat().st_mtime_ns >= first
    # the output folder inside the input folder is not read back as input
    upscale_files([folder], "nearest", out_dir=folder / "x4", progress=False)
    upscale_files([folder], "nearest", out_dir=folder / "x4", progress=False, overwrite=True)
    assert sorted(p.name for p in (folder / "x4").iterdir()) == ["bird.png", PROVENANCE_NAME]


def test_two_inputs_with_one_output_name_are_refused(lr_dir, tmp_path):
    Image.open(lr_dir / "bird.png").convert("RGB").save(tmp_path / "bird.jpg")
    with pytest.raises(SrbenchError, match="would both be written to"):
        upscale_files([lr_dir / "bird.png", tmp_path / "bird.jpg"], "nearest", out_dir=tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_a_broken_file_mid_run_says_what_was_written(lr_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(lr_dir / "baby.png", folder / "a.png")
    data = (lr_dir / "bird.png").read_bytes()
    (folder / "b.png").write_bytes(data[: len(data) // 2])  # header intact, pixel data cut off
    out = tmp_path / "out"
    with pytest.raises(SrbenchError) as info:
        upscale_files([folder], "nearest", out_dir=out, progress=False)
    message = str(info.value)
    assert "b.png" in message and "truncated" in message and "1 of 2 image(s) were written" in message
    record = json.loads((out / PROVENANCE_NAME).read_text())
    assert record["complete"] is False and list(record["files"]) == ["a.png"]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", PROVENANCE_NAME]  # no temporary files


@pytest.mark.parametrize("args, message", [
    (["missing.png"], "no such file or folder"),
    (["EMPTY"], "no PNG, JPEG, WebP, GIF, BMP or TIFF images"),
    (["TEXT"], "not an image file"),
    (["BABY", "--method", "external:x=/tmp"], "cannot upscale other images"),
    (["BABY", "--method", "nope"], "unknown method 'nope'"),
    (["BABY", "--out", "TEXT"], "is a file"),
    (["BABY", "--out", "/sys/srbench-upscale-test"], "cannot write into --out"),
])
def test_bad_inputs_are_one_line_errors(lr_dir, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "t.txt").write_text("hello")
    subst = {"EMPTY": str(tmp_path / "empty"), "TEXT": str(tmp_path / "t.txt"), "BABY": str(lr_dir / "baby.png"),
             "missing.png": str(tmp_path / "missing.png")}
    argv = ["upscale", *[subst.get(a, a) for a in args], "--no-progress"]
    if "--method" not in args:
        argv += ["--method", "nearest"]
    if "--out" not in args:
        argv += ["--out", str(tmp_path / "out")]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("srbench upscale: error: ") and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_cuda_requested_without_a_gpu_is_refused(lr_dir, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(SrbenchError, match="no CUDA GPU"):
        upscale_files([lr_dir / "bird.png"], "espcn", out_dir=tmp_path / "o", device="cuda", progress=False)


def test_progress_bar_counts_lr_pixels(lr_dir, tmp_path, capsys):
    assert cli_main(["upscale", str(lr_dir / "bird.png"), "--method", "nearest", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "srbench upscale" in err and "5.18k/5.18k" in err  # 72 x 72 LR pixels


def test_upscale_benchmark_smoke(tmp_path):
    import subprocess

    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_upscale.py"), "--smoke"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tiled" in proc.stdout and "untiled" in proc.stdout and "peak RSS" in proc.stdout
    assert "load average" in proc.stdout


class _TermAt(Method):
    """SYNTHETIC: nearest neighbour that sends SIGTERM to its own process at the image named ``at``."""

    name = "synthetic-term-at-b"

    def upscale(self, lr, *, dataset="", name=""):
        if name == "b.png":
            os.kill(os.getpid(), signal.SIGTERM)
        return get_method("nearest").upscale(lr, dataset=dataset, name=name)


def test_sigterm_mid_run_says_what_was_written(lr_dir, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(lr_dir / "bird.png", folder / name)
    register_method("synthetic-term-at-b", _TermAt, description="SYNTHETIC")
    try:
        rc = cli_main(["upscale", str(folder), "--method", "synthetic-term-at-b", "--out", str(tmp_path / "o"),
                       "--no-progress"])
    finally:
        registry._unregister("synthetic-term-at-b")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 143 and err[0] == "srbench upscale: terminated", err
    assert err[1] == (f"  1 of 3 image(s) were written to {tmp_path / 'o'} before it stopped (each complete; listed in "
                      f"{tmp_path / 'o' / PROVENANCE_NAME}, marked \"complete\": false)")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.png", PROVENANCE_NAME]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is put back


class CornerShift(Method):
    """SYNTHETIC method whose receptive radius is exactly ``radius`` LR pixels: channel 0 of output pixel
    (y, x) is input (y + radius, x + radius), channel 1 input (y - radius, x - radius), channel 2 input
    (y + radius, x - radius), 0 beyond the image; then 4x nearest. Integer copies only: exact."""

    name = "synthetic-corner-shift"

    def __init__(self, radius: int):
        self.radius = radius

    def upscale(self, lr: np.ndarray, *, dataset: str = "", name: str = "") -> np.ndarray:
        r = self.radius
        h, w = lr.shape[:2]
        padded = np.pad(lr, ((r, r), (r, r), (0, 0)))
        out = np.stack([padded[2 * r:, 2 * r:, 0][:h, :w], padded[:h, :w, 1], padded[2 * r:, :w, 2][:h]], axis=2)
        return np.repeat(np.repeat(out, 4, axis=0), 4, axis=1)

    def receptive_radius(self) -> int:
        return self.radius


def test_tiles_with_context_at_the_exact_receptive_radius_equal_the_whole_image():
    method = CornerShift(4)
    lr = np.random.default_rng(1).integers(1, 256, size=(41, 53, 3), dtype=np.uint8)  # no zeros
    whole = method.upscale(lr)
    assert np.array_equal(whole[::4, ::4, 0][:-4, :-4], lr[4:, 4:, 0])  # the shift it claims
    assert np.array_equal(upscale_array(method, lr, tile=8), whole)  # context = receptive_radius(): exact
    assert np.array_equal(upscale_array(method, lr, tile=8, radius=4), whole)
    short = upscale_array(method, lr, tile=8, radius=3)  # one pixel less context: wrong at every seam
    assert not np.array_equal(short, whole)
