"""`srbench report` (placeholder: being written; see the open issue)."""

from srbench.errors import SrbenchError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="(not yet implemented)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise SrbenchError("'srbench report' is not implemented yet")
