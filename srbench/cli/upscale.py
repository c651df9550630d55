"""``srbench upscale``: super-resolve your own images 4x with any method that computes its output."""

from __future__ import annotations

import argparse

from srbench.cli.arguments import whole_number
from srbench.run.registry import add_plugin_flag
from srbench.run.upscale import DEFAULT_TILE  # imports nothing heavy

EPILOG = """\
examples:
  srbench upscale photo.jpg --method srresnet-mse
  srbench upscale photos/ more/scan.png --method srresnet-mse --out photos-x4
  srbench upscale big.png --method bicubic --out x4 --overwrite
  srbench upscale big.png --method srcnn --tile 0 --device cpu
  srbench upscale photos/ --method checkpoint:my-espcn=results/runs/espcn --skip-bad
  srbench upscale --list-methods

Inputs: PNG, JPEG, WebP, GIF, BMP and TIFF files, and folders (searched
recursively for the same kinds). Each output is a lossless PNG:
OUT/<name>.png for a file, OUT/<path below the folder>.png for a folder's
images. Gray images stay gray; fully opaque RGBA is accepted; transparent
and 16-bit images are refused. Photos are read as a viewer shows them: the
EXIF orientation is applied and an embedded ICC colour profile is converted
to sRGB (the PNG is written without a profile, i.e. sRGB); animated GIF/WebP
and multi-page TIFF are refused (extract a frame first). A bad image inside
a folder stops everything before any work, unless --skip-bad: then it is
skipped, listed, and the command exits with status 1.
OUT/srbench-upscale.json records the method, its checkpoint (sidecar
summary, SHA-256), the code revision and every input -> output pair.
Inputs are never overwritten; existing outputs only with --overwrite.
Methods: see 'srbench run --list-methods' (external:/published methods
re-read stored benchmark results and cannot upscale other images).
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "upscale",
        help="super-resolve your own images or folders 4x (PNG, JPEG, WebP)",
        description="Upscale image files and folders 4x with a registered method; large images are cut "
                    "into tiles with enough context that the result equals whole-image upscaling.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files and/or folders")
    p.add_argument("--method", metavar="NAME", help="method name or alias, e.g. srresnet-mse, bicubic, or "
                   "checkpoint:LABEL=DIR (your own trained checkpoint)")
    p.add_argument("--list-methods", action="store_true",
                   help="list the methods that can upscale your images and whether they can run here, then exit")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable, animated or otherwise refused images inside folders (listed; exit status 1)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./upscaled-METHOD)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
    p.add_argument("--tile", type=whole_number(0, meaning_of_low="0: whole images"), default=DEFAULT_TILE, metavar="PX",
                   help=f"tile side in LR pixels (bounds the network's memory; default {DEFAULT_TILE}; 0: whole "
                   "images); a tile smaller than the network's context is refused")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where networks run (default auto: CUDA when available, else the CPU)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_plugin_flag(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from srbench.run import registry
    from srbench.run.upscale import upscale_files

    registry.load_plugins(args.plugin)
    if args.list_methods:
        from srbench.run.upscale import format_upscale_methods

        print(format_upscale_methods())
        return 0
    if not args.inputs or not args.method:
        from srbench.errors import SrbenchError

        raise SrbenchError("give image files or folders and --method NAME (srbench upscale --list-methods lists them)")
    result = upscale_files(args.inputs, args.method, out_dir=args.out, overwrite=args.overwrite, tile=args.tile,
                           device=args.device, progress=not args.no_progress, log=print, skip_bad=args.skip_bad)
    for source, why in result.skipped:
        print(f"skipped {source}: {why}")
    print(f"wrote {len(result.written)} image(s) with {result.method} to {result.out_dir} in {result.seconds:.1f} s "
          f"(provenance: {result.provenance})" + (f"; {len(result.skipped)} skipped" if result.skipped else ""))
    return 1 if result.skipped else 0
