"""The ``srbench`` command line: a thin layer over the importable API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``;
the parser it adds sets ``func`` (called with the parsed arguments, returning
an exit status). Errors derived from :class:`SrbenchError`, and any
``OSError`` a command meets, are printed as one clear line on stderr with
exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

from srbench import __version__
from srbench.errors import SrbenchError, describe_os_error

SUBCOMMANDS = {
    "run": "srbench.cli.run",
    "upscale": "srbench.cli.upscale",
    "datasets": "srbench.cli.datasets",
    "train": "srbench.cli.train",
    "report": "srbench.cli.report",
    "mos": "srbench.cli.mos",
    "view": "srbench.cli.view",
}
SUBCOMMAND_MODULES = tuple(SUBCOMMANDS.values())


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``srbench`` parser with every subcommand, or only the subcommand ``only`` (faster start)."""
    parser = argparse.ArgumentParser(
        prog="srbench",
        description="Reproducible 4x super-resolution benchmark and MOS study toolkit (SRGAN re-creation).",
    )
    parser.add_argument("--version", action="version", version=f"srbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # answered before every subcommand (and numpy, pandas, torch) is imported
        print(f"srbench {__version__}")
        return 0
    try:
        # a known subcommand first: only its module is imported (Ctrl-C may land here)
        parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("srbench: interrupted", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader went away (srbench run --list-methods | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit does not fail again
        return 1
    except SrbenchError as exc:
        print(f"srbench {args.command}: error: {exc}", file=sys.stderr)
        _print_notes(exc)
        return 2
    except OSError as exc:  # the file system failed where no layer expected it: one line, no traceback
        print(f"srbench {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        _print_notes(exc)
        return 2
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"srbench {args.command}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        _print_notes(exc)
        return 143 if terminated else 130


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a job scheduler), handled like Ctrl-C: commands clean up and say what they left."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While a command runs, SIGTERM raises :class:`Terminated` (commands may install their own handler)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_notes(exc: BaseException) -> None:
    """What the command left behind, attached to the exception (PEP 678 notes) where it stopped."""
    for note in getattr(exc, "__notes__", ()):
        print(f"  {note}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
