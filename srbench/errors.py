"""User-facing errors.

Everything the user can cause (a missing folder, a corrupt PNG, a bad flag)
raises a subclass of :class:`SrbenchError`. The CLI prints its message on
stderr and exits with status 2, never with a traceback.
"""


class SrbenchError(Exception):
    """An error caused by input or environment, reported without traceback."""


class DataError(SrbenchError):
    """Missing, corrupt, mismatched or unsupported dataset files."""


class ImageError(DataError):
    """A single image file is unreadable, truncated or of an unsupported kind."""


class UnknownMethod(SrbenchError):
    """A method name that is not registered (the message lists the names one can use)."""


class MethodUnavailable(SrbenchError):
    """A registered method cannot run here (for example: no checkpoint)."""


class MissingOutput(SrbenchError):
    """A method has no SR output for one image (e.g. an external result folder lacks it)."""
