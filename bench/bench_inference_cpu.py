"""Time CPU inference of the full SRResNet (16 blocks, 64 channels) on Set5's LR images.

The weights are random (no trained checkpoint is needed): the cost of
inference does not depend on their values. Prints the seconds per image and
for the whole set, for the plain (NCHW) and channels_last memory layouts, and
the CPU time used (steadier than wall time on a shared machine).

    python bench/bench_inference_cpu.py [--data-root DIR] [--threads N] [--repeats R] [--smoke]

``--smoke`` times a tiny SRResNet (1 block, 8 channels) on Set5's smallest
image once (a test runs it so the script cannot rot; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from srbench.methods.srgan_family import build_srresnet  # noqa: E402
from srbench.methods.tiling import upscale_tiled  # noqa: E402
from srbench.data.sets import load_dataset, resolve_data_root  # noqa: E402


def time_set(model: torch.nn.Module, images, repeats: int) -> tuple[float, float, list[float]]:
    """Best-of-``repeats`` pass over the set: (wall seconds, process CPU seconds, per-image wall seconds).

    CPU seconds are the process's user + system time over all threads; on a
    shared machine they vary less than the wall time.
    """
    best = (float("inf"), 0.0, [])
    for _ in range(repeats):
        times, cpu0 = [], time.process_time()
        for image in images:
            start = time.perf_counter()
            upscale_tiled(model, image.lr, device="cpu", output_range=(-1, 1))
            times.append(time.perf_counter() - start)
        if sum(times) < best[0]:
            best = (sum(times), time.process_time() - cpu0, times)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", help="folder holding set5/ (default: $SRBENCH_DATA, else the cache)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the set; the best is reported (default 2)")
    parser.add_argument("--smoke", action="store_true", help="tiny network, smallest image, one pass (self-check)")
    args = parser.parse_args()

    torch.set_num_threads(max(1, args.threads))
    images = load_dataset("set5", resolve_data_root(args.data_root))
    torch.manual_seed(0)
    if args.smoke:
        images = [min(images, key=lambda im: im.lr.size)]
        model, args.repeats = build_srresnet(num_blocks=1, channels=8).eval(), 1
    else:
        model = build_srresnet().eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, Set5 ({len(images)} images), "
          f"SRResNet {sum(p.numel() for p in model.parameters()):,} parameters, random weights"
          + (" (smoke: figures mean nothing)" if args.smoke else ""))
    with torch.inference_mode():  # warm-up (allocator, kernels)
        model(torch.rand(1, 3, 32, 32))
    for layout in ("contiguous", "channels_last"):
        if layout == "channels_last":
            model = model.to(memory_format=torch.channels_last)
        total, cpu, per_image = time_set(model, images, args.repeats)
        detail = ", ".join(f"{im.name} {im.lr.shape[1]}x{im.lr.shape[0]} {t:.2f}s" for im, t in zip(images, per_image))
        print(f"{layout:14s} set5 wall {total:.2f} s, cpu {cpu:.2f} s  ({detail})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
