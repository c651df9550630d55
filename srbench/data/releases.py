"""Published SR outputs: other authors' released images, pinned by a manifest and checked file by file.

A *release* (today one, ``ledig2017``: the SRGAN paper's own SRResNet-MSE and
SRGAN-VGG54 outputs on Set5 and Set14) is described by the package-data
manifest ``datasets/manifests/<release>.json``: for every file its method,
set, name, SHA-256, byte count, pixel size and its path in the public source.
Installed, a release is a folder ``<published root>/<release>/`` in the
layout ``<method>/<set>/NAME.png`` (NAME = the HR file's name).

The *published root* is, in this order: ``--published-root``, else
``$SRBENCH_PUBLISHED``, else ``published/`` inside the data root
(``--data-root`` / ``$SRBENCH_DATA`` / ``datasets/cache``). When that folder
does not exist but a ``published/`` folder *beside* the data root holds the
release (the layout of a shared data folder: ``datasets/benchmark`` next to
``datasets/published``), that one is used.

Nothing here decodes images except to report why an altered file is unusable;
``srbench datasets fetch|verify`` and the ``published:`` methods build on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from srbench.data.sets import MANIFEST_DIR, data_root_choice, read_packaged_manifest, sha256_file
from srbench.errors import DataError

RELEASES = ("ledig2017",)
ENV_VAR = "SRBENCH_PUBLISHED"
FOLDER = "published"


@dataclass(frozen=True)
class PublishedFile:
    """One released image: ``path`` is relative to the release folder (``srgan-vgg54/set5/baby.png``)."""

    release: str
    method: str
    dataset: str
    name: str
    path: str
    sha256: str
    bytes: int
    width: int  # pixels (the HR image's width)
    height: int
    source_path: str  # path in the public source repository


def is_release(name: str) -> bool:
    """True if ``name`` names a known release (``ledig2017``), case-insensitively."""
    return name.strip().lower() in RELEASES


def normalize_release(name: str) -> str:
    key = name.strip().lower()
    if key not in RELEASES:
        raise DataError(f"unknown published release {name!r}; known: {', '.join(RELEASES)}")
    return key


@lru_cache(maxsize=None)
def load_release(release: str) -> dict:
    """The parsed manifest of ``release``."""
    return read_packaged_manifest(MANIFEST_DIR / f"{normalize_release(release)}.json")


def manifest_sha256(release: str) -> str:
    """SHA-256 of the release's manifest (it pins every file's checksum)."""
    import hashlib

    return hashlib.sha256((MANIFEST_DIR / f"{normalize_release(release)}.json").read_bytes()).hexdigest()


def release_files(release: str, method: str | None = None, dataset: str | None = None) -> list[PublishedFile]:
    """The release's files (manifest order), optionally only one method's and/or one set's."""
    release = normalize_release(release)
    out = []
    for e in load_release(release)["files"]:
        if (method is None or e["method"] == method) and (dataset is None or e["dataset"] == dataset):
            out.append(PublishedFile(release, e["method"], e["dataset"], e["name"], e["path"], e["sha256"],
                                     e["bytes"], e["width"], e["height"], e["source_path"]))
    return out


def release_of(method: str) -> str:
    """The release that holds ``method`` (a member name such as ``srgan-vgg54``); DataError if none."""
    key = method.strip().lower()
    for release in RELEASES:
        if key in load_release(release)["methods"]:
            return release
    known = ", ".join(m for r in RELEASES for m in load_release(r)["methods"])
    raise DataError(f"no published release holds {method!r}; published methods: {known}")


def not_released(release: str, dataset: str) -> str | None:
    """Why ``dataset`` is not part of ``release`` (None if it is)."""
    manifest = load_release(release)
    if dataset in manifest["datasets"]:
        return None
    return manifest.get("not_released", {}).get(dataset, f"{release} holds no {dataset} images")


# ------------------------------------------------------------------ where it lives


def published_root_choice(flag: str | os.PathLike | None = None,
                          data_root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``(root, origin)`` of the published root (see the module docstring); it need not exist."""
    if flag:
        return Path(flag), "--published-root"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    root, origin = data_root_choice(data_root)
    inside = root / FOLDER
    beside = root.parent / FOLDER
    if not inside.exists() and any((beside / r).is_dir() for r in RELEASES):
        return beside, f"published/ beside the data root, which is from {origin}"
    return inside, f"published/ in the data root, which is from {origin}"


def method_settings(names: list[str], published_root: str | os.PathLike | None = None,
                    data_root: str | os.PathLike | None = None) -> dict:
    """Settings for a run of the methods ``names``: ``{"published_root": ...}`` for its ``published:`` methods.

    An explicit ``published_root`` (``--published-root``) is always passed
    (a run naming no published method then says no method takes it);
    otherwise, when ``names`` include ``all`` or a ``published:`` method, the
    root follows ``data_root`` (``--data-root``), else nothing is passed and
    each method resolves its default.
    """
    if published_root:
        return {"published_root": str(published_root)}
    wanted = any(n.strip().lower() == "all" or n.strip().lower().startswith("published:") for n in names)
    if data_root and wanted:
        return {"published_root": str(published_root_choice(None, data_root)[0])}
    return {}


def fetch_hint(release: str) -> str:
    return f"srbench datasets fetch --datasets {release}"


# ------------------------------------------------------------------ checking


@dataclass(frozen=True)
class FileCheck:
    """The state of one released file in an installed folder: ``ok``, ``missing`` or ``altered``."""

    file: PublishedFile
    state: str
    detail: str = ""


def check_file(spec: PublishedFile, release_dir: Path) -> FileCheck:
    """Compare one file with its manifest entry (size, then SHA-256)."""
    path = release_dir / spec.path
    if not path.is_file():
        return FileCheck(spec, "missing")
    try:
        size = path.stat().st_size
        digest = sha256_file(path) if size == spec.bytes else None
    except OSError as exc:
        return FileCheck(spec, "altered", f"cannot read ({exc.strerror or exc})")
    if size != spec.bytes:
        return FileCheck(spec, "altered", f"{size} bytes, expected {spec.bytes}")
    if digest != spec.sha256:
        return FileCheck(spec, "altered", f"sha256 {digest[:16]}..., expected {spec.sha256[:16]}...")
    return FileCheck(spec, "ok")


def verify_release(release: str, release_dir: str | os.PathLike) -> list[str]:
    """Every problem of an installed release folder, one line per file (empty list: all good).

    Lists missing files, altered files (size or SHA-256 differs from the
    manifest; an altered file that is not even a readable image says so) and
    files the manifest does not list.
    """
    release = normalize_release(release)
    release_dir = Path(release_dir)
    if not release_dir.is_dir():
        return [f"{release}: folder {release_dir} is missing (run '{fetch_hint(release)}')"]
    problems = []
    for spec in release_files(release):
        check = check_file(spec, release_dir)
        if check.state == "missing":
            problems.append(f"{release}/{spec.path}: missing")
        elif check.state == "altered":
            problems.append(f"{release}/{spec.path}: altered ({check.detail}); not the authors' file")
            problems += _decode_problem(release, spec, release_dir / spec.path)
    expected = {s.path for s in release_files(release)}
    for path in sorted(p for p in release_dir.rglob("*") if not p.is_dir()):
        rel = path.relative_to(release_dir).as_posix()
        if rel not in expected:
            problems.append(f"{release}/{rel}: extra file, not in the manifest")
    return problems


def _decode_problem(release: str, spec: PublishedFile, path: Path) -> list[str]:
    from srbench.errors import ImageError
    from srbench.data.imageio import read_image

    try:
        pixels, _ = read_image(path)
    except ImageError as exc:
        return [f"{release}/{spec.path}: unreadable image: {str(exc).removeprefix(f'{path}: ')}"]
    except OSError:
        return []
    if pixels.shape[:2] != (spec.height, spec.width):
        return [f"{release}/{spec.path}: {pixels.shape[1]}x{pixels.shape[0]}, expected {spec.width}x{spec.height}"]
    return []


def release_status(release: str, published_root: Path) -> str:
    """A quick (no hashing) state of an installed release: present / incomplete / not fetched."""
    files = release_files(release)
    folder = published_root / release
    ok = sum(1 for s in files if (folder / s.path).is_file() and (folder / s.path).stat().st_size == s.bytes)
    if ok == len(files):
        return "present"
    if ok == 0 and not folder.exists():
        return "not fetched"
    return f"incomplete: {ok} of {len(files)} files present with the expected size"
