"""Table 2's NIQE column: ours only (the paper reports no NIQE), lower = more natural.

A cell is the mean NIQE over a set's images for the method that fills the
row, from the runs' no-reference rows (:func:`srbench.report.inputs.combine_no_reference`).
The HR row is *measured* (NIQE of the original images), unlike its PSNR/SSIM,
which hold by definition. A set is averaged only when every image has a value:
an image whose NIQE is n/a (smaller than one 96x96 block, ...) or that a
method did not produce leaves the cell empty with a footnote, never a mean of
the rest. Bold marks the lowest mean per set at display precision, HR and the
authors' released images excluded.
"""

from __future__ import annotations

import pandas as pd

from srbench.data.sets import load_manifest
from srbench.schema import HR_METHOD

METRIC = "niqe"
DECIMALS = 2
LABEL = "NIQE ↓ (ours)"
CAPTION = ("NIQE (ours; the paper has no NIQE, so no paper value or difference): no-reference quality "
           "(Mittal et al. 2013, the authors' pristine model, gray luma, no border crop), mean over the set's "
           "images, lower = more natural; measured for HR too; bold = lowest of ours (HR and authors' images excluded).")
NOT_MEASURED = ("NIQE not measured in the given runs for this method on this set "
                "('srbench run --metrics psnr,ssim,niqe' measures it)")


def niqe_cell(niqe: pd.DataFrame, dataset: str, key: str, *, fallback: str | None):
    """The :class:`srbench.report.tables.Cell` of ``key`` on ``dataset``; ``fallback`` explains a method absent
    from every run (the PSNR cell's reason), used when there are no NIQE rows at all."""
    from .tables import Cell

    expected = int(load_manifest(dataset)["count"])
    rows = niqe[(niqe["dataset"] == dataset) & (niqe["method"] == key)]
    if rows.empty:
        if key == HR_METHOD:
            return Cell(None, None, 0, expected, note="NIQE of the HR images not in the given runs (every "
                        "'srbench run --metrics ...,niqe' measures them)")
        return Cell(None, None, 0, expected, note=fallback or NOT_MEASURED)
    values = rows["niqe"].astype(float)
    na = rows[values.isna()]
    if not na.empty:
        return Cell(None, None, int(values.notna().sum()), expected,
                    note=f"NIQE n/a for {len(na)} of {expected} images ({na['niqe_note'].iloc[0]}); "
                    "a set with missing values is not averaged")
    if len(rows) < expected:
        return Cell(None, None, len(rows), expected,
                    note=f"partial coverage: NIQE of {len(rows)} of {expected} images (a partly covered set is "
                    "not averaged)")
    return Cell(float(values.mean()), None, len(rows), expected)


def mark_lowest(rows: list, datasets: tuple[str, ...]) -> None:
    """Bold the lowest NIQE mean (at display precision) per dataset among ``rows``; HR and the authors'
    released images (``published:``, a check of the metrics, not srbench's own) are excluded, as in the
    PSNR/SSIM columns."""
    for dataset in datasets:
        cells = [r.cells[METRIC] for r in rows
                 if r.dataset == dataset and r.method != HR_METHOD and not r.slot.released and METRIC in r.cells]
        values = [round(c.ours, DECIMALS) for c in cells if c.ours is not None]
        if not values:
            continue
        best = min(values)
        for c in cells:
            c.bold = c.ours is not None and round(c.ours, DECIMALS) == best
