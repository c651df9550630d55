"""Table marks chosen directly, not only through golden files: Table 1's significance stars follow
``--correction``, Table 2's bold goes to the best (highest) PSNR/SSIM.

All ratings and per-image values here are SYNTHETIC and written under tmp_path only.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest
import scipy.stats

from srbench import report
from srbench.report.tables import Cell, Row, Slot, Table, TableSpec, _mark_best

HEADER = "study,rater,item,method,dataset,image,phase,repeat,score,response_ms,timestamp".split(",")
SET5 = ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
SET14 = ["baboon.png", "barbara.png", "bridge.png", "coastguard.png", "comic.png", "face.png", "flowers.png",
         "foreman.png", "lenna.png", "man.png", "monarch.png", "pepper.png", "ppt3.png", "zebra.png"]
RATERS = [f"r{r:02d}" for r in range(4)]


def _holm_sensitive_ratings() -> list[dict]:
    """SYNTHETIC ratings of the SRGAN category (three variants, so Holm has a family of three tests).

    srgan-mse and srgan-vgg22 score 3 in every (rater, image) cell. srgan-vgg54 scores 4, except 2 in five
    set5 cells: on set5 it beats each of the other two in 15 of 20 non-zero differences, all of size 1; on
    set14 it scores 4 in all 56 cells (a clear win under any correction).
    """
    rows: list[dict] = []

    def add(rater: str, method: str, dataset: str, image: str, score: int) -> None:
        rows.append(dict(study="SYNTHETIC-holm", rater=rater, item=str(len(rows) + 1), method=method,
                         dataset=dataset, image=image, phase="rating", repeat=0, score=score,
                         response_ms=1500, timestamp="2026-01-01T00:00:00+00:00"))

    for r, rater in enumerate(RATERS):
        for dataset, images in (("set5", SET5), ("set14", SET14)):
            for i, image in enumerate(images):
                add(rater, "srgan-mse", dataset, image, 3)
                add(rater, "srgan-vgg22", dataset, image, 3)
                worse = dataset == "set5" and (r + i) % 4 == 0  # 5 of the 20 set5 cells
                add(rater, "srgan-vgg54", dataset, image, 2 if worse else 4)
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def holm_reports(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("holm")
    ratings = _write(tmp / "synthetic_ratings.csv", _holm_sensitive_ratings())
    outs = {}
    for correction in ("none", "holm"):
        outs[correction] = tmp / correction
        report.build_report([], [ratings], outs[correction], correction=correction)
    return outs


def _starred(out: Path) -> list[list[str]]:
    t1 = pd.read_csv(out / "table1.csv", keep_default_na=False, dtype=str)
    return t1[(t1["metric"] == "mos") & (t1["star"] == "1")][["dataset", "label"]].values.tolist()


def test_table1_stars_follow_the_holm_correction_SYNTHETIC(holm_reports):
    # The design, checked first: every rater kept; on set5 srgan-vgg54 wins 15 of 20 tied unit differences
    # against each loser. With all |d| tied the tie-corrected normal approximation is the sign test's
    # z = (2k - n) / sqrt(n) = 10 / sqrt(20), so raw p = 2 sf(z) = 0.0253 < 0.05, while Holm over the family
    # {p, p, 1} gives 3p = 0.076 > 0.05 for both wins.
    screening = pd.read_csv(holm_reports["none"] / "screening.csv")
    assert screening["rejected"].tolist() == [0, 0, 0, 0]
    p_raw = 2 * scipy.stats.norm.sf(10 / math.sqrt(20))
    assert p_raw < 0.05 < 3 * p_raw
    sig = pd.read_csv(holm_reports["none"] / "significance.csv")
    set5 = sig[(sig["dataset"] == "set5") & (sig["metric"] == "mos")].set_index(["method_a", "method_b"])
    for loser in ("srgan-mse", "srgan-vgg22"):
        row = set5.loc[(loser, "srgan-vgg54")]
        assert (row["n"], row["p_method"]) == (20, "approx")
        assert row["pvalue"] == pytest.approx(p_raw, rel=1e-5)  # csv: 6 significant digits
        assert row["p_holm"] == pytest.approx(3 * p_raw, rel=1e-5)

    # No correction: both clear winners are starred. Holm: the set5 win no longer survives; set14's does.
    assert _starred(holm_reports["none"]) == [["set5", "SRGAN-VGG54"], ["set14", "SRGAN-VGG54"]]
    assert _starred(holm_reports["holm"]) == [["set14", "SRGAN-VGG54"]]
    assert "multiple-comparison correction: holm" in (holm_reports["holm"] / "table1.md").read_text()
    assert "multiple-comparison correction: none" in (holm_reports["none"] / "table1.md").read_text()


def _table2(values: dict[str, tuple[float | None, float | None]]) -> Table:
    """A SYNTHETIC one-dataset Table 2: ``method -> (psnr, ssim)`` (None: no data)."""
    spec = TableSpec(2, "SYNTHETIC", ("set5",), tuple(Slot(m, (m,), m) for m in values))
    rows = [Row("set5", slot, slot.label, {"psnr": Cell(values[slot.label][0], None),
                                          "ssim": Cell(values[slot.label][1], None),
                                          "mos": Cell(None, None)})
            for slot in spec.slots]
    return Table(spec, rows, "none")


def _bold(table: Table, metric: str) -> list[str]:
    return [r.method for r in table.rows if r.cells[metric].bold]


def test_bold_marks_the_highest_psnr_and_ssim_never_the_lowest_SYNTHETIC():
    table = _table2({"nearest": (24.5, 0.6512), "bicubic": (25.9, 0.6935), "srgan": (26.1, 0.7123),
                     "missing": (None, None), "hr": (math.inf, 1.0)})
    _mark_best(table)
    assert _bold(table, "ssim") == ["srgan"]  # not nearest (the worst), not hr (excluded)
    assert _bold(table, "psnr") == ["srgan"]
    assert _bold(table, "mos") == []  # Table 2's MOS is not bolded by _mark_best


def test_bold_ties_at_display_precision_and_the_winner_per_metric_SYNTHETIC():
    # SSIM shown with 4 decimals: 0.71234 and 0.71229 both read 0.7123 and are both bold; PSNR (2 decimals)
    # is won by another row than SSIM.
    table = _table2({"a": (27.004, 0.71234), "b": (27.001, 0.71229), "c": (27.02, 0.70001)})
    _mark_best(table)
    assert _bold(table, "ssim") == ["a", "b"]
    assert _bold(table, "psnr") == ["c"]
