"""Time NIQE (``srbench.metrics.niqe``) on every image of Set5, Set14 and BSD100.

    python bench/bench_niqe.py [--data-root DIR] [--model PATH] [--sources hr,bicubic] [--smoke]

For each source ("hr": the HR images; "bicubic": MATLAB-bicubic 4x upscales
of the LR images, made before the clock starts) it scores all 119 images in
one process and prints the per-set mean NIQE, the n/a count, wall and
process-CPU seconds, images per second, and the load average before and
after (the machine may be shared: CPU time is the steadier figure). The
model is loaded (and checksum-verified) once, before timing. ``--smoke``
scores two Set5 images only (a test runs it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from srbench.data.sets import DATASETS, load_dataset, resolve_data_root  # noqa: E402
from srbench.errors import SrbenchError  # noqa: E402
from srbench.metrics.niqe import niqe  # noqa: E402
from srbench.metrics.niqe_model import load_model  # noqa: E402
from srbench.data.resize import imresize  # noqa: E402

SOURCES = ("hr", "bicubic")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", help="folder with set5/, set14/, bsd100/ (default: $SRBENCH_DATA)")
    parser.add_argument("--model", help="NIQE model file (default: $SRBENCH_NIQE_MODEL, else the data cache)")
    parser.add_argument("--sources", default="hr,bicubic", help=f"comma-separated, from {', '.join(SOURCES)}")
    parser.add_argument("--smoke", action="store_true", help="two Set5 images, HR only (a quick self-check)")
    args = parser.parse_args(argv)
    try:
        sources = ["hr"] if args.smoke else [s.strip() for s in args.sources.split(",") if s.strip()]
        unknown = sorted(set(sources) - set(SOURCES))
        if unknown or not sources:
            raise SrbenchError(f"unknown --sources {', '.join(unknown) or '(none)'}; choose from {', '.join(SOURCES)}")
        root = resolve_data_root(args.data_root)
        model = load_model(args.model)
        sets = {name: load_dataset(name, root) for name in (["set5"] if args.smoke else DATASETS)}
        if args.smoke:
            sets["set5"] = sets["set5"][:2]
    except SrbenchError as exc:
        print(f"bench_niqe: error: {exc}", file=sys.stderr)
        return 2
    for source in sources:
        inputs = {
            ds: [(im.hr if source == "hr" else imresize(im.lr, 4, kernel="bicubic"), im.is_gray) for im in images]
            for ds, images in sets.items()
        }
        count = sum(len(v) for v in inputs.values())
        print(f"{source}: {count} images; before: {load_average()}")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for ds, items in inputs.items():
            results = [niqe(img, model=model, is_gray=gray) for img, gray in items]
            values = [r.value for r in results if r.available]
            mean = f"{np.mean(values):.4f}" if values else "n/a"
            print(f"  {ds:7s} n={len(items):3d}  mean NIQE {mean}  n/a {len(items) - len(values)}")
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        print(f"{source}: {wall:.2f} s wall, {cpu:.2f} s CPU, {count / wall:.2f} images/s; after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
