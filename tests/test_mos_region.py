"""``--region`` parsing and the window figures ``srbench mos create`` prints (no browser; the browser side is
tests/test_mos_browser_region.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from srbench.mos_app.region import centre_box, crop, parse_region, photo_boxes
from srbench.mos_app.study import StudyError
from srbench.mos_app.viewing import drawable, needed_window, window_report


def test_parse_region_and_centred_boxes():
    assert parse_region("480x320") == (480, 320) and parse_region(" 512X480 ") == (512, 480)
    for bad in ("480", "480x", "x320", "-1x5", "480x32", "axb", ""):
        with pytest.raises(StudyError):
            parse_region(bad)
    assert centre_box(500, 480, (512, 480)) == (0, 0, 500, 480)  # clipped to the image
    assert centre_box(720, 576, (512, 480)) == (104, 48, 512, 480)
    assert centre_box(11, 10, (4, 4)) == (3, 3, 4, 4)  # offsets rounded down
    px = np.arange(10 * 11 * 3, dtype=np.uint8).reshape(10, 11, 3)
    np.testing.assert_array_equal(crop(px, (3, 3, 4, 4)), px[3:7, 3:7])
    with pytest.raises(StudyError, match="differ in size"):
        photo_boxes({"set5/baby": {(512, 512), (508, 512)}}, (256, 192))


def test_bad_region_is_one_line_before_any_work(tmp_path):
    out = subprocess.run([sys.executable, "-m", "srbench", "mos", "create", "--name", "x", "--methods", "nearest",
                          "--datasets", "set5", "--region", "40x40", "--out", str(tmp_path / "s")],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "--region '40x40': each side must be at least 64 pixels" in out.stderr
    assert not (tmp_path / "s").exists()


def test_window_report_ratios_and_the_common_laptop():
    # Chromium reports zoom 110 % as 1.100000023841858: no whole-pixel drawing there; 125 % and 150 % are fine
    assert not drawable([(480, 320)], 1.1) and drawable([(480, 320)], 1.25) and drawable([(480, 320)], 1.5)
    lines = window_report([(720, 576), (512, 512)])  # Set14-like sizes
    need = needed_window(720, 576, 1.0)
    assert f"1: {need[0]} x {need[1]}" in lines[0] and "1.1:" not in lines[0]
    assert any("cannot be drawn" in line and "1.1" in line for line in lines)
    assert "cannot show images of 720 x 576: re-create the study with --region 720x522" in lines[-1]
    assert window_report([(480, 320), (320, 480)])[-1].endswith("shows it")
