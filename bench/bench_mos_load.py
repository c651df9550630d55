"""The MOS rating app under load: K raters at once, each in their own browser context, against real servers.

For every K (default 1, 2, 4, 8) it builds nothing new: one study of real BSD100 images (HR and the
nearest-neighbour 4x of the shipped LR, 480x320 / 320x480 px, as in bench_mos_latency.py) is served by
fresh ``srbench mos serve`` processes on 127.0.0.1 (``--servers N``: N processes sharing one SQLite answer
file, raters spread over them round-robin, as a study on one machine would run them behind a proxy with
sticky sessions). K raters (separate contexts of one headless Chromium, Debian's /usr/bin/chromium, driven
concurrently through Playwright's async API) each rate the calibration pair and then ``--ratings`` images.
Each click is timed inside the page, from the click to the next image painted (as in
bench_mos_latency.py). Afterwards the answer file is compared with every click made:

* errors: raters whose run raised (a timeout, a page that never showed the next image);
* lost: clicks whose answer is not stored with that score; duplicated: stored answers beyond one per click.

    python bench/bench_mos_load.py                        # K = 1, 2, 4, 8 on one server process
    python bench/bench_mos_load.py --raters 8 --servers 2 # 8 raters over two server processes
    python bench/bench_mos_load.py --smoke                # K = 2, 3 ratings each (for the test suite)

Prints one line per K (click-to-next p50 / p90 / max in ms, errors, lost, duplicated) and the machine's load
average: the numbers depend on the machine and on what else runs on it, so quote them with it.
Needs $SRBENCH_DATA (benchmark sets) and $SRBENCH_TRAIN_DATA (bsd200 for calibration).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mos_latency import CHROMIUM, CHROMIUM_ARGS, CLICK_AND_WAIT, build_study, serve  # noqa: E402

P90_LIMIT_MS = 500
READY = ("(p) => { const v = document.querySelector('.mos-viewer'); return !!v && v.dataset.p === String(p)"
         " && [...v.querySelectorAll('button.mos-score')].every(b => !b.disabled); }")
BEGIN = ("() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Begin' && !b.disabled)")


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..1) of an ascending list."""
    return sorted_ms[min(len(sorted_ms) - 1, int(round(q * (len(sorted_ms) - 1))))]


async def one_rater(browser, url: str, rater: str, ratings: int, clicked: dict, times: list, errors: list) -> None:
    """Rate the calibration pair (1, then 5) and ``ratings`` images; note every click and its latency."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await ctx.new_page()
        await page.goto(f"{url}/?rater={rater}")
        await page.wait_for_function(BEGIN, timeout=120000)
        await page.get_by_role("button", name="Begin").click()
        offset = sum(map(ord, rater))
        for p, score in enumerate([1, 5] + [1 + (k + offset) % 5 for k in range(ratings)]):
            await page.wait_for_function(READY, arg=p, timeout=120000)
            clicked[rater][p] = score  # noted before the click: a click that is then lost counts as lost
            ms = await page.evaluate(CLICK_AND_WAIT, [score, p + 1])
            if p >= 2:  # calibration clicks are not timed
                times.append(ms)
    except Exception as exc:  # noqa: BLE001 (every failure of a rater is counted and reported)
        errors.append(f"{rater}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    finally:
        await ctx.close()


async def run_k(urls: list[str], k: int, ratings: int) -> tuple[dict, list, list, float]:
    """K raters at once over ``urls`` (round-robin); returns (clicks, latencies, errors, wall seconds)."""
    from playwright.async_api import async_playwright

    raters = [f"k{k}r{i}" for i in range(k)]
    clicked: dict[str, dict[int, int]] = {r: {} for r in raters}
    times: list[float] = []
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        t0 = time.monotonic()
        await asyncio.gather(*(one_rater(browser, urls[i % len(urls)], r, ratings, clicked, times, errors)
                               for i, r in enumerate(raters)))
        wall = time.monotonic() - t0
        await browser.close()
    return clicked, times, errors, wall


def compare(db: Path, clicked: dict[str, dict[int, int]]) -> tuple[int, int]:
    """(lost, duplicated): clicks without their stored answer, stored answers beyond one per clicked image."""
    lost = duplicated = 0
    with sqlite3.connect(db) as conn:
        for rater, clicks in clicked.items():
            rows = conn.execute("SELECT presentation, score FROM answers WHERE rater = ?", (rater,)).fetchall()
            stored: dict[int, list[int]] = {}
            for p, s in rows:
                stored.setdefault(p, []).append(s)
            lost += sum(1 for p, s in clicks.items() if stored.get(p, [None])[0] != s)
            duplicated += sum(len(v) - 1 for v in stored.values()) + sum(1 for p in stored if p not in clicks)
    return lost, duplicated


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raters", default="1,2,4,8", help="comma-separated K values (default 1,2,4,8)")
    ap.add_argument("--ratings", type=int, default=12, help="timed ratings per rater (default 12)")
    ap.add_argument("--servers", type=int, default=1, help="server processes sharing the answer file (default 1)")
    ap.add_argument("--min-view-s", type=float, default=0.5, help="the study's minimum viewing time (default 0.5)")
    ap.add_argument("--smoke", action="store_true", help="K = 2, 3 ratings each, on a 3-image study")
    args = ap.parse_args(argv)
    ks = [2] if args.smoke else [int(k) for k in args.raters.split(",") if k.strip()]
    ratings = 3 if args.smoke else args.ratings
    if not ks or min(ks) < 1 or args.servers < 1 or ratings < 1:
        ap.error("--raters, --servers and --ratings must be positive")
    images = (ratings + 2) // 2 + 1  # two versions per photo: always a next image after the last timed click
    print(f"{os.cpu_count()} CPUs; load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.servers} server process(es), {ratings} timed ratings per rater, min viewing time "
          f"{args.min_view_s:g} s; BSD100 480x320/320x480 PNGs, headless Chromium contexts")
    over: list[int] = []  # K values whose p90 passed the limit (or that had no timed click)
    with tempfile.TemporaryDirectory(prefix="mos-load-") as tmp:
        study = build_study(Path(tmp) / "study", images, args.min_view_s)
        for k in ks:
            db = Path(tmp) / f"ratings-k{k}.sqlite"
            procs, urls = [], []
            try:
                for _ in range(args.servers):
                    proc, url = serve(study, db)
                    procs.append(proc)
                    urls.append(url)
                clicked, times, errors, wall = asyncio.run(run_k(urls, k, ratings))
            finally:
                for proc in procs:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            lost, duplicated = compare(db, clicked)
            times.sort()
            load = os.getloadavg()[0]
            if times:
                p50, p90, worst = (percentile(times, q) for q in (0.5, 0.9, 1.0))
                figures = f"p50 {p50:.0f} ms, p90 {p90:.0f} ms, max {worst:.0f} ms"
                if p90 > P90_LIMIT_MS:
                    over.append(k)
            else:
                figures = "no timed clicks"
                over.append(k)
            print(f"K={k}: click-to-next over {len(times)} ratings: {figures}; errors {len(errors)}, lost {lost}, "
                  f"duplicated {duplicated}; {wall:.1f} s; load average {load:.2f}")
            for e in errors:
                print(f"  error: {e}")
    print(f"first K with p90 > {P90_LIMIT_MS} ms: {min(over) if over else f'none up to {max(ks)}'} "
          f"(load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
