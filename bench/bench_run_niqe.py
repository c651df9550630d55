"""Time a whole ``srbench run`` with and without NIQE (``--metrics psnr,ssim`` vs ``psnr,ssim,niqe``).

    python bench/bench_run_niqe.py [--methods all] [--datasets set5,set14,bsd100] [--repeat 1] [--jobs N] [--smoke]

After an untimed warm-up run (imports, model checksum, caches), each repeat
runs the two variants back to back (without NIQE first, then with), each into a fresh temporary folder through :func:`srbench.run.runner.run_benchmark`
(the API behind ``srbench run``: same workers, same files). Printed per
variant: wall seconds (median over repeats), CPU seconds of this process and
of its worker processes, and the number of NIQE evaluations (images x
(methods + HR)); then the overhead of NIQE in seconds and per cent, and the
load average before and after (the machine may be shared). The NIQE model is
``$SRBENCH_NIQE_MODEL`` or the data cache. ``--smoke``: nearest on Set5, one
process (a test runs it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srbench.data.sets import resolve_data_root  # noqa: E402
from srbench.errors import SrbenchError  # noqa: E402
from srbench.run.runner import parse_list, run_benchmark  # noqa: E402

VARIANTS = (("without NIQE", ("psnr", "ssim")), ("with NIQE", ("psnr", "ssim", "niqe")))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def time_run(methods: list[str], datasets: list[str], metrics: tuple[str, ...], root: Path,
             jobs: int | None) -> tuple[float, float, float, int]:
    """``(wall s, own CPU s, workers' CPU s, NIQE evaluations)`` of one run into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-run-niqe-") as tmp:
        cpu0 = _cpu()
        start = time.perf_counter()
        result = run_benchmark(methods, datasets, data_root=root, out_dir=Path(tmp) / "run", progress=False,
                               jobs=jobs, metrics=metrics)
        wall = time.perf_counter() - start
        cpu1 = _cpu()
        niqe_rows = int((result.per_image["protocol"] == "").sum()) if "niqe" in metrics else 0
    return wall, cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], niqe_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="all", help="as 'srbench run --methods' (default: all)")
    parser.add_argument("--datasets", default="set5,set14,bsd100", help="comma-separated (default: all three)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (default 1; the median is printed)")
    parser.add_argument("--jobs", type=int, default=None, help="metric worker processes (default: srbench run's)")
    parser.add_argument("--data-root", help="folder with set5/, set14/, bsd100/ (default: $SRBENCH_DATA)")
    parser.add_argument("--smoke", action="store_true", help="nearest on Set5 in one process (a quick self-check)")
    args = parser.parse_args(argv)
    methods, datasets, jobs = parse_list(args.methods), parse_list(args.datasets), args.jobs
    if args.smoke:
        methods, datasets, jobs, args.repeat = ["nearest"], ["set5"], 1, 1
    try:
        if args.repeat < 1:
            raise SrbenchError("--repeat must be at least 1")
        root = resolve_data_root(args.data_root)
        # untimed warm-up: imports, the model's checksum, metric caches (else the first variant pays for them)
        time_run(["nearest"], datasets[:1], VARIANTS[1][1], root, 1)
        before = load_average()
        times: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name, _ in VARIANTS}
        for _ in range(args.repeat):
            for name, metrics in VARIANTS:
                times[name].append(time_run(methods, datasets, metrics, root, jobs))
    except SrbenchError as exc:
        print(f"bench_run_niqe: error: {exc}", file=sys.stderr)
        return 2
    after = load_average()
    label = "smoke " if args.smoke else ""
    print(f"{label}srbench run --methods {','.join(methods)} --datasets {','.join(datasets)} "
          f"(jobs {jobs if jobs else 'default'}, {args.repeat} repeat(s), median wall)")
    medians = {}
    for name, _ in VARIANTS:
        runs = times[name]
        medians[name] = statistics.median(r[0] for r in runs)
        own = statistics.median(r[1] for r in runs)
        workers = statistics.median(r[2] for r in runs)
        print(f"{name:13s} {medians[name]:8.2f} s wall, CPU {own:.2f} s here + {workers:.2f} s in workers, "
              f"{runs[0][3]} NIQE evaluations")
    extra = medians["with NIQE"] - medians["without NIQE"]
    print(f"NIQE adds {extra:.2f} s ({100 * extra / medians['without NIQE']:.0f}% of the run without it)")
    print(f"load average before: {before}; after: {after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
