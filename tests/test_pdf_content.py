"""Committed PDF figures are compared by what they show, not by their bytes (issue 22).

The figures here are SYNTHETIC (random pixels, made-up values), drawn by the report's own Figure 2/6 code
(:func:`srbench.report.crops.draw`) into temporary folders.
"""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pytest

from srbench.atomicio import atomic_path
from srbench.report import crops
from srbench.report.pdf_content import pdf_content, pdf_difference, same_pdf


def _figure(label: str = "bicubic", pixel_delta: int = 0) -> crops.Figure:
    rng = np.random.default_rng(7)
    hr = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    sr = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    if pixel_delta:
        sr = sr.copy()
        sr[40, 50, 1] = (int(sr[40, 50, 1]) + pixel_delta) % 256  # inside the crop below (x 16..111, y 16..111)
    crop = crops.Crop("set5", "synthetic.png", 16, 16)
    panels = [crops.Panel("bicubic", label, "SYNTHETIC", 21.5, 0.61, sr),
              crops.Panel("hr", "HR", "SYNTHETIC", None, None, hr)]
    return crops.Figure("paper", [(crop, hr, panels)], [])


def _draw(figure: crops.Figure, folder, *, compression: int = 6):
    folder.mkdir()
    with matplotlib.rc_context({"pdf.compression": compression}):  # another encoding of the same drawing
        crops.draw(figure, folder / "f.png", folder / "f.pdf", title_note=" [SYNTHETIC]")
    return folder / "f.pdf"


@pytest.fixture
def reference(tmp_path):
    return _draw(_figure(), tmp_path / "reference")


def test_another_encoding_of_the_same_figure_is_the_same(reference, tmp_path):
    other = _draw(_figure(), tmp_path / "uncompressed", compression=0)
    assert other.read_bytes() != reference.read_bytes()
    assert pdf_difference(other, reference) is None and same_pdf(reference, other)


def test_a_changed_label_is_a_difference(reference, tmp_path):
    other = _draw(_figure(label="bicubic*"), tmp_path / "label")
    difference = pdf_difference(other, reference)
    assert difference is not None and difference.startswith("page 1: text differs"), difference


@pytest.mark.parametrize("delta", [1, 255])
def test_one_changed_pixel_of_a_crop_is_a_difference(reference, tmp_path, delta):
    other = _draw(_figure(pixel_delta=delta), tmp_path / "pixel")
    assert pdf_difference(other, reference) == "page 1, image 2: pixels differ"


def test_content_lists_text_images_and_rendering(reference):
    (page,) = pdf_content(reference)
    assert "bicubic" in page.text and "(21.50dB/0.6100)" in page.text and "[SYNTHETIC]" in page.text
    assert len(page.images) == 3  # the overview, the bicubic crop and the HR crop, as matplotlib resampled them
    assert all(len(shape) == 3 and shape[2] == 3 for _, shape, _ in page.images)
    assert len(page.render_sha256) == 64


def test_a_file_that_is_no_pdf_is_one_clear_error(tmp_path, reference):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(ValueError, match="not a readable PDF"):
        pdf_difference(bad, reference)


def test_a_report_figure_that_shows_the_same_is_left_untouched(reference, tmp_path):
    """atomic_path(..., unchanged=same_pdf): what srbench report writes its PDFs with."""
    before = reference.read_bytes()
    mtime = reference.stat().st_mtime_ns
    with atomic_path(reference, unchanged=same_pdf) as tmp:
        with matplotlib.rc_context({"pdf.compression": 0}):
            crops.draw(_figure(), tmp.with_suffix(".png"), tmp, title_note=" [SYNTHETIC]")
    assert reference.read_bytes() == before and reference.stat().st_mtime_ns == mtime
    assert not [p.name for p in reference.parent.iterdir() if p.suffix == ".pdf" and p != reference]

    with atomic_path(reference, unchanged=same_pdf) as tmp:  # a changed label: the file is replaced
        crops.draw(_figure(label="changed"), tmp.with_suffix(".png"), tmp, title_note=" [SYNTHETIC]")
    assert pdf_difference(reference, _draw(_figure(label="changed"), tmp_path / "changed")) is None
