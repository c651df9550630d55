"""Start-up cost of the command line and of naming methods (issue 15: ``srbench --version`` < 0.5 s).

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
import time

COMMANDS = {
    "srbench --version": [sys.executable, "-m", "srbench", "--version"],
    "srbench --help": [sys.executable, "-m", "srbench", "--help"],
    "list_methods()": [sys.executable, "-c", "import srbench; srbench.list_methods()"],
    "import torch (for scale)": [sys.executable, "-c", "import torch"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--smoke", action="store_true", help="one run per command")
    args = parser.parse_args()
    repeat = 1 if args.smoke else max(1, args.repeat)
    for label, cmd in COMMANDS.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        print(f"{label}: median {statistics.median(times):.3f} s, fastest {min(times):.3f} s ({repeat} runs)")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
