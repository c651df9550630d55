"""`srbench report`: Tables 1-2 and Figures 2/6 and 5 of the SRGAN paper from run folders, images and MOS ratings."""

from __future__ import annotations

import argparse
import sys

from srbench.errors import SrbenchError
from srbench.run.registry import add_plugin_flag

EPILOG = """\
With no arguments, rebuilds results/report/ from the committed results:
every results/metrics/*/per_image.csv and results/ratings/*.csv|*.db.
Giving --runs, --ratings, or a non-default --protocol/--correction requires
--out (results/report/ is only ever rebuilt, with the defaults, from the
committed results).

Figure 2/6 (zoomed crops) regenerates its images: it reads the benchmark sets
(--data-root / $SRBENCH_DATA / datasets/cache), the authors' released images
(--published-root / $SRBENCH_PUBLISHED / published/ in or beside the data root)
and the checkpoints the runs recorded (checked by SHA-256); panels it cannot
regenerate exactly are left out and listed in report.md. To rebuild the
committed report byte for byte, make the data available, e.g.
  SRBENCH_DATA=../shared/datasets/benchmark srbench report

Rater screening (every rule, its threshold and source are listed in report.md):
too_fast min_median_response_ms=1000, straight_lining min_score_variance=0.15
(min_items=10), gold min_gold_accuracy=0.6, attention min_attention_accuracy=1,
calibration min_calibration_accuracy=0.7, retest max_retest_mean_abs_diff=1
(min_retest_pairs=4), bt500=on, correlation min_correlation=off. Change one with
--screening KEY=VALUE (VALUE 'off' switches a rule off); requires --out.

Examples:
  srbench report
  srbench report --runs results/runs/mine --ratings ratings.csv --out /tmp/report
  srbench report --ratings answers.db --screening min_gold_accuracy=0.8 --screening bt500=off --out /tmp/report
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="build Tables 1-2 and Figures 2/6 and 5 (Markdown, LaTeX, CSV, PNG/PDF) with significance tests",
        description="Build the paper's Tables 1-2 and Figure 5 from 'srbench run' folders and MOS ratings, "
                    "with our values beside the paper's, Wilcoxon significance tests, bootstrap MOS "
                    "confidence intervals, rater screening (speed, straight-lining, gold, attention, calibration, "
                    "test-retest, ITU-R BT.500), a subject model beside the plain MOS and a provenance header.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", nargs="+", metavar="DIR", help="'srbench run' output folders (holding per_image.csv)")
    p.add_argument("--ratings", nargs="+", metavar="CSV|DB", help="MOS ratings: long CSV or the MOS app's database")
    p.add_argument("--protocol", default="paper", choices=("paper", "matlab"), type=str.lower,
                   help="metric protocol of the tables (default: paper); rows of other protocols are ignored")
    p.add_argument("--correction", default="none", choices=("none", "holm"),
                   help="multiple-comparison correction for Table 1's significance marks (default: none, as the paper)")
    p.add_argument("--screening", action="append", default=[], metavar="KEY=VALUE",
                   help="rater-screening threshold (repeatable; see below); VALUE 'off' switches a rule off")
    p.add_argument("--out", metavar="DIR", help="output folder (default with no inputs given: results/report)")
    p.add_argument("--data-root", metavar="DIR", help="benchmark images for Figure 2/6 (default: $SRBENCH_DATA, "
                   "else datasets/cache)")
    p.add_argument("--published-root", metavar="DIR", help="the authors' released images for Figure 2/6 (default: "
                   "$SRBENCH_PUBLISHED, else published/ in or beside the data root)")
    add_plugin_flag(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from srbench import report
    from srbench.run import registry

    registry.load_plugins(args.plugin)  # their methods' table rows, aliases and kinds

    custom = args.runs is not None or args.ratings is not None
    if custom and not args.out:
        raise SrbenchError("--out is required with --runs/--ratings (results/report/ is rebuilt only from "
                           "the committed results; run 'srbench report' without arguments for that)")
    if not args.out and (args.protocol != "paper" or args.correction != "none" or args.screening):
        raise SrbenchError("--out is required with a non-default --protocol/--correction/--screening "
                           "(results/report/ holds the default report: protocol paper, no correction, "
                           "default screening)")
    from srbench.ratings.screening import ScreeningConfig

    screening = ScreeningConfig().with_overrides(args.screening)
    runs = args.runs if args.runs is not None else ([] if custom else report.default_runs())
    ratings = args.ratings if args.ratings is not None else ([] if custom else report.default_ratings())
    out = args.out or report.DEFAULT_OUT
    from srbench.data.sets import data_root_choice

    data_root, origin = data_root_choice(args.data_root)
    written = report.build_report(runs, ratings, out, protocol=args.protocol, correction=args.correction,
                                  screening=screening, data_root=args.data_root, published_root=args.published_root)
    if not data_root.is_dir():
        print(f"srbench report: note: no benchmark images at {data_root} (from {origin}): Figure 2/6 is not drawn "
              "(fetch them, or set --data-root / $SRBENCH_DATA)", file=sys.stderr)
    print(f"srbench report: wrote {len(written)} files to {out}", file=sys.stderr)
    return 0
