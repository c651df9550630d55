"""Run folders for the viewer: load them, join their per-image rows, check their images, sort.

A run folder is what ``srbench run`` writes: ``per_image.csv``, ``run.json``
and, with ``--save-images``, ``images/<method>/<dataset>/<image>.png`` whose
SHA-256 sums ``run.json`` records under ``saved_images``. Every method of
every run becomes one :class:`Column` of the viewer, named by the method, or
``method@run-folder`` where two runs hold the same method (your checkpoint
beside the committed one).

Everything that could make a view wrong is refused in :func:`open_runs`,
before a page is served, each with one line (:class:`ViewError`): a folder
that is not a run, runs of different sets, an image missing in one run, a
saved image missing or not matching its recorded checksum, and a run without
saved images (unless ``regenerate``: then its images are remade from the
recorded methods, see :mod:`srbench.view.images`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from srbench.data.sets import DATASETS
from srbench.errors import SrbenchError
from srbench.paths import display_path
from srbench.schema import HR_METHOD

METRICS = ("psnr", "ssim", "niqe")
"""Per-image values the viewer shows: PSNR [dB] and SSIM (under the chosen protocol), NIQE (no-reference)."""


class ViewError(SrbenchError):
    """Runs the viewer cannot show truthfully (one line for the user)."""


@dataclass(eq=False)
class Run:
    """One ``srbench run`` folder: its per-image rows and its ``run.json`` record."""

    path: Path
    per_image: pd.DataFrame
    record: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def images_dir(self) -> Path:
        return self.path / "images"

    def has_images(self) -> bool:
        """Whether the run saved its SR images (``srbench run --save-images``)."""
        return self.images_dir.is_dir()

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.per_image["dataset"]))


@dataclass(eq=False)
class Column:
    """One method of one run as the viewer shows it; ``key`` is unique among the columns."""

    key: str
    method: str
    run: Run
    regenerate: bool = False  # the images are remade from the method (the run saved none)

    def saved_path(self, dataset: str, image: str) -> Path:
        return self.run.images_dir / self.method / dataset / image


@dataclass
class Collection:
    """The runs opened for viewing: their columns and one joined table of per-image values per set."""

    runs: list[Run]
    columns: list[Column]
    protocol: str
    notes: list[str] = field(default_factory=list)  # methods left out, and why
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def sets(self) -> list[str]:
        """The sets any run holds, in the benchmark's order (set5, set14, bsd100)."""
        held = {d for c in self.columns for d in c.run.datasets()}
        return [d for d in DATASETS if d in held] + sorted(held - set(DATASETS))

    def keys(self, dataset: str) -> list[str]:
        """The columns (keys) that hold ``dataset``."""
        return [c.key for c in self.columns if dataset in c.run.datasets()]

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise ViewError(f"no method {key!r} in the runs; choose from {', '.join(c.key for c in self.columns)}")

    def images(self, dataset: str) -> list[str]:
        """The set's images, in the runs' row order (the manifest's)."""
        return list(self.table(dataset).index)

    def table(self, dataset: str) -> pd.DataFrame:
        """Per image (index, row order of the runs) the values of every column: columns ``(key, metric)``."""
        if dataset not in self._tables:
            self._tables[dataset] = _join(self.columns, dataset, self.protocol)
        return self._tables[dataset]

    def value(self, dataset: str, image: str, key: str, metric: str) -> float:
        """One per-image value (NaN where not measured)."""
        table = self.table(dataset)
        return float(table.at[image, (key, metric)]) if (key, metric) in table.columns else math.nan


def load_run(path: str | Path) -> Run:
    """Read one run folder; :class:`ViewError` if it is not one."""
    path = Path(path)
    csv = path / "per_image.csv"
    if not path.exists():
        raise ViewError(f"{display_path(path)} does not exist (give 'srbench run' output folders)")
    if not path.is_dir():
        raise ViewError(f"{display_path(path)} is not a folder (give 'srbench run' output folders)")
    if not csv.is_file():
        partial = " (an unfinished run: only per_image.csv.partial)" if (path / "per_image.csv.partial").exists() else ""
        raise ViewError(f"{display_path(path)} is not a run folder: no per_image.csv{partial}")
    per_image = pd.read_csv(csv, dtype={"protocol": str, "niqe_note": str}, keep_default_na=False,
                            na_values={"psnr": [""], "ssim": [""], "niqe": ["", "n/a"]})
    record_path = path / "run.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    return Run(path, per_image, record)


def open_runs(paths: list[str | Path], *, protocol: str = "paper", regenerate: bool = False,
              can_regenerate=None, check_images: bool = True) -> Collection:
    """Load and check ``paths`` (see the module docstring); :class:`ViewError` for anything unviewable.

    ``can_regenerate(column) -> str | None`` says why a column's images cannot
    be remade (None: they can); with ``regenerate`` a column it refuses is left
    out with a note, without ``regenerate`` a run without saved images is an error.
    """
    if not paths:
        raise ViewError("no runs given")
    runs = [load_run(p) for p in paths]
    _check_same_sets(runs)
    columns = _columns(runs, protocol)
    notes: list[str] = []
    kept = []
    for column in columns:
        if column.run.has_images():
            if check_images:
                check_saved_images(column)
            kept.append(column)
            continue
        if not regenerate:
            raise ViewError(f"run {display_path(column.run.path)} has no saved images: rerun it with "
                            "'srbench run ... --save-images', or pass --regenerate to remake them from the recorded "
                            "methods (checkpoints checked by SHA-256)")
        reason = can_regenerate(column) if can_regenerate else None
        if reason is not None:
            notes.append(f"{column.key}: left out, its images cannot be regenerated: {reason}")
            continue
        column.regenerate = True
        kept.append(column)
    if not kept:
        raise ViewError("no method's images can be shown: " + "; ".join(notes))
    collection = Collection(runs, kept, protocol, notes)
    for dataset in collection.sets():
        _check_same_images(collection, dataset)
    return collection


def _check_same_sets(runs: list[Run]) -> None:
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if not set(a.datasets()) & set(b.datasets()):
                raise ViewError(f"runs of different sets: {display_path(a.path)} holds {', '.join(a.datasets())}; "
                                f"{display_path(b.path)} holds {', '.join(b.datasets())} - compare runs of one set")


def _columns(runs: list[Run], protocol: str) -> list[Column]:
    """One column per (run, method) with rows under ``protocol`` (or NIQE rows); HR rows are not a column."""
    found: list[tuple[Run, str]] = []
    for run in runs:
        rows = run.per_image
        if protocol not in set(rows["protocol"]):
            measured = sorted(set(rows["protocol"]) - {""})
            if measured:
                raise ViewError(f"run {display_path(run.path)} has no rows of protocol {protocol!r} "
                                f"(it measured {', '.join(measured)}); choose --protocol")
        for method in dict.fromkeys(rows["method"]):
            if method != HR_METHOD:
                found.append((run, method))
    count = pd.Series([m for _, m in found]).value_counts()
    return [Column(f"{m}@{run.name}" if count[m] > 1 else m, m, run) for run, m in found]


def _join(columns: list[Column], dataset: str, protocol: str) -> pd.DataFrame:
    parts = {}
    order: list[str] = []
    for column in columns:
        rows = column.run.per_image
        rows = rows[(rows["dataset"] == dataset) & (rows["method"] == column.method)]
        if rows.empty:
            continue
        order += [i for i in dict.fromkeys(rows["image"]) if i not in order]
        full = rows[rows["protocol"] == protocol].set_index("image")
        parts[(column.key, "psnr")] = full["psnr"].astype(float)
        parts[(column.key, "ssim")] = full["ssim"].astype(float)
        if "niqe" in rows.columns:
            nr = rows[rows["protocol"] == ""].set_index("image")
            if len(nr):
                parts[(column.key, "niqe")] = nr["niqe"].astype(float)
    table = pd.DataFrame(parts).reindex(order)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["method", "metric"])
    return table


def _check_same_images(collection: Collection, dataset: str) -> None:
    """Every column holding ``dataset`` must cover the same images (else a side-by-side view has holes)."""
    table = collection.table(dataset)
    for key in collection.keys(dataset):
        column = collection.column(key)
        missing = [i for i in table.index if (key, "psnr") in table.columns and math.isnan(table.at[i, (key, "psnr")])]
        if missing:
            raise ViewError(f"image {missing[0]} of {dataset} is missing in run {display_path(column.run.path)} "
                            f"({column.method} has {len(table.index) - len(missing)} of {len(table.index)} images): "
                            "compare runs that cover the same images")


def check_saved_images(column: Column) -> None:
    """Every image ``column``'s run measured is saved, and matches the SHA-256 ``run.json`` recorded for it."""
    recorded = column.run.record.get("saved_images")
    rows = column.run.per_image
    rows = rows[rows["method"] == column.method]
    for dataset, image in dict.fromkeys(zip(rows["dataset"], rows["image"])):
        path = column.saved_path(dataset, image)
        rel = f"{column.method}/{dataset}/{image}"
        if not path.is_file():
            raise ViewError(f"run {display_path(column.run.path)}: the saved image images/{rel} is missing "
                            "(the run measured it); rerun with --save-images")
        if recorded is None:
            continue
        if rel not in recorded:
            raise ViewError(f"run {display_path(column.run.path)}: run.json records no checksum for images/{rel}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != recorded[rel]:
            raise ViewError(f"run {display_path(column.run.path)}: images/{rel} does not match the SHA-256 the run "
                            f"recorded ({recorded[rel][:12]}...): the file was changed after the run")


@dataclass(frozen=True)
class SortKey:
    """How the image list is ordered: ``metric`` of method ``a``, or of ``a`` minus ``b`` (a difference)."""

    metric: str = ""  # "" = the set's own order
    a: str = ""
    b: str = ""
    descending: bool = False


def sort_values(collection: Collection, dataset: str, key: SortKey) -> pd.Series | None:
    """The values the images are sorted by (``a``'s metric, or ``a - b``); None for the set's own order."""
    if not key.metric or not key.a:
        return None
    table = collection.table(dataset)
    if (key.a, key.metric) not in table.columns:
        return None
    values = table[(key.a, key.metric)]
    if key.b:
        if (key.b, key.metric) not in table.columns:
            return None
        values = values - table[(key.b, key.metric)]
    return values


def sort_images(collection: Collection, dataset: str, key: SortKey) -> list[str]:
    """The set's images in ``key``'s order; ties (and NaN, last) keep the set's order (a stable sort)."""
    images = collection.images(dataset)
    values = sort_values(collection, dataset, key)
    if values is None:
        return images
    return list(values.sort_values(ascending=not key.descending, kind="mergesort", na_position="last").index)
