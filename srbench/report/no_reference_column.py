"""Table 2's no-reference columns (NIQE, and any no-reference metric a plugin registered): ours only.

The paper reports no such metric, so a column has no "paper" or "Δ" part. A
cell is the mean over a set's images for the method that fills the row, from
the runs' no-reference rows (:func:`srbench.report.inputs.combine_no_reference`).
The HR row is *measured* (e.g. NIQE of the original images), unlike its
PSNR/SSIM, which hold by definition. A set is averaged only when every image
has a value: an image whose value is n/a (for NIQE: smaller than one 96x96
block, ...) or that a method did not produce leaves the cell empty with a
footnote, never a mean of the rest. Bold marks the best mean per set at
display precision by the metric's direction (NIQE: lowest), HR and the
authors' released images excluded. Labels, precision, direction and caption
come from the metric's record (:mod:`srbench.metrics.registry`).
"""

from __future__ import annotations

import pandas as pd

from srbench.data.sets import load_manifest
from srbench.errors import SrbenchError
from srbench.metrics.registry import NO_REFERENCE_KIND, Metric, get_metric
from srbench.schema import HR_METHOD


def metric_of(name: str) -> Metric:
    """The registered record of the no-reference metric ``name`` (a plain one if no plugin registers it now)."""
    try:
        return get_metric(name)
    except SrbenchError:
        return Metric(name, NO_REFERENCE_KIND, "lower", name.upper(), compute=":")


def label(name: str) -> str:
    """The column's header, e.g. ``NIQE ↓ (ours)``."""
    metric = metric_of(name)
    return f"{metric.label} {metric.arrow} (ours)"


def decimals(name: str) -> int:
    return metric_of(name).decimals


def caption(name: str) -> str:
    return metric_of(name).table_caption()


def cell(frame: pd.DataFrame, name: str, dataset: str, key: str, *, fallback: str | None):
    """The :class:`srbench.report.tables.Cell` of ``key`` on ``dataset`` for the metric ``name`` (``frame``:
    its rows, columns ``dataset,image,method,NAME,NAME_note``); ``fallback`` explains a method absent from
    every run (the PSNR cell's reason), used when there are no rows of it at all."""
    from .tables import Cell

    shown = metric_of(name).label
    expected = int(load_manifest(dataset)["count"])
    rows = frame[(frame["dataset"] == dataset) & (frame["method"] == key)]
    if rows.empty:
        if key == HR_METHOD:
            return Cell(None, None, 0, expected, note=f"{shown} of the HR images not in the given runs (every "
                        f"'srbench run --metrics ...,{name}' measures them)")
        return Cell(None, None, 0, expected, note=fallback or (
            f"{shown} not measured in the given runs for this method on this set "
            f"('srbench run --metrics psnr,ssim,{name}' measures it)"))
    values = rows[name].astype(float)
    na = rows[values.isna()]
    if not na.empty:
        return Cell(None, None, int(values.notna().sum()), expected,
                    note=f"{shown} n/a for {len(na)} of {expected} images ({na[f'{name}_note'].iloc[0]}); "
                    "a set with missing values is not averaged")
    if len(rows) < expected:
        return Cell(None, None, len(rows), expected,
                    note=f"partial coverage: {shown} of {len(rows)} of {expected} images (a partly covered set is "
                    "not averaged)")
    return Cell(float(values.mean()), None, len(rows), expected)


def mark_best(rows: list, datasets: tuple[str, ...], name: str) -> None:
    """Bold the best mean of metric ``name`` (at display precision; lowest or highest by its direction) per
    dataset among ``rows``; HR, the authors' released images (``published:``, a check of the metrics,
    not srbench's own) and extra checkpoints (``checkpoint:``) are excluded, as in the PSNR/SSIM columns."""
    metric = metric_of(name)
    pick = min if metric.direction == "lower" else max
    for dataset in datasets:
        cells = [r.cells[name] for r in rows
                 if r.dataset == dataset and r.method != HR_METHOD and r.slot.ranked and name in r.cells]
        values = [round(c.ours, metric.decimals) for c in cells if c.ours is not None]
        if not values:
            continue
        best = pick(values)
        for c in cells:
            c.bold = c.ours is not None and round(c.ours, metric.decimals) == best
