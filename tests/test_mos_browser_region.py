"""A study made to fit a small screen (``srbench mos create --region``), in a real headless Chromium against a
real ``srbench mos serve`` on 127.0.0.1.

The study: Set5, the original and the nearest-neighbour method (real images, made by the real CLI), one real
BSD200 calibration pair, every photo shown as its centred 256 x 192 region. A 700 x 450 window, too small for
a whole-image study (``test_a_window_too_small...`` in test_mos_browser.py), can begin and rate it; every
image on screen is, pixel for pixel, the recorded region of that method's full output, and the region of a
photo is the same for every method.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mos_browser_helpers import browser  # noqa: F401 (fixture)
from mos_browser_helpers import INSPECT_IMAGE, db_rows, kill_server, rate, shown_sha256, start_server, wait_ready
from srbench.data.imageio import read_image
from srbench.data.sets import load_dataset
from srbench.mos_app.order import presentations
from srbench.mos_app.study import load_study
from srbench.run.registry import get_method

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_region_study_fits_a_small_window_and_shows_the_same_region_of_every_method(tmp_path, data_root,
                                                                                     train_root, browser):
    out = tmp_path / "study"
    made = subprocess.run([sys.executable, "-m", "srbench", "mos", "create", "--name", "small", "--methods",
                           "nearest", "--datasets", "set5", "--calibration", "1", "--gold-rate", "0", "--open",
                           "--min-view-s", "0.2", "--region", "256x192", "--data-root", str(data_root),
                           "--train-data", str(train_root), "--out", str(out)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    # create tells the experimenter the smallest window per device-pixel ratio, and about the common laptop
    assert "minimum inner browser window (CSS px) per device-pixel ratio" in made.stdout
    assert "1: 554 x 320" in made.stdout and "1.5: " in made.stdout and "2: " in made.stdout, made.stdout
    assert "a 1366 x 768 laptop at 100 % (inner window about 1366 x 650) shows it" in made.stdout

    study = load_study(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["region"] == [256, 192]
    boxes: dict[str, set] = {}
    full = {img.name: img for img in load_dataset("set5", data_root)}
    nearest = get_method("nearest")
    for s in study.items:  # each file is exactly its recorded region of the method's full-size output
        boxes.setdefault(s.image, set()).add(s.region)
        img = full[s.image]
        whole = img.hr if s.method == "hr" else nearest.upscale(img.lr, dataset="set5", name=img.name)
        x, y, w, h = s.region
        pixels, _ = read_image(out / s.path)
        assert (w, h) == (s.width, s.height) == (min(256, whole.shape[1]), min(192, whole.shape[0]))
        assert x == (whole.shape[1] - w) // 2 and y == (whole.shape[0] - h) // 2
        np.testing.assert_array_equal(pixels, whole[y:y + h, x:x + w])
    assert len(boxes) == 5 and all(len(b) == 1 for b in boxes.values()), boxes  # one region per photo

    proc, url = start_server(out, tmp_path / "ratings.sqlite", token=None)
    ctx = browser.new_context(viewport={"width": 700, "height": 450})
    try:
        page = ctx.new_page()
        page.goto(f"{url}/?rater=laptop1")
        page.wait_for_selector("text=shows every image of this study whole")
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")  # down to Begin
        page.get_by_role("button", name="Begin").click()
        by_sha = {s.sha256: s for s in study.items + study.calibration}
        n = len(presentations(study, "laptop1"))
        for k in range(n):
            wait_ready(page)
            stim = by_sha[shown_sha256(page)]
            rect = page.evaluate(INSPECT_IMAGE)["rect"]  # the whole image inside the 700 x 450 window
            assert rect[0] >= 0 and rect[1] >= 0 and rect[0] + stim.width <= 700 and rect[1] + stim.height <= 450, rect
            if k == 0:  # on screen: the file's pixels, one image pixel per screen pixel
                page.mouse.move(0, 0)
                info = page.evaluate(INSPECT_IMAGE)
                left, top = round(info["rect"][0]), round(info["rect"][1])
                shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
                expected, _ = read_image(out / stim.path)
                np.testing.assert_array_equal(shot[top:top + stim.height, left:left + stim.width], expected)
            rate(page, stim.anchor or 3)
        page.wait_for_selector("text=images rated")
    finally:
        ctx.close()
        kill_server(proc)
    assert len(db_rows(tmp_path / "ratings.sqlite", "laptop1")) == n
