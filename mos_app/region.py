"""One fixed region per photo, so that a study fits common laptop screens while staying pixel-exact.

A study made with ``srbench mos create --region WxH`` shows, of every photo,
only a ``W x H`` pixel region (the whole photo where it is smaller), chosen
once at create time: the centred box, ``x = (width - w) // 2``,
``y = (height - h) // 2`` (rounded down; pixels, origin top-left). Every
version of a photo (each method and the original) is cropped to the same box,
which the manifest records per stimulus as ``region: [x, y, w, h]`` (in the
full image's pixels) and for the study as ``settings.region: [W, H]``. The
cropped pixels are the method's own output, byte for byte: nothing is resized.

Calibration anchors and gold items are cropped the same way; attention
checks are drawn at the region's size.
"""

from __future__ import annotations

import re

import numpy as np

from .study import StudyError

MIN_SIDE = 64
"""Smallest region side (pixels): a smaller view of a photo says too little about its quality."""
REGION_RE = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


def parse_region(text: str) -> tuple[int, int]:
    """``"480x320"`` -> ``(480, 320)`` (width, height in pixels); StudyError for anything else."""
    m = REGION_RE.fullmatch(text or "")
    if not m:
        raise StudyError(f"--region {text!r}: give WIDTHxHEIGHT in pixels, e.g. 480x320")
    w, h = int(m.group(1)), int(m.group(2))
    if w < MIN_SIDE or h < MIN_SIDE:
        raise StudyError(f"--region {text!r}: each side must be at least {MIN_SIDE} pixels")
    return w, h


def centre_box(width: int, height: int, region: tuple[int, int]) -> tuple[int, int, int, int]:
    """The ``(x, y, w, h)`` box of ``region`` (width, height) centred in a ``width x height`` image
    (clipped to the image; offsets rounded down)."""
    w, h = min(region[0], width), min(region[1], height)
    return (width - w) // 2, (height - h) // 2, w, h


def crop(pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``pixels`` (H, W, C) inside ``box`` = (x, y, w, h), as a contiguous copy."""
    x, y, w, h = box
    return np.ascontiguousarray(pixels[y:y + h, x:x + w])


def photo_boxes(shapes: dict[str, set[tuple[int, int]]], region: tuple[int, int]) -> dict[str, tuple[int, ...]]:
    """One box per photo: ``shapes`` maps a photo key to the (height, width) of all its versions, which must
    agree (every method's output has the original's size); StudyError otherwise."""
    boxes = {}
    for photo, sizes in shapes.items():
        if len(sizes) != 1:
            raise StudyError(f"--region: the versions of {photo} differ in size ({sorted(sizes)}); "
                             "a common region needs images of one size")
        (h, w), = sizes
        boxes[photo] = centre_box(w, h, region)
    return boxes
