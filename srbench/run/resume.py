"""Continue an interrupted ``srbench run``: reuse the rows it measured, recompute nothing twice.

While a run works, ``OUT/per_image.csv.partial`` receives the rows of each
(set, method) *group* as soon as the group is measured, and
``OUT/run.partial.json`` (this module's journal, rewritten atomically after
each group) records the group and how many rows it wrote. Running the same
command again (same ``--out``; without ``--out``, the newest unfinished run
under ``results/runs/`` with the same request) reuses a group's rows when
its *key* is unchanged:

* the run's key: the protocols, the metrics (and what ``run.json`` records of
  each no-reference metric, e.g. NIQE's model SHA-256 and settings), the
  CSV columns, and the code revision (:func:`srbench.run.stamp.git_revision`;
  when its code is ``+dirty``, also a SHA-256 of the changed code files; an
  installed copy without a checkout: its version);
* the group's key: the set's manifest SHA-256 (it pins the SHA-256 of every
  LR and HR file, verified as they are read), the method's name, the SHA-256
  of the module that defines its class, its checkpoint's SHA-256 and the device it
  runs on (learned methods), the release it reads (``published:``) and the
  SHA-256 of every stored SR image it reads (``external:``).

A group whose key differs is measured again; a run whose key differs starts
from zero (the reason is logged). Groups are reused whole, and the final
``per_image.csv``/``summary.csv`` are built in the same order from the same
values, so they are the same bytes as those of an uninterrupted run.
``fresh=True`` (``srbench run --fresh``) ignores and deletes what an earlier
attempt left.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from srbench import __version__
from srbench.run import registry
from srbench.run import stamp as provenance
from srbench.atomicio import write_atomic
from srbench.paths import CHECKOUT
from srbench.schema import NOT_AVAILABLE

JOURNAL_NAME = "run.partial.json"
PARTIAL_NAME = "per_image.csv.partial"
FORMAT = "srbench-run-resume-1"

GroupKey = tuple[str, str]
"""``(dataset, method name)``."""


def code_key(root: Path | None = CHECKOUT) -> str:
    """The code revision, plus a SHA-256 of the changed code files' paths and bytes when it is ``+dirty``."""
    revision = provenance.git_revision(root)
    if revision == "unknown" or root is None:
        return f"unknown (srbench {__version__})"
    if revision.endswith("+dirty"):
        digest = hashlib.sha256()
        for rel in provenance.code_changes(root) or []:
            path = Path(root) / rel
            digest.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"(deleted)") + b"\0")
        revision += " changes sha256 " + digest.hexdigest()
    return revision


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _module_sha256(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return _sha256_file(Path(origin)) if origin and Path(origin).is_file() else None


def method_key(method: registry.Method, dataset: str) -> dict:
    """What a method's rows on ``dataset`` depend on besides the inputs and srbench's code (see the module docstring)."""
    record: dict = {"name": method.name}
    if method.name == "hr":
        return record
    record["module_sha256"] = _module_sha256(type(method).__module__)  # the code that makes its pixels
    checkpoint = method.checkpoint_info()
    if checkpoint is not None:
        record["checkpoint_sha256"] = checkpoint.get("checkpoint_sha256")
        record["inference_device"] = checkpoint.get("inference_device")
        record["architecture"] = checkpoint.get("architecture")
    source = method.source_info()
    if source is not None:
        record["source"] = source  # the release; its files are checked against its manifest as they are read
    else:
        coverage = method.check_coverage([dataset])
        if coverage is not None:  # stored SR images (external:): the files themselves
            folder = Path(coverage.directory)
            record["stored_images"] = {p.relative_to(folder).as_posix(): _sha256_file(p)
                                       for p in sorted(folder.rglob("*")) if p.is_file()}
    return record


def digest(value: object) -> str:
    """SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def parse_partial_row(cells: list[str], columns: list[str]) -> list:
    """A row of ``per_image.csv.partial`` back as the runner made it (the inverse of its partial writer).

    ``psnr``/``ssim`` and every no-reference metric's value (a column ``NAME``
    followed by ``NAME_note``, e.g. ``niqe``) are floats (empty and ``n/a`` ->
    NaN; Python's float text round-trips exactly), the other columns text.
    """
    out: list = []
    for column, cell in zip(columns, cells):
        if column in ("psnr", "ssim") or f"{column}_note" in columns:
            out.append(math.nan if cell in ("", NOT_AVAILABLE) else float(cell))
        else:
            out.append(cell)
    return out


@dataclass
class Journal:
    """The journal of one output folder: the run's key and its finished groups (in the order written)."""

    out_dir: Path
    run_key: dict
    request: dict = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    reused: dict[GroupKey, tuple[list[list], list[str]]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.out_dir / JOURNAL_NAME

    def save(self) -> None:
        write_atomic(self.path, json.dumps({"format": FORMAT, "key": self.run_key, "request": self.request,
                                            "groups": self.groups},
                                           indent=1, sort_keys=True) + "\n")

    def add(self, dataset: str, method: str, group_key: str, n_rows: int, missing: list[str]) -> None:
        """Record a group whose ``n_rows`` rows were just written (and flushed) to the partial file."""
        self.groups.append({"dataset": dataset, "method": method, "key": group_key, "rows": n_rows,
                            "missing": list(missing)})
        self.save()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def open_journal(out_dir: Path, run_key: dict, group_keys: dict[GroupKey, str], columns: list[str], *,
                 request: dict | None = None, fresh: bool = False,
                 log: Callable[[str], None] | None = None) -> Journal:
    """The journal for a run into ``out_dir``: the groups of an earlier attempt that can be reused.

    Reusable groups (same run key, same group key, all their rows in the
    partial file) are kept: the partial file is rewritten with exactly their
    rows, and they are in ``Journal.reused``. Everything else an earlier
    attempt left is dropped (``log`` says why).
    """
    say = log or (lambda _msg: None)
    journal = Journal(out_dir, run_key, dict(request or {}))
    partial = out_dir / PARTIAL_NAME
    earlier, rows, why = (None, None, None) if fresh else _earlier_attempt(journal.path, partial, run_key, columns)
    if earlier is None or rows is None:
        if why:
            say(f"not resuming {out_dir}: {why}; starting from zero")
        _start(journal, partial, columns)
        return journal
    kept = _reusable_groups(earlier.get("groups") or [], rows, group_keys, columns, journal)
    _start(journal, partial, columns)
    with open(partial, "a", newline="") as f:
        writer = csv.writer(f)
        for group, chunk in kept:
            writer.writerows(chunk)
    journal.groups = [group for group, _ in kept]
    journal.save()
    n_rows = sum(len(chunk) for _, chunk in kept)
    say(f"resuming {out_dir}: reusing {len(kept)} finished (set, method) group(s), {n_rows} rows "
        f"(pass --fresh to measure everything again)")
    return journal


def _earlier_attempt(journal_path: Path, partial: Path, run_key: dict, columns: list[str]
                     ) -> tuple[dict | None, list[list[str]] | None, str | None]:
    """``(journal, partial rows, None)`` of an earlier attempt that may be continued, else ``(None, None, why
    not)`` (``why`` None: no earlier attempt at all)."""
    earlier = _read_journal(journal_path)
    if earlier is None or not partial.is_file():
        if earlier is None and not partial.is_file():
            return None, None, None
        return None, None, (f"no journal of an earlier attempt ({JOURNAL_NAME})" if earlier is None
                            else f"no {PARTIAL_NAME}")
    if earlier.get("key") != run_key:
        changed = sorted(k for k in set(run_key) | set(earlier.get("key") or {})
                         if run_key.get(k) != (earlier.get("key") or {}).get(k))
        return None, None, f"the earlier attempt differs in {', '.join(changed)}"
    with open(partial, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = list(reader)
    if header != columns:
        return None, None, f"{PARTIAL_NAME} has other columns"
    return earlier, rows, None


def _reusable_groups(groups: list[dict], rows: list[list[str]], group_keys: dict[GroupKey, str],
                     columns: list[str], journal: Journal) -> list[tuple[dict, list[list[str]]]]:
    """The earlier attempt's ``(group, its partial rows)`` whose key is unchanged and whose rows are all there,
    in the order written; each is also put in ``journal.reused`` (parsed back)."""
    at, kept = 0, []
    for group in groups:
        n = int(group.get("rows", -1))
        chunk = rows[at:at + n]
        at += n
        if n < 0 or len(chunk) < n or any(len(r) != len(columns) for r in chunk):
            break  # the partial file ends early: this group and the later ones are measured again
        key = (group.get("dataset"), group.get("method"))
        if group_keys.get(key) == group.get("key") and key not in journal.reused:
            journal.reused[key] = ([parse_partial_row(r, columns) for r in chunk], list(group.get("missing") or []))
            kept.append((group, chunk))
    return kept


def _start(journal: Journal, partial: Path, columns: list[str]) -> None:
    with open(partial, "w", newline="") as f:
        csv.writer(f).writerow(columns)
    journal.groups = []
    journal.save()


def _read_journal(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def find_unfinished(runs_dir: Path, request: dict) -> Path | None:
    """The newest folder under ``runs_dir`` holding an unfinished run (a journal, no ``per_image.csv``) of ``request``."""
    if not runs_dir.is_dir():
        return None
    for folder in sorted((p for p in runs_dir.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True):
        data = _read_journal(folder / JOURNAL_NAME)
        if data and data.get("request") == request and not (folder / "per_image.csv").exists():
            return folder
    return None
