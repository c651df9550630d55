"""``srbench run``: super-resolve benchmark sets and write per-image metrics."""

from __future__ import annotations

import argparse

from srbench.data.sets import DATASETS
from srbench.metrics import DEFAULT_METRICS, METRICS, PROTOCOLS
from srbench.cli.arguments import whole_number
from srbench.run.registry import add_plugin_flag

EPILOG = """\
examples:
  srbench run --methods all --datasets set5,set14,bsd100
  srbench run --methods nn,bicubic --datasets set5 --protocol paper --save-images
  srbench run --methods external:selfexsr=/data/SelfExSR_x4 --datasets bsd100
  srbench run --methods published:srgan-vgg54,srresnet-mse --datasets set5,set14
  srbench run --plugin my_sr_methods --methods my-sr,bicubic --datasets set5
  srbench run --methods all --metrics psnr,ssim,niqe
  srbench run --methods external:mine=/data/my_sr --metrics niqe

Metrics (--metrics): psnr,ssim (default; computed together under each --protocol)
and niqe (no-reference, lower = more natural: measured once per image, also on
the HR images, with the authors' pristine model - fetch it once with
'srbench datasets fetch --niqe-model'; a missing model stops the run before any work).

Methods: registry names (see 'srbench run --list-methods'), 'all' (every method
that can run here; the others are listed with the reason they were skipped),
or external:NAME=DIR for a folder of ready-made SR images named like the HR files.
published:srresnet-mse and published:srgan-vgg54 are the SRGAN authors' released images
(Set5, Set14; fetch them with 'srbench datasets fetch --datasets ledig2017'); once
installed they are part of 'all', as reference rows of their own.
Methods of other packages: installed 'srbench.methods' entry points, --plugin MODULE
or $SRBENCH_PLUGINS.
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="super-resolve benchmark sets 4x and compute Y-PSNR/SSIM (and NIQE) per image",
        description="Super-resolve benchmark sets 4x with the chosen methods and compute Y-channel "
        "PSNR/SSIM (4-pixel border crop) per image under each named protocol, and optionally NIQE.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--methods", default="all", help="comma-separated method names, or 'all' (default)")
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated, from {', '.join(DATASETS)}, or all (the default)")
    p.add_argument("--protocol", "--protocols", dest="protocols", default=",".join(PROTOCOLS),
                   help="metric protocols, comma-separated, any case: paper (daala tools, the SRGAN paper's), "
                   "matlab (community); default: both")
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                   help=f"comma-separated, from {', '.join(METRICS)} or all (default: {','.join(DEFAULT_METRICS)}); "
                   "psnr and ssim go together")
    p.add_argument("--niqe-model", metavar="PATH",
                   help="NIQE's model file (default: $SRBENCH_NIQE_MODEL, else datasets/cache/niqe/)")
    p.add_argument("--data-root", help="folder holding set5/ set14/ bsd100/ (default: $SRBENCH_DATA, else datasets/cache)")
    p.add_argument("--published-root", help="folder holding the published releases (default: $SRBENCH_PUBLISHED, "
                   "else published/ in the data root, or beside it)")
    p.add_argument("--out", help="output folder (default: a new folder under results/runs/)")
    p.add_argument("--save-images", action="store_true", help="also write the SR images as PNG under OUT/images/")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run in --out")
    p.add_argument("--fresh", action="store_true",
                   help="measure everything again: do not continue an interrupted run in --out (by default the "
                   "same command continues it, reusing the (set, method) groups it finished whose inputs, method, "
                   "checkpoint SHA-256, protocols and code revision are unchanged)")
    p.add_argument("--jobs", type=whole_number(1), default=None,
                   help="worker processes computing metrics (default: one per usable CPU core for 24+ images; 1 = none)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--list-methods", action="store_true", help="list the registered methods and whether they can run, then exit")
    add_plugin_flag(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from srbench.run import registry
    from srbench.data.sets import resolve_data_root
    from srbench.metrics import parse_metrics
    from srbench.data.releases import method_settings
    from srbench.run.runner import format_summary, parse_list, run_benchmark

    registry.load_plugins(args.plugin)
    if args.list_methods:
        print(format_method_list(method_settings(["all"], args.published_root, args.data_root)))
        return 0
    names = parse_list(args.methods)
    metrics = parse_metrics(parse_list(args.metrics))  # a bad --metrics is named before the data root is looked at
    result = run_benchmark(
        names,
        parse_list(args.datasets),
        data_root=resolve_data_root(args.data_root),
        out_dir=args.out,
        protocols=parse_list(args.protocols),
        save_images=args.save_images,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        jobs=args.jobs,
        log=print,  # external: coverage, before the progress bar starts
        method_settings=method_settings(names, args.published_root, args.data_root),
        metrics=metrics,
        niqe_model=args.niqe_model,
        fresh=args.fresh,
    )
    for name, reason in result.skipped.items():
        print(f"skipped {name}: {reason}")
    for key, names in result.missing.items():
        print(f"partial {key}: no output for {len(names)} image(s): {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    print(format_summary(result.summary))
    print(f"\nwrote {result.out_dir}/per_image.csv, summary.csv, run.json in {result.seconds:.1f} s")
    return 0


def format_method_list(settings: dict | None = None) -> str:
    """Every registered method (with its aliases) and whether it can run here, then the families' patterns and
    the family members that ``all`` includes (the published images) with their state. ``settings`` (e.g.
    ``published_root``) go to the methods that take them."""
    from srbench.run import registry

    settings = settings or {}
    lines = []
    for info in registry.list_methods(families=True):
        if info.family:
            description = info.description.removeprefix(info.usage).lstrip(" -:")
            lines.append(f"{info.usage:24s} family ({info.kind}): {description}")
            if info.members_in_all:
                for member in info.members:
                    name = f"{info.name}:{member}"
                    reason = registry.get_method(name, **registry.settings_for(name, settings)).availability()
                    lines.append(f"  {name:22s} {'ready' if reason is None else 'unavailable: ' + reason}")
            continue
        label = info.name + (f" ({', '.join(info.aliases)})" if info.aliases else "")
        reason = registry.get_method(info.name, **registry.settings_for(info.name, settings)).availability()
        lines.append(f"{label:24s} {'ready' if reason is None else 'unavailable: ' + reason}")
    return "\n".join(lines + ["all                      every method above that is ready, the published images "
                               "included once fetched (srbench run --methods all)"])
