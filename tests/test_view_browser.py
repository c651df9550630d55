"""``srbench view`` in a real headless Chromium against the real server (``srbench view RUN ...`` on 127.0.0.1).

Runs: real ``srbench run --save-images`` of nearest and bicubic on Set5. What is
on screen is read as device pixels (element screenshots at the device scale)
and compared with the runs' saved PNG files and the HR files.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mos_browser_helpers import browser, free_port, kill_server  # noqa: F401 (fixture)
from srbench.data.imageio import read_image
from srbench.run.runner import run_benchmark
from srbench.view import export

pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
READY = """(want) => { const v = document.querySelector('.srv-compare');
    return !!v && v.dataset.state === 'ready' && (want === null || v.dataset.drawn === want); }"""


def start_view(runs: list[Path], *extra: str) -> tuple[subprocess.Popen, str]:
    """``srbench view RUN ...`` on 127.0.0.1 at a free port, in its own process group; (process, URL)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "srbench", "view", *map(str, runs), *extra, "--port", str(port)],
                            env=dict(os.environ), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
    kill_server(proc)
    raise RuntimeError("'srbench view' did not become healthy within 90 s")


@pytest.fixture(scope="module")
def served(tmp_path_factory, data_root):
    base = tmp_path_factory.mktemp("viewweb")
    runs = {}
    for method in ("nearest", "bicubic"):
        run_benchmark([method], ["set5"], data_root=data_root, out_dir=base / method, save_images=True,
                      progress=False, jobs=1)
        runs[method] = base / method
    proc, url = start_view([runs["nearest"], runs["bicubic"]])
    yield runs, url
    kill_server(proc)


def open_view(browser, url: str, query: str, dpr: float = 1, want: str | None = None):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1200}, device_scale_factor=dpr, accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{url}/?{query}")
    page.wait_for_function(READY, arg=want, timeout=60000)
    return ctx, page


def view_state(page) -> dict:
    return page.evaluate("() => Object.assign({}, document.querySelector('.srv-compare').dataset)")


def shown(page, key: str, size: int) -> np.ndarray:
    """The device pixels of panel ``key`` (its canvas; the first ``size`` x ``size`` are the region)."""
    loc = page.locator(f"canvas.srv-canvas[data-key='{key}']")
    loc.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    shot = np.asarray(Image.open(io.BytesIO(loc.screenshot(scale="device", animations="disabled"))).convert("RGB"))
    return shot[:size, :size]


def expected(path: Path, x: int, y: int, side: int, zoom: int) -> np.ndarray:
    pixels, _ = read_image(path)
    return np.repeat(np.repeat(pixels[y:y + side, x:x + side], zoom, 0), zoom, 1)


def sources(served, data_root) -> dict[str, Path]:
    runs, _ = served
    return {"nearest": runs["nearest"] / "images/nearest/set5/bird.png",
            "bicubic": runs["bicubic"] / "images/bicubic/set5/bird.png",
            "hr": data_root / "set5/HR/bird.png"}


def assert_panels_show(page, files: dict[str, Path]) -> None:
    s = view_state(page)
    x, y, side, zoom = int(s["x"]), int(s["y"]), int(s["side"]), int(s["zoom"])
    for key, path in files.items():
        np.testing.assert_array_equal(shown(page, key, side * zoom), expected(path, x, y, side, zoom),
                                      err_msg=f"panel {key} at {s}")


@pytest.mark.parametrize("dpr", [1, 2])
def test_pixels_equal_the_png_at_device_pixel_ratios(served, browser, data_root, dpr):
    _, url = served
    ctx, page = open_view(browser, url, "set=set5&image=bird.png&zoom=2&x=40&y=52", dpr, "bird.png|40,52,2")
    try:
        files = sources(served, data_root)
        assert view_state(page)["side"] == "192"
        assert_panels_show(page, files)
        page.click("button.srv-zoom[data-zoom='8']")  # nearest-neighbour 8x: every pixel an 8x8 block
        page.wait_for_function(READY, arg="bird.png|112,124,8")  # the same centre (136, 148)
        assert view_state(page)["zoom"] == "8"
        assert_panels_show(page, files)
    finally:
        ctx.close()


def test_regions_stay_synchronised_when_panning_and_zooming(served, browser, data_root):
    _, url = served
    ctx, page = open_view(browser, url, "set=set5&image=bird.png&zoom=4&x=100&y=100", 1, "bird.png|100,100,4")
    try:
        box = page.locator("canvas.srv-canvas[data-key='bicubic']").bounding_box()
        page.mouse.move(box["x"] + 200, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(box["x"] + 160, box["y"] + 180, steps=4)  # drag 40 px left, 20 px up (CSS = device px)
        page.mouse.up()
        page.wait_for_function(READY, arg="bird.png|110,105,4")  # the picture moves: the region goes right/down
        assert_panels_show(page, sources(served, data_root))
        # the server keeps the region: the URL follows
        page.wait_for_function("() => location.search.includes('x=110') && location.search.includes('y=105')")
        page.focus(".srv-compare")
        page.keyboard.press("ArrowLeft")  # a quarter of the region (96 / 4 = 24 px)
        page.wait_for_function(READY, arg="bird.png|86,105,4")
        assert_panels_show(page, sources(served, data_root))
    finally:
        ctx.close()


def test_sorting_matches_the_csv(served, browser):
    runs, url = served
    ctx, page = open_view(browser, url, "set=set5&sort=psnr&a=bicubic&b=nearest&desc=1")
    try:
        order = page.eval_on_selector_all("table.srv-table tbody tr", "rows => rows.map(r => r.dataset.image)")
        rows = pd.concat([pd.read_csv(runs[m] / "per_image.csv") for m in ("nearest", "bicubic")])
        psnr = rows[rows.protocol == "paper"].pivot(index="image", columns="method", values="psnr")
        want = (psnr["bicubic"] - psnr["nearest"]).sort_values(ascending=False, kind="mergesort")
        assert order == list(want.index)
        # the image list (and so the first image shown) follows the same order
        assert view_state(page)["image"] == want.index[0]
    finally:
        ctx.close()


def test_a_copied_link_restores_the_view(served, browser, data_root):
    _, url = served
    ctx, page = open_view(browser, url, "set=set5&image=head.png", 1)
    try:
        page.click("button.srv-zoom[data-zoom='4']")
        page.wait_for_function(READY, arg=None)
        page.get_by_text("absolute difference to HR").click()  # the difference map
        page.wait_for_function("() => location.search.includes('diff=1')")
        page.wait_for_function("() => [...document.querySelectorAll('.srv-title')].some(t => t.innerText.includes('|SR-HR|'))")
        page.wait_for_function(READY, arg=None)
        page.focus(".srv-compare")
        page.keyboard.press("ArrowDown")
        state = view_state(page)
        drawn = f"head.png|{state['x']},{state['y']},4"
        page.wait_for_function(READY, arg=drawn)
        page.wait_for_function("(y) => location.search.includes('y=' + y)", arg=state["y"])
        page.wait_for_function(READY, arg=drawn)
        link = page.url
        query = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
        assert query["image"] == ["head.png"] and query["zoom"] == ["4"] and query["diff"] == ["1"]
        before = {k: shown(page, k, int(state["side"]) * 4) for k in ("nearest", "bicubic", "hr")}
    finally:
        ctx.close()
    ctx = browser.new_context(viewport={"width": 1600, "height": 1200})
    page = ctx.new_page()
    try:
        page.goto(link)
        page.wait_for_function(READY, arg=drawn)
        again = view_state(page)
        assert {k: again[k] for k in ("image", "x", "y", "zoom", "side")} == \
               {k: state[k] for k in ("image", "x", "y", "zoom", "side")}
        x, y, side = int(state["x"]), int(state["y"]), int(state["side"])
        hr, _ = read_image(data_root / "set5/HR/head.png")
        for key in ("nearest", "bicubic", "hr"):
            now = shown(page, key, side * 4)
            np.testing.assert_array_equal(now, before[key])
        # the difference map is |SR - HR| of the saved image
        runs, _ = served
        sr, _ = read_image(runs["bicubic"] / "images/bicubic/set5/head.png")
        diff = np.abs(sr.astype(int) - hr.astype(int)).astype(np.uint8)
        want = np.repeat(np.repeat(diff[y:y + side, x:x + side], 4, 0), 4, 1)
        np.testing.assert_array_equal(before["bicubic"], want)
    finally:
        ctx.close()


def test_the_export_equals_the_crops_shown(served, browser, data_root):
    _, url = served
    ctx, page = open_view(browser, url, "set=set5&image=butterfly.png&zoom=2&x=60&y=20", 1, "butterfly.png|60,20,2")
    try:
        page.focus(".srv-compare")
        page.keyboard.press("ArrowLeft")  # a quarter of the region: 48 px
        page.wait_for_function(READY, arg="butterfly.png|12,20,2")
        page.wait_for_function("() => location.search.includes('x=12')")
        # the sidebar's region (and the exports before it) come from the server's run that kept the region
        page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stCode]')]"
                               ".some(e => e.innerText.includes('x=12 y=20'))")
        with page.expect_download() as info:
            page.get_by_role("button", name="export grid (PNG)").click()
        png = np.asarray(Image.open(info.value.path()).convert("RGB"))
        with page.expect_download() as info:
            page.get_by_role("button", name="export region (text)").click()
        text = Path(info.value.path()).read_text()
        assert text.startswith("set5/butterfly.png x=12 y=20 w=192 h=192 zoom=2x")
        hr, _ = read_image(data_root / "set5/HR/butterfly.png")
        region = export.Region("set5", "butterfly.png", 12, 20, 192, 2)
        boxes = export.layout(hr.shape, 3, region)
        for (left, top, w, h), key in zip(boxes[1:], ("nearest", "bicubic", "hr")):
            np.testing.assert_array_equal(png[top:top + h, left:left + w], shown(page, key, 384), err_msg=key)
    finally:
        ctx.close()


def test_committed_results_are_regenerated_on_the_fly(browser, data_root):
    """The committed classic run saved no images: with --regenerate they are remade (and checked) when shown."""
    from srbench.data.resize import imresize

    proc, url = start_view([ROOT / "results/metrics/classic"], "--regenerate")
    try:
        ctx, page = open_view(browser, url, "set=set14&image=comic.png&m=nearest&zoom=2&x=20&y=40", 1,
                              "comic.png|20,40,2")
        try:
            lr, _ = read_image(data_root / "set14/LR_bicubic_x4/comic.png")
            want = imresize(lr, 4, kernel="nearest")  # computed here, not by the method that was regenerated
            side = int(view_state(page)["side"])
            np.testing.assert_array_equal(shown(page, "nearest", side * 2),
                                          np.repeat(np.repeat(want[40:40 + side, 20:20 + side], 2, 0), 2, 1))
        finally:
            ctx.close()
    finally:
        kill_server(proc)


def test_view_bench_smoke(data_root):
    """bench/bench_view.py in its smoke mode (SYNTHETIC Set5 x 2 methods): it runs and prints every figure."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_view.py"), "--smoke"], capture_output=True,
                          text=True, env={**os.environ, "SRBENCH_DATA": str(data_root)}, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for what in ("SYNTHETIC", "first page load", "next image, all panels drawn", "another image from the list", "pan (arrow key)", "zoom, redrawn"):
        assert what in proc.stdout, proc.stdout
