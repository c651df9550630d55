"""Atomic file writes: the one way srbench publishes a file.

A file is written under a temporary name in its destination folder, flushed
to disk (``fsync``) and renamed over the destination (``os.replace``), so a
reader sees the old file or the new one, never a half-written one, and a
crash leaves at most a ``.NAME.XXXXXXXX.tmp.SUFFIX`` file behind. Files get
the mode ``open()`` would give (``0o666`` minus the umask: 0644 under the
usual umask 022), unlike :func:`tempfile.mkstemp`'s 0600.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

FILE_MODE = 0o666  # before the umask, as open() does
DIR_MODE = 0o777


def _temp_name(path: Path) -> Path:
    # the final suffix stays last: writers such as PIL and matplotlib pick the format from it
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")


def _create(path: Path) -> tuple[int, Path]:
    while True:
        tmp = _temp_name(path)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


@lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _publish(tmp: Path, path: Path) -> None:
    # a library may have re-created the file (safetensors writes 0600): give it open()'s mode again
    os.chmod(tmp, FILE_MODE & ~_umask())
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@contextmanager
def atomic_path(path: str | os.PathLike,
                unchanged: Callable[[Path, Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that take a file name (``safetensors``, PIL, matplotlib). The
    temporary file already exists (empty, mode as :func:`open` gives) and keeps
    ``path``'s suffix. With ``unchanged(new, old)``: when ``path`` exists and
    that returns True, the new file is discarded and ``path`` is left as it was
    (its bytes and times), e.g. a figure that shows the same as before.
    """
    path = Path(path)
    fd, tmp = _create(path)
    os.close(fd)
    try:
        yield tmp
        if unchanged is not None and path.is_file() and unchanged(tmp, path):
            tmp.unlink()
        else:
            _publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (``str`` is encoded with ``encoding``, newlines untranslated) to ``path`` atomically."""
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = _create(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        _publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def make_staging_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new, uniquely named folder in ``parent`` with the mode ``mkdir`` gives (not mkdtemp's 0700).

    For folders that are filled and then renamed into place as a whole (a MOS
    study); the caller removes it (:func:`remove_tree`) if it is not published.
    """
    parent = Path(parent)
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir(DIR_MODE)
            return folder
        except FileExistsError:  # pragma: no cover
            continue


def remove_tree(folder: str | os.PathLike) -> None:
    """Delete ``folder`` and everything in it, if it exists."""
    shutil.rmtree(folder, ignore_errors=True)
