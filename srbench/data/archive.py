"""Safe reading of zip and tar archives for ``srbench datasets fetch``.

Only what the caller asks for is extracted, and only as regular files written
by this module (never with ``ZipFile.extract`` / ``TarFile.extract``), so:

* an archive whose member names are absolute or climb out with ``..`` is
  refused as a whole (such an archive is malformed or malicious);
* symlinks, hard links and device entries are never created: asking for one
  is an error;
* each extracted file is cut off at a byte limit given by the caller, so a
  "zip bomb" cannot fill the disk (the later checksum check then fails).
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from srbench.errors import DataError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_COPY_BLOCK = 1 << 20


def is_archive_name(name: str) -> bool:
    """True if ``name`` (a file name or URL path) ends like a zip or tar archive."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _normalize_member(name: str, archive: str) -> str:
    """Return ``name`` as a clean relative POSIX path, or raise if it is unsafe."""
    unified = name.replace("\\", "/")
    parts = PurePosixPath(unified).parts
    if unified.startswith("/") or re.match(r"^[A-Za-z]:", unified) or ".." in parts:
        raise DataError(
            f"{archive}: unsafe member path {name!r} (absolute or escaping with '..'); "
            "refusing to extract from this archive"
        )
    return "/".join(p for p in parts if p not in ("", "."))


class ArchiveReader:
    """An open zip or tar archive: member names, their kinds, and safe extraction.

    ``files`` lists the regular files (normalized relative paths),
    ``special`` the symlinks, hard links and other non-regular entries.
    Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike, label: str | None = None):
        self.path = Path(path)
        self.label = label or str(self.path)  # how messages name the archive (e.g. its URL)
        self.files: dict[str, object] = {}
        self.special: set[str] = set()
        try:
            if zipfile.is_zipfile(self.path):
                self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self.path)
                self._tar: tarfile.TarFile | None = None
                self._index_zip()
            elif tarfile.is_tarfile(self.path):
                self._zip = None
                self._tar = tarfile.open(self.path, "r:*")
                self._index_tar()
            else:
                raise DataError(f"{self.label}: not a zip or tar archive")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            self.close()
            raise DataError(f"{self.label}: corrupt or unreadable archive ({exc})") from exc

    def _index_zip(self) -> None:
        for info in self._zip.infolist():
            name = _normalize_member(info.filename, self.label)
            if info.is_dir() or not name:
                continue
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip stores no type
            if file_type and file_type != stat.S_IFREG:
                self.special.add(name)
            else:
                self.files[name] = info

    def _index_tar(self) -> None:
        for member in self._tar.getmembers():
            name = _normalize_member(member.name, self.label)
            if member.isdir() or not name:
                continue
            if member.isfile():
                self.files[name] = member
            else:
                self.special.add(name)

    def top_level_dirs(self) -> set[str]:
        """First path components of all members that sit inside a folder."""
        return {n.split("/", 1)[0] for n in (*self.files, *self.special) if "/" in n}

    def extract(self, wanted: dict[str, int], dest: str | os.PathLike) -> list[str]:
        """Write each member named in ``wanted`` that exists to ``dest/<name>``.

        ``wanted`` maps a normalized member name to its byte limit; at most
        ``limit + 1`` bytes are written (so an oversized member is detectably
        too long, yet bounded). Members are read in archive order (fast for
        compressed tar streams). Returns the names extracted.
        Raises :class:`DataError` if a wanted member is a link or special file.
        """
        dest = Path(dest)
        for name in wanted:
            if name in self.special:
                raise DataError(f"{self.label}: member {name!r} is a link or special file; refusing to extract it")
        order = self._zip.infolist() if self._zip else self._tar.getmembers()
        done = []
        try:
            for member in order:
                raw = member.filename if self._zip else member.name
                name = _normalize_member(raw, self.label)
                if name not in wanted or self.files.get(name) is not member:
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = self._zip.open(member) if self._zip else self._tar.extractfile(member)
                with src, open(target, "wb") as out:
                    _copy_limited(src, out, wanted[name] + 1)
                done.append(name)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{self.label}: corrupt archive or failed extraction ({exc})") from exc
        return done

    def close(self) -> None:
        for handle in (getattr(self, "_zip", None), getattr(self, "_tar", None)):
            if handle is not None:
                handle.close()

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _copy_limited(src, out, limit: int) -> None:
    left = limit
    while left > 0:
        block = src.read(min(_COPY_BLOCK, left))
        if not block:
            return
        out.write(block)
        left -= len(block)

