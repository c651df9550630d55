"""Super-resolve your own images 4x with a registered method (the API behind ``srbench upscale``).

:func:`upscale_files` takes image files and folders (PNG, JPEG, WebP, GIF,
BMP, TIFF; folders are searched recursively for the same kinds) and writes one lossless PNG per input into
the output folder, plus ``srbench-upscale.json``: the method, a summary of
its checkpoint's sidecar, the code revision, the settings and every
input -> output pair (with the input's SHA-256).

Conventions:

* Output names: a file given directly becomes ``OUT/<stem>.png``; the images
  of a folder keep their path below that folder (``OUT/sub/<stem>.png``).
* Image policy (:mod:`srbench.data.imageio`): gray inputs are upscaled as R = G =
  B and written as gray PNGs (the rounded mean of the three output
  channels); fully opaque RGBA/LA is accepted (alpha dropped); transparency
  and 16-bit files are refused.
* Photos (:mod:`srbench.data.photo`): the EXIF orientation is applied, an
  embedded ICC colour profile is converted to sRGB, animated or multi-page
  images are refused.
* Bad images inside folders: refused before any work, or with
  ``skip_bad=True`` skipped, listed in ``UpscaleResult.skipped`` and in the
  record's ``"skipped"`` (the CLI then exits with status 1).
* Tiling: an image is cut into tiles of at most ``tile`` x ``tile`` LR
  pixels, each upscaled with :meth:`Method.receptive_radius` pixels of real
  context on every side, so the result equals whole-image upscaling (up to
  float rounding for networks) while a network's working memory stays
  bounded by the tile. ``tile=0``, or a method whose radius is unknown,
  upscales each image whole. A tile smaller than the context is refused:
  each tile would cost ``((tile + 2 * context) / tile) ** 2`` times its own
  work (over 9x; ``--tile 3`` with 40 px of context is about 770x). The LR
  and SR images themselves are held in
  memory (3 + 48 bytes per LR pixel).
* Nothing is overwritten silently: an output that would replace an input is
  refused, existing outputs need ``overwrite=True``, and every check runs
  before the first image is upscaled. Each output file is written
  atomically; if the run stops early, the files written so far stay (each
  complete) and ``srbench-upscale.json`` says ``"complete": false``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from srbench import SCALE
from srbench.run import registry
from srbench.atomicio import write_atomic
from srbench.errors import SrbenchError

if TYPE_CHECKING:
    import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
PROVENANCE_NAME = "srbench-upscale.json"
DEFAULT_TILE = 256  # LR pixels per tile side (bench/bench_upscale.py: SRResNet, 512x512 LR on the CPU)
DEVICES = ("auto", "cpu", "cuda")
CHECKPOINT_SUMMARY_KEYS = ("method", "iterations", "patches_seen", "complete", "architecture", "validation",
                           "git_revision", "torch_version", "device", "checkpoint", "checkpoint_sha256",
                           "inference_device")
_NOT_FOR_OWN_IMAGES = ("external", "published")  # kinds that re-read stored SR images of the benchmark sets


@dataclass(frozen=True)
class Job:
    """One image to upscale: ``source`` -> ``target`` (a PNG); LR size in pixels."""

    source: Path
    target: Path
    width: int
    height: int
    in_folder: bool = False


@dataclass
class UpscaleResult:
    """What :func:`upscale_files` wrote."""

    out_dir: Path
    method: str
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (input, why) with skip_bad
    provenance: Path | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------- planning
def find_images(inputs: Sequence[str | os.PathLike], out_dir: Path) -> list[tuple[Path, Path, bool]]:
    """``(source, output path relative to out_dir, found in a folder)`` for every input image, in order.

    Folders are searched recursively for files with the suffixes of
    :data:`IMAGE_SUFFIXES` (hidden entries and anything inside ``out_dir``
    skipped); files are taken as given.
    """
    if not inputs:
        raise SrbenchError("no input given: name image files or folders")
    out_abs = out_dir.resolve()
    found: list[tuple[Path, Path]] = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            # an output folder below the input folder is not read back (an --out equal to it is: refused below)
            skip = out_abs if out_abs != path.resolve() else None
            images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                            and not _hidden(p.relative_to(path)) and not (skip and _inside(p.resolve(), skip)))
            if not images:
                raise SrbenchError(f"{path}: no PNG, JPEG, WebP, GIF, BMP or TIFF images in this folder "
                                   "(searched recursively)")
            found += [(p, p.relative_to(path).with_suffix(".png"), True) for p in images]
        elif path.is_file():
            found.append((path, Path(path.stem + ".png"), False))
        elif path.exists():
            raise SrbenchError(f"{path}: not a file or folder")
        else:
            raise SrbenchError(f"{path}: no such file or folder")
    return found


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def plan(inputs: Sequence[str | os.PathLike], out_dir: Path, *, overwrite: bool = False,
         skipped: list[tuple[Path, str]] | None = None) -> list[Job]:
    """Check every input and output before any work; the jobs to run.

    Refuses (one :class:`SrbenchError`): missing inputs, files that are not
    images the policy accepts, two inputs mapped to one output, an output
    that is an input, and existing outputs unless ``overwrite``. With a
    ``skipped`` list, a bad image found inside a folder is appended to it
    ``(path, why)`` instead of refused (files named directly are always checked).
    """
    from srbench.data.photo import probe_photo
    from srbench.errors import ImageError

    pairs = find_images(inputs, out_dir)
    sources = {p.resolve() for p, _, _ in pairs}
    jobs, owner = [], {}
    for source, rel, in_folder in pairs:
        target = out_dir / rel
        key = target.resolve()
        if key in owner:
            if owner[key] == source.resolve():
                continue  # the same file named twice (a file and its folder)
            raise SrbenchError(f"{owner[key]} and {source} would both be written to {target}; "
                               "upscale them into different --out folders")
        if key in sources:
            raise SrbenchError(f"{target} would overwrite the input {source}; choose another --out")
        try:
            width, height, _notes = probe_photo(source)
        except ImageError as exc:
            if skipped is None or not in_folder:
                raise
            skipped.append((source, str(exc)))
            continue
        owner[key] = source.resolve()
        jobs.append(Job(source, target, width, height, in_folder))
    existing = [j.target for j in jobs if j.target.exists()]
    if existing and not overwrite:
        raise SrbenchError(f"{len(existing)} output(s) exist already (first: {existing[0]}); "
                           "pass --overwrite to replace them, or choose another --out")
    folders = [j.target for j in jobs if j.target.is_dir()]
    if folders:
        raise SrbenchError(f"output {folders[0]} is a folder; choose another --out")
    _check_memory(jobs)
    return jobs


def _check_memory(jobs: list[Job]) -> None:
    """Refuse an image whose LR + SR arrays (51 bytes per LR pixel) exceed this machine's memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return
    for job in jobs:
        need = job.width * job.height * 3 * (1 + SCALE * SCALE)
        if need > 0.8 * total:
            raise SrbenchError(f"{job.source}: {job.width}x{job.height} gives a {SCALE * job.width}x{SCALE * job.height} "
                               f"SR image; holding both needs {need / 2**30:.1f} GiB, more than this machine's "
                               f"{total / 2**30:.1f} GiB; crop it into parts first")


# ---------------------------------------------------------------- the method
def build_method(name: str, *, device: str = "auto", tile: int = DEFAULT_TILE) -> registry.Method:
    """The registered method ``name``, ready for arbitrary images (or a :class:`SrbenchError` saying why not)."""
    if device not in DEVICES:
        raise SrbenchError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    if not isinstance(tile, int) or tile < 0:
        raise SrbenchError(f"--tile must be 0 (no tiling) or a positive number of LR pixels, got {tile!r}")
    info = registry.method_info(name)
    if info.kind in _NOT_FOR_OWN_IMAGES or (info.family and info.kind != "learned"):
        raise SrbenchError(f"method {name} reads stored SR images of the benchmark sets ({info.kind}); it cannot "
                           "upscale other images. Choose a method that computes its output (srbench run --list-methods)")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SrbenchError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    wanted = {"tile": tile or 2**31 - 1}  # a learned method's own tiling never cuts the tiles given to it again
    if device != "auto":
        wanted["device"] = device
    method = registry.get_method(name, **registry.settings_for(name, wanted))
    reason = method.availability()
    if reason is not None:
        raise SrbenchError(f"method {method.name} cannot run: {reason}")
    return method


def format_upscale_methods() -> str:
    """One line per method that can upscale your own images (not ``external:``/``published:``): ready or why not."""
    lines = []
    for info in registry.list_methods(families=True):
        if info.kind in _NOT_FOR_OWN_IMAGES:
            continue
        if info.family:
            description = info.description.removeprefix(info.usage).lstrip(" -:")
            lines.append(f"{info.usage:24s} {description}")
            continue
        label = info.name + (f" ({', '.join(info.aliases)})" if info.aliases else "")
        reason = registry.get_method(info.name).availability()
        lines.append(f"{label:24s} {'ready' if reason is None else 'unavailable: ' + reason}")
    return "\n".join(lines)


def checkpoint_summary(method: registry.Method) -> dict | None:
    """The provenance fields of the method's checkpoint sidecar (None for methods without a checkpoint)."""
    info = method.checkpoint_info()
    if info is None:
        return None
    return {k: info[k] for k in CHECKPOINT_SUMMARY_KEYS if k in info}


def _tile_edges(length: int, tile: int) -> list[tuple[int, int]]:
    """``range(length)`` cut into ``ceil(length / tile)`` near-equal consecutive pieces."""
    n = max(1, math.ceil(length / tile))
    edges = [round(i * length / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


def upscale_array(method: registry.Method, lr: np.ndarray, *, tile: int = DEFAULT_TILE, radius: int | None = None,
                  name: str = "", on_pixels: Callable[[int], object] | None = None) -> np.ndarray:
    """Upscale uint8 ``(h, w, 3)`` RGB 4x with ``method``, tile by tile (see the module docstring).

    ``radius`` is the context in LR pixels (default: ``method.receptive_radius()``);
    ``on_pixels(n)`` is called as each tile's ``n`` LR pixels are done.
    """
    import numpy as np

    h, w = lr.shape[:2]
    context = method.receptive_radius() if radius is None else radius
    tiled = tile > 0 and context is not None and (h > tile or w > tile)
    rows = _tile_edges(h, tile) if tiled else [(0, h)]
    cols = _tile_edges(w, tile) if tiled else [(0, w)]
    margin = context if tiled else 0
    out = np.empty((SCALE * h, SCALE * w, 3), dtype=np.uint8)
    for y0, y1 in rows:
        for x0, x1 in cols:
            iy0, iy1, ix0, ix1 = max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin)
            piece = method.upscale(np.ascontiguousarray(lr[iy0:iy1, ix0:ix1]), dataset="", name=name)
            expected = (SCALE * (iy1 - iy0), SCALE * (ix1 - ix0), 3)
            if not isinstance(piece, np.ndarray) or piece.dtype != np.uint8 or piece.shape != expected:
                got = f"{piece.dtype} {piece.shape}" if isinstance(piece, np.ndarray) else type(piece).__name__
                raise SrbenchError(f"method {method.name} returned {got} for a {ix1 - ix0}x{iy1 - iy0} input; "
                                   f"expected uint8 {expected}")
            s = SCALE
            out[s * y0:s * y1, s * x0:s * x1] = piece[s * (y0 - iy0):s * (y1 - iy0), s * (x0 - ix0):s * (x1 - ix0)]
            if on_pixels is not None:
                on_pixels((y1 - y0) * (x1 - x0))
    return out


# ---------------------------------------------------------------- the run
def default_out_name(method: str) -> str:
    """``upscaled-<method>`` (a ``checkpoint:LABEL=DIR`` spec gives ``upscaled-checkpoint-LABEL``)."""
    return "upscaled-" + registry.method_key(method).replace(":", "-")


def upscale_files(
    inputs: Sequence[str | os.PathLike],
    method: str,
    *,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    tile: int = DEFAULT_TILE,
    device: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    skip_bad: bool = False,
) -> UpscaleResult:
    """Upscale image files and folders 4x with ``method`` into ``out_dir`` (see the module docstring).

    ``out_dir`` defaults to ``./upscaled-<method>``; ``tile`` is in LR pixels
    (0: whole images); ``device`` is ``auto`` (CUDA when available, else the
    CPU), ``cpu`` or ``cuda`` and matters only for methods that take a
    device. Raises :class:`SrbenchError` for any bad input before the first
    image is upscaled; with ``skip_bad`` a bad image inside a folder (also
    one that fails to decode later) is skipped and listed in
    ``UpscaleResult.skipped`` instead.
    """
    start = time.perf_counter()
    say = log or (lambda _msg: None)
    name = registry.canonical_name(method)
    out = Path(out_dir) if out_dir is not None else Path.cwd() / default_out_name(name)
    if out.exists() and not out.is_dir():
        raise SrbenchError(f"--out {out} is a file; give a folder for the upscaled images")
    skipped: list[tuple[Path, str]] = []
    jobs = plan(inputs, out, overwrite=overwrite, skipped=skipped if skip_bad else None)
    if not jobs:
        raise SrbenchError(f"no usable image among the inputs ({len(skipped)} skipped; first: {skipped[0][0]}: "
                           f"{skipped[0][1]})" if skipped else "no input image")
    built = build_method(name, device=device, tile=tile)
    radius = _context_for_tile(built, tile)
    settings = registry.method_info(name).settings
    if device != "auto" and settings is not None and "device" not in settings:
        say(f"note: {built.name} does not run on a device of its choosing (numpy on the CPU); --device ignored")
    created = _make_dir(out)
    record_path = out / PROVENANCE_NAME
    try:
        record = _start_record(record_path, built, tile=tile, device=device, overwrite=overwrite)
    except BaseException:
        if created:
            _remove_empty(out)
        raise
    record["settings"]["context_lr_pixels"] = radius if tile else None
    if tile and radius is None:
        say(f"note: {built.name} does not declare its receptive field; each image is upscaled whole (no tiling)")
    result = UpscaleResult(out, built.name, provenance=record_path, skipped=skipped)
    record["skipped"] = {str(p): why for p, why in skipped}
    total = sum(j.width * j.height for j in jobs)
    try:
        with _bar(total, enabled=progress) as bar:
            _upscale_jobs(built, jobs, result, record, bar, tile=tile, radius=radius, skip_bad=skip_bad)
        record["complete"] = True
        _write_record(record_path, record)
    except BaseException as exc:
        _explain_stop(exc, result, len(jobs), created=created)
        raise
    result.seconds = time.perf_counter() - start
    return result


def _context_for_tile(built: registry.Method, tile: int) -> int | None:
    """The LR pixels of context ``built`` needs on each side when tiling (None: no tiling, or not declared);
    SrbenchError for a tile smaller than that context (each tile would cost many times its own work)."""
    radius = built.receptive_radius() if tile else None
    if tile and radius is not None and tile < radius:
        factor = ((tile + 2 * radius) / tile) ** 2
        raise SrbenchError(f"--tile {tile} is smaller than the {radius} LR pixels of context {built.name} needs on "
                           f"each side: every tile would be upscaled with its context, about {factor:.0f}x the "
                           f"work of upscaling the image whole; use --tile {max(4 * radius, 64)} or more, "
                           "or --tile 0 (whole images)")
    return radius


def _explain_stop(exc: BaseException, result: UpscaleResult, n_jobs: int, *, created: bool) -> None:
    """After a failed or interrupted upscale: say what was left (an SrbenchError is raised again with it, other
    exceptions get it as a note); an output folder this call created and left empty is removed."""
    out = result.out_dir
    if not result.written:
        if created:
            _remove_empty(out)
        left = "nothing was written"
    else:
        left = (f"{len(result.written)} of {n_jobs} image(s) were written to {out} before it stopped "
                f"(each complete; listed in {result.provenance}, marked \"complete\": false)")
    if isinstance(exc, SrbenchError):
        raise SrbenchError(f"{exc}; {left}") from exc
    add_note(exc, left)


def _upscale_jobs(built: registry.Method, jobs: list[Job], result: UpscaleResult, record: dict, bar, *,
                  tile: int, radius: int | None, skip_bad: bool) -> None:
    """Upscale every job in order; each written image goes into ``result.written`` and the provenance file
    (rewritten after each). With ``skip_bad`` an image in a folder that fails to decode is skipped and listed
    (``result.skipped``, ``record["skipped"]``)."""
    record_path = result.provenance
    for job in jobs:
        bar.set_postfix_str(job.source.name)
        try:
            _upscale_one(built, job, tile=tile, radius=radius, on_pixels=bar.update, record=record)
        except SrbenchError as exc:  # ImageError: the pixels would not decode
            if not (skip_bad and job.in_folder):
                raise
            result.skipped.append((job.source, str(exc)))
            record["skipped"][str(job.source)] = str(exc)
            bar.update(job.width * job.height)
            continue
        result.written.append(job.target)
        _write_record(record_path, record)


def _upscale_one(method: registry.Method, job: Job, *, tile: int, radius: int | None,
                 on_pixels: Callable[[int], object], record: dict) -> None:
    import numpy as np

    from srbench.data.imageio import write_png
    from srbench.data.photo import read_photo

    photo = read_photo(job.source)
    lr, gray = photo.pixels, photo.gray
    sr = upscale_array(method, lr, tile=tile, radius=radius, name=job.source.name, on_pixels=on_pixels)
    if gray:  # the policy: gray in, gray out (R = G = B went in; the network's channels may differ slightly)
        sr = np.rint(sr.mean(axis=2, dtype=np.float64)).astype(np.uint8)
    write_png(job.target, sr)
    record["files"][job.target.relative_to(record["_out"]).as_posix()] = {
        "input": str(job.source.resolve()),
        "input_sha256": _sha256(job.source),
        "lr_size": [lr.shape[1], lr.shape[0]],
        "sr_size": [SCALE * lr.shape[1], SCALE * lr.shape[0]],
        "gray": bool(gray),
        "exif_orientation_applied": photo.notes.get("orientation"),
        "icc_profile": photo.notes.get("icc_profile"),
        "converted_to_srgb": photo.notes.get("converted_to_srgb", False),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _start_record(path: Path, method: registry.Method, *, tile: int, device: str, overwrite: bool) -> dict:
    """The provenance record of this run, merged with the folder's earlier one for the same method and weights."""
    from srbench.run import stamp as provenance

    info = registry.method_info(method.name)
    checkpoint = checkpoint_summary(method)
    record = {
        "tool": "srbench upscale",
        "scale": SCALE,
        "method": {"name": method.name, "label": info.label, "kind": info.kind, "description": info.description},
        "checkpoint": checkpoint,
        **provenance.code_record(),
        "environment": provenance.environment(),
        "settings": {"tile_lr_pixels": tile or None, "device": device},
        "image_policy": "gray inputs are upscaled as R=G=B and written as gray (rounded mean of the output "
                        "channels); opaque RGBA/LA lose the alpha; transparent and 16-bit inputs are refused; "
                        "the EXIF orientation is applied; an ICC profile other than sRGB is converted to sRGB "
                        "(LittleCMS, relative colorimetric) and the PNG is written without a profile (sRGB); "
                        "animated and multi-page images are refused",
        "complete": False,
        "files": {},
    }
    if path.is_file():
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
            same = (earlier.get("method", {}).get("name") == method.name
                    and (earlier.get("checkpoint") or {}).get("checkpoint_sha256")
                    == (checkpoint or {}).get("checkpoint_sha256"))
        except (OSError, ValueError, AttributeError):
            earlier, same = {}, False
        if same:
            record["files"] = dict(earlier.get("files") or {})
        elif not overwrite:
            made_by = earlier.get("method", {}).get("name", "?") if isinstance(earlier, dict) else "?"
            raise SrbenchError(f"{path.parent} holds outputs of another method or checkpoint ({made_by}, see "
                               f"{path.name}); choose another --out, or pass --overwrite to start its record anew")
    record["_out"] = path.parent
    return record


def _write_record(path: Path, record: dict) -> None:
    public = {k: v for k, v in record.items() if not k.startswith("_")}
    write_atomic(path, json.dumps(public, indent=1, sort_keys=True) + "\n")


def _make_dir(out: Path) -> bool:
    """Create ``out`` (and parents) and check it is writable; True if this call created it."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".srbench-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if created:
            _remove_empty(out)
        raise SrbenchError(f"cannot write into --out {out}: {exc.strerror or exc}") from None
    return created


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def add_note(exc: BaseException, note: str) -> None:
    """Attach ``note`` to ``exc`` (PEP 678 ``__notes__``; the CLI prints them under its error line)."""
    exc.__notes__ = [*getattr(exc, "__notes__", []), note]


def _bar(total: int, *, enabled: bool):
    """A tqdm bar in LR pixels (one line per 30 s when stderr is not a terminal)."""
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc="srbench upscale", unit="px", unit_scale=True, disable=not enabled,
                mininterval=0.1 if interactive else 30.0, maxinterval=10.0 if interactive else 30.0)
