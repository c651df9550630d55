"""Read your own photos for ``srbench upscale``: orientation, colour profile, animations.

On top of :mod:`srbench.data.imageio`'s policy (8-bit gray/RGB/palette, opaque
alpha only), a photo is read as a viewer shows it:

* **Orientation**: the EXIF ``Orientation`` tag (camera JPEGs) is applied
  with Pillow's :func:`PIL.ImageOps.exif_transpose`, so a portrait shot
  stored sideways comes out upright; the output PNG carries no orientation.
* **Colour profile**: an embedded ICC profile is *converted to sRGB*
  (LittleCMS through Pillow's :mod:`PIL.ImageCms`, relative colorimetric
  intent) before upscaling, unless the profile calls itself sRGB; the
  networks were trained on sRGB images, and the output PNG, written without
  a profile, is sRGB by convention. A gray image with a gray profile stays
  gray (the rounded mean of the converted channels). The provenance record
  names each input's profile and whether it was converted.
* **Animations**: animated GIF/WebP/PNG and multi-page TIFF are refused with
  one line (upscaling only the first frame silently would lose the rest);
  extract the frame you want first.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

from srbench.errors import ImageError
from srbench.data.imageio import check_mode_and_size, image_to_rgb, pillow_errors, png_bit_depth

ORIENTATION_TAG = 0x0112
TRANSPOSED = (5, 6, 7, 8)  # orientations that swap width and height


@dataclass
class Photo:
    """A photo as shown: uint8 ``(H, W, 3)`` RGB ``pixels`` in sRGB, ``gray`` as in :func:`read_image`, ``notes``
    (``orientation``, ``icc_profile``, ``converted_to_srgb``) for the provenance record."""

    pixels: np.ndarray
    gray: bool
    notes: dict = field(default_factory=dict)


def _open(path: Path) -> Image.Image:
    depth = png_bit_depth(path)
    if depth is not None and depth > 8:
        raise ImageError(f"{path}: {depth}-bit PNG is not supported; images must be 8 bit per sample "
                         "(convert it explicitly, e.g. with ImageMagick '-depth 8')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def _frames(im: Image.Image) -> int:
    return int(getattr(im, "n_frames", 1) or 1)


def _check_still(im: Image.Image, path: Path) -> None:
    frames = _frames(im)
    if frames > 1:
        kind = "pages" if im.format == "TIFF" else "frames"
        raise ImageError(f"{path}: an animated or multi-page {im.format} image ({frames} {kind}); srbench upscales "
                         "still images only - extract the frame you want first (e.g. with Pillow: "
                         "Image.open(path).seek(k), then save it as PNG)")


def _profile_name(icc: bytes) -> str:
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip() or "unnamed"
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return "unreadable"


def _is_srgb(name: str) -> bool:
    return "srgb" in name.lower().replace(" ", "")


def _header_exif(im: Image.Image) -> Image.Exif:
    """The EXIF found without decoding pixels (a PNG's eXIf chunk after its image data shows only when read)."""
    if im.format != "PNG":
        return im.getexif()
    exif = Image.Exif()
    if "exif" in im.info:
        exif.load(im.info["exif"])
    return exif


def probe_photo(path: str | os.PathLike) -> tuple[int, int, dict]:
    """Check a photo's header (and frame count) without decoding it: ``(width, height, notes)`` as shown.

    Raises :class:`ImageError` (one line) for what :func:`read_photo` would refuse at once.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: {'not a file' if path.exists() else 'file not found'}")
    with pillow_errors(path), _open(path) as im:
        _check_still(im, path)
        width, height, mode = im.width, im.height, im.mode
        orientation = _header_exif(im).get(ORIENTATION_TAG)
        icc = im.info.get("icc_profile")
    check_mode_and_size(path, mode, width, height)
    notes = {"orientation": orientation if orientation not in (None, 1) else None,
             "icc_profile": _profile_name(icc) if icc else None}
    if orientation in TRANSPOSED:
        width, height = height, width
    return width, height, notes


def read_photo(path: str | os.PathLike) -> Photo:
    """Decode a photo as shown (see the module docstring); :class:`ImageError` for anything refused."""
    path = Path(path)
    with pillow_errors(path, corrupt="corrupt or truncated image"), _open(path) as im:
        _check_still(im, path)
        im.load()
        orientation = im.getexif().get(ORIENTATION_TAG)
        shown = ImageOps.exif_transpose(im)
        icc = im.info.get("icc_profile")
        notes = {"orientation": orientation if orientation not in (None, 1) else None,
                 "icc_profile": _profile_name(icc) if icc else None, "converted_to_srgb": False}
        gray_source = shown.mode in ("L", "LA", "1")
        if icc and not _is_srgb(notes["icc_profile"]):
            shown = _to_srgb(shown, icc, path)
            notes["converted_to_srgb"] = True
        pixels, gray = image_to_rgb(shown, path)
    if gray_source and not gray:  # a gray profile converted to sRGB: R, G, B (nearly) equal
        pixels = np.repeat(np.rint(pixels.mean(axis=2, dtype=np.float64)).astype(np.uint8)[:, :, None], 3, axis=2)
        gray = True
    return Photo(pixels, gray, notes)


def _to_srgb(im: Image.Image, icc: bytes, path: Path) -> Image.Image:
    """``im`` converted from its embedded profile to sRGB (RGB mode; alpha kept for the policy's check)."""
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    base = im.convert({"RGBA": "RGB", "LA": "L", "P": "RGB", "1": "L"}.get(im.mode, im.mode))
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(base, source, ImageCms.createProfile("sRGB"), outputMode="RGB",
                                              renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    except (OSError, ImageCms.PyCMSError, ValueError) as exc:
        raise ImageError(f"{path}: its embedded colour profile cannot be converted to sRGB ({exc}); "
                         "re-save the image in sRGB") from None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
