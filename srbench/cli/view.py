"""``srbench view``: a pixel-exact comparison viewer for runs, served on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from srbench.data.sets import DATASETS

EPILOG = """\
Pages: the images of a set with every method's PSNR/SSIM (NIQE where measured), sortable by one
method's value or by the difference between two methods; one image's methods side by side with HR,
one image pixel per device pixel, one synchronised region (zoom 1x/2x/4x/8x nearest neighbour, drag
or arrow keys to pan), an absolute-difference map against HR; the view lives in the URL (copy the
link to share it); export the grid as PNG (laid out like the report's Figure 2) and the region as text.

Runs: folders written by 'srbench run --save-images' (run.json records the SHA-256 of each image; an
image that does not match is refused). A run without saved images is refused unless --regenerate:
then its images are remade from the recorded methods (checkpoints checked by SHA-256, each image
checked against the run's per-image row), with a progress bar on the page. With no RUN and no
--methods, the committed results (results/metrics/*) are shown, regenerated that way.

examples:
  srbench view results/runs/mine results/runs/baseline
  srbench view --methods nn,bicubic --datasets set5          # runs them first (--save-images)
  srbench view                                               # the committed results
  srbench view results/metrics/srresnet-mse --regenerate --port 8600
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "view", help="compare runs' SR images side by side, pixel-exact, in the browser",
        description="Serve a local page comparing the SR images of 'srbench run' folders: a sortable image "
                    "list and synchronised pixel-exact panels with zoom, pan and difference maps.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", metavar="RUN", help="'srbench run' output folders")
    p.add_argument("--methods", help="also run these methods first (comma-separated, as 'srbench run --methods'), "
                   "saving their images")
    p.add_argument("--datasets", default="set5", help=f"the sets for --methods, from {', '.join(DATASETS)} "
                   "(default: set5)")
    p.add_argument("--out", help="folder for the --methods run (default: a new folder under results/runs/)")
    p.add_argument("--regenerate", action="store_true",
                   help="remake the images of runs that saved none from their recorded methods")
    p.add_argument("--protocol", default="paper", choices=("paper", "matlab"),
                   help="whose PSNR/SSIM the list shows (default: paper)")
    p.add_argument("--data-root", help="benchmark images (default: $SRBENCH_DATA, else datasets/cache)")
    p.add_argument("--published-root", help="the authors' released images (default: $SRBENCH_PUBLISHED, "
                   "else published/ in or beside the data root)")
    p.add_argument("--port", type=int, default=8502, help="TCP port (default: 8502)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--check", action="store_true", help="check the runs and exit without serving")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from srbench.data.sets import resolve_data_root
    from srbench.errors import SrbenchError
    from srbench.data.releases import method_settings
    from srbench.view import views

    if not 1 <= args.port <= 65535:
        raise SrbenchError(f"--port {args.port} is not a TCP port (1..65535)")
    data_root = resolve_data_root(args.data_root)
    runs, regenerate = list(args.runs), args.regenerate
    if args.methods:
        runs.append(str(views.produce(args.methods, args.datasets, data_root=data_root, out=args.out,
                                      published_root=args.published_root)))
    if not runs:
        runs, regenerate = [str(p) for p in views.committed_runs()], True
    settings = method_settings(["all"], args.published_root, args.data_root)
    collection = views.check(runs, protocol=args.protocol, regenerate=regenerate, settings=settings)
    for note in collection.notes:
        print(f"srbench view: note: {note}", file=sys.stderr)
    print(f"srbench view: {len(collection.columns)} method(s) of {len(collection.runs)} run(s); "
          f"sets {', '.join(collection.sets())}", file=sys.stderr)
    if args.check:
        return 0
    exec_page({"runs": [str(Path(r).resolve()) for r in runs], "protocol": args.protocol,
               "regenerate": regenerate, "data_root": str(data_root.resolve()), "settings": _plain(settings)},
              port=args.port, address=args.address)
    return 0


def exec_page(config: dict, *, port: int, address: str) -> None:
    """Serve the page on ``address:port`` (checked first: one error line if it cannot listen); does not return."""
    from srbench.cli.mos import check_listen, streamlit_flags
    from srbench.view.serve import ENV_CONFIG, PAGE, write_config

    check_listen(address, port)
    env = dict(os.environ)
    env[ENV_CONFIG] = str(write_config(config))
    cmd = [sys.executable, "-m", "streamlit", "run", str(PAGE), *streamlit_flags(port, address)]
    print(f"srbench view: serving http://{address}:{port}/", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # replaced by Streamlit: signals (Ctrl-C, SIGTERM) reach the server directly, no orphaned child
    os.execve(sys.executable, cmd, env)


def _plain(settings: dict) -> dict:
    return {k: str(v) for k, v in settings.items()}
