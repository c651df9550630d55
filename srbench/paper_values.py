"""The SRGAN paper's published Tables 1 and 2, read from ``srbench/data/paper_tables.csv``.

One row per ``(table, dataset, method)`` with PSNR [dB], SSIM (unitless,
0..1) and MOS (1..5) at 4x; ``inf`` PSNR for the HR row. Method names are
the paper's spelling (``SRResNet-MSE``, ``SRCNN``), except the two baselines,
which use the registry names ``nearest`` and ``bicubic``; datasets are
``set5``, ``set14``, ``bsd100``. These values are for comparison only:
nothing in srbench fills a missing measurement from them.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from srbench.errors import SrbenchError

METRICS = ("psnr", "ssim", "mos")


@lru_cache(maxsize=1)
def _rows() -> tuple[tuple[tuple[int, str, str], tuple[float, float, float]], ...]:
    text = resources.files("srbench").joinpath("data/paper_tables.csv").read_text()
    return tuple(
        ((int(row["table"]), row["dataset"], row["method"]), tuple(float(row[m]) for m in METRICS))
        for row in csv.DictReader(io.StringIO(text))
    )


def load_paper_values() -> dict[tuple[int, str, str], dict[str, float]]:
    """``(table, dataset, method) -> {"psnr": dB, "ssim": 0..1, "mos": 1..5}`` (a fresh dict)."""
    return {key: dict(zip(METRICS, values)) for key, values in _rows()}


def paper_psnr_ssim(method: str, dataset: str, *, table: int = 2) -> tuple[float, float]:
    """The paper's ``(psnr_db, ssim)`` set mean for ``method`` on ``dataset`` in ``table``.

    Raises :class:`SrbenchError` if the paper has no such cell.
    """
    values = load_paper_values().get((table, dataset, method))
    if values is None:
        raise SrbenchError(f"the paper's Table {table} has no row for {method} on {dataset}")
    return values["psnr"], values["ssim"]
