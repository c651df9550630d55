"""Time the ``paper`` metric protocol and compare its set means with the SRGAN paper.

    python bench/bench_paper_metric.py [--data-root DIR] [--methods nearest,bicubic] [--smoke]

For each method: upscales every LR image of set5, set14 and bsd100 (outside
the timing), then times ``srbench.metrics.paper.psnr_ssim`` on all pairs and
prints per-set means next to the paper's Table 2 with the deviation, and the
wall and process CPU seconds (CPU time is steadier on a shared machine). The
first method also pays the one-time dither set-up and the HR Y' planes,
which later methods take from the memo. ``--smoke`` measures Set5's first
image (baby.png) only (a test runs it so the script cannot rot).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from srbench.data.sets import DATASETS, load_dataset, resolve_data_root  # noqa: E402
from srbench.metrics import paper  # noqa: E402
from srbench.paper_values import load_paper_values  # noqa: E402
from srbench.run.registry import get_method  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", help="folder with set5/, set14/, bsd100/ (default: $SRBENCH_DATA)")
    parser.add_argument("--methods", default="nearest,bicubic", help="comma-separated registry names")
    parser.add_argument("--smoke", action="store_true", help="Set5's first image only (self-check)")
    args = parser.parse_args()
    root = resolve_data_root(args.data_root)
    if args.smoke:
        sets = {"set5": load_dataset("set5", root)[:1]}
    else:
        sets = {name: load_dataset(name, root) for name in DATASETS}
    published = load_paper_values()  # (table, dataset, method) -> psnr/ssim/mos
    grand_wall = grand_cpu = 0.0
    for name in args.methods.split(","):
        method = get_method(name)
        pairs = {
            ds: [(method.upscale(im.lr, dataset=ds, name=im.name), im.hr) for im in images]
            for ds, images in sets.items()
        }
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for ds, items in pairs.items():
            psnr, ssim = np.mean([paper.psnr_ssim(sr, hr) for sr, hr in items], axis=0)
            ref = published.get((2, ds, method.name))
            dev = ""
            if ref:
                dev = (f"  paper {ref['psnr']:.2f} / {ref['ssim']:.4f}  "
                       f"dev {psnr - ref['psnr']:+.4f} dB {ssim - ref['ssim']:+.5f}")
            print(f"{name:10s} {ds:7s} n={len(items):3d}  {psnr:.4f} dB / {ssim:.5f}{dev}")
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        grand_wall, grand_cpu = grand_wall + wall, grand_cpu + cpu
        count = sum(len(v) for v in pairs.values())
        print(f"{name:10s} metric time for {count} pairs: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"all methods: {grand_wall:.2f} s wall, {grand_cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
