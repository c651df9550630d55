"""Super-resolve benchmark sets with registered methods and measure them.

:func:`run_benchmark` is the importable API behind ``srbench run``. It writes

* ``OUT/per_image.csv`` - header ``dataset,image,method,protocol,psnr,ssim``,
  one row per image, method and protocol (PSNR in dB, SSIM unitless);
* ``OUT/summary.csv``  - ``dataset,method,protocol,n,n_expected,psnr,ssim``:
  means over the set; ``psnr``/``ssim`` stay empty when a method covered only
  part of a set (``n < n_expected``), so a partial set is never averaged as if
  it were complete;
* ``OUT/run.json``     - provenance: protocols, data checksums, methods with
  their checkpoint sidecars, skipped methods and why, code revision, versions.

Rows are appended to ``per_image.csv.partial`` as they are measured; the
final files appear (atomically) only when the run completes.
"""

from __future__ import annotations

import csv
import functools
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
from typing import Callable, Iterator

import numpy as np
import pandas as pd
from tqdm import tqdm

import srbench.methods as method_registry
from srbench import provenance
from srbench.atomicio import write_atomic
from srbench.data import load_dataset, normalize_dataset_name
from srbench.errors import MissingOutput, SrbenchError
from srbench.imageio import write_png
from srbench.metrics import PROTOCOLS, evaluate_protocols
from srbench.paths import RUNS_DIR

PER_IMAGE_COLUMNS = ["dataset", "image", "method", "protocol", "psnr", "ssim"]
SUMMARY_COLUMNS = ["dataset", "method", "protocol", "n", "n_expected", "psnr", "ssim"]
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


def select_methods(requested: list[str]) -> tuple[list, dict[str, str]]:
    """Build the requested methods; ``all`` means every registered one that can run.

    Returns ``(methods, skipped)``. A method named explicitly that cannot run
    is an error; under ``all`` it is skipped with its reason.
    """
    chosen, skipped = [], {}
    names: list[tuple[str, bool]] = []
    for name in requested:
        if name.strip().lower() == "all":
            names += [(n, False) for n in method_registry.all_method_names()]
        else:
            names.append((method_registry.registry.canonical_name(name), True))
    seen = set()
    for name, explicit in names:
        if name in seen:
            continue
        seen.add(name)
        method = method_registry.get_method(name)
        if any(m.name == method.name for m in chosen) or method.name in skipped:
            raise SrbenchError(f"two methods are named {method.name!r} ({name}); their rows could not be told "
                               "apart - give each external:NAME=DIR its own NAME")
        reason = method.availability()
        if reason is None:
            chosen.append(method)
        elif explicit:
            raise SrbenchError(f"method {name} cannot run: {reason}")
        else:
            skipped[name] = reason
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
    """
    start = time.perf_counter()
    datasets = list(dict.fromkeys(normalize_dataset_name(d) for d in datasets))
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise SrbenchError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if not datasets or not protocols or not methods:
        raise SrbenchError("need at least one method, one dataset and one protocol")
    chosen, skipped = select_methods(methods)
    # methods that read stored results (external:) say up front what they lack,
    # and refuse wrong-size or unreadable files before any work is done
    reports = [m.check_coverage(datasets) for m in chosen if hasattr(m, "check_coverage")]
    for report in reports:
        _refuse_unusable_files(report)
    coverage = [line for report in reports for line in report.lines()]
    for line in coverage if log else ():
        log(line)
    out_dir = Path(out_dir) if out_dir else default_out_dir()
    if (out_dir / "per_image.csv").exists() and not overwrite:
        raise SrbenchError(f"{out_dir} already holds a run (per_image.csv); choose another --out or pass --overwrite")
    _make_out_dir(out_dir)

    images = {name: load_dataset(name, data_root) for name in datasets}
    total = sum(len(v) for v in images.values()) * len(chosen)
    partial_path = out_dir / "per_image.csv.partial"
    missing: dict[str, list[str]] = {}
    rows = []
    if jobs is None:  # workers pay off only beyond a few images (each imports numpy/scipy)
        jobs = usable_cpus() if total >= MIN_IMAGES_FOR_WORKERS else 1
    with open(partial_path, "w", newline="") as partial, progress_bar(
        total, "srbench run", enabled=progress
    ) as bar, _metric_executor(jobs) as pool:
        writer = csv.writer(partial)
        writer.writerow(PER_IMAGE_COLUMNS)
        for dataset in datasets:
            for method in chosen:
                bar.set_postfix_str(f"{method.name} on {dataset}")
                pending: list[tuple[str, Future]] = []
                for image in images[dataset]:
                    try:
                        sr = method.upscale(image.lr, dataset=dataset, name=image.name)
                    except MissingOutput:
                        missing.setdefault(f"{method.name}/{dataset}", []).append(image.name)
                        bar.update(1)
                        continue
                    if sr.shape != image.hr.shape or sr.dtype != np.uint8:
                        raise SrbenchError(
                            f"method {method.name} returned {sr.dtype} {sr.shape} for {dataset}/{image.name}; "
                            f"expected uint8 {image.hr.shape}"
                        )
                    if save_images:
                        write_png(out_dir / "images" / method.name / dataset / image.name, sr)
                    future = pool.submit(evaluate_protocols, sr, image.hr, tuple(protocols), image.is_gray)
                    future.add_done_callback(lambda _f: bar.update(1))
                    pending.append((image.name, future))
                for name, future in pending:
                    for protocol, (psnr, ssim) in zip(protocols, future.result()):
                        row = [dataset, name, method.name, protocol, psnr, ssim]
                        writer.writerow(row)
                        rows.append(row)
                partial.flush()

    per_image = pd.DataFrame(rows, columns=PER_IMAGE_COLUMNS)
    expected = {name: len(v) for name, v in images.items()}
    summary = summarize(per_image, expected, [m.name for m in chosen], protocols)
    _write_csv(per_image, out_dir / "per_image.csv")
    partial_path.unlink()
    _write_csv(summary, out_dir / "summary.csv")
    seconds = time.perf_counter() - start
    record = {
        "protocols": list(protocols),
        "datasets": {name: {"images": expected[name], "manifest_sha256": provenance.manifest_sha256(name)}
                     for name in datasets},
        "methods": {m.name: _method_record(m) for m in chosen},
        "skipped": skipped,
        "missing": missing,
        "coverage": coverage,
        "code_revision": provenance.git_revision(),
        "environment": provenance.environment(),
        "seconds": round(seconds, 2),
    }
    _write_text(out_dir / "run.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return RunResult(out_dir, per_image, summary, skipped, missing, coverage, seconds)


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
# worker must not import srbench.runner (and with it torch)
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
            f"external:{report.method}: {len(problems)} unusable SR image(s) in {report.directory} "
            f"(each must be a readable image of the HR size, 4x the LR): {shown}"
        )


def _make_out_dir(out_dir: Path) -> None:
    """Create ``out_dir`` (and parents); a clear :class:`SrbenchError` if that is impossible."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SrbenchError(f"--out {out_dir} is a file, not a folder; choose a folder for the run's tables")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".srbench-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SrbenchError(f"cannot write the run into --out {out_dir}: {exc.strerror or exc}") from None


def summarize(per_image: pd.DataFrame, expected: dict[str, int], method_names: list[str],
              protocols: list[str]) -> pd.DataFrame:
    """Per (dataset, method, protocol) means; empty means where coverage is partial.

    Infinite PSNR (identical images) makes the mean infinite, as it should.
    """
    rows = []
    for dataset, n_expected in expected.items():
        for method in method_names:
            for protocol in protocols:
                sel = per_image[(per_image.dataset == dataset) & (per_image.method == method)
                                & (per_image.protocol == protocol)]
                n = len(sel)
                complete = n == n_expected
                rows.append([dataset, method, protocol, n, n_expected,
                             sel.psnr.mean() if complete else math.nan,
                             sel.ssim.mean() if complete else math.nan])
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def format_summary(summary: pd.DataFrame) -> str:
    """A readable table: one row per method and protocol, ``PSNR / SSIM`` per dataset."""
    datasets = list(dict.fromkeys(summary.dataset))
    header = ["method", "protocol"] + datasets
    lines = []
    for (method, protocol), group in summary.groupby(["method", "protocol"], sort=False):
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
    return "\n".join([fmt(header), sep] + [fmt(r) for r in lines]) + "\n(PSNR dB / SSIM on Y, 4-px border crop)"


def _method_record(method) -> dict:
    info = getattr(method, "checkpoint_info", None)
    return {"checkpoint": info() if callable(info) else None}


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    _write_text(path, frame.to_csv(index=False, float_format="%.6f", lineterminator="\n"))


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, text)
