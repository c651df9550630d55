"""``srbench datasets fetch|verify|list``: install and check the benchmark sets."""

from __future__ import annotations

import argparse

from srbench.data import DATASETS, data_root_choice, resolve_data_root
from srbench.errors import DataError
from srbench.fetch import (
    DEFAULT_TIMEOUT_S,
    fetch_datasets,
    manifest_files,
    parse_datasets,
    scratch_folders,
    set_status,
    verify_set,
)

DATA_ROOT_HELP = "folder holding set5/ set14/ bsd100/ (default: $SRBENCH_DATA, else datasets/cache in the project)"
DATASETS_HELP = f"comma-separated, from {', '.join(DATASETS)} (default: all)"

FETCH_EPILOG = """\
sources (--source):
  (none)                  the public SelfExSR repository on GitHub, file by file
  https://host/x.zip      an archive (.zip, .tar, .tar.gz, .tgz, ...) in either layout
  https://host/base       a server with BASE/<set>/HR/NAME.png and BASE/<set>/LR_bicubic_x4/NAME.png
  DIR                     a folder in the srbench layout (<set>/HR, <set>/LR_bicubic_x4) or the
                          SelfExSR layout (data/Set5/image_SRF_4/img_001_SRF_4_HR.png ...)
  FILE.zip | FILE.tar.gz  a local archive in either layout (one top-level folder is fine)

Every file is checked against the SHA-256 in datasets/manifests/<set>.json. Each set
is installed atomically: a failed or interrupted fetch leaves no partial set behind.

examples:
  srbench datasets fetch
  srbench datasets fetch --datasets set5 --source ~/Downloads/SelfExSR-master.zip
  srbench datasets fetch --source https://github.com/jbhuang0604/SelfExSR/archive/refs/heads/master.zip
  srbench datasets fetch --source ../shared/datasets/benchmark --data-root /data/srbench
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "datasets",
        help="fetch, verify and list the benchmark sets (Set5, Set14, BSD100)",
        description="Install the benchmark sets into the data root, check them, or list them.",
        epilog="examples:\n  srbench datasets fetch\n  srbench datasets verify\n  srbench datasets list\n"
               "  srbench datasets fetch --source ../shared/datasets/benchmark --data-root /data/srbench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    fetch = actions.add_parser(
        "fetch",
        help="download or copy the sets, verifying every file",
        description="Install benchmark sets into the data root, verifying every file's SHA-256.",
        epilog=FETCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("--source", help="URL, folder or archive to install from (default: SelfExSR on GitHub)")
    fetch.add_argument("--datasets", default="all", help=DATASETS_HELP)
    fetch.add_argument("--data-root", help=DATA_ROOT_HELP)
    fetch.add_argument("--force", action="store_true", help="fetch again even if a set is already present and valid")
    fetch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                       help=f"seconds before a network operation is abandoned (default {DEFAULT_TIMEOUT_S:g})")
    fetch.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    fetch.set_defaults(func=_fetch)

    verify = actions.add_parser(
        "verify",
        help="check the installed sets file by file",
        description="Check each set: missing or extra files, checksum mismatches, unreadable images, "
        "LR x4 != HR size. Lists every problem, one per line; exit status 1 if any.",
        epilog="examples:\n  srbench datasets verify\n  srbench datasets verify --datasets set14 --data-root /data/srbench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--datasets", default="all", help=DATASETS_HELP)
    verify.add_argument("--data-root", help=DATA_ROOT_HELP)
    verify.set_defaults(func=_verify)

    listing = actions.add_parser("list", help="the known sets and whether the data root has them",
                                 description="List the known sets, their image counts and their state in the data root.",
                                 epilog="examples:\n  srbench datasets list\n  srbench datasets list --data-root /data/srbench",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("--data-root", help=DATA_ROOT_HELP)
    listing.set_defaults(func=_list)

    p.set_defaults(func=lambda args: _help(p))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _fetch(args: argparse.Namespace) -> int:
    results = fetch_datasets(
        args.datasets, args.data_root, args.source,
        force=args.force, timeout=args.timeout, progress=not args.no_progress, log=print,
    )
    installed = sum(r.status == "installed" for r in results)
    print(f"done: {installed} set(s) installed, {len(results) - installed} already present")
    return 0


def _verify(args: argparse.Namespace) -> int:
    root = resolve_data_root(args.data_root)
    names = parse_datasets(args.datasets)
    problems = [line for name in names for line in verify_set(name, root / name)]
    for line in problems:
        print(line)
    for folder in scratch_folders(root):
        print(f"note: {folder} is the temp folder of a killed (or still running) fetch; delete it if no fetch runs")
    if problems:
        print(f"{len(problems)} problem(s) in {root}; 'srbench datasets fetch' replaces damaged sets")
        return 1
    files = sum(len(manifest_files(n)) for n in names)
    print(f"OK: {', '.join(names)} in {root} ({files} files, all checksums match)")
    return 0


def _list(args: argparse.Namespace) -> int:
    root, origin = data_root_choice(args.data_root)
    if root.exists() and not root.is_dir():
        raise DataError(f"data root {root} (from {origin}) is a file, not a folder holding set5/, set14/, bsd100/")
    exists = root.is_dir()
    print(f"data root: {root} (from {origin}){'' if exists else ' - does not exist yet'}")
    print(f"{'set':8s} {'images':>6s} {'MB':>6s}  state")
    for name in DATASETS:
        specs = manifest_files(name)
        state = set_status(name, root) if exists else "not fetched"
        print(f"{name:8s} {len(specs) // 2:6d} {sum(s.bytes for s in specs) / 1e6:6.1f}  {state}")
    return 0
