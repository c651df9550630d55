"""PDF figures compared by what they show, not by how a library encoded them.

Two PDFs of one figure written by different library versions differ in bytes
(fontTools, for example, writes the embedded font subset differently) while
they show the same thing. :func:`pdf_difference` compares, page by page:

* the page size (PDF points, rounded to 0.01);
* the text (PDFium's text extraction: every label, title and number);
* every embedded image: its placement (PDF points, rounded to 0.01) and its
  decoded pixels, exactly (a single changed pixel of a crop is a difference,
  even where a rendering at a modest resolution would hide it);
* the page rendered at :data:`RENDER_DPI` (RGB, 8 bits), exactly: lines,
  markers, colours and the glyphs' shapes.

PDFium (``pypdfium2``) reads and renders; both files go through the same
PDFium, so the comparison does not depend on its version either.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

RENDER_DPI = 150  # pixels per inch of the rendered comparison (PDF points are 1/72 inch)


@dataclass(frozen=True)
class PageContent:
    """What one page shows: size (points), text, images (placement and SHA-256 of the pixels), rendering."""

    size: tuple[float, float]
    text: str
    images: tuple[tuple[tuple[float, ...], tuple[int, ...], str], ...]  # (bounds, pixel array shape, sha256)
    render_sha256: str


def _sha256(array) -> str:
    return hashlib.sha256(array.tobytes()).hexdigest()


def _page_content(page) -> PageContent:
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    textpage = page.get_textpage()
    text = textpage.get_text_range()  # every character, also any drawn beyond the page edge
    textpage.close()
    images = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=16):
        pixels = obj.get_bitmap(render=False).to_numpy()
        bounds = tuple(round(v, 2) for v in obj.get_bounds())
        images.append((bounds, tuple(pixels.shape), _sha256(pixels)))
    rendered = page.render(scale=RENDER_DPI / 72, may_draw_forms=True).to_numpy()
    return PageContent((round(width, 2), round(height, 2)), text, tuple(images), _sha256(rendered))


def pdf_content(path: str | os.PathLike) -> tuple[PageContent, ...]:
    """The content of every page of the PDF at ``path``; ``ValueError`` if it is no readable PDF."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(Path(path))
    except pdfium.PdfiumError as exc:
        raise ValueError(f"{path}: not a readable PDF ({exc})") from None
    try:
        return tuple(_page_content(document[i]) for i in range(len(document)))
    finally:
        document.close()


def pdf_difference(a: str | os.PathLike, b: str | os.PathLike) -> str | None:
    """``None`` if the PDFs ``a`` and ``b`` show the same thing, else the first difference in words."""
    pages_a, pages_b = pdf_content(a), pdf_content(b)
    if len(pages_a) != len(pages_b):
        return f"{len(pages_a)} pages vs {len(pages_b)}"
    for number, (pa, pb) in enumerate(zip(pages_a, pages_b), start=1):
        if pa.size != pb.size:
            return f"page {number}: size {pa.size} pt vs {pb.size} pt"
        if pa.text != pb.text:
            return f"page {number}: text differs ({_first_change(pa.text, pb.text)})"
        if len(pa.images) != len(pb.images):
            return f"page {number}: {len(pa.images)} images vs {len(pb.images)}"
        for index, (ia, ib) in enumerate(zip(pa.images, pb.images), start=1):
            if ia[:2] != ib[:2]:
                return f"page {number}, image {index}: placed at {ia[0]} ({ia[1]}) vs {ib[0]} ({ib[1]})"
            if ia[2] != ib[2]:
                return f"page {number}, image {index}: pixels differ"
        if pa.render_sha256 != pb.render_sha256:
            return f"page {number}: renders differently at {RENDER_DPI} dpi"
    return None


def same_pdf(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if the PDFs ``a`` and ``b`` show the same thing (:func:`pdf_difference` finds nothing)."""
    return pdf_difference(a, b) is None


def _first_change(a: str, b: str) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{a[max(0, i - 20):i + 20]!r} vs {b[max(0, i - 20):i + 20]!r}"
