"""The ``srbench`` command line: a thin layer over the importable API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``;
the parser it adds sets ``func`` (called with the parsed arguments, returning
an exit status). Errors derived from :class:`SrbenchError` are printed as one
clear line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from srbench import __version__
from srbench.errors import SrbenchError

SUBCOMMAND_MODULES = (
    "srbench.cli.run",
    "srbench.cli.upscale",
    "srbench.cli.datasets",
    "srbench.methods.cli_train",
    "srbench.cli.report",
    "srbench.mos_app.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srbench",
        description="Reproducible 4x super-resolution benchmark and MOS study toolkit (SRGAN re-creation).",
    )
    parser.add_argument("--version", action="version", version=f"srbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # answered before every subcommand (and numpy, pandas, torch) is imported
        print(f"srbench {__version__}")
        return 0
    try:
        parser = build_parser()  # imports every subcommand: Ctrl-C may land here
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("srbench: interrupted", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SrbenchError as exc:
        print(f"srbench {args.command}: error: {exc}", file=sys.stderr)
        _print_notes(exc)
        return 2
    except KeyboardInterrupt as exc:
        print(f"srbench {args.command}: interrupted", file=sys.stderr)
        _print_notes(exc)
        return 130


def _print_notes(exc: BaseException) -> None:
    """What the command left behind, attached to the exception (PEP 678 notes) where it stopped."""
    for note in getattr(exc, "__notes__", ()):
        print(f"  {note}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
