"""The rating app in a real headless Chromium against a real ``streamlit run`` on 127.0.0.1.

Study: the first 12 BSD100 images (real HR and their nearest-neighbour 4x
upscale of the shipped LR) plus one real bsd200 calibration pair. The test
rates through calibration and three items (one of them double-clicked),
reloads, kills the server and starts a new one (all through
``srbench mos serve``), checks the database, proves that the
image bytes and decoded pixels in the browser are exactly the study PNG, and
measures the time from a score click to the next image fully displayed
(median over 20 ratings; printed, target < 300 ms).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from srbench.mos_app.create import ImageSpec, calibration_pairs, write_study
from srbench.mos_app.order import presentations
from srbench.mos_app.study import load_study
from srbench.data import load_manifest
from srbench.imageio import read_image
from srbench.resize import imresize

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
N_IMAGES = 12
TIMED = 20
TARGET_MS = 300

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# JS: click the button for `score`, then poll every animation frame until the <img> of presentation
# `next` is complete with a non-zero natural width; resolve with the elapsed milliseconds.
CLICK_AND_WAIT = """
async ([score, next, double]) => {
  const btn = [...document.querySelectorAll('button')]
      .find(b => b.innerText.trim().startsWith(score + ' ('));
  if (!btn) throw new Error('no button for score ' + score);
  const t0 = performance.now();
  btn.click();
  if (double) btn.click();
  return await new Promise((resolve, reject) => {
    const check = () => {
      const im = document.querySelector('img.mos-stimulus');
      if (im && im.dataset.idx === String(next) && im.complete && im.naturalWidth > 0) {
        resolve(performance.now() - t0);
      } else if (performance.now() - t0 > 15000) {
        reject(new Error('image ' + next + ' did not appear'));
      } else {
        requestAnimationFrame(check);
      }
    };
    check();
  });
}
"""

# JS: SHA-256 of the bytes behind the <img> src, of its decoded RGBA pixels, and its sizes.
INSPECT_IMAGE = """
async () => {
  const im = document.querySelector('img.mos-stimulus');
  await im.decode();
  const hex = buf => [...new Uint8Array(buf)].map(b => b.toString(16).padStart(2, '0')).join('');
  const bytes = await (await fetch(im.src)).arrayBuffer();
  const canvas = document.createElement('canvas');
  canvas.width = im.naturalWidth; canvas.height = im.naturalHeight;
  const ctx = canvas.getContext('2d', {colorSpace: 'srgb'});
  ctx.drawImage(im, 0, 0);
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const rect = im.getBoundingClientRect();
  return {idx: Number(im.dataset.idx), item: im.dataset.item,
          bytes_sha256: hex(await crypto.subtle.digest('SHA-256', bytes)),
          rgba_sha256: hex(await crypto.subtle.digest('SHA-256', rgba)),
          natural: [im.naturalWidth, im.naturalHeight], shown: [rect.width, rect.height],
          dpr: window.devicePixelRatio};
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(study: Path, db: Path) -> tuple[subprocess.Popen, str]:
    """``srbench mos serve`` (which runs ``streamlit run`` headless) on 127.0.0.1 at a free port.

    The server runs in its own process group so that :func:`kill_server` can
    SIGKILL both the CLI and its Streamlit child.
    """
    port = free_port()
    env = dict(os.environ)
    env.pop("SRBENCH_MOS_ADMIN_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "srbench", "mos", "serve", "--study", str(study), "--db", str(db),
                             "--port", str(port), "--address", "127.0.0.1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    kill_server(proc)
    raise RuntimeError("'srbench mos serve' did not become healthy within 30 s")


def kill_server(proc: subprocess.Popen) -> None:
    """SIGKILL the server's process group (the CLI and its Streamlit child), like a crash."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def build_study(root: Path, data_root: Path, train_root: Path) -> Path:
    """Real BSD100 HR (480x320 / 320x480) + nearest 4x of the shipped LR, one real calibration pair."""
    items = []
    for entry in load_manifest("bsd100")["images"][:N_IMAGES]:  # only these 12 are decoded
        hr, _ = read_image(data_root / "bsd100" / entry["hr"]["path"])
        lr, _ = read_image(data_root / "bsd100" / entry["lr"]["path"])
        items.append(ImageSpec("bsd100", entry["name"], "hr", hr))
        items.append(ImageSpec("bsd100", entry["name"], "nearest", imresize(lr, 4, kernel="nearest")))
    return write_study(root, name="browser", seed=5, items=items,
                       calibration=calibration_pairs(train_root, 1), repeats=0)


def rows(db: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT presentation, score FROM answers WHERE rater = 'web1'"
                            " ORDER BY presentation").fetchall()


def rgba_sha256(path: Path) -> str:
    pixels, _ = read_image(path)
    rgba = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return hashlib.sha256(rgba.tobytes()).hexdigest()


def check_image_is_exact(page, study, expected_idx: int) -> None:
    info = page.evaluate(INSPECT_IMAGE)
    stim = study.stimulus(info["item"])
    assert info["idx"] == expected_idx
    assert info["bytes_sha256"] == stim.sha256  # the very bytes of the study PNG
    assert info["rgba_sha256"] == rgba_sha256(study.root / stim.path)  # decoded to the exact pixels
    assert info["natural"] == [stim.width, stim.height]
    assert info["dpr"] == 1 and info["shown"] == [stim.width, stim.height]  # not scaled on the page


def test_browser_rating_resume_exact_pixels_and_latency(tmp_path, data_root, train_root):
    study = load_study(build_study(tmp_path / "study", data_root, train_root))
    seq = presentations(study, "web1")
    assert len(seq) == 2 + 2 * N_IMAGES
    db = tmp_path / "ratings.sqlite"
    proc, url = start_server(study.root, db)
    procs = [proc]
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{url}/?rater=web1")
            page.get_by_role("button", name="Begin").click()
            page.wait_for_selector('img.mos-stimulus[data-idx="0"]')
            check_image_is_exact(page, study, 0)
            # calibration (anchor 1, anchor 5), then three ratings; the 4th click is a double click
            clicks = [(1, False), (5, False), (2, False), (4, True), (3, False)]
            for k, (score, double) in enumerate(clicks):
                page.evaluate(CLICK_AND_WAIT, [score, k + 1, double])
                if k == 1:
                    check_image_is_exact(page, study, 2)
            assert rows(db) == [(k, s) for k, (s, _) in enumerate(clicks)]
            assert "another tab" not in page.inner_text("body")  # a double click is ignored silently

            page.reload()
            page.wait_for_selector('img.mos-stimulus[data-idx="5"]', timeout=15000)
            assert page.locator("img.mos-stimulus").count() == 1
            shot = tmp_path / "mos_browser.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nMOS browser screenshot: {shot}")

            kill_server(proc)  # a killed server loses nothing: a new one resumes at the same item
            proc, url = start_server(study.root, db)
            procs.append(proc)
            page.goto(f"{url}/?rater=web1")
            page.wait_for_selector('img.mos-stimulus[data-idx="5"]', timeout=15000)
            check_image_is_exact(page, study, 5)
            assert rows(db) == [(k, s) for k, (s, _) in enumerate(clicks)]

            times = []
            for k in range(5, 5 + TIMED):
                times.append(page.evaluate(CLICK_AND_WAIT, [1 + k % 5, k + 1, False]))
            browser.close()
    finally:
        for p in procs:
            kill_server(p)
    stored = rows(db)
    assert [r[0] for r in stored] == list(range(5 + TIMED))
    assert [r[1] for r in stored[5:]] == [1 + k % 5 for k in range(5, 5 + TIMED)]
    median = statistics.median(times)
    sizes = sorted({f"{s.width}x{s.height}" for s in study.items})
    print(f"MOS click-to-next-image latency: median {median:.0f} ms, max {max(times):.0f} ms "
          f"over {TIMED} ratings of BSD100 images ({', '.join(sizes)}; target < {TARGET_MS} ms)")
    assert median < 5 * TARGET_MS, "rating latency far above target: the app is unusable"
