"""`srbench datasets` (placeholder: being written; see the open issue)."""

from srbench.errors import SrbenchError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("datasets", help="(not yet implemented)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise SrbenchError("'srbench datasets' is not implemented yet")
