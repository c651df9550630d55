"""Regenerate the golden report tables (tests/golden/report_*/) after an intended change of the output.

    python tests/regenerate_goldens.py          # writes tests/golden/report_with_ratings/ and report_without_ratings/
    git diff tests/golden                        # review every changed line before committing

The test run itself never writes goldens (tests/test_report.py only compares), so a
failing comparison cannot be turned into a passing one by an environment variable.
The inputs are the SYNTHETIC fixtures the tests use (tests/fixtures/report and the
SYNTHETIC ratings of tests/test_report.py), built in a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_report import GOLDEN, GOLDEN_FILES, RUNS, write_ratings  # noqa: E402

from srbench import report  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden-dir", type=Path, default=GOLDEN,
                        help="where to write (default tests/golden; a test writes to a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        builds = {
            "report_with_ratings": [write_ratings(tmp / "synthetic_ratings.csv")],
            "report_without_ratings": [],
        }
        for name, ratings in builds.items():
            out = tmp / name
            report.build_report(RUNS, ratings, out)
            golden = args.golden_dir / name
            golden.mkdir(parents=True, exist_ok=True)
            for f in GOLDEN_FILES:
                changed = not (golden / f).is_file() or (golden / f).read_bytes() != (out / f).read_bytes()
                shutil.copyfile(out / f, golden / f)
                print(f"{'updated' if changed else 'unchanged'} {golden / f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
