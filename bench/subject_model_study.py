"""SYNTHETIC study of the subject model (srbench.ratings.subject_model): recovery, CI coverage, plain MOS.

    python bench/subject_model_study.py [--reps 200] [--seed 14] [--smoke]

For each design below, ``--reps`` data sets are drawn from the model with planted item
quality psi ~ U(1.5, 4.5), rater biases ~ N(0, bias_sd) (centred to mean 0, the model's
constraint, so psi is directly comparable), inconsistencies v ~ U(v_lo, v_hi) and each rater
rating each item with probability p. Printed per design:

* RMSE of psi against the truth for the subject model (REML, ML) and for the plain per-item
  MOS (mean of the item's ratings), and how often REML is closer than plain MOS;
* coverage of the nominal 95 % CIs of psi (REML fit, the default; ML fit; SUREAL's interval:
  ML estimate +- z / sqrt(sum_i 1/v_i^2)), of the means of 10 items (mean_quality), of the
  biases and of the inconsistencies (REML fit); how many raters ML put at the floor per data set;
* fits that did not converge, and the median time per fit;
* then the coverage of :func:`method_quality`'s per-method intervals (see
  :func:`method_coverage`), next to the plain MOS's two-way bootstrap.

The ratings are SYNTHETIC (continuous, not rounded) and never written anywhere. ``--smoke``
runs 3 repetitions of the first design and 2 per-method studies (used by tests/test_subject_model.py).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from srbench.errors import SrbenchError
from srbench.ratings.subject_model import fit_subject_model, method_quality, simulate_ratings


@dataclass(frozen=True)
class Design:
    name: str
    raters: int
    items: int
    p: float
    bias_sd: float
    v_lo: float
    v_hi: float


GROUP = 10
"""Items per SYNTHETIC "method" whose mean quality's CI is checked (consecutive items)."""

DESIGNS = [
    Design("complete 20x60", 20, 60, 1.0, 0.5, 0.4, 1.2),
    Design("incomplete 20x60 p=0.5", 20, 60, 0.5, 0.5, 0.4, 1.2),
    Design("sparse 30x100 p=0.2", 30, 100, 0.2, 0.7, 0.3, 1.5),
    Design("few raters 8x60 p=0.6", 8, 60, 0.6, 0.7, 0.3, 1.5),
    Design("paper-like 26x120 complete", 26, 120, 1.0, 0.5, 0.5, 1.0),
]


def one_design(design: Design, reps: int, rng: np.random.Generator) -> dict:
    """Draw ``reps`` SYNTHETIC data sets of ``design``; fit REML and ML; collect errors and coverages."""
    names = ("rmse_reml", "rmse_ml", "rmse_mos", "reml_closer", "cov_psi_reml", "cov_psi_ml", "cov_psi_sureal",
             "cov_bias", "cov_v", "cov_group", "ml_at_floor", "seconds")
    got = {k: [] for k in names}
    failed = ml_failed = 0
    for _ in range(reps):
        psi = rng.uniform(1.5, 4.5, design.items)
        bias = rng.normal(0, design.bias_sd, design.raters)
        bias -= bias.mean()
        v = rng.uniform(design.v_lo, design.v_hi, design.raters)
        df = simulate_ratings(psi, bias, v, rng=rng, p_rated=design.p)
        try:
            t0 = time.perf_counter()
            fit = fit_subject_model(df)
            got["seconds"].append(time.perf_counter() - t0)
        except SrbenchError:
            failed += 1
            continue
        ml = fit_subject_model(df, estimator="ml", require_convergence=False)
        ml_failed += not ml.converged
        truth = pd.Series(psi, index=[f"i{j:03d}" for j in range(design.items)]).reindex(fit.items.index)
        b_true = pd.Series(bias, index=[f"r{i:02d}" for i in range(design.raters)]).reindex(fit.raters.index)
        v_true = pd.Series(v, index=[f"r{i:02d}" for i in range(design.raters)]).reindex(fit.raters.index)
        it, ra = fit.items, fit.raters

        def covered(low, high, true):
            return float(((low <= true) & (true <= high)).mean())

        def rmse(est):
            return float(np.sqrt(np.mean((est - truth) ** 2)))

        got["rmse_reml"].append(rmse(it.psi))
        got["rmse_ml"].append(rmse(ml.items.psi))
        got["rmse_mos"].append(rmse(it.mos))
        got["reml_closer"].append(rmse(it.psi) < rmse(it.mos))
        got["cov_psi_reml"].append(covered(it.ci_low, it.ci_high, truth))
        got["cov_psi_ml"].append(covered(ml.items.ci_low, ml.items.ci_high, truth))
        # SUREAL's interval: ML estimate +- z / sqrt(sum over the item's ratings of 1 / v_i^2)
        w = df["rater"].map(1.0 / ml.raters["inconsistency"] ** 2)
        se_diag = 1.0 / np.sqrt(w.groupby(df["item"]).sum().reindex(it.index))
        got["cov_psi_sureal"].append(float((np.abs(ml.items.psi - truth) <= 1.959964 * se_diag).mean()))
        got["cov_bias"].append(covered(ra.bias_ci_low, ra.bias_ci_high, b_true))
        got["cov_v"].append(covered(ra.inconsistency_ci_low, ra.inconsistency_ci_high, v_true))
        got["ml_at_floor"].append(int(ml.raters["at_floor"].sum()))
        # SYNTHETIC "methods": consecutive blocks of GROUP items; their mean psi with mean_quality's CI
        hits = []
        for start in range(0, design.items - GROUP + 1, GROUP):
            names = [f"i{j:03d}" for j in range(start, start + GROUP)]
            q, se = fit.mean_quality(names)
            hits.append(abs(q - psi[start:start + GROUP].mean()) <= 1.959964 * se)
        got["cov_group"].append(float(np.mean(hits)))
    out = {k: float(np.mean(x)) if x else float("nan") for k, x in got.items()}
    out["seconds"] = float(np.median(got["seconds"])) if got["seconds"] else float("nan")
    out.update(failed=failed, ml_failed=ml_failed, fits=len(got["rmse_reml"]))
    return out


COLUMNS = [("rmse_reml", "rmse REML", 9, 4), ("rmse_ml", "rmse ML", 8, 4), ("rmse_mos", "rmse MOS", 8, 4),
           ("reml_closer", "REML<MOS", 8, 2), ("cov_psi_reml", "cov psi", 7, 3),
           ("cov_psi_ml", "cov psi ML", 10, 3), ("cov_psi_sureal", "cov SUREAL", 10, 3),
           ("cov_group", "cov mean10", 10, 3), ("cov_bias", "cov bias", 8, 3), ("cov_v", "cov v", 6, 3), ("ml_at_floor", "ML floor", 8, 2),
           ("failed", "failed", 6, 0), ("ml_failed", "ML !conv", 8, 0), ("seconds", "s/fit", 6, 3)]


def method_coverage(reps: int, rng: np.random.Generator, n_raters: int = 12, n_images: int = 20) -> dict:
    """Per-method intervals of :func:`method_quality` on SYNTHETIC studies (3 methods, complete design).

    Raters' biases are drawn from a population with mean 0 (not centred) and images from each
    method's population (sd 0.4 around 2, 3, 4): the population interval and the plain MOS's
    two-way bootstrap target the population mean; the conditional interval targets this panel's
    average rater on these images (method's image mean + the panel's mean bias).
    """
    levels = np.array([2.0, 3.0, 4.0])
    hits = {"pop": [], "plain": [], "conditional": []}
    for _ in range(reps):
        bias = rng.normal(0, 0.5, n_raters)
        v = rng.uniform(0.4, 1.1, n_raters)
        q = levels[:, None] + rng.normal(0, 0.4, (3, n_images))
        ii, mm, kk = (x.ravel() for x in np.meshgrid(np.arange(n_raters), np.arange(3), np.arange(n_images),
                                                     indexing="ij"))
        df = pd.DataFrame({"rater": [f"r{i:02d}" for i in ii], "method": [f"m{m}" for m in mm],
                           "image": [f"img{k:02d}" for k in kk],
                           "score": q[mm, kk] + bias[ii] + v[ii] * rng.standard_normal(ii.size)})
        table, _ = method_quality(df, dataset=None, n_boot=500)
        for row in table.itertuples(index=False):
            m = int(row.method[1:])
            hits["pop"].append(row.quality_ci_pop_low <= levels[m] <= row.quality_ci_pop_high)
            hits["plain"].append(row.mos_ci_low <= levels[m] <= row.mos_ci_high)
            target = q[m].mean() + bias.mean()
            hits["conditional"].append(row.quality_ci_low <= target <= row.quality_ci_high)
    return {k: float(np.mean(x)) for k, x in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200, help="data sets per design (default 200)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--smoke", action="store_true", help="3 repetitions of the first design only")
    args = parser.parse_args()
    designs, reps = (DESIGNS[:1], 3) if args.smoke else (DESIGNS, args.reps)
    rng = np.random.default_rng(args.seed)
    print(f"SYNTHETIC subject-model study: {reps} data sets per design, seed {args.seed}; "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{'design':28s} " + " ".join(f"{title:>{width}s}" for _, title, width, _ in COLUMNS))
    for design in designs:
        r = one_design(design, reps, rng)
        print(f"{design.name:28s} " + " ".join(f"{r[key]:{width}.{digits}f}" for key, _, width, digits in COLUMNS))
    cov = method_coverage(2 if args.smoke else max(reps // 2, 1), rng)
    print(f"per-method 95% intervals, 12 raters x 3 methods x 20 images ({2 if args.smoke else max(reps // 2, 1)} "
          f"studies): coverage quality_ci_pop {cov['pop']:.3f}, plain MOS bootstrap {cov['plain']:.3f}, "
          f"quality_ci (conditional target) {cov['conditional']:.3f}")

if __name__ == "__main__":
    main()
