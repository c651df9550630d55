"""User-facing errors.

Everything the user can cause (a missing folder, a corrupt PNG, a bad flag)
raises a subclass of :class:`SrbenchError`. The CLI prints its message on
stderr and exits with status 2, never with a traceback. An ``OSError`` that
no layer turned into an :class:`SrbenchError` (a disk that fills up, a file
made read-only while a command runs) is printed the same way, through
:func:`describe_os_error`.
"""

from __future__ import annotations


class SrbenchError(Exception):
    """An error caused by input or environment, reported without traceback."""


class DataError(SrbenchError):
    """Missing, corrupt, mismatched or unsupported dataset files."""


class ImageError(DataError):
    """A single image file is unreadable, truncated or of an unsupported kind."""


class UnknownMethod(SrbenchError):
    """A method name that is not registered (the message lists the names one can use)."""


class MissingOutput(SrbenchError):
    """A method has no SR output for one image (e.g. an external result folder lacks it)."""


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: what failed and on which file(s), e.g.
    ``"Permission denied: /data/out/per_image.csv"``."""
    what = exc.strerror or str(exc) or type(exc).__name__
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    line = f"{what}: {' -> '.join(files)}" if files else what
    return " ".join(line.split())  # one line, whatever the message held
