"""srbench upscale on real-photo files: EXIF orientation, ICC profiles, animations, GIF/BMP/TIFF in folders,
--skip-bad, tiles smaller than the context, --list-methods.

Every image here is SYNTHETIC, generated with Pillow in the test (tmp folders).
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from srbench.cli import main
from srbench.data.imageio import read_image
from srbench.data.photo import read_photo
from srbench.run.registry import get_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pattern(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _nearest(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(pixels, 4, axis=0), 4, axis=1)


def _upscale(tmp_path, *inputs, method="nearest", more=()) -> tuple[int, str]:
    code = main(["upscale", *map(str, inputs), "--method", method, "--out", str(tmp_path / "x4"), "--no-progress",
                 *more])
    return code


def linear_rgb_profile() -> bytes:
    """A SYNTHETIC ICC v2 RGB profile: sRGB's primaries (D50-adapted) with a linear (gamma 1.0) tone curve."""
    def s15(x):
        return struct.pack(">i", round(x * 65536))

    def xyz(x, y, z):
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    text = b"SYNTHETIC linear RGB\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0100)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text\0\0\0\0SYNTHETIC\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + data


def test_exif_orientation_is_applied(tmp_path):
    stored = _pattern(24, 16)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a viewer rotates it 90 degrees clockwise
    Image.fromarray(stored).save(tmp_path / "photo.jpg", quality=95, exif=exif)
    assert _upscale(tmp_path, tmp_path / "photo.jpg") == 0
    sr, _ = read_image(tmp_path / "x4" / "photo.png")
    decoded = np.asarray(Image.open(tmp_path / "photo.jpg").convert("RGB"))
    upright = np.rot90(decoded, k=-1)  # 90 degrees clockwise
    assert sr.shape == (4 * 24, 4 * 16, 3)
    np.testing.assert_array_equal(sr, _nearest(upright))
    record = json.loads((tmp_path / "x4" / "srbench-upscale.json").read_text())
    assert record["files"]["photo.png"]["exif_orientation_applied"] == 6
    assert record["files"]["photo.png"]["lr_size"] == [16, 24]


def test_icc_profile_is_converted_to_srgb(tmp_path):
    Image.new("RGB", (8, 6), (128, 128, 128)).save(tmp_path / "linear.png", icc_profile=linear_rgb_profile())
    assert _upscale(tmp_path, tmp_path / "linear.png") == 0
    sr, _ = read_image(tmp_path / "x4" / "linear.png")
    assert sr.shape == (24, 32, 3) and set(np.unique(sr)) == {188}  # linear 0.502 is sRGB 188/255
    assert Image.open(tmp_path / "x4" / "linear.png").info.get("icc_profile") is None  # written as plain sRGB
    entry = json.loads((tmp_path / "x4" / "srbench-upscale.json").read_text())["files"]["linear.png"]
    assert entry["icc_profile"] == "SYNTHETIC linear RGB" and entry["converted_to_srgb"] is True


def test_srgb_profile_is_kept_as_is(tmp_path):
    pixels = _pattern(8, 6)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(tmp_path / "s.png", icc_profile=srgb)
    photo = read_photo(tmp_path / "s.png")
    np.testing.assert_array_equal(photo.pixels, pixels)
    assert photo.notes["converted_to_srgb"] is False and "sRGB" in photo.notes["icc_profile"]


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animations_are_refused_with_one_line(tmp_path, capsys, suffix):
    frames = [Image.fromarray(_pattern(10, 10, seed)) for seed in range(3)]
    frames[0].save(tmp_path / f"anim{suffix}", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert _upscale(tmp_path, tmp_path / f"anim{suffix}") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "animated or multi-page" in err and "3 frames" in err, err
    assert not (tmp_path / "x4").exists()


def test_gif_bmp_tiff_in_folders_like_files(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    images = {"a.bmp": _pattern(9, 7, 1), "sub/b.tiff": _pattern(6, 5, 2), "c.tif": _pattern(5, 5, 3)}
    for name, pixels in images.items():
        Image.fromarray(pixels).save(folder / name)
    gif = Image.fromarray(_pattern(6, 6, 4)).convert("P")  # a still GIF (palette)
    gif.save(folder / "d.gif")
    assert _upscale(tmp_path, folder) == 0
    for name, pixels in images.items():
        sr, _ = read_image(tmp_path / "x4" / name.rsplit(".", 1)[0].__add__(".png"))
        np.testing.assert_array_equal(sr, _nearest(pixels))
    sr, _ = read_image(tmp_path / "x4" / "d.png")
    np.testing.assert_array_equal(sr, _nearest(np.asarray(gif.convert("RGB"))))


def _bad_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_pattern(8, 8)).save(folder / "good.png")
    (folder / "garbage.png").write_bytes(b"not an image")
    frames = [Image.fromarray(_pattern(6, 6, s)) for s in range(2)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    buffer = io.BytesIO()
    Image.fromarray(_pattern(64, 64, 5)).save(buffer, format="JPEG")
    (folder / "cut.jpg").write_bytes(buffer.getvalue()[:400])  # header fine, pixel data truncated
    return folder


def test_skip_bad_lists_skips_and_exits_nonzero(tmp_path, capsys):
    folder = _bad_folder(tmp_path)
    assert _upscale(tmp_path, folder, more=["--skip-bad"]) == 1
    out = capsys.readouterr().out
    assert sum(line.startswith("skipped ") for line in out.splitlines()) == 3, out
    assert sorted(p.name for p in (tmp_path / "x4").glob("*.png")) == ["good.png"]
    record = json.loads((tmp_path / "x4" / "srbench-upscale.json").read_text())
    assert sorted(p.rsplit("/", 1)[1] for p in record["skipped"]) == ["anim.gif", "cut.jpg", "garbage.png"]
    assert record["complete"] is True


def test_bad_image_in_folder_without_skip_bad_stops_before_work(tmp_path, capsys):
    folder = _bad_folder(tmp_path)
    (folder / "cut.jpg").unlink()
    assert _upscale(tmp_path, folder) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x4").exists()


def test_tile_smaller_than_context_is_refused(tmp_path, capsys):
    Image.fromarray(_pattern(20, 20)).save(tmp_path / "p.png")
    radius = get_method("espcn", device="cpu").receptive_radius()
    assert _upscale(tmp_path, tmp_path / "p.png", method="espcn", more=["--tile", str(radius - 1), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"smaller than the {radius} LR pixels of context" in err, err
    assert not (tmp_path / "x4").exists()
    assert _upscale(tmp_path, tmp_path / "p.png", method="espcn", more=["--tile", str(radius), "--device", "cpu"]) == 0


def test_list_methods(capsys):
    assert main(["upscale", "--list-methods"]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "checkpoint:LABEL=DIR" in out and "external:" not in out and "published:" not in out
