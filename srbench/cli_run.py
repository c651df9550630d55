"""`srbench run` (placeholder: being written; see the open issue)."""

from srbench.errors import SrbenchError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="(not yet implemented)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise SrbenchError("'srbench run' is not implemented yet")
