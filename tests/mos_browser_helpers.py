"""Helpers for driving the real rating app (``srbench mos serve``) in headless Chromium (Playwright).

Nothing here imitates the app: the server is the real CLI on 127.0.0.1, the
answers are read from its real SQLite file, and which image is on screen is
found by hashing the bytes the browser itself fetched (the page never names
an image).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from srbench.mos_app.create import ImageSpec, calibration_pairs, write_study
from srbench.mos_app.study import StudySettings
from srbench.data.sets import load_manifest
from srbench.data.imageio import read_image
from srbench.data.resize import imresize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--force-color-profile=srgb"]
TOKEN = "browser-admin-token"

# JS: SHA-256 of the bytes of the shown image (its source <img>), of its decoded RGBA pixels, its size,
# and where the canvas that shows it is (CSS px) and whether it is visible.
INSPECT_IMAGE = """
async () => {
  const v = document.querySelector('.mos-viewer');
  const im = v.querySelector('.mos-stage img.mos-source');
  const cv = v.querySelector('.mos-stage canvas.mos-stimulus');
  await im.decode();
  const hex = buf => [...new Uint8Array(buf)].map(b => b.toString(16).padStart(2, '0')).join('');
  const bytes = await (await fetch(im.src)).arrayBuffer();
  const canvas = document.createElement('canvas');
  canvas.width = im.naturalWidth; canvas.height = im.naturalHeight;
  const ctx = canvas.getContext('2d', {colorSpace: 'srgb'});
  ctx.drawImage(im, 0, 0);
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const r = cv.getBoundingClientRect();
  return {p: Number(v.dataset.p), bytes_sha256: hex(await crypto.subtle.digest('SHA-256', bytes)),
          rgba_sha256: hex(await crypto.subtle.digest('SHA-256', rgba)),
          natural: [im.naturalWidth, im.naturalHeight], rect: [r.left, r.top, r.width, r.height],
          visible: getComputedStyle(cv).visibility === 'visible', dpr: window.devicePixelRatio};
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(study: Path, db: Path, *, token: str | None = TOKEN, log: Path | None = None,
                 extra: tuple[str, ...] = (), base_path: str = "") -> tuple[subprocess.Popen, str]:
    """``srbench mos serve`` on 127.0.0.1 at a free port, in its own process group; returns (process, URL).

    ``log``: a file for the server's stderr (default: discarded); ``extra``: more ``serve`` flags;
    ``base_path``: serve under that URL prefix (``--base-path``; the URL returned includes it)."""
    port = free_port()
    env = dict(os.environ)
    env.pop("SRBENCH_MOS_ADMIN_TOKEN", None)
    if token:
        env["SRBENCH_MOS_ADMIN_TOKEN"] = token
    proc = subprocess.Popen([sys.executable, "-m", "srbench", "mos", "serve", "--study", str(study), "--db", str(db),
                             "--port", str(port), "--address", "127.0.0.1", *extra,
                             *(["--base-path", base_path] if base_path else [])],
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("w") if log is not None else subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}" + (f"/{base_path.strip('/')}" if base_path else "")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    kill_server(proc)
    raise RuntimeError("'srbench mos serve' did not become healthy within 60 s")


def kill_server(proc: subprocess.Popen) -> None:
    """SIGKILL the server's process group (the CLI and its Streamlit child), like a crash."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def build_study(root: Path, data_root: Path, train_root: Path, *, n_images: int = 12, repeats: int = 2,
                run: StudySettings = StudySettings(500, 10, 20.0), name: str = "browser") -> Path:
    """Real BSD100 HR (480x320 / 320x480) + nearest 4x of the shipped LR, one real calibration pair."""
    items = []
    for entry in load_manifest("bsd100")["images"][:n_images]:
        hr, _ = read_image(data_root / "bsd100" / entry["hr"]["path"])
        lr, _ = read_image(data_root / "bsd100" / entry["lr"]["path"])
        items.append(ImageSpec("bsd100", entry["name"], "hr", hr))
        items.append(ImageSpec("bsd100", entry["name"], "nearest", imresize(lr, 4, kernel="nearest")))
    return write_study(root, name=name, seed=5, items=items, calibration=calibration_pairs(train_root, 1),
                       repeats=repeats, run=run)


def db_rows(db: Path, rater: str, table: str = "answers", columns: str = "presentation, score") -> list[tuple]:
    """Rows of ``table`` for ``rater`` (read with a separate connection, as any reader would)."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT {columns} FROM {table} WHERE rater = ? ORDER BY rowid", (rater,)).fetchall()


def rgba_of(path: Path) -> np.ndarray:
    pixels, _ = read_image(path)
    return np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)


def wait_ready(page, p: int | None = None, timeout: float = 20000) -> int:
    """Wait until the score buttons are enabled (for presentation ``p`` if given); return the shown index."""
    page.wait_for_function(
        """(p) => { const v = document.querySelector('.mos-viewer');
                    if (!v || (p !== null && v.dataset.p !== String(p))) return false;
                    return [...v.querySelectorAll('button.mos-score')].every(b => !b.disabled); }""",
        arg=p, timeout=timeout)
    return int(page.get_attribute(".mos-viewer", "data-p"))


def click_score(page, score: int) -> None:
    """A real mouse click (trusted input events) on the button for ``score``."""
    page.click(f"button.mos-score[data-score='{score}']")


def rate(page, score: int) -> int:
    """Wait for the buttons, click ``score``, wait for the server's reply (next image, or a message)."""
    p = wait_ready(page)
    rev = page.get_attribute(".mos-viewer", "data-rev")
    click_score(page, score)
    page.wait_for_function(
        """([p, rev]) => { const v = document.querySelector('.mos-viewer');
                           return !v || v.dataset.p !== String(p) || v.dataset.rev !== rev; }""",
        arg=[p, rev], timeout=20000)
    return p


def begin(page, url: str, rater: str) -> None:
    """Open the rater link and press Begin once the window check allows it."""
    page.goto(f"{url}/?rater={rater}")
    button = page.get_by_role("button", name="Begin")
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Begin' && !b.disabled)",
        timeout=20000)
    button.click()
    page.wait_for_selector(".mos-viewer .mos-stage img.mos-source", state="attached", timeout=20000)


def shown_sha256(page) -> str:
    """SHA-256 of the bytes of the image on screen (fetched by the page from its own media URL)."""
    return page.evaluate("""async () => {
        const im = document.querySelector('.mos-viewer .mos-stage img.mos-source');
        const b = await (await fetch(im.src)).arrayBuffer();
        return [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))]
            .map(x => x.toString(16).padStart(2, '0')).join(''); }""")


def sha_index(study) -> dict[str, object]:
    """Study stimulus by the SHA-256 of its PNG file."""
    return {s.sha256: s for s in study.items + study.calibration}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- fixtures shared by the browser test modules
# (a test module imports them by name: ``from mos_browser_helpers import browser, page``)
@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium for the whole test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies, 1280x800) and page per test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    yield pg
    ctx.close()
