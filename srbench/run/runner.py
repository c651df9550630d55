"""Super-resolve benchmark sets with registered methods and measure them.

:func:`run_benchmark` is the importable API behind ``srbench run``. It writes

* ``OUT/per_image.csv`` - header ``dataset,image,method,protocol,psnr,ssim``,
  one row per image, method and protocol (PSNR in dB, SSIM unitless);
* ``OUT/summary.csv``  - ``dataset,method,protocol,n,n_expected,psnr,ssim``:
  means over the set; ``psnr``/``ssim`` stay empty when a method covered only
  part of a set (``n < n_expected``), so a partial set is never averaged as if
  it were complete;
* ``OUT/run.json``     - provenance: protocols, metrics, data checksums,
  methods with their checkpoint sidecars, skipped methods and why, code
  revision, versions (and NIQE's model checksum and settings when measured);
  with ``save_images``, ``saved_images``: the SHA-256 of every saved PNG file,
  keyed ``<method>/<dataset>/<image>`` (what ``srbench view`` checks).

With a no-reference metric ``NAME`` among ``metrics`` (``niqe``, or one a
plugin registered, see :mod:`srbench.metrics.registry`) both CSV files gain
the columns ``NAME,NAME_note`` and one no-reference row per image and method
(empty ``protocol``), also for the HR images (method ``hr``); see
:mod:`srbench.schema`. What such a metric needs (NIQE's model, loaded and
checksum-verified) is prepared before any work, so a missing model stops the
run at once with the fetch command.

Rows are appended to ``per_image.csv.partial`` as they are measured; the
final files appear (atomically) only when the run completes. An interrupted
run continues where it stopped when the same command is run again: finished
(set, method) groups with an unchanged key are reused (:mod:`srbench.run.resume`
says how they are keyed; ``fresh=True`` starts over), and the final CSV files
are the same bytes as an uninterrupted run's.

The work is three steps, each a function with one job: :func:`produce`
upscales (in this process), :func:`measure` computes the metrics (in worker
processes while the next images are upscaled) and :func:`write_run` writes the
final files.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import math
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
from tqdm import tqdm

from srbench.run import stamp as provenance
from srbench.run import registry, resume
from srbench.atomicio import write_atomic
from srbench.data.sets import BenchImage, dataset_names, load_dataset
from srbench.errors import MissingOutput, SrbenchError, UnknownMethod
from srbench.data.imageio import write_png
from srbench.metrics import DEFAULT_METRICS, FULL_REFERENCE, PROTOCOLS, get_protocol, measure_image, parse_metrics
from srbench.metrics.registry import NO_REFERENCE_KIND, Metric, get_metric, no_reference_names
from srbench.paths import RUNS_DIR
from srbench.run.registry import Method
from srbench.schema import HR_METHOD, NO_PROTOCOL, NOT_AVAILABLE
from srbench.schema import PER_IMAGE_COLUMNS as _PER_IMAGE, SUMMARY_COLUMNS as _SUMMARY

NoReference = list[tuple[Metric, object]]
"""The run's no-reference metrics, each with its prepared state (e.g. NIQE's model), in column order."""

PER_IMAGE_COLUMNS = list(_PER_IMAGE)
SUMMARY_COLUMNS = list(_SUMMARY)
MIN_IMAGES_FOR_WORKERS = 24
LOG_PROGRESS_INTERVAL_S = 30.0  # progress-line period when stderr is not a terminal


@dataclass
class RunResult:
    """What a run produced: the tables, the methods skipped (name -> reason), missing outputs."""

    out_dir: Path
    per_image: pd.DataFrame
    summary: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    coverage: list[str] = field(default_factory=list)
    seconds: float = 0.0


def parse_list(text: str) -> list[str]:
    """Split a comma-separated flag value, dropping blanks and duplicates (order kept)."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    return list(dict.fromkeys(items))


def select_methods(requested: list[str], settings: Mapping | None = None) -> tuple[list[Method], dict[str, str]]:
    """Build the requested methods; ``all`` means every registered one that can run.

    Returns ``(methods, skipped)``. A method named explicitly that cannot run
    is an error; under ``all`` it is skipped with its reason. ``settings``
    (``checkpoint_root``, ``device``, ...) go to every method that takes them;
    one that no chosen method takes is an error.
    """
    chosen, skipped = [], {}
    names: list[tuple[str, bool]] = []
    for name in requested:
        if name.strip().lower() == "all":
            names += [(n, False) for n in registry.all_method_names()]
            continue
        try:
            names.append((registry.canonical_name(name), True))
        except UnknownMethod as exc:
            raise UnknownMethod(f"{exc}; or 'all' (every method that can run here)") from None
    settings = dict(settings or {})
    used: set[str] = set()
    seen = set()
    for name, explicit in names:
        if name in seen:
            continue
        seen.add(name)
        own = registry.settings_for(name, settings)
        used |= set(own)
        method = registry.get_method(name, **own)
        key = registry.method_key(method.name)
        if any(registry.method_key(m.name) == key for m in chosen) or method.name in skipped:
            raise SrbenchError(f"two methods are named {method.name!r} ({name}); their rows could not be told "
                               "apart - give each external:NAME=DIR its own NAME and each checkpoint:LABEL=DIR "
                               "its own LABEL")
        reason = method.availability()
        if reason is None:
            chosen.append(method)
        elif explicit:
            raise SrbenchError(f"method {name} cannot run: {reason}")
        else:
            skipped[name] = reason
    if set(settings) - used:
        raise SrbenchError(f"no chosen method takes the setting(s) {', '.join(sorted(set(settings) - used))} "
                           f"(checkpoint-backed methods take {', '.join(registry.COMMON_SETTINGS)})")
    if not chosen:
        raise SrbenchError("no method can run" + "".join(f"\n  {n}: {r}" for n, r in skipped.items()))
    return chosen, skipped


def default_out_dir() -> Path:
    """A new folder ``results/runs/YYYYmmdd-HHMMSS`` (suffixed if it exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, k = RUNS_DIR / stamp, 1
    while candidate.exists():
        k += 1
        candidate = RUNS_DIR / f"{stamp}-{k}"
    return candidate


@dataclass(frozen=True)
class Upscaled:
    """One SR image made by :func:`produce` (``sr`` is None when the method had no output for the image)."""

    dataset: str
    method: str
    image: BenchImage
    sr: np.ndarray | None


Group = tuple[str, str, Iterator[Upscaled]]
"""``(dataset, method name, the group's images as they are upscaled)``."""


def produce(chosen: list[Method], images: dict[str, list[BenchImage]], *, save_to: Path | None = None,
            on_missing: Callable[[Upscaled], None] | None = None, include_hr: bool = False) -> Iterator[Group]:
    """Upscale every image of every set with every method: one group per (set, method), in that order.

    Each group's images are upscaled lazily, one per step of its iterator. A
    method without output for an image (:class:`MissingOutput`) gives
    ``sr=None`` after calling ``on_missing``. With ``save_to`` the SR images are
    also written as ``save_to/<method>/<dataset>/<image>.png``. With
    ``include_hr`` each set ends with a group of its HR images themselves
    (method :data:`srbench.schema.HR_METHOD`, for no-reference metrics). Raises
    :class:`SrbenchError` if a method returns anything but uint8 of the HR shape.
    """
    for dataset, bench in images.items():
        for method in chosen:
            yield dataset, method.name, _upscale_all(method, dataset, bench, save_to, on_missing)
        if include_hr:
            yield dataset, HR_METHOD, (Upscaled(dataset, HR_METHOD, image, image.hr) for image in bench)


def _upscale_all(method: Method, dataset: str, bench: list[BenchImage], save_to: Path | None,
                 on_missing: Callable[[Upscaled], None] | None) -> Iterator[Upscaled]:
    for image in bench:
        try:
            sr = method.upscale(image.lr, dataset=dataset, name=image.name)
        except MissingOutput:
            item = Upscaled(dataset, method.name, image, None)
            if on_missing:
                on_missing(item)
            yield item
            continue
        if sr.shape != image.hr.shape or sr.dtype != np.uint8:
            raise SrbenchError(
                f"method {method.name} returned {sr.dtype} {sr.shape} for {dataset}/{image.name}; "
                f"expected uint8 {image.hr.shape}"
            )
        if save_to is not None:
            write_png(save_to / method.name / dataset / image.name, sr)
        yield Upscaled(dataset, method.name, image, sr)


def measure(groups: Iterable[Group], protocols: list[str], pool: Executor, *, no_reference: NoReference = (),
            on_measured: Callable[[], None] | None = None) -> Iterator[list[list]]:
    """Compute the metrics of every produced image, in ``pool``.

    PSNR/SSIM under every protocol (none for the HR group, which is measured
    only by no-reference metrics) and the ``no_reference`` metrics. Each image is
    submitted as soon as it is upscaled, so the workers measure while the
    group's next images are upscaled. Yields the per-image rows of one group
    at a time (:func:`per_image_columns`: a row per protocol, then the
    no-reference row), in production order, once the group is measured (before the next
    group is upscaled); images without output give no rows. ``on_measured``
    is called (from the pool's thread) as each image's metrics are done.
    """
    for _dataset, method, items in groups:
        own = () if method == HR_METHOD else tuple(protocols)
        pending = []
        for item in items:
            if item.sr is None:
                continue
            future = pool.submit(measure_image, item.sr, item.image.hr, own, item.image.is_gray, tuple(no_reference))
            if on_measured:
                future.add_done_callback(lambda _f: on_measured())
            pending.append((item, future))
        rows = []
        for item, future in pending:
            full, nr = future.result()
            key = [item.dataset, item.image.name, item.method]
            extra = [math.nan, ""] * len(no_reference)
            for protocol, (psnr, ssim) in zip(own, full):
                rows.append(key + [protocol, psnr, ssim] + extra)
            if no_reference:
                values = [x for value, note in nr for x in (math.nan if value is None else value, note)]
                rows.append(key + [NO_PROTOCOL, math.nan, math.nan] + values)
        yield rows


def no_reference_columns(names: Iterable[str]) -> list[str]:
    """The CSV columns of the no-reference metrics ``names``: ``NAME,NAME_note`` each."""
    return [c for name in names for c in (name, f"{name}_note")]


def per_image_columns(no_reference: Iterable[str] = ()) -> list[str]:
    """``per_image.csv``'s columns: :data:`PER_IMAGE_COLUMNS`, plus ``NAME,NAME_note`` per no-reference metric."""
    return PER_IMAGE_COLUMNS + no_reference_columns(no_reference)


def summary_columns(no_reference: Iterable[str] = ()) -> list[str]:
    """``summary.csv``'s columns: :data:`SUMMARY_COLUMNS`, plus ``NAME,NAME_note`` per no-reference metric."""
    return SUMMARY_COLUMNS + no_reference_columns(no_reference)


def write_run(out_dir: Path, per_image: pd.DataFrame, summary: pd.DataFrame, record: dict) -> None:
    """Write ``per_image.csv``, ``summary.csv`` (6 decimals) and ``run.json`` atomically; drop the partial file.

    A no-reference value that is NaN is written ``n/a`` where its ``NAME_note`` gives a
    reason (it could not be computed), else left empty (not measured on that row).
    """
    _write_csv(_no_reference_text(per_image), out_dir / "per_image.csv")
    (out_dir / "per_image.csv.partial").unlink(missing_ok=True)
    _write_csv(_no_reference_text(summary), out_dir / "summary.csv")
    _write_text(out_dir / "run.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    (out_dir / resume.JOURNAL_NAME).unlink(missing_ok=True)


def run_benchmark(
    methods: list[str],
    datasets: list[str],
    *,
    data_root: Path,
    out_dir: Path | None = None,
    protocols: list[str] = list(PROTOCOLS),
    save_images: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    jobs: int | None = None,
    log: Callable[[str], None] | None = None,
    method_settings: Mapping | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
    niqe_model: str | os.PathLike | None = None,
    fresh: bool = False,
) -> RunResult:
    """Super-resolve ``datasets`` with ``methods`` and write the tables to ``out_dir``.

    ``methods`` are registry names (aliases, ``all`` and ``external:NAME=DIR``
    allowed), ``datasets`` are ``set5``/``set14``/``bsd100``, ``protocols`` a
    subset of :data:`srbench.metrics.PROTOCOLS`. SR images are saved as
    ``OUT/images/<method>/<dataset>/<image>.png`` with ``save_images``.
    ``jobs`` worker processes compute the metrics while the main process
    upscales the next images (default: one per usable CPU core, see
    :func:`usable_cpus`, and none for fewer than 24 images; 1 = no workers).
    ``log`` receives the coverage lines of ``external:`` methods before any
    image is measured (they are also in ``RunResult.coverage``).
    ``method_settings`` (``checkpoint_root``, ``device``, ``tile``, ...) go to
    the methods that take them (see :func:`select_methods`).
    ``metrics``: from ``psnr``, ``ssim`` (together), ``niqe`` and the
    no-reference metrics plugins registered (:func:`srbench.metrics.parse_metrics`);
    with ``niqe`` the model is ``niqe_model`` (a path), else ``$SRBENCH_NIQE_MODEL``,
    else the data cache, loaded before any work
    (:class:`srbench.metrics.niqe_model.NiqeModelError` naming the fetch command
    if it is missing). With any no-reference metric the HR images are measured too.
    An interrupted run into the same ``out_dir`` (without ``out_dir``: the
    newest unfinished run of the same request under ``results/runs/``) is
    continued, reusing its finished groups (:mod:`srbench.run.resume`); ``fresh``
    discards them.
    """
    start = time.perf_counter()
    datasets, metrics, protocols = _checked_request(methods, datasets, protocols, metrics, niqe_model)
    no_reference = _prepare_no_reference(metrics, {"niqe": niqe_model})
    chosen, skipped = select_methods(methods, method_settings)
    if any(m.name == HR_METHOD for m in chosen):
        raise SrbenchError(f"a method may not be called {HR_METHOD!r}: that name stands for the HR images")
    coverage = _check_coverage(chosen, datasets, log)
    columns = per_image_columns(m.name for m, _ in no_reference)
    request = {"methods": [registry.canonical_name(m) if m.strip().lower() != "all" else "all" for m in methods],
               "datasets": datasets, "protocols": list(protocols), "metrics": list(metrics)}
    if not out_dir and not fresh:
        out_dir = resume.find_unfinished(RUNS_DIR, request)
    out_dir = Path(out_dir) if out_dir else default_out_dir()
    if (out_dir / "per_image.csv").exists() and not overwrite:
        raise SrbenchError(f"{out_dir} already holds a run (per_image.csv); choose another --out or pass --overwrite")
    run_key = {"protocols": list(protocols), "metrics": list(metrics), "columns": columns,
               "no_reference": _no_reference_records(no_reference), "code": resume.code_key()}
    group_keys = _group_keys(chosen, datasets)
    created = _make_out_dir(out_dir)
    rows: list[list] = []
    try:
        journal = resume.open_journal(out_dir, run_key, group_keys, columns, request=request,
                                      fresh=fresh, log=log)
        images, missing = _produce_and_measure(chosen, datasets, data_root, out_dir, protocols, save_images,
                                               progress, jobs, rows, no_reference, journal, group_keys)
    except BaseException as exc:
        _explain_leftovers(exc, out_dir, _partial_rows(out_dir / "per_image.csv.partial"), created=created)
        raise

    per_image = pd.DataFrame(rows, columns=columns)
    expected = {name: len(v) for name, v in images.items()}
    summary = summarize(per_image, expected, [m.name for m in chosen], protocols)
    seconds = time.perf_counter() - start
    record = {
        "protocols": list(protocols),
        "metrics": list(metrics),
        "datasets": {name: {"images": expected[name], "manifest_sha256": provenance.manifest_sha256(name)}
                     for name in datasets},
        "methods": {m.name: _method_record(m) for m in chosen},
        "skipped": skipped,
        "missing": missing,
        "coverage": coverage,
        **provenance.code_record(),
        "environment": provenance.environment(),
        "seconds": round(seconds, 2),
        **_no_reference_records(no_reference),
    }
    if save_images:
        record["saved_images"] = saved_image_checksums(out_dir / "images")
    write_run(out_dir, per_image, summary, record)
    return RunResult(out_dir, per_image, summary, skipped, missing, coverage, seconds)


def _group_keys(chosen: list[Method], datasets: list[str]) -> dict[tuple[str, str], str]:
    """(dataset, method) -> the resume key of that group (:mod:`srbench.run.resume`), ``hr`` included."""
    manifests = {name: provenance.manifest_sha256(name) for name in datasets}
    keys = {(d, m.name): resume.digest({"inputs_manifest_sha256": manifests[d], **resume.method_key(m, d)})
            for d in datasets for m in chosen}
    keys.update({(d, HR_METHOD): resume.digest({"inputs_manifest_sha256": manifests[d], "name": HR_METHOD})
                 for d in datasets})
    return keys


def _checked_request(methods: list[str], datasets: list[str], protocols: list[str], metrics: Iterable[str],
                     niqe_model) -> tuple[list[str], tuple[str, ...], list[str]]:
    """``(datasets, metrics, protocols)`` of a run request, checked and normalised; SrbenchError otherwise.

    Datasets (``all``: every set) and protocols are case-insensitive and lose duplicates; with no
    full-reference metric chosen no protocol applies (``[]``).
    """
    datasets = dataset_names(datasets)  # case-insensitive; 'all' = every set
    protocols = list(dict.fromkeys(p.strip().lower() for p in protocols))  # PAPER = paper, as for sets and methods
    metrics = parse_metrics(metrics)
    for protocol in protocols:
        get_protocol(protocol)  # an unknown name: SrbenchError naming the known ones
    if not datasets or not protocols or not methods:
        raise SrbenchError("need at least one method, one dataset and one protocol")
    if not set(FULL_REFERENCE) & set(metrics):
        protocols = []  # no-reference metrics alone: no protocol applies
    if niqe_model and "niqe" not in metrics:
        raise SrbenchError("a NIQE model was given but NIQE is not among the metrics (add niqe to --metrics)")
    return datasets, metrics, list(protocols)


def _check_coverage(chosen: list[Method], datasets: list[str], log: Callable[[str], None] | None) -> list[str]:
    """Methods that read stored results (``external:``) say up front what they lack (returned and logged),
    and refuse wrong-size or unreadable files before any work is done."""
    reports = [r for r in (m.check_coverage(datasets) for m in chosen) if r is not None]
    for report in reports:
        _refuse_unusable_files(report)
    coverage = [line for report in reports for line in report.lines()]
    for line in coverage if log else ():
        log(line)
    return coverage


def _no_reference_records(no_reference: NoReference) -> dict:
    """``run.json`` entries of the no-reference metrics: ``{name: record}`` (e.g. NIQE's model and settings)."""
    records = {}
    for metric, state in no_reference:
        metric_record = metric.run_record(state)
        if metric_record is not None:
            records[metric.name] = metric_record
    return records


def _prepare_no_reference(metrics: Iterable[str], options: Mapping[str, object]) -> NoReference:
    """The chosen no-reference metrics with their prepared state (``options[name]``: the user's setting).

    Runs before any method is built or image read: a missing model stops the run here.
    """
    chosen = [get_metric(name) for name in metrics]
    return [(m, m.prepared(options.get(m.name))) for m in chosen if m.kind == NO_REFERENCE_KIND]


def _produce_and_measure(chosen: list[Method], datasets: list[str], data_root: Path, out_dir: Path,
                         protocols: list[str], save_images: bool, progress: bool, jobs: int | None,
                         rows: list[list], no_reference: NoReference, journal: resume.Journal,
                         group_keys: dict[tuple[str, str], str]
                         ) -> tuple[dict[str, list[BenchImage]], dict[str, list[str]]]:
    """Load the sets, upscale and measure: rows go to the partial file (and the journal) as each group is measured.

    Groups in ``journal.reused`` are not measured again. On return ``rows``
    holds every group's rows in production order (sets, then methods, then
    ``hr``), reused or not. With ``no_reference`` metrics the HR images are
    measured too (method ``hr``) and the rows carry their columns.
    """
    images = {name: load_dataset(name, data_root) for name in datasets}
    order = [(d, name) for d in datasets
             for name in [m.name for m in chosen] + ([HR_METHOD] if no_reference else [])]
    done: dict[tuple[str, str], list[list]] = {}
    missing: dict[str, list[str]] = {}
    for (dataset, method), (group_rows, absent) in journal.reused.items():
        done[(dataset, method)] = group_rows
        rows += group_rows
        if absent:
            missing[f"{method}/{dataset}"] = list(absent)
    total = sum(len(images[d]) for d, _ in order)
    todo = sum(len(images[d]) for d, m in order if (d, m) not in done)
    if jobs is None:  # workers pay off only beyond a few images (each imports numpy/scipy)
        jobs = usable_cpus() if todo >= MIN_IMAGES_FOR_WORKERS else 1
    current: list[tuple[str, str]] = []
    with open(out_dir / "per_image.csv.partial", "a", newline="") as partial, progress_bar(
        total, "srbench run", enabled=progress
    ) as bar, _metric_executor(jobs) as pool:
        writer = csv.writer(partial)
        bar.update(total - todo)

        def on_missing(item: Upscaled) -> None:
            missing.setdefault(f"{item.method}/{item.dataset}", []).append(item.image.name)
            bar.update(1)

        def announce(groups: Iterable[Group]) -> Iterator[Group]:
            for dataset, method, items in groups:
                if (dataset, method) in done:
                    continue  # reused from an earlier attempt: not upscaled again
                current[:] = [(dataset, method)]
                bar.set_postfix_str(f"{method} on {dataset}")
                yield dataset, method, items

        produced = produce(chosen, images, save_to=out_dir / "images" if save_images else None, on_missing=on_missing,
                           include_hr=bool(no_reference))
        for group_rows in measure(announce(produced), list(protocols), pool, no_reference=no_reference,
                                  on_measured=lambda: bar.update(1)):
            dataset, method = current[0]
            writer.writerows(_partial_text(row) for row in group_rows)
            partial.flush()
            journal.add(dataset, method, group_keys[(dataset, method)], len(group_rows),
                        missing.get(f"{method}/{dataset}", []))
            done[(dataset, method)] = group_rows
            rows += group_rows
    rows[:] = [row for key in order for row in done.get(key, [])]
    return images, missing


def saved_image_checksums(images_dir: Path) -> dict[str, str]:
    """SHA-256 (hex) of every PNG under ``images_dir``, keyed by its path below it (``method/dataset/image``)."""
    out = {}
    for path in sorted(Path(images_dir).glob("*/*/*")):
        if path.is_file():
            out[path.relative_to(images_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _partial_rows(partial: Path) -> int:
    """Data rows in the partial file (what a stopped run really left there), 0 if there is none."""
    try:
        with open(partial, newline="") as f:
            return max(0, sum(1 for _ in csv.reader(f)) - 1)
    except (OSError, csv.Error):
        return 0


def _explain_leftovers(exc: BaseException, out_dir: Path, measured: int, *, created: bool) -> None:
    """After a failed or interrupted run: keep measured rows and say where; remove what holds nothing.

    A partial file without a measured row is deleted, and so is ``out_dir`` if
    this run created it and it is empty again. Rows already measured are honest
    partial results: they stay in ``per_image.csv.partial`` and the error says
    so (appended to an :class:`SrbenchError`'s one-line message, else added as
    a PEP 678 note, which the CLI prints under "interrupted").
    """
    partial = out_dir / "per_image.csv.partial"
    notes = []
    if measured:
        notes.append(f"the {measured} rows measured before it stopped are kept in {partial} (an unfinished run: "
                     "no per_image.csv, summary.csv or run.json); run the same command again to continue from "
                     "them (--fresh starts over)")
    else:
        partial.unlink(missing_ok=True)
        (out_dir / resume.JOURNAL_NAME).unlink(missing_ok=True)
    if (out_dir / "images").is_dir():
        notes.append(f"the SR images saved so far are in {out_dir / 'images'}")
    if created and not measured:
        try:
            out_dir.rmdir()  # only if empty
        except OSError:
            pass
    if not notes:
        return
    note = "; ".join(notes)
    if isinstance(exc, SrbenchError) and exc.args:
        exc.args = (f"{exc.args[0]}; {note}", *exc.args[1:])  # same type, still one line
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]


def _method_record(method: Method) -> dict:
    """run.json's entry for one method: its checkpoint (or None), and where stored outputs come from if known."""
    record = {"checkpoint": method.checkpoint_info()}
    source = method.source_info()
    if source is not None:
        record["source"] = source
    return record


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask: taskset, SLURM, cpusets), at least 1.

    ``os.cpu_count()`` counts the whole machine, which oversubscribes a job
    given 2 of 64 cores.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


class _InlineExecutor(Executor):
    """Runs submitted work at once in this process (``jobs=1``)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - re-raised by future.result()
            future.set_exception(exc)
        return future


@contextmanager
def _metric_executor(jobs: int) -> Iterator[Executor]:
    """``jobs`` spawned worker processes (or none for ``jobs=1``), shut down on exit.

    Workers ignore SIGINT: Ctrl-C reaches the whole process group, and only the
    parent should react (one "interrupted" line, no worker tracebacks). On any
    error or interrupt the queued work is cancelled instead of waited for; a
    worker that dies (OOM killer) becomes a one-line :class:`SrbenchError`.
    """
    if jobs <= 1:
        yield _InlineExecutor()
        return
    # spawn, not fork: the parent may hold torch's thread pools
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_IGNORE_SIGINT)
    try:
        yield pool
    except BrokenProcessPool as exc:
        pool.shutdown(wait=True, cancel_futures=True)
        raise SrbenchError(
            "a metric worker process died (killed, or out of memory?); rerun with fewer --jobs, "
            "or --jobs 1 to measure in this process"
        ) from exc
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# a partial of a builtin, not a function of this module: unpickling it in a
# worker must not import srbench.run.runner (and with it torch)
_IGNORE_SIGINT = functools.partial(signal.signal, signal.SIGINT, signal.SIG_IGN)


def progress_bar(total: int, desc: str, *, enabled: bool = True) -> tqdm:
    """A tqdm bar on stderr (unit: images) that does not flood logs.

    On a terminal it redraws at most 10 times a second; when stderr is not a
    terminal (CI logs, ``2> file``) every redraw is a new log line, so it
    prints at most one line every :data:`LOG_PROGRESS_INTERVAL_S` seconds.
    """
    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="img", disable=not enabled,
                mininterval=0.1 if interactive else LOG_PROGRESS_INTERVAL_S,
                maxinterval=10.0 if interactive else LOG_PROGRESS_INTERVAL_S)


def _refuse_unusable_files(report) -> None:
    """Raise :class:`SrbenchError` (one line) if an ``external:`` folder has wrong-size or unreadable images."""
    problems = []
    for cov in report.datasets.values():
        problems += [f"{cov.dataset}: {item}" for item in cov.mis_sized]
        problems += [f"{cov.dataset}: {name} (unreadable)" for name in cov.unreadable]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... ({len(problems) - 5} more)" if len(problems) > 5 else "")
        raise SrbenchError(
            f"{report.prefix}{report.method}: {len(problems)} unusable SR image(s) in {report.directory} "
            f"(each must be a readable image of the HR size, 4x the LR): {shown}"
        )


def _make_out_dir(out_dir: Path) -> bool:
    """Create ``out_dir`` (and parents); True if it did not exist. A clear :class:`SrbenchError` if impossible."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SrbenchError(f"--out {out_dir} is a file, not a folder; choose a folder for the run's tables")
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".srbench-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SrbenchError(f"cannot write the run into --out {out_dir}: {exc.strerror or exc}") from None
    return created


def summarize(per_image: pd.DataFrame, expected: dict[str, int], method_names: list[str],
              protocols: list[str]) -> pd.DataFrame:
    """Per (dataset, method, protocol) means; empty means where coverage is partial.

    Infinite PSNR (identical images) makes the mean infinite, as it should.
    With no-reference columns (``NAME,NAME_note``), each (dataset, method) and
    the HR images also get a no-reference row: ``n`` = images with a value
    (of the first such metric), per metric the mean only when all
    ``n_expected`` have one, else NaN with ``NAME_note`` saying why.
    """
    names = no_reference_names(per_image.columns)
    rows = []
    for dataset, n_expected in expected.items():
        for method in method_names + ([HR_METHOD] if names else []):
            for protocol in protocols if method != HR_METHOD else ():
                sel = per_image[(per_image.dataset == dataset) & (per_image.method == method)
                                & (per_image.protocol == protocol)]
                n = len(sel)
                complete = n == n_expected
                rows.append([dataset, method, protocol, n, n_expected,
                             sel.psnr.mean() if complete else math.nan,
                             sel.ssim.mean() if complete else math.nan] + [math.nan, ""] * len(names))
            if names:
                sel = per_image[(per_image.dataset == dataset) & (per_image.method == method)
                                & (per_image.protocol == NO_PROTOCOL)]
                cells = []
                for name in names:
                    cells += set_mean(sel[name].astype(float).tolist(), sel[f"{name}_note"].tolist(), n_expected,
                                      _label(name))
                n = int(sel[names[0]].astype(float).notna().sum())
                rows.append([dataset, method, NO_PROTOCOL, n, n_expected, math.nan, math.nan] + cells)
    return pd.DataFrame(rows, columns=summary_columns(names))


def _label(name: str) -> str:
    """A no-reference metric's display label (its name upper-cased if no longer registered)."""
    try:
        return get_metric(name).label
    except SrbenchError:
        return name.upper()


def set_mean(values: list[float], notes: list[str], n_expected: int, label: str = "NIQE") -> tuple[float, str]:
    """``(mean, note)`` of a set's per-image values of one no-reference metric (``label``, e.g. NIQE);
    NaN with the reason unless all ``n_expected`` have one.

    A set with an image whose NIQE is n/a, or with images not measured at all
    (partial coverage), is not averaged: the mean would silently describe
    another set of images.
    """
    present = [v for v in values if not math.isnan(v)]
    if len(present) == n_expected:
        return sum(present) / n_expected, ""
    parts = []
    na = [note for v, note in zip(values, notes) if math.isnan(v)]
    if na:
        parts.append(f"{label} n/a for {len(na)} of {n_expected} images (e.g. {na[0]})")
    if len(values) < n_expected:
        parts.append(f"partial coverage: {len(values)} of {n_expected} images measured")
    return math.nan, "; ".join(parts) + "; a set with missing values is not averaged"


def format_summary(summary: pd.DataFrame) -> str:
    """A readable table: one row per method and protocol, ``PSNR / SSIM`` per dataset (and one row per
    no-reference metric, e.g. ``NIQE``)."""
    datasets = list(dict.fromkeys(summary.dataset))
    names = no_reference_names(summary.columns)
    header = ["method", "protocol"] + datasets
    lines = []
    for (method, protocol), group in summary.groupby(["method", "protocol"], sort=False):
        if protocol == NO_PROTOCOL:
            for name in names:
                cells = [method, _label(name)]
                for dataset in datasets:
                    value = float(group[group.dataset == dataset].iloc[0][name])
                    cells.append(NOT_AVAILABLE if math.isnan(value) else f"{value:.4f}")
                lines.append(cells)
            continue
        cells = [method, protocol]
        for dataset in datasets:
            row = group[group.dataset == dataset].iloc[0]
            if row.n < row.n_expected:
                cells.append(f"partial {row.n}/{row.n_expected}")
            else:
                cells.append(f"{row.psnr:.2f} / {row.ssim:.4f}")
        lines.append(cells)
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    sep = "  ".join("-" * w for w in widths)
    legend = "\n(PSNR dB / SSIM on Y, 4-px border crop)"
    if (summary.protocol == NO_PROTOCOL).any():
        for name in names:
            legend += "\n" + _legend(name)
    return "\n".join([fmt(header), sep] + [fmt(r) for r in lines]) + legend


def _legend(name: str) -> str:
    try:
        return get_metric(name).summary_legend()
    except SrbenchError:
        return f"({name}: no-reference; n/a: see summary.csv {name}_note)"


def _no_reference_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its no-reference columns as text: 6 decimals, ``n/a`` (NaN with a reason) or empty."""
    for name in no_reference_names(frame.columns):
        text = [("" if not note else NOT_AVAILABLE) if math.isnan(v) else f"{v:.6f}"
                for v, note in zip(frame[name].astype(float), frame[f"{name}_note"])]
        frame = frame.assign(**{name: text})
    return frame


def _partial_text(row: list) -> list:
    """A per-image row for the partial file: NaN (a no-reference row's PSNR/SSIM, a protocol row's no-reference
    values) empty, or n/a."""
    if len(row) == len(PER_IMAGE_COLUMNS):
        return row
    head, tail = row[:len(PER_IMAGE_COLUMNS)], row[len(PER_IMAGE_COLUMNS):]
    cells = ["" if isinstance(x, float) and math.isnan(x) else x for x in head]
    for value, note in zip(tail[::2], tail[1::2]):
        cells += [(NOT_AVAILABLE if note else "") if math.isnan(value) else value, note]
    return cells


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    _write_text(path, frame.to_csv(index=False, float_format="%.6f", lineterminator="\n"))


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, text)
