"""Click-to-next-image latency of the MOS rating app, in a real browser against a real server.

Builds a study of real BSD100 images (HR and nearest-neighbour 4x of the
shipped LR; 480x320 / 320x480 px) in a temporary folder, starts
``srbench mos serve`` on 127.0.0.1, opens it in headless Chromium
(Debian's /usr/bin/chromium through Playwright), and rates. For each
rating it measures, inside the page, the time from the score click to the
next image painted on screen (its canvas visible with the next
presentation, plus one animation frame). The minimum viewing time is not
part of it (the next click waits for the buttons, outside the measurement).

    python bench/bench_mos_latency.py              # 40 ratings, prints median / p90 / max
    python bench/bench_mos_latency.py --smoke      # 3 ratings on a 4-image study (for the test suite)

Prints the figures with the machine's load average (the machine may be shared).
Needs $SRBENCH_DATA (benchmark sets) and $SRBENCH_TRAIN_DATA (bsd200 for calibration).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TARGET_MS = 300

# JS: click the button for `score` and resolve with the ms until presentation `next` is painted.
CLICK_AND_WAIT = """
async ([score, next]) => {
  const btn = document.querySelector(`button.mos-score[data-score="${score}"]`);
  const t0 = performance.now();
  btn.click();
  return await new Promise((resolve, reject) => {
    const check = () => {
      const v = document.querySelector('.mos-viewer');
      const cv = v && v.querySelector('.mos-stage canvas');
      if (v && v.dataset.p === String(next) && cv && getComputedStyle(cv).visibility === 'visible') {
        requestAnimationFrame(() => resolve(performance.now() - t0));
      } else if (performance.now() - t0 > 15000) {
        reject(new Error('presentation ' + next + ' did not appear'));
      } else {
        requestAnimationFrame(check);
      }
    };
    check();
  });
}
"""


def build_study(out: Path, n_images: int, min_view_s: float) -> Path:
    """Real BSD100 images (HR + nearest 4x), one calibration pair; sessions long enough for the run."""
    from srbench.data.sets import load_manifest, resolve_data_root
    from srbench.data.imageio import read_image
    from srbench.mos_app.create import ImageSpec, calibration_pairs, resolve_train_root, write_study
    from srbench.mos_app.study import StudySettings
    from srbench.data.resize import imresize

    data_root = resolve_data_root(None)
    items = []
    for entry in load_manifest("bsd100")["images"][:n_images]:
        hr, _ = read_image(data_root / "bsd100" / entry["hr"]["path"])
        lr, _ = read_image(data_root / "bsd100" / entry["lr"]["path"])
        items.append(ImageSpec("bsd100", entry["name"], "hr", hr))
        items.append(ImageSpec("bsd100", entry["name"], "nearest", imresize(lr, 4, kernel="nearest")))
    return write_study(out, name="latency", seed=1, items=items,
                       calibration=calibration_pairs(resolve_train_root(None), 1), repeats=0,
                       run=StudySettings(int(min_view_s * 1000), 10000, 240.0))


def serve(study: Path, db: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "SRBENCH_MOS_ADMIN_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "srbench", "mos", "serve", "--study", str(study), "--db", str(db),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("srbench mos serve did not start")


def measure(url: str, ratings: int) -> list[float]:
    """Rate ``ratings`` images (after the calibration) and return the click-to-next times in ms."""
    from playwright.sync_api import sync_playwright

    ready = ("(p) => { const v = document.querySelector('.mos-viewer'); return !!v && v.dataset.p === String(p)"
             " && [...v.querySelectorAll('button.mos-score')].every(b => !b.disabled); }")
    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/?rater=bench")
        page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === "
                               "'Begin' && !b.disabled)", timeout=60000)
        page.get_by_role("button", name="Begin").click()
        for p, score in enumerate([1, 5] + [1 + k % 5 for k in range(ratings)]):
            page.wait_for_function(ready, arg=p, timeout=60000)
            ms = page.evaluate(CLICK_AND_WAIT, [score, p + 1])
            if p >= 2:  # calibration clicks are not counted
                times.append(ms)
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ratings", type=int, default=40, help="timed ratings (default 40)")
    ap.add_argument("--images", type=int, default=25, help="BSD100 images in the study (x2 versions; default 25)")
    ap.add_argument("--min-view-s", type=float, default=0.3, help="the study's minimum viewing time (default 0.3)")
    ap.add_argument("--smoke", action="store_true", help="3 ratings on a 4-image study")
    args = ap.parse_args(argv)
    if args.smoke:
        args.ratings, args.images = 3, 4
    if args.ratings > 2 * args.images - 1:
        ap.error(f"--ratings {args.ratings} needs --images >= {(args.ratings + 2) // 2}")
    with tempfile.TemporaryDirectory(prefix="mos-latency-") as tmp:
        study = build_study(Path(tmp) / "study", args.images, args.min_view_s)
        proc, url = serve(study, Path(tmp) / "ratings.sqlite")
        try:
            times = measure(url, args.ratings)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    times.sort()
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"MOS click-to-next-image latency over {len(times)} ratings: median {median:.0f} ms, p90 {p90:.0f} ms, "
          f"max {times[-1]:.0f} ms (target: median < {TARGET_MS} ms)")
    print(f"load average: {load}; {os.cpu_count()} CPUs; BSD100 480x320/320x480 PNGs, headless Chromium")
    return 0


if __name__ == "__main__":
    sys.exit(main())
