"""The image policy of srbench/data/imageio.py, one file kind at a time.

All images here are small synthetic ones built in tmp_path with Pillow/numpy
(the 16-bit RGB PNG is written byte by byte, since Pillow cannot write it)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from srbench.errors import DataError, ImageError
from srbench.data.imageio import png_bit_depth, read_image, write_png

RNG = np.random.default_rng(0)


def rgb(h: int = 6, w: int = 5) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def gray(h: int = 6, w: int = 5) -> np.ndarray:
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


def save(tmp_path: Path, name: str, image: Image.Image, **kw) -> Path:
    path = tmp_path / name
    image.save(path, **kw)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png16_rgb(path: Path, pixels: np.ndarray) -> None:
    """A valid 16-bit RGB PNG (colour type 2, bit depth 16) from uint16 ``(H, W, 3)``, by hand."""
    h, w, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))  # filter 0 per row
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ accepted kinds


def test_rgb_used_as_is(tmp_path):
    pixels = rgb()
    out, is_gray = read_image(save(tmp_path, "a.png", Image.fromarray(pixels)))
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3) and out.flags.c_contiguous
    assert np.array_equal(out, pixels) and is_gray is False


def test_gray_replicated(tmp_path):
    g = gray()
    path = save(tmp_path, "g.png", Image.fromarray(g, mode="L"))
    out, is_gray = read_image(path)
    assert is_gray is True and out.shape == (6, 5, 3)
    for c in range(3):
        assert np.array_equal(out[..., c], g)


def test_rgba_opaque_accepted_alpha_dropped(tmp_path):
    pixels = rgb()
    rgba = np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)])
    out, is_gray = read_image(save(tmp_path, "o.png", Image.fromarray(rgba, mode="RGBA")))
    assert np.array_equal(out, pixels) and is_gray is False


def test_rgba_transparent_refused(tmp_path):
    rgba = np.dstack([rgb(), np.full((6, 5), 255, np.uint8)])
    rgba[2, 3, 3] = 254  # one barely transparent pixel is enough
    path = save(tmp_path, "t.png", Image.fromarray(rgba, mode="RGBA"))
    with pytest.raises(ImageError, match=r"t.png: image has transparent pixels \(mode RGBA\)"):
        read_image(path)


def test_gray_alpha(tmp_path):
    g = gray()
    opaque = Image.merge("LA", [Image.fromarray(g), Image.new("L", (5, 6), 255)])
    out, is_gray = read_image(save(tmp_path, "la.png", opaque))
    assert is_gray is True and np.array_equal(out[..., 1], g)
    see_through = Image.merge("LA", [Image.fromarray(g), Image.new("L", (5, 6), 0)])
    with pytest.raises(ImageError, match=r"transparent pixels \(mode LA\)"):
        read_image(save(tmp_path, "la_t.png", see_through))


def _palette_image(indices: np.ndarray, palette: np.ndarray) -> Image.Image:
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette.reshape(-1).tolist())
    return image


def test_palette_expanded_losslessly(tmp_path):
    palette = RNG.integers(0, 256, (4, 3), dtype=np.uint8)
    indices = RNG.integers(0, 4, (6, 5), dtype=np.uint8)
    path = save(tmp_path, "p.png", _palette_image(indices, palette))
    assert Image.open(path).mode == "P"
    out, is_gray = read_image(path)
    assert np.array_equal(out, palette[indices]) and is_gray is False


def test_palette_with_transparency(tmp_path):
    palette = np.array([[10, 20, 30], [200, 100, 0], [0, 255, 0]], np.uint8)
    indices = np.array([[0, 1], [2, 1]], np.uint8)
    with pytest.raises(ImageError, match="transparent pixels"):
        read_image(save(tmp_path, "pt.png", _palette_image(indices, palette), transparency=2))
    # a transparent palette entry that no pixel uses changes nothing: accepted
    unused = save(tmp_path, "pu.png", _palette_image(np.array([[0, 1], [1, 0]], np.uint8), palette), transparency=2)
    assert "transparency" in Image.open(unused).info
    out, _ = read_image(unused)
    assert np.array_equal(out, palette[[[0, 1], [1, 0]]])


def test_bilevel_is_gray_0_255(tmp_path):
    bits = RNG.integers(0, 2, (6, 5)).astype(bool)
    path = save(tmp_path, "b.png", Image.fromarray(bits).convert("1"))
    assert png_bit_depth(path) == 1
    out, is_gray = read_image(path)
    assert is_gray is True
    assert np.array_equal(out[..., 0], np.where(bits, 255, 0).astype(np.uint8))
    assert set(np.unique(out)) <= {0, 255}


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_lossless_webp_like_the_training_data(tmp_path):
    pixels = rgb(8, 8)
    out, is_gray = read_image(save(tmp_path, "w.webp", Image.fromarray(pixels), lossless=True, exact=True))
    assert np.array_equal(out, pixels) and is_gray is False


# ------------------------------------------------------------------ refused kinds


def test_16bit_gray_png_refused(tmp_path):
    path = save(tmp_path, "g16.png", Image.fromarray(RNG.integers(0, 65536, (4, 4), dtype=np.uint16)))
    assert png_bit_depth(path) == 16
    with pytest.raises(ImageError, match=r"g16.png: 16-bit PNG is not supported"):
        read_image(path)


def test_16bit_rgb_png_refused(tmp_path):
    path = tmp_path / "rgb16.png"
    write_png16_rgb(path, RNG.integers(0, 65536, (3, 4, 3), dtype=np.uint16))
    assert png_bit_depth(path) == 16
    with Image.open(path) as im:  # the hand-made file is a valid PNG Pillow can parse
        assert im.size == (4, 3)
    with pytest.raises(ImageError, match=r"rgb16.png: 16-bit PNG is not supported; .* 8 bit per sample"):
        read_image(path)


def test_truncated_png(tmp_path):
    path = save(tmp_path, "full.png", Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    data = path.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut.png: corrupt or truncated image"):
        read_image(cut)
    head_only = tmp_path / "head.png"
    head_only.write_bytes(data[:20])  # signature and part of IHDR
    with pytest.raises(ImageError, match="head.png"):
        read_image(head_only)


def test_non_image_and_missing_files(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    with pytest.raises(ImageError, match=r"notes.png: not an image file Pillow can read"):
        read_image(text)
    assert png_bit_depth(text) is None
    with pytest.raises(ImageError, match=r"absent.png: file not found"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(ImageError, match="not a file"):
        read_image(tmp_path)  # a folder is not an image file
    assert issubclass(ImageError, DataError)


# ------------------------------------------------------------------ write_png


def test_write_png_roundtrip(tmp_path):
    pixels = rgb(7, 9)
    target = tmp_path / "new" / "dir" / "x.png"
    write_png(target, pixels)
    assert png_bit_depth(target) == 8
    out, is_gray = read_image(target)
    assert np.array_equal(out, pixels) and not is_gray
    g = gray(7, 9)
    write_png(tmp_path / "g.png", g)
    out, is_gray = read_image(tmp_path / "g.png")
    assert is_gray and np.array_equal(out[..., 2], g)
    assert sorted(os.listdir(tmp_path)) == ["g.png", "new"]  # no temp files left


def test_write_png_is_atomic(tmp_path):
    target = tmp_path / "keep.png"
    original = rgb()
    write_png(target, original)
    before = target.read_bytes()
    with pytest.raises(TypeError):
        write_png(target, np.zeros((4, 4, 7), np.uint8))  # Pillow cannot encode 7 channels
    assert target.read_bytes() == before
    with pytest.raises(ValueError, match="expects uint8"):
        write_png(target, original.astype(np.float32))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.png"]
