"""Installing and checking the benchmark sets (``srbench datasets fetch|verify|list``).

Sources a set can be fetched from (``--source``):

* nothing: the public SelfExSR repository on GitHub, one raw file at a time
  (``raw_url_template`` + ``source_path`` of each manifest entry);
* ``http(s)://.../NAME.zip|.tar|.tar.gz|...``: an archive, downloaded first;
* ``http(s)://BASE``: a server with the srbench layout ``BASE/<set>/HR/NAME.png``
  (or, as a fallback per file, the SelfExSR layout ``BASE/data/Set5/...``);
* a local folder or archive in either layout, possibly inside one top-level
  folder (``SelfExSR-master/data/Set5/image_SRF_4/img_001_SRF_4_HR.png``).

Every file is checked against the SHA-256 and byte count in its manifest.
Installation is atomic per set: files are staged in a hidden scratch folder
inside the data root (same file system), the staged set is verified as a
whole, then renamed into place. Whatever goes wrong (network, checksum,
missing file, Ctrl-C) the scratch folder is deleted, so no half-written set
and no temp folder remain, and a set already in place is left as it was.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from srbench import SCALE, __version__
from srbench.data.archive import ArchiveReader, is_archive_name
from srbench.data.sets import DATASETS, data_root_choice, load_manifest, normalize_dataset_name, sha256_file
from srbench.errors import DataError, ImageError

DEFAULT_TIMEOUT_S = 30.0
SCRATCH_PREFIX = ".fetch-"  # hidden folder in the data root holding one fetch's temp files
_BLOCK = 1 << 16
_NET_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts, resets, IncompleteRead


@dataclass(frozen=True)
class FileSpec:
    """One file a set must contain, as listed in its manifest."""

    dataset: str
    path: str  # relative to the set folder, e.g. "HR/baby.png"
    sha256: str
    bytes: int
    width: int  # pixels
    height: int
    source_path: str  # inside the public source repository (SelfExSR for the benchmark sets)
    alternatives: tuple[str, ...] = ()  # more relative paths a local folder, archive or server may use

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.path}"


def manifest_pairs(dataset: str) -> list[tuple[str, FileSpec, FileSpec]]:
    """``(name, hr, lr)`` for every image of ``dataset``, in manifest order."""
    dataset = normalize_dataset_name(dataset)
    pairs = []
    for entry in load_manifest(dataset)["images"]:
        hr, lr = (
            FileSpec(dataset, e["path"], e["sha256"], e["bytes"], e["width"], e["height"], e["source_path"])
            for e in (entry["hr"], entry["lr"])
        )
        pairs.append((entry["name"], hr, lr))
    return pairs


def manifest_files(dataset: str) -> list[FileSpec]:
    """Every file of ``dataset`` (HR then LR of each image, manifest order)."""
    return [spec for _, hr, lr in manifest_pairs(dataset) for spec in (hr, lr)]


def parse_datasets(text: str | Iterable[str] | None) -> list[str]:
    """``"set5,Set14"`` / ``"all"`` / None -> normalized, de-duplicated set names.

    A string naming no set (``""``, ``","``: typically an empty shell
    variable) is an error rather than a silent "all".
    """
    if text is None:
        return list(DATASETS)
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [i.strip() for i in items if i.strip()]
    if not names and isinstance(text, str):
        raise DataError(f"--datasets {text!r} names no set; give e.g. set5,set14 or 'all'")
    if not names or [n.lower() for n in names] == ["all"]:
        return list(DATASETS)
    return list(dict.fromkeys(normalize_dataset_name(n) for n in names))


# ----------------------------------------------------------------- sources


class Source:
    """Where :func:`fetch_datasets` reads files from."""

    description = "?"
    short_file_reason = "a partial or different copy of the file"  # why a file may have too few bytes

    def open(self, spec: FileSpec) -> tuple[BinaryIO, str]:
        """Return ``(readable binary stream, origin label)`` for ``spec``, or raise DataError."""
        raise NotImplementedError


def local_candidates(spec: FileSpec) -> list[str]:
    """Relative paths where ``spec`` may sit: srbench layout, source layout, SelfExSR ``data/``, alternatives."""
    found = [f"{spec.dataset}/{spec.path}", spec.source_path, spec.source_path.removeprefix("data/"),
             *spec.alternatives]
    return list(dict.fromkeys(found))


class DirSource(Source):
    """A local folder in the srbench or SelfExSR layout (maybe inside one top-level folder)."""

    def __init__(self, root: Path, description: str | None = None):
        self.root = root
        self.description = description or f"folder {root}"
        self.short_file_reason = ("the file in the archive is shorter than the manifest's (a damaged archive?)"
                                  if description else
                                  "the local file is shorter than the manifest's (a partial copy or interrupted "
                                  "download? replace it with a complete copy)")
        visible = [e for e in root.iterdir() if not e.name.startswith(".")]
        self.prefixes = [""]
        if len(visible) == 1 and visible[0].is_dir():
            self.prefixes.append(visible[0].name + "/")

    def open(self, spec: FileSpec) -> tuple[BinaryIO, str]:
        for prefix in self.prefixes:
            for rel in local_candidates(spec):
                path = self.root / (prefix + rel)
                if path.is_file():
                    try:
                        return open(path, "rb"), str(path)
                    except OSError as exc:
                        raise DataError(f"{spec.label}: cannot read {path} ({exc.strerror or exc})") from exc
        hint = ""
        if (self.root / "HR").is_dir():
            hint = f"; {self.root} has HR/, so it looks like one set's folder: give the folder above it"
        raise DataError(
            f"{spec.label}: not found in {self.description} (looked for {spec.dataset}/{spec.path} "
            f"in the srbench layout and {spec.source_path} in the SelfExSR layout){hint}"
        )


class HttpSource(Source):
    """Files downloaded one by one; ``urls_for(spec)`` lists URLs to try (404 -> next)."""

    short_file_reason = "the connection closed early? try again"

    def __init__(self, urls_for: Callable[[FileSpec], list[str]], description: str, timeout: float):
        self.urls_for = urls_for
        self.description = description
        self.timeout = timeout

    def open(self, spec: FileSpec) -> tuple[BinaryIO, str]:
        urls = self.urls_for(spec)
        for url in urls:
            try:
                return open_url(url, self.timeout), url
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code != 404:
                    raise DataError(f"{spec.label}: {url} answered HTTP {exc.code} {exc.reason}") from exc
        raise DataError(f"{spec.label}: not found (HTTP 404) at {' or '.join(urls)}")


def open_url(url: str, timeout: float) -> BinaryIO:
    """``urlopen`` with a timeout; network failures become a :class:`DataError` (HTTP errors pass)."""
    request = urllib.request.Request(url, headers={"User-Agent": f"srbench/{__version__}"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:
        raise DataError(_unreachable(url, exc.reason)) from exc
    except _NET_ERRORS as exc:
        raise DataError(_unreachable(url, exc)) from exc


def _unreachable(url: str, reason: object) -> str:
    host = urllib.parse.urlsplit(url).netloc
    if isinstance(reason, TimeoutError):
        reason = "timed out"
    return (
        f"cannot reach {host} ({reason}) for {url}; check the network connection (or proxy settings), "
        "or install from a local copy with 'srbench datasets fetch --source DIR|ARCHIVE'"
    )


def github_source(timeout: float) -> HttpSource:
    """The default: each file from the SelfExSR repository's raw URL in the manifest."""

    def urls_for(spec: FileSpec) -> list[str]:
        template = load_manifest(spec.dataset)["source"]["raw_url_template"]
        return [template.format(source_path=spec.source_path)]

    return HttpSource(urls_for, "SelfExSR on GitHub (raw.githubusercontent.com)", timeout)


def base_url_source(base: str, timeout: float) -> HttpSource:
    """A server holding ``BASE/<set>/HR/NAME.png`` (else ``BASE/<source_path>``)."""
    base = base.rstrip("/")

    def urls_for(spec: FileSpec) -> list[str]:
        rels = dict.fromkeys((f"{spec.dataset}/{spec.path}", spec.source_path, *spec.alternatives))
        return [f"{base}/{urllib.parse.quote(rel)}" for rel in rels]

    return HttpSource(urls_for, base, timeout)


def download(url: str, dest: Path, timeout: float, progress: bool) -> None:
    """Stream ``url`` into the file ``dest`` (a progress bar in bytes); DataError on any failure."""
    try:
        response = open_url(url, timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DataError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    done = 0
    with response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        from tqdm import tqdm

        with tqdm(total=total, unit="B", unit_scale=True, desc="download", disable=None if progress else True) as bar:
            while True:
                try:
                    block = response.read(_BLOCK)
                except _NET_ERRORS as exc:
                    raise DataError(f"download of {url} broke off after {done} bytes ({exc!r})") from exc
                if not block:
                    break
                out.write(block)
                done += len(block)
                bar.update(len(block))
    if total is not None and done != total:
        raise DataError(f"download of {url} is truncated: {done} of {total} bytes arrived")


def archive_source(archive: Path, scratch: Path, specs: list[FileSpec], label: str) -> DirSource:
    """Extract (safely) the files of ``specs`` that ``archive`` holds into ``scratch``."""
    with ArchiveReader(archive, label) as reader:
        tops = reader.top_level_dirs()
        prefixes = [""] + ([f"{next(iter(tops))}/"] if len(tops) == 1 else [])
        wanted: dict[str, int] = {}
        for spec in specs:
            for prefix in prefixes:
                for rel in local_candidates(spec):
                    name = prefix + rel
                    if name in reader.files or name in reader.special:
                        wanted[name] = spec.bytes
        out = scratch / "extracted"
        out.mkdir()
        reader.extract(wanted, out)
    return DirSource(out, description=f"archive {label}")


def open_source(text: str | None, scratch: Path, specs: list[FileSpec], timeout: float, progress: bool,
                default: Callable[[float], Source] | None = None) -> Source:
    """Turn a ``--source`` value into a :class:`Source` for the files ``specs`` (downloading/extracting into
    ``scratch``); no value: ``default(timeout)`` (the benchmark sets' public source if None)."""
    if not text:
        return (default or github_source)(timeout)
    if text.startswith(("http://", "https://")):
        url_path = urllib.parse.urlsplit(text).path
        if not is_archive_name(url_path):
            return base_url_source(text, timeout)
        name = Path(url_path).name
        local = scratch / name
        download(text, local, timeout, progress)
        return archive_source(local, scratch, specs, text)
    scheme = urllib.parse.urlsplit(text).scheme
    if "://" in text and scheme not in ("file",):
        raise DataError(f"--source {text}: {scheme}:// is not supported; give an http(s) URL, a folder or an archive")
    path = Path(text).expanduser()
    if path.is_dir():
        return DirSource(path)
    if path.is_file():
        return archive_source(path, scratch, specs, str(path))
    raise DataError(
        f"--source {text}: no such folder or file (give a folder, a .zip/.tar/.tar.gz archive, or an http(s) URL)"
    )


# ----------------------------------------------------------------- install


@dataclass(frozen=True)
class FetchResult:
    """What happened to one set: ``installed`` or ``skipped`` (already present and valid)."""

    dataset: str
    status: str
    files: int
    bytes: int
    path: Path


def fetch_datasets(
    datasets: str | Iterable[str] | None = None,
    data_root: str | os.PathLike | None = None,
    source: str | None = None,
    *,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[FetchResult]:
    """Install ``datasets`` into the data root from ``source`` (see the module docstring).

    Sets already present and valid are skipped unless ``force``. Sets are
    installed in order; the first failure raises :class:`DataError` (sets
    installed before it stay installed, the failing one is not touched).
    ``timeout`` is in seconds per network operation.
    """
    names = parse_datasets(datasets)
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise DataError(f"--timeout must be a positive number of seconds, got {timeout!r}")
    root, origin = data_root_choice(data_root)
    if root.exists() and not root.is_dir():
        raise DataError(f"the data root {root} (from {origin}) is a file; give a folder to install the sets into")
    say = log or (lambda msg: None)
    results = []
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        todo = []
        for name in names:
            if not force and not verify_set(name, root / name):
                spec_files = manifest_files(name)
                results.append(FetchResult(name, "skipped", len(spec_files), sum(s.bytes for s in spec_files), root / name))
                say(f"{name}: already present and verified in {root / name} (use --force to fetch again)")
            else:
                todo.append(name)
        if not todo:
            return results
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root))  # downloads, extraction, staging
        try:
            src = open_source(source, scratch, [s for name in todo for s in manifest_files(name)], timeout, progress)
            for name in todo:
                result = install_set(name, root, src, scratch, progress)
                results.append(result)
                say(f"{name}: installed {result.files} files ({result.bytes / 1e6:.1f} MB) from {src.description} into {result.path}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:
        raise DataError(f"cannot write into the data root {root} (from {origin}): {exc}") from exc
    finally:
        if created and not any(r.status == "installed" for r in results):
            _remove_if_empty(root)  # a failed first fetch leaves no empty data root behind
    return results


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def install_set(dataset: str, root: Path, source: Source, scratch: Path, progress: bool = True) -> FetchResult:
    """Stage every file of ``dataset`` under ``scratch``, verify, then rename to ``root/dataset``."""
    specs = manifest_files(dataset)
    install_files(dataset, specs, root / dataset, source, scratch, lambda stage: verify_set(dataset, stage), progress)
    return FetchResult(dataset, "installed", len(specs), sum(s.bytes for s in specs), root / dataset)


def install_files(name: str, specs: list[FileSpec], dest: Path, source: Source, scratch: Path,
                  verify: Callable[[Path], list[str]], progress: bool = True) -> None:
    """Copy ``specs`` from ``source`` into ``scratch/name`` (each checked), ``verify`` the staged folder as a
    whole, then rename it to ``dest`` (a folder already there is replaced only on success)."""
    stage = scratch / name
    total = sum(s.bytes for s in specs)
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=None if progress else True) as bar:
        for spec in specs:
            stream, origin = source.open(spec)
            with stream:
                copy_verified(stream, stage / spec.path, spec, origin, bar.update, short_reason=source.short_file_reason)
    problems = verify(stage)
    if problems:
        raise DataError(f"{name}: the fetched copy failed verification: {problems[0]}")
    _swap_into_place(stage, dest, scratch / f"replaced-{name}")


def copy_verified(stream: BinaryIO, dest: Path, spec: FileSpec, origin: str, advance: Callable[[int], object], *,
                  short_reason: str = Source.short_file_reason) -> None:
    """Copy ``stream`` to ``dest``, raising DataError unless its size and SHA-256 match ``spec``.

    ``short_reason`` says why a source may deliver too few bytes (a network source: the connection closed
    early; a local folder: a truncated file).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    with open(dest, "wb") as out:
        while done <= spec.bytes:
            try:
                block = stream.read(min(_BLOCK, spec.bytes + 1 - done))
            except _NET_ERRORS as exc:
                raise DataError(
                    f"{spec.label}: transfer from {origin} broke off after {done} of {spec.bytes} bytes ({exc!r})"
                ) from exc
            if not block:
                break
            out.write(block)
            digest.update(block)
            done += len(block)
            advance(len(block))
    if done < spec.bytes:
        raise DataError(f"{spec.label}: {origin} is truncated: {done} of {spec.bytes} bytes ({short_reason})")
    if done > spec.bytes:
        raise DataError(f"{spec.label}: {origin} is larger than the expected {spec.bytes} bytes (not the manifest's file)")
    got = digest.hexdigest()
    if got != spec.sha256:
        raise DataError(
            f"{spec.label}: checksum mismatch for {origin} (sha256 {got[:16]}..., expected {spec.sha256[:16]}...): "
            "corrupted in transfer or a different release"
        )


def _swap_into_place(stage: Path, dest: Path, parking: Path) -> None:
    """Rename ``stage`` to ``dest``; an existing ``dest`` is parked first and restored on failure."""
    parked = False
    if dest.exists() or dest.is_symlink():
        os.rename(dest, parking)
        parked = True
    try:
        os.rename(stage, dest)
    except BaseException:
        if parked:
            os.rename(parking, dest)
        raise


# ----------------------------------------------------------------- verify / list


def verify_set(dataset: str, set_dir: str | os.PathLike) -> list[str]:
    """Every problem of the set folder ``set_dir``, one line each (empty list: all good).

    Reports missing files, files not in the manifest, checksum mismatches,
    unreadable images (only files whose checksum mismatches are decoded:
    a matching file is the manifest's, known-good one) and pairs whose LR
    size x4 is not the HR size.
    """
    dataset = normalize_dataset_name(dataset)
    set_dir = Path(set_dir)
    if not set_dir.is_dir():
        return [f"{dataset}: folder {set_dir} is missing (run 'srbench datasets fetch --datasets {dataset}')"]
    problems: list[str] = []
    sizes: dict[str, tuple[int, int]] = {}  # path -> (width, height)
    pairs = manifest_pairs(dataset)
    for spec in (s for _, hr, lr in pairs for s in (hr, lr)):
        path = set_dir / spec.path
        if not path.is_file():
            problems.append(f"{spec.label}: missing")
            continue
        try:
            got = sha256_file(path)
        except OSError as exc:
            problems.append(f"{spec.label}: cannot read ({exc.strerror or exc})")
            continue
        if got == spec.sha256:
            sizes[spec.path] = (spec.width, spec.height)
            continue
        problems.append(f"{spec.label}: checksum mismatch (sha256 {got[:16]}..., expected {spec.sha256[:16]}...)")
        try:
            from srbench.data.imageio import read_image

            pixels, _ = read_image(path)
        except ImageError as exc:
            problems.append(f"{spec.label}: unreadable image: {str(exc).removeprefix(f'{path}: ')}")
            continue
        sizes[spec.path] = (pixels.shape[1], pixels.shape[0])
    expected = {s.path for _, hr, lr in pairs for s in (hr, lr)}
    for path in sorted(p for p in set_dir.rglob("*") if not p.is_dir()):
        rel = path.relative_to(set_dir).as_posix()
        if rel not in expected:
            problems.append(f"{dataset}/{rel}: extra file, not in the manifest")
    for name, hr, lr in pairs:
        if hr.path in sizes and lr.path in sizes:
            (hw, hh), (lw, lh) = sizes[hr.path], sizes[lr.path]
            if (lw * SCALE, lh * SCALE) != (hw, hh):
                problems.append(f"{dataset}/{name}: LR is {lw}x{lh} but HR is {hw}x{hh}; LR x{SCALE} must equal the HR size")
    return problems


def set_status(dataset: str, root: Path) -> str:
    """A quick (no hashing) status of ``root/dataset``: present / incomplete / not fetched."""
    specs = manifest_files(dataset)
    ok = 0
    for spec in specs:
        path = root / dataset / spec.path
        if path.is_file() and path.stat().st_size == spec.bytes:
            ok += 1
    if ok == len(specs):
        return "present"
    if ok == 0 and not (root / dataset).exists():
        return "not fetched"
    return f"incomplete: {ok} of {len(specs)} files present with the expected size"


def scratch_folders(root: Path) -> list[Path]:
    """Scratch folders in ``root`` left by a fetch that was killed (or is still running)."""
    return sorted(p for p in root.glob(SCRATCH_PREFIX + "*") if p.is_dir())
