"""How fast ``srbench view`` opens an image and answers, in a real browser against a real server.

Two cases, each in headless Chromium (Debian's /usr/bin/chromium through Playwright) against
``srbench view`` on 127.0.0.1:

1. **open**: BSD100 with 8 methods - the time from a click on "next" to every panel (8 methods
   and HR) drawn with the next image (fetched ahead), and from choosing an image far away in the
   image list (not fetched ahead) to the same (target: under 1 s once the page has loaded the first time);
2. **responsive**: all 119 images (Set5, Set14, BSD100) x 10 methods - the first page load, "next"
   on BSD100, a pan (arrow key: redrawn in the page) and a zoom (button: redrawn, and the server has
   put the region into the URL).

The runs are SYNTHETIC unless ``--runs`` is given: generated into a temporary folder from the real
HR images (each method's "SR" image is HR plus Gaussian noise of its own strength, rounded to 8
bit, measured with the real metrics under the matlab protocol). The viewer's cost depends on the
number and size of the images, not on what they show; the label SYNTHETIC is printed with the figures.

    python bench/bench_view.py                  # both cases (SYNTHETIC runs; a few minutes to generate)
    python bench/bench_view.py --runs R1 R2     # case 1 on real runs (their largest set), e.g. srbench run --save-images
    python bench/bench_view.py --smoke          # tiny: Set5 x 2 methods (for the test suite)

Prints median / p90 / max with the machine's load average (the machine may be shared).
Needs $SRBENCH_DATA (benchmark sets).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TARGET_S = 1.0
PAUSE_MS = 1000
READY = """(image) => { const v = document.querySelector('.srv-compare');
    return !!v && v.dataset.state === 'ready' && (image === null || v.dataset.image === image); }"""


def make_synthetic_run(out: Path, datasets: list[str], n_methods: int, data_root: Path) -> Path:
    """A SYNTHETIC run folder (saved images + per_image.csv + run.json with their checksums); see the docstring."""
    import pandas as pd

    from srbench.data.sets import load_dataset
    from srbench.data.imageio import write_png
    from srbench.metrics import evaluate
    from srbench.run.runner import saved_image_checksums

    rows = []
    rng = np.random.default_rng(0)
    for dataset in datasets:
        for image in load_dataset(dataset, data_root):
            for k in range(n_methods):
                method = f"synthetic-{k + 1:02d}"
                noise = rng.normal(0.0, 2.0 + 2.0 * k, image.hr.shape)
                sr = np.clip(np.rint(image.hr + noise), 0, 255).astype(np.uint8)
                write_png(out / "images" / method / dataset / image.name, sr)
                psnr, ssim = evaluate(sr, image.hr, protocol="matlab", is_gray=image.is_gray)
                rows.append([dataset, image.name, method, "matlab", psnr, ssim])
    pd.DataFrame(rows, columns=["dataset", "image", "method", "protocol", "psnr", "ssim"]).to_csv(
        out / "per_image.csv", index=False, float_format="%.6f")
    record = {"SYNTHETIC": "HR plus Gaussian noise, made by bench/bench_view.py; not a result",
              "protocols": ["matlab"], "saved_images": saved_image_checksums(out / "images")}
    (out / "run.json").write_text(json.dumps(record, indent=1))
    return out


def start(runs: list[Path], protocol: str) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "srbench", "view", *map(str, runs), "--protocol", protocol,
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # srbench view checks every saved image's checksum before serving
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"srbench view did not start: {proc.stderr.read() if proc.stderr else ''}")


def stop(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def timed(page, action, image: str | None) -> float:
    t0 = time.perf_counter()
    action()
    page.wait_for_function(READY, arg=image, timeout=60000, polling="raf")
    return time.perf_counter() - t0


def figures(name: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return (f"{name:40s} n={len(values):3d}  median {statistics.median(values) * 1000:7.0f} ms  "
            f"p90 {p90 * 1000:7.0f} ms  max {values[-1] * 1000:7.0f} ms")


def next_images(page, order: list[str], steps: int) -> list[float]:
    """Click "next" ``steps`` times; seconds from each click to the next image drawn in every panel.

    The page shows an image it has fetched ahead at once; a pause of 1 s between clicks (a person looks at
    each image) leaves time for that. ``--no-pause`` clicks at once (then the fetch ahead may not be done)."""
    current = page.evaluate("() => document.querySelector('.srv-compare').dataset.image")
    out = []
    for _ in range(steps):
        nxt = order[(order.index(current) + 1) % len(order)]
        out.append(timed(page, lambda: page.click("button.srv-step[data-step='1']"), nxt))
        current = nxt
        page.wait_for_timeout(PAUSE_MS)
    return out


def jumps(page, order: list[str], steps: int) -> list[float]:
    """Choose ``steps`` images far apart in the image list (typed into it); seconds until every panel shows the
    image. These were not fetched ahead: the server reads them and the browser downloads and decodes them."""
    out = []
    box = page.locator("[data-testid=stMain] [data-testid=stSelectbox] input")
    current = page.evaluate("() => document.querySelector('.srv-compare').dataset.image")
    for k in range(steps):
        target = order[(order.index(current) + len(order) // 2 + k) % len(order)]
        box.click()
        box.fill(target)
        out.append(timed(page, lambda: page.keyboard.press("Enter"), target))
        current = target
        page.wait_for_timeout(PAUSE_MS)
    return out


def measure(browser, url: str, query: str, dataset_order: list[str], steps: int, interactions: bool) -> list[str]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1200})
    page = ctx.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(f"{url}/?{query}")
        page.wait_for_function(READY, arg=None, timeout=120000, polling="raf")
        lines = [f"{'first page load (cold session)':40s} {time.perf_counter() - t0:.2f} s"]
        lines.append(figures("next image, all panels drawn", next_images(page, dataset_order, steps)))
        lines.append(figures("another image from the list (not ahead)", jumps(page, dataset_order, steps)))
        if interactions:
            page.focus(".srv-compare")
            pans = []
            for i in range(steps):
                key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
                pans.append(timed(page, lambda: page.keyboard.press(key), None))
            lines.append(figures("pan (arrow key), all panels redrawn", pans))
            zooms = []
            for i in range(steps):
                z = (4, 2)[i % 2]
                t0 = time.perf_counter()
                page.click(f"button.srv-zoom[data-zoom='{z}']")
                page.wait_for_function("(z) => location.search.includes('zoom=' + z)", arg=str(z), timeout=60000,
                                       polling="raf")
                page.wait_for_function(READY, arg=None, timeout=60000, polling="raf")
                zooms.append(time.perf_counter() - t0)
            lines.append(figures("zoom, redrawn and kept in the URL", zooms))
        return lines
    finally:
        ctx.close()


def images_of(run: Path, dataset: str) -> list[str]:
    import pandas as pd

    rows = pd.read_csv(run / "per_image.csv")
    return list(dict.fromkeys(rows[rows.dataset == dataset].image))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny: Set5 x 2 SYNTHETIC methods, 2 steps")
    parser.add_argument("--runs", nargs="+", type=Path, help="time case 1 on these real runs instead")
    parser.add_argument("--protocol", default="paper", help="the protocol of --runs (default: paper)")
    parser.add_argument("--work", type=Path, help="keep the SYNTHETIC runs in this folder and reuse them "
                        "(default: a temporary folder, removed)")
    parser.add_argument("--steps", type=int, default=10, help="images stepped through per case (default: 10)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from srbench.data.sets import resolve_data_root

    data_root = resolve_data_root(None)
    print(f"machine load average (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs (may be shared)")
    steps = 2 if args.smoke else args.steps
    cases = []
    with tempfile.TemporaryDirectory(prefix="bench-view-") as scratch:
        tmp = args.work or Path(scratch)
        if args.runs:
            import pandas as pd

            sets = pd.read_csv(args.runs[0] / "per_image.csv").dataset
            dataset = sets.value_counts().index[0]
            cases.append((f"case 1: {dataset}, runs {', '.join(str(r) for r in args.runs)} (real)", args.runs,
                          args.protocol, dataset, images_of(args.runs[0], dataset), False))
        elif args.smoke:
            run = make_synthetic_run(Path(tmp) / "smoke", ["set5"], 2, data_root)
            cases.append(("smoke: Set5 x 2 methods (SYNTHETIC)", [run], "matlab", "set5", images_of(run, "set5"), True))
        else:
            t0 = time.perf_counter()
            eight, ten = Path(tmp) / "bsd100x8", Path(tmp) / "all119x10"
            if not (eight / "run.json").is_file():
                make_synthetic_run(eight, ["bsd100"], 8, data_root)
            if not (ten / "run.json").is_file():
                make_synthetic_run(ten, ["set5", "set14", "bsd100"], 10, data_root)
            print(f"SYNTHETIC runs ready in {time.perf_counter() - t0:.0f} s (in {tmp})")
            cases.append(("case 1: BSD100 x 8 methods (SYNTHETIC runs)", [eight], "matlab", "bsd100",
                          images_of(eight, "bsd100"), False))
            cases.append(("case 2: 119 images x 10 methods (SYNTHETIC runs), on BSD100", [ten], "matlab", "bsd100",
                          images_of(ten, "bsd100"), True))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for title, runs, protocol, dataset, order, interactions in cases:
                    proc, url = start(runs, protocol)
                    try:
                        lines = measure(browser, url, f"set={dataset}&image={order[0]}&zoom=2", order, steps,
                                        interactions)
                    finally:
                        stop(proc)
                    print(title)
                    for line in lines:
                        print("  " + line)
            finally:
                browser.close()
    print(f"target: next image drawn in every panel in under {TARGET_S:.0f} s after the first load")
    if args.smoke:
        print("smoke run: the figures mean nothing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
