"""Reading and writing 8-bit images with one documented policy.

Every reader in srbench goes through :func:`read_image`, which returns a
``uint8`` array of shape ``(H, W, 3)`` in RGB order and a flag saying whether
the file was grayscale. The policy for PNG (and JPEG/WebP) kinds:

=================  ==========================================================
file kind          what srbench does
=================  ==========================================================
RGB, 8 bit         used as is
L (gray), 8 bit    replicated to R = G = B; ``is_gray`` is True (Set14's
                   ``bridge.png``). The ``matlab`` protocol then measures the
                   gray values themselves, the ``paper`` protocol converts the
                   replicated RGB, exactly as daala's png2y4m does.
1 (bilevel)        expanded to 0/255 gray, then as L
P (palette)        expanded through its palette to RGB (lossless); with a
                   transparent entry, as RGBA below
RGBA / LA          accepted only if every alpha value is 255 (the alpha is
                   dropped); any transparency is an error, since compositing
                   on a background would invent pixel values
16 bit per sample  refused with an error: benchmark images are 8 bit and a
                   silent 16 -> 8 bit rounding rule would change the metrics
=================  ==========================================================

Unreadable, truncated and non-image files raise :class:`ImageError` naming
the file.
"""

from __future__ import annotations

import os
import struct
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from srbench.atomicio import atomic_path
from srbench.errors import ImageError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bit_depth(path: str | os.PathLike) -> int | None:
    """Return the bit depth per sample stored in a PNG's IHDR, or None if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(33)
    if not head.startswith(_PNG_SIGNATURE) or len(head) < 25 or head[12:16] != b"IHDR":
        return None
    return head[24]


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, bool]:
    """Read an 8-bit image file as RGB.

    Returns ``(pixels, is_gray)``: ``pixels`` is ``uint8`` ``(H, W, 3)`` RGB,
    ``is_gray`` is True when the file stored a single gray channel.
    Raises :class:`ImageError` for anything the policy above refuses.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: file not found")
    if not path.is_file():
        raise ImageError(f"{path}: not a file")
    depth = png_bit_depth(path)
    if depth is not None and depth > 8:
        raise ImageError(
            f"{path}: {depth}-bit PNG is not supported; benchmark images must be 8 bit per "
            "sample (convert it explicitly, e.g. with ImageMagick '-depth 8')"
        )
    with pillow_errors(path, corrupt="corrupt or truncated image"), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large, below the hard limit
        with Image.open(path) as im:
            im.load()
            return _to_rgb(im, path)


@contextmanager
def pillow_errors(path: Path, *, corrupt: str = "corrupt image header") -> Iterator[None]:
    """Pillow's exceptions while reading ``path`` become one-line :class:`ImageError` s (``corrupt`` names what
    an unreadable file is called); an :class:`ImageError` raised inside passes unchanged."""
    try:
        yield
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path}: not an image file Pillow can read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: {_too_large(exc)}") from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise ImageError(f"{path}: {corrupt} ({exc})") from exc


def check_mode_and_size(path: Path, mode: str, width: int, height: int) -> None:
    """:class:`ImageError` unless ``mode`` is one of :data:`SUPPORTED_MODES` and the image is not empty."""
    if mode not in SUPPORTED_MODES:
        raise ImageError(f"{path}: {mode} images are not supported; use 8 bit per sample (gray, RGB or palette)")
    if width < 1 or height < 1:
        raise ImageError(f"{path}: empty image ({width}x{height})")


SUPPORTED_MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "YCbCr")


def probe_image(path: str | os.PathLike) -> tuple[int, int, str]:
    """Check an image file's header against the policy without decoding it: ``(width, height, mode)``.

    Raises :class:`ImageError` for a missing file, a non-image, a 16-bit
    PNG or an unsupported mode (what :func:`read_image` would refuse at
    once). Truncated pixel data and transparency show only when decoding.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: {'not a file' if path.exists() else 'file not found'}")
    depth = png_bit_depth(path)
    if depth is not None and depth > 8:
        raise ImageError(f"{path}: {depth}-bit PNG is not supported; images must be 8 bit per sample "
                         "(convert it explicitly, e.g. with ImageMagick '-depth 8')")
    with pillow_errors(path), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            width, height, mode = im.width, im.height, im.mode
    check_mode_and_size(path, mode, width, height)
    return width, height, mode


def _too_large(exc: Exception) -> str:
    return (f"larger than Pillow's safety limit ({exc}); if the file is trusted, raise "
            "PIL.Image.MAX_IMAGE_PIXELS in your own script")


def image_to_rgb(im: Image.Image, path: str | os.PathLike) -> tuple[np.ndarray, bool]:
    """An opened Pillow image as ``(pixels, is_gray)`` under the policy above (``path`` names it in errors)."""
    return _to_rgb(im, Path(path))


def _to_rgb(im: Image.Image, path: Path) -> tuple[np.ndarray, bool]:
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode == "1":
        im = im.convert("L")
        mode = "L"
    if mode in ("RGBA", "LA"):
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            raise ImageError(
                f"{path}: image has transparent pixels (mode {mode}); srbench does not "
                "composite onto a background - save it without transparency"
            )
        im = im.convert("RGB" if mode == "RGBA" else "L")
        mode = im.mode
    if mode == "L":
        gray = np.asarray(im, dtype=np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), True
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8)), False
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise ImageError(f"{path}: {mode} (16/32-bit) images are not supported; use 8 bit per sample")
    if mode == "CMYK" or mode == "YCbCr":
        return np.asarray(im.convert("RGB"), dtype=np.uint8), False
    raise ImageError(f"{path}: unsupported image mode {mode!r}")


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> None:
    """Write a ``uint8`` ``(H, W, 3)`` RGB or ``(H, W)`` gray array as lossless PNG, atomically."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"write_png expects uint8 pixels, got {pixels.dtype}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")
