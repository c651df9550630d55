"""Time the full classic run next to scikit-image's metrics on the same images.

    python bench/bench_run.py [--data-root DIR] [--smoke]

Measures, in one process on this machine:

1. ``srbench run`` as a user runs it: nearest + bicubic x set5, set14, bsd100
   x both protocols (data loading with checksums, upscaling, metrics, CSVs);
2. the metrics alone (both protocols) on those 2 x 119 SR/HR pairs;
3. the baseline: scikit-image ``structural_similarity`` (Gaussian, sigma 1.5,
   as Wang et al.) + ``peak_signal_noise_ratio`` on the Y channel of the same
   pairs, evaluated as many times as srbench evaluates (once per protocol).

Target (issue 2): step 1 under 30 s wall on the 2-core machine. ``--smoke``
does the same on Set5 only (a test runs it so the script cannot rot).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench import methods
from srbench.data.sets import DATASETS, load_dataset, resolve_data_root
from srbench.metrics import PROTOCOLS, evaluate
from srbench.run.runner import run_benchmark


def _luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root")
    parser.add_argument("--smoke", action="store_true", help="Set5 only (self-check; the target does not apply)")
    args = parser.parse_args()
    root = resolve_data_root(args.data_root)
    datasets = ["set5"] if args.smoke else list(DATASETS)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_benchmark(["nearest", "bicubic"], datasets, data_root=root, out_dir=Path(tmp) / "run",
                      progress=False)
        full_run = time.perf_counter() - t0

    pairs = []
    for dataset in datasets:
        for image in load_dataset(dataset, root):
            for name in ("nearest", "bicubic"):
                sr = methods.get_method(name).upscale(image.lr, dataset=dataset, name=image.name)
                pairs.append((sr, image.hr, image.is_gray))

    t0 = time.perf_counter()
    for sr, hr, gray in pairs:
        for protocol in PROTOCOLS:
            evaluate(sr, hr, protocol=protocol, is_gray=gray)
    ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    for sr, hr, _ in pairs:
        for _protocol in PROTOCOLS:
            y_sr, y_hr = _luma(sr)[4:-4, 4:-4], _luma(hr)[4:-4, 4:-4]
            peak_signal_noise_ratio(y_hr, y_sr, data_range=255)
            structural_similarity(y_hr, y_sr, data_range=255, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False)
    baseline = time.perf_counter() - t0

    n = len(pairs) * len(PROTOCOLS)
    if args.smoke:
        print(f"smoke srbench run (2 methods x set5 x 2 protocols):  {full_run:6.2f} s wall")
    else:
        print(f"full srbench run (2 methods x 3 sets x 2 protocols): {full_run:6.2f} s wall  (target < 30 s)")
    print(f"srbench metrics only, {n} evaluations:                {ours:6.2f} s")
    print(f"scikit-image SSIM+PSNR on Y, {n} evaluations:         {baseline:6.2f} s")


if __name__ == "__main__":
    main()
