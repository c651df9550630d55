"""CPU cost of ``srbench upscale``: one 512x512 LR image through SRResNet, tiled and untiled.

The input is Set14's HR ``lenna.png`` (512 x 512, a real photograph) used as
an LR image; the method is ``srresnet-mse`` with the committed checkpoint
(``results/checkpoints/srresnet-mse``), on the CPU. Each setting runs in a
fresh process (so one's memory does not hide another's) and reports

* seconds: wall time of :func:`srbench.run.upscale.upscale_array` alone (the
  network is built and loaded before the clock starts);
* peak RSS: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process at
  the end (resident memory high-water mark, MiB: Python, torch, the model, the
  LR/SR arrays and the network's activations), and the RSS just before the
  upscale (``/proc/self/statm``), so the difference is what upscaling added.

The load average is printed before and after (the machine may be shared).
``--smoke`` runs a 16 x 16 crop with 8-pixel tiles (the test suite uses it).

    python bench/bench_upscale.py [--size 512] [--tiles 0,128,256] [--threads N] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "benchmark"
METHOD = "srresnet-mse"


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(size: int, tile: int, data_root: Path, threads: int | None) -> dict:
    """One measurement in this process (see the module docstring)."""
    import torch

    from srbench.data.imageio import read_image
    from srbench.run.upscale import build_method, upscale_array

    if threads:
        torch.set_num_threads(threads)
    image, _ = read_image(data_root / "set14" / "HR" / "lenna.png")
    lr = image[:size, :size].copy()
    method = build_method(METHOD, device="cpu", tile=tile)
    method.checkpoint_info()  # loads the network now, outside the timing
    before = _rss_mib()
    start = time.perf_counter()
    sr = upscale_array(method, lr, tile=tile)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {"size": list(lr.shape[:2]), "sr": list(sr.shape[:2]), "tile": tile, "seconds": seconds,
            "rss_before_mib": before, "peak_rss_mib": peak, "threads": torch.get_num_threads(),
            "context": method.receptive_radius()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="LR side in pixels (default 512)")
    parser.add_argument("--tiles", default="0,128,256", help="tile sides to measure, 0 = untiled (default 0,128,256)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--data-root", default=os.environ.get("SRBENCH_DATA") or str(DEFAULT_DATA))
    parser.add_argument("--smoke", action="store_true", help="a 16x16 crop, tiles 0 and 8")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.size, args.tiles = 16, "0,8"
    tiles = [int(t) for t in args.tiles.split(",") if t.strip()]
    if args.worker:
        print(json.dumps(worker(args.size, tiles[0], Path(args.data_root), args.threads)))
        return 0
    print(f"srbench upscale --method {METHOD} on the CPU: {args.size}x{args.size} LR (Set14 HR lenna.png crop)")
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for tile in tiles:
        cmd = [sys.executable, __file__, "--worker", "--size", str(args.size), "--tiles", str(tile),
               "--data-root", args.data_root] + (["--threads", str(args.threads)] if args.threads else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        label = "untiled" if tile == 0 else f"tiled {tile}px"
        print(f"{label:>14s}: {r['seconds']:7.1f} s, peak RSS {r['peak_rss_mib']:7.0f} MiB "
              f"(RSS before upscaling {r['rss_before_mib']:.0f} MiB, context {r['context']} px, "
              f"{r['threads']} threads)")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
