"""Start-up cost of the command line and of naming methods (issue 15: ``srbench --version`` < 0.5 s).

Also ``srbench datasets list|verify`` and ``srbench report`` (on the SYNTHETIC
fixture run of the tests), which must not import torch; their time includes
their work (hashing Set5, building the report), not only the start-up.

Runs each command in a fresh interpreter ``--repeat`` times and prints the
median and the fastest wall time in seconds, plus the load average (the
machine is shared: compare figures taken at similar load). ``--smoke`` runs
each command once (the test suite uses it).

    python bench/bench_startup.py [--repeat 7] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = os.environ.get("SRBENCH_DATA") or str(ROOT.parent / "shared" / "datasets" / "benchmark")
FIXTURE_RUN = str(ROOT / "tests" / "fixtures" / "report" / "synthetic-classic")
SRBENCH = [sys.executable, "-m", "srbench"]


def commands(scratch: str) -> dict[str, list[str]]:
    """The timed command lines; ``scratch`` is a temporary folder for the report's output."""
    return {
        "srbench --version": [*SRBENCH, "--version"],
        "srbench --help": [*SRBENCH, "--help"],
        "srbench datasets list": [*SRBENCH, "datasets", "list", "--data-root", DATA],
        "srbench datasets verify --datasets set5": [*SRBENCH, "datasets", "verify", "--datasets", "set5",
                                                     "--data-root", DATA],
        "srbench report (SYNTHETIC fixture run)": [*SRBENCH, "report", "--runs", FIXTURE_RUN, "--out",
                                                   os.path.join(scratch, "report")],
        "list_methods()": [sys.executable, "-c", "import srbench; srbench.list_methods()"],
        "import torch (for scale)": [sys.executable, "-c", "import torch"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--smoke", action="store_true", help="one run per command")
    args = parser.parse_args()
    repeat = 1 if args.smoke else max(1, args.repeat)
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as scratch:
        for label, cmd in commands(scratch).items():
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - start)
            print(f"{label}: median {statistics.median(times):.3f} s, fastest {min(times):.3f} s ({repeat} runs)")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
