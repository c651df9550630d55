"""``srbench datasets fetch|verify|list``: install and check the benchmark sets, published releases and NIQE's model."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from srbench.data.sets import DATASETS, data_root_choice, resolve_data_root
from srbench.errors import DataError, SrbenchError
from srbench.data.releases import (
    RELEASES,
    is_release,
    published_root_choice,
    release_files,
    release_status,
    verify_release,
)
from srbench.data.fetch import (
    DEFAULT_TIMEOUT_S,
    fetch_datasets,
    manifest_files,
    parse_datasets,
    scratch_folders,
    set_status,
    verify_set,
)

DATA_ROOT_HELP = "folder holding set5/ set14/ bsd100/ (default: $SRBENCH_DATA, else datasets/cache in the project)"
DATASETS_HELP = (f"comma-separated, from {', '.join(DATASETS)} (default: all = these three), and the published "
                 f"release(s) {', '.join(RELEASES)} (the SRGAN authors' images; only when named)")
PUBLISHED_ROOT_HELP = ("folder holding published releases (default: $SRBENCH_PUBLISHED, else published/ in the data "
                       "root, or beside it when only that one exists)")

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

published release ledig2017 (the SRGAN paper's own SRResNet-MSE and SRGAN-VGG54 images
on Set5 and Set14; no licence stated: for research comparison, cite the paper):
  srbench datasets fetch --datasets ledig2017        # from the public GitHub copy, file by file
  srbench datasets fetch --datasets ledig2017 --source ../shared/datasets/published
  srbench datasets verify --datasets ledig2017
It is installed as PUBLISHED_ROOT/ledig2017/<method>/<set>/NAME.png (datasets/manifests/ledig2017.json
pins every file) and evaluated as published:srresnet-mse and published:srgan-vgg54.

--niqe-model fetches NIQE's pristine model instead of the sets (the authors'
modelparameters.mat, SHA-256 checked; needed by 'srbench run --metrics ...,niqe').
It goes to $SRBENCH_NIQE_MODEL if set, else datasets/cache/niqe/; --source is then
a URL or a local copy of the file (default: the public URLs in srbench/data/niqe_model.json):
  srbench datasets fetch --niqe-model
  srbench datasets fetch --niqe-model --source ../shared/reference/niqe_modelparameters.mat
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "datasets",
        help="fetch, verify and list the benchmark sets (Set5, Set14, BSD100) and NIQE's model",
        description="Install the benchmark sets into the data root (or NIQE's model), check them, or list them.",
        epilog="examples:\n  srbench datasets fetch\n  srbench datasets verify\n  srbench datasets list\n"
               "  srbench datasets fetch --source ../shared/datasets/benchmark --data-root /data/srbench\n"
               "  srbench datasets fetch --niqe-model\n  srbench datasets verify --niqe-model",
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
    fetch.add_argument("--datasets", default=None, help=DATASETS_HELP)
    fetch.add_argument("--data-root", help=DATA_ROOT_HELP)
    fetch.add_argument("--published-root", help=PUBLISHED_ROOT_HELP)
    fetch.add_argument("--niqe-model", action="store_true",
                       help="fetch NIQE's pristine model instead of the sets (see below)")
    fetch.add_argument("--force", action="store_true", help="fetch again even if a set is already present and valid "
                       "(NIQE's model: a valid file is always kept, an altered one always replaced)")
    fetch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                       help=f"seconds before a network operation is abandoned (default {DEFAULT_TIMEOUT_S:g})")
    fetch.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    fetch.set_defaults(func=_fetch)

    verify = actions.add_parser(
        "verify",
        help="check the installed sets file by file",
        description="Check each set: missing or extra files, checksum mismatches, unreadable images, "
        "LR x4 != HR size. Lists every problem, one per line; exit status 1 if any.",
        epilog="examples:\n  srbench datasets verify\n  srbench datasets verify --datasets set14 --data-root /data/srbench"
               "\n  srbench datasets verify --niqe-model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--datasets", default=None, help=DATASETS_HELP)
    verify.add_argument("--data-root", help=DATA_ROOT_HELP)
    verify.add_argument("--published-root", help=PUBLISHED_ROOT_HELP)
    verify.add_argument("--niqe-model", action="store_true",
                        help="check NIQE's model file instead ($SRBENCH_NIQE_MODEL, else datasets/cache/niqe/)")
    verify.set_defaults(func=_verify)

    listing = actions.add_parser("list", help="the known sets and whether the data root has them",
                                 description="List the known sets, their image counts and their state in the data root.",
                                 epilog="examples:\n  srbench datasets list\n  srbench datasets list --data-root /data/srbench",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("--data-root", help=DATA_ROOT_HELP)
    listing.add_argument("--published-root", help=PUBLISHED_ROOT_HELP)
    listing.set_defaults(func=_list)

    p.set_defaults(func=lambda args: _help(p))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _split_names(text: str) -> tuple[list[str], list[str]]:
    """``--datasets`` -> (benchmark sets, published releases); a release is fetched only when named."""
    items = [i.strip() for i in text.split(",") if i.strip()]
    releases = list(dict.fromkeys(i.lower() for i in items if is_release(i)))
    rest = [i for i in items if not is_release(i)]
    if releases and not rest:
        return [], releases
    return parse_datasets(",".join(rest) if rest else text), releases  # text naming nothing: parse_datasets says so


def _model_only(args: argparse.Namespace, action: str) -> None:
    """Refuse set options beside ``--niqe-model`` (the model is fetched/checked on its own)."""
    given = [flag for flag, value in (("--datasets", args.datasets), ("--data-root", args.data_root),
                                      ("--published-root", args.published_root)) if value is not None]
    if given:
        verb = {"fetch": "fetches", "verify": "checks"}[action]
        raise SrbenchError(f"--niqe-model {verb} only NIQE's model; {' and '.join(given)} "
                           f"{'belongs' if len(given) == 1 else 'belong'} to the sets: run "
                           f"'srbench datasets {action}' for them separately")


def _fetch(args: argparse.Namespace) -> int:
    if args.niqe_model:
        _model_only(args, "fetch")
        from srbench.metrics.niqe_model import fetch_model, manifest, model_path_choice

        if not (args.timeout > 0 and math.isfinite(args.timeout)):
            raise SrbenchError(f"--timeout must be a positive number of seconds, got {args.timeout}")
        dest, origin = model_path_choice(None)  # where 'srbench run' will look; a valid file there is kept
        try:
            path = fetch_model(args.source, dest, timeout=args.timeout, progress=not args.no_progress)
        except OSError as exc:
            raise SrbenchError(f"cannot install NIQE's model at {dest}: {exc.strerror or exc}") from None
        print(f"NIQE model at {path} (from {origin}): sha256 {manifest()['sha256']} OK")
        return 0
    from srbench.data.releases_fetch import fetch_release

    sets, releases = _split_names("all" if args.datasets is None else args.datasets)
    results = []
    if sets:
        results += fetch_datasets(
            sets, args.data_root, args.source,
            force=args.force, timeout=args.timeout, progress=not args.no_progress, log=print,
        )
    for release in releases:
        results.append(fetch_release(release, args.published_root, args.source, data_root=args.data_root,
                                     force=args.force, timeout=args.timeout, progress=not args.no_progress, log=print))
    installed = sum(r.status == "installed" for r in results)
    print(f"done: {installed} installed, {len(results) - installed} already present")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.niqe_model:
        _model_only(args, "verify")
        from srbench.metrics.niqe_model import load_model

        model = load_model()
        print(f"OK: NIQE model {model.path}: sha256 {model.sha256}")
        return 0
    sets, releases = _split_names("all" if args.datasets is None else args.datasets)
    problems, checked, scratch, files = [], [], [], 0
    if sets:
        root = resolve_data_root(args.data_root)
        problems += [line for name in sets for line in verify_set(name, root / name)]
        scratch += scratch_folders(root)
        checked.append(f"{', '.join(sets)} in {root}")
        files += sum(len(manifest_files(n)) for n in sets)
    for release in releases:
        proot, _ = published_root_choice(args.published_root, args.data_root)
        problems += verify_release(release, proot / release)
        scratch += scratch_folders(proot) if proot.is_dir() else []
        checked.append(f"{release} in {proot}")
        files += len(release_files(release))
    for line in problems:
        print(line)
    for folder in scratch:
        print(f"note: {folder} is the temp folder of a killed (or still running) fetch; delete it if no fetch runs")
    if problems:
        print(f"{len(problems)} problem(s); 'srbench datasets fetch --datasets NAME --force' replaces a damaged "
              "set or release")
        return 1
    print(f"OK: {'; '.join(checked)} ({files} files, all checksums match)")
    return 0


def _list(args: argparse.Namespace) -> int:
    root, origin = data_root_choice(args.data_root)
    if root.exists() and not root.is_dir():
        raise DataError(f"data root {root} (from {origin}) is a file, not a folder holding set5/, set14/, bsd100/")
    exists = root.is_dir()
    print(f"data root: {root} (from {origin}){'' if exists else ' - does not exist yet'}")
    print(f"{'set':10s} {'images':>6s} {'MB':>6s}  state")
    for name in DATASETS:
        specs = manifest_files(name)
        state = set_status(name, root) if exists else "not fetched"
        print(f"{name:10s} {len(specs) // 2:6d} {sum(s.bytes for s in specs) / 1e6:6.1f}  {state}")
    proot, porigin = published_root_choice(args.published_root, args.data_root)
    print(f"published root: {proot} (from {porigin})")
    for release in RELEASES:
        files = release_files(release)
        print(f"{release:10s} {len(files):6d} {sum(f.bytes for f in files) / 1e6:6.1f}  "
              f"{release_status(release, Path(proot))}")
    print(f"NIQE model: {_model_state()}")
    return 0


def _model_state() -> str:
    """One line: where NIQE's model is looked for and whether it is there and intact."""
    from srbench.metrics.niqe_model import FETCH_COMMAND, NiqeModelError, model_path_choice, verify_file

    path, origin = model_path_choice(None)
    if not path.is_file():
        return f"{path} (from {origin}) - not fetched ('{FETCH_COMMAND}')"
    try:
        verify_file(path)
    except NiqeModelError:
        return f"{path} (from {origin}) - altered or a different model ('{FETCH_COMMAND}' replaces it)"
    return f"{path} (from {origin}) - OK"
