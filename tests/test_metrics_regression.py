"""Metrics regression guard: recompute every committed result and compare its means.

Each ``results/metrics/<run>/summary.csv`` committed in the repository is the
expected output for its methods. This test re-runs those methods on the real
benchmark files and fails on any drift beyond 1e-4 (dB for PSNR, absolute for
SSIM). Methods that cannot run here (no checkpoint, external folders) are
reported as skipped rather than silently passing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench import methods
from srbench.run.runner import run_benchmark

RESULTS = Path(__file__).resolve().parent.parent / "results" / "metrics"
COMMITTED = sorted(RESULTS.glob("*/summary.csv"))
TOLERANCE = 1e-4


# The SRGAN paper's Table 2 (Ledig et al. 2017): (PSNR dB, SSIM) of nearest and bicubic, as printed.
PAPER_TABLE2 = {
    ("set5", "nearest"): (26.26, 0.7552), ("set5", "bicubic"): (28.43, 0.8211),
    ("set14", "nearest"): (24.64, 0.7100), ("set14", "bicubic"): (25.99, 0.7486),
    ("bsd100", "nearest"): (25.02, 0.6606), ("bsd100", "bicubic"): (25.94, 0.6935),
}
SET_SIZES = {"set5": 5, "set14": 14, "bsd100": 100}


def test_committed_results_exist():
    """What the committed classic run holds, not only that it exists: nearest and bicubic on all three sets
    under both protocols, each a mean over the whole set that its per-image rows reproduce, and under the
    ``paper`` protocol equal to the paper's Table 2 to the printed decimals (half a unit of the last digit)."""
    assert "classic" in [p.parent.name for p in COMMITTED], "results/metrics/classic/summary.csv is missing"
    classic = RESULTS / "classic"
    summary = pd.read_csv(classic / "summary.csv", keep_default_na=False)
    measured = summary[summary.protocol.isin(["paper", "matlab"])]
    assert sorted(zip(measured.dataset, measured.method, measured.protocol)) == sorted(
        (d, m, p) for d in SET_SIZES for m in ("nearest", "bicubic") for p in ("paper", "matlab"))
    per_image = pd.read_csv(classic / "per_image.csv", keep_default_na=False)
    for row in measured.itertuples(index=False):
        assert row.n == row.n_expected == SET_SIZES[row.dataset], row
        images = per_image[(per_image.dataset == row.dataset) & (per_image.method == row.method)
                           & (per_image.protocol == row.protocol)]
        assert len(images) == row.n and images.image.is_unique, row
        assert float(row.psnr) == pytest.approx(images.psnr.astype(float).mean(), abs=2e-6), row
        assert float(row.ssim) == pytest.approx(images.ssim.astype(float).mean(), abs=2e-6), row
        if row.protocol == "paper":
            psnr, ssim = PAPER_TABLE2[row.dataset, row.method]
            assert abs(float(row.psnr) - psnr) <= 0.005 and abs(float(row.ssim) - ssim) <= 0.00005, row
    for path in COMMITTED:  # every committed run folder is complete
        assert (path.parent / "per_image.csv").is_file() and (path.parent / "run.json").is_file(), path.parent


CHECKPOINTS = sorted((RESULTS.parent / "checkpoints").glob("*/model.safetensors"))


@pytest.mark.parametrize("weights", CHECKPOINTS, ids=[p.parent.name for p in CHECKPOINTS])
def test_every_committed_checkpoint_has_results_measured_from_its_weights(weights):
    """A committed checkpoint is measured on all three sets under both protocols, from exactly these bytes
    (its run.json names the weights' SHA-256), so a retrained checkpoint cannot keep stale results."""
    from srbench.data.sets import sha256_file

    method = weights.parent.name
    digest = sha256_file(weights)
    covering = []
    for summary_path in COMMITTED:
        summary = pd.read_csv(summary_path)
        if method not in set(summary.method):
            continue
        run = json.loads((summary_path.parent / "run.json").read_text())
        recorded = ((run.get("methods") or {}).get(method) or {}).get("checkpoint") or {}
        assert recorded.get("checkpoint_sha256") == digest, (
            f"{summary_path.parent.name} measured {method} from other weights than {weights}; re-run "
            f"'srbench run --methods {method} --datasets set5,set14,bsd100 --out {summary_path.parent} --overwrite'")
        covering.append(summary[summary.method == method])
    assert covering, f"no results/metrics/*/summary.csv holds {method} (the committed checkpoint {weights})"
    rows = pd.concat(covering)
    assert set(zip(rows.dataset, rows.protocol)) >= {(d, p) for d in ("set5", "set14", "bsd100")
                                                       for p in ("paper", "matlab")}
    assert (rows.n == rows.n_expected).all()


@pytest.mark.slow
@pytest.mark.parametrize("summary_path", COMMITTED, ids=[p.parent.name for p in COMMITTED])
def test_committed_means_reproduce(summary_path, data_root, tmp_path):
    """PSNR/SSIM per protocol and, where the run measured it, NIQE (its rows have an empty protocol, and the
    HR images are measured too)."""
    expected = pd.read_csv(summary_path, keep_default_na=False)
    has_niqe = "niqe" in expected.columns
    runnable = [m for m in expected.method.unique() if m in methods.all_method_names()
                and methods.get_method(m).availability() is None]
    if not runnable:
        pytest.skip(f"{summary_path.parent.name}: none of its methods can run here")
    result = run_benchmark(runnable, list(expected.dataset.unique()), data_root=data_root,
                           out_dir=tmp_path / "rerun", protocols=[p for p in expected.protocol.unique() if p],
                           progress=False, metrics=["psnr", "ssim"] + (["niqe"] if has_niqe else []))
    keys = ["dataset", "method", "protocol"]
    now = result.summary.astype({"protocol": str})
    mine = expected[expected.method.isin(runnable + ["hr"])]
    merged = mine.merge(now, on=keys, suffixes=("_expected", "_now"))
    assert len(merged) == len(mine) == len(now)
    for column in ("psnr", "ssim") + (("niqe",) if has_niqe else ()):
        rows = merged[merged[f"{column}_expected"] != ""]
        assert len(rows), column
        drift = np.abs(rows[f"{column}_expected"].astype(float) - rows[f"{column}_now"].astype(float))
        worst = rows.loc[drift.idxmax(), keys].tolist()
        assert drift.max() <= TOLERANCE, f"{column} drifted by {drift.max():.6f} at {worst}"
