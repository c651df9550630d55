"""The current view as a PNG grid laid out like the report's Figure 2, and its region as text.

One row: the whole HR image (reduced, the region outlined in red, titled with
the image and the region), then one panel per shown method and the HR crop,
each titled like Figure 2 (:func:`srbench.report.crops.panel_title`: the label
and, from the run's per-image row, ``(PSNR dB/SSIM)``). The panels are the
crops exactly as the page draws them: the region's pixels, each repeated
zoom x zoom times (nearest neighbour), or ``|SR - HR|`` in difference mode.
:func:`layout` says where each panel is in the PNG (pixels, top-left origin).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from srbench.report.crops import THUMBNAIL_PX, Panel
from srbench.report.crops import panel_title as figure_title

GAP = 12  # px between panels
TITLE_H = 64  # px of title text above every panel (three lines)
MARGIN = 12
BACKGROUND = (255, 255, 255)
OUTLINE = (255, 0, 0)


@dataclass(frozen=True)
class Region:
    """A square region of one image: top-left ``(x, y)``, ``side`` HR pixels, drawn at ``zoom``."""

    dataset: str
    image: str
    x: int
    y: int
    side: int
    zoom: int

    def text(self) -> str:
        """One line naming the region, e.g. ``set5/baby.png x=128 y=96 w=192 h=192 zoom=2x (HR pixels)``."""
        return (f"{self.dataset}/{self.image} x={self.x} y={self.y} w={self.side} h={self.side} zoom={self.zoom}x "
                "(HR pixels, top-left origin, nearest-neighbour zoom)")


@dataclass(frozen=True)
class ExportPanel:
    """One panel: its title (Figure 2's style) and the full image whose region it shows (uint8 RGB)."""

    title: str
    pixels: np.ndarray


def panel_title(label: str, psnr: float | None, ssim: float | None) -> str:
    """Figure 2's title: the label, then ``(PSNR dB/SSIM)`` from the per-image row (None or NaN: no numbers)."""
    nan = psnr is None or ssim is None or psnr != psnr or ssim != ssim
    return figure_title(Panel(label, label, "", None if nan else psnr, None if nan else ssim))


def panel(label: str, psnr: float | None, ssim: float | None, pixels: np.ndarray) -> ExportPanel:
    """A panel titled like Figure 2 (:func:`panel_title`) showing ``pixels`` (the whole image)."""
    return ExportPanel(panel_title(label, psnr, ssim), pixels)


def crop(pixels: np.ndarray, region: Region) -> np.ndarray:
    """The region of ``pixels``, each pixel repeated ``zoom`` x ``zoom`` times (what a panel shows)."""
    part = pixels[region.y:region.y + region.side, region.x:region.x + region.side]
    return np.repeat(np.repeat(part, region.zoom, axis=0), region.zoom, axis=1)


def _thumb_step(hr: np.ndarray) -> int:
    return max(1, -(-max(hr.shape[:2]) // THUMBNAIL_PX))


def layout(hr_shape: tuple[int, ...], n_panels: int, region: Region) -> list[tuple[int, int, int, int]]:
    """Boxes ``(left, top, width, height)`` in the PNG: the overview first, then the ``n_panels`` panels."""
    step = max(1, -(-max(hr_shape[:2]) // THUMBNAIL_PX))
    tw, th = -(-hr_shape[1] // step), -(-hr_shape[0] // step)
    size = region.side * region.zoom
    top = MARGIN + TITLE_H
    boxes = [(MARGIN, top, tw, th)]
    left = MARGIN + tw + GAP
    for _ in range(n_panels):
        boxes.append((left, top, size, size))
        left += size + GAP
    return boxes


def export_png(hr: np.ndarray, panels: list[ExportPanel], region: Region) -> bytes:
    """The grid as PNG bytes (see the module docstring)."""
    from PIL import Image, ImageDraw, ImageFont

    boxes = layout(hr.shape, len(panels), region)
    width = boxes[-1][0] + boxes[-1][2] + MARGIN
    height = MARGIN + TITLE_H + max(b[3] for b in boxes) + MARGIN
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    step = _thumb_step(hr)
    thumb = Image.fromarray(hr).reduce(step) if step > 1 else Image.fromarray(hr)
    left, top, _, _ = boxes[0]
    canvas.paste(thumb, (left, top))
    x0, y0 = left + region.x // step, top + region.y // step
    x1, y1 = left + -(-(region.x + region.side) // step) - 1, top + -(-(region.y + region.side) // step) - 1
    draw.rectangle((x0, y0, x1, y1), outline=OUTLINE, width=1)
    titles = [f"{region.dataset}/{region.image}\nregion x={region.x}, y={region.y}, {region.side}px\n"
              f"zoom {region.zoom}x"] + [p.title for p in panels]
    for box, title in zip(boxes, titles):
        draw.multiline_text((box[0], MARGIN), title, fill=(0, 0, 0), font=font, spacing=3)
    for box, p in zip(boxes[1:], panels):
        canvas.paste(Image.fromarray(crop(p.pixels, region)), (box[0], box[1]))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()
