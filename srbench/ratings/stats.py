"""Statistics for the report: paired Wilcoxon tests, MOS confidence intervals, rater screening.

Choices (stated once here, repeated in every report header):

* **Paired test.** Two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``)
  on the differences ``a - b`` of paired observations (per-image PSNR/SSIM; MOS
  paired by ``(rater, image)``).
  - *Zero differences* are dropped before ranking (``zero_method="wilcox"``,
    Wilcoxon's original rule and the default of R's ``wilcox.test``); ``n`` is
    the number of non-zero differences, ``n_zero`` how many were dropped. On a
    1..5 scale many pairs are equal; they carry no sign information.
  - *p-value.* Exact null distribution when ``n <= 50`` and no two ``|a - b|``
    are tied; otherwise the normal approximation with the tie-corrected
    variance and no continuity correction (``method="approx"``). The choice is
    made here, not by scipy's ``"auto"`` (whose rule changed between scipy
    versions), so results do not depend on the scipy release. Ties are the
    rule for MOS, so MOS tests use the approximation; with ``n`` in the
    hundreds it is accurate.
  - *Statistic* ``W = min(R+, R-)``, ``R+`` the rank sum of positive
    differences (midranks for ties).
  - *Effect size* the matched-pairs rank-biserial correlation
    ``r = (R+ - R-) / (R+ + R-)`` in ``[-1, 1]``; positive means ``a > b``.
  - ``n == 0`` (all pairs equal): ``p = 1``, ``W = 0``, ``r = 0``.
* **Multiple comparisons.** Optional Holm step-down adjustment
  (:func:`holm`); the report says whether it was applied.
* **MOS confidence interval.** Percentile bootstrap (95 %, ``BOOTSTRAP_SAMPLES``
  resamples) that resamples raters *and* images with replacement,
  independently (two-way bootstrap): a rater drawn twice contributes all
  their scores twice. The seed is fixed per (dataset, method) label.
* **Rater screening.** ITU-R BT.500 observer screening, by the rule in :mod:`srbench.ratings.screening` (:func:`screen_raters`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from srbench.errors import SrbenchError
from srbench.ratings.screening import bt500_screen

ZERO_METHOD = "wilcox"
EXACT_MAX_N = 50
ALPHA = 0.05
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20170721
CI_LEVEL = 0.95


@dataclass(frozen=True)
class PairedTest:
    """Result of :func:`wilcoxon_paired` (``a`` versus ``b``)."""

    n_pairs: int
    n_zero: int
    n: int
    statistic: float
    pvalue: float
    method: str
    effect: float
    mean_diff: float


def rank_biserial(diff: Sequence[float]) -> float:
    """Matched-pairs rank-biserial correlation of non-zero differences, in ``[-1, 1]``.

    ``(R+ - R-) / (R+ + R-)`` with midranks of ``|diff|``; zeros are ignored;
    0.0 when no difference is non-zero.
    """
    d = np.asarray(diff, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = scipy.stats.rankdata(np.abs(d))
    r_plus = float(ranks[d > 0].sum())
    r_minus = float(ranks[d < 0].sum())
    return (r_plus - r_minus) / (r_plus + r_minus)


def wilcoxon_paired(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Two-sided paired Wilcoxon signed-rank test of ``a`` against ``b`` (see the module notes).

    ``a`` and ``b`` are equally long, finite, and ``a[i]`` pairs with ``b[i]``.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise SrbenchError(f"paired test needs two equally long 1-D samples, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise SrbenchError("paired test got non-finite values (inf/nan); drop them first")
    d = x - y
    nonzero = d[d != 0]
    n = int(nonzero.size)
    mean_diff = float(d.mean()) if d.size else float("nan")
    if n == 0:
        return PairedTest(int(d.size), int(d.size), 0, 0.0, 1.0, "none", 0.0, mean_diff)
    abs_d = np.abs(nonzero)
    has_ties = np.unique(abs_d).size < n
    method = "exact" if (n <= EXACT_MAX_N and not has_ties) else "approx"
    res = scipy.stats.wilcoxon(nonzero, zero_method=ZERO_METHOD, correction=False,
                               alternative="two-sided", method=method)
    return PairedTest(
        n_pairs=int(d.size),
        n_zero=int(d.size - n),
        n=n,
        statistic=float(res.statistic),
        pvalue=float(min(1.0, res.pvalue)),
        method=method,
        effect=rank_biserial(nonzero),
        mean_diff=mean_diff,
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def stable_seed(label: str, base: int = BOOTSTRAP_SEED) -> int:
    """A seed derived from ``label`` that does not depend on Python's hash randomisation."""
    return (base + zlib.crc32(label.encode("utf-8"))) % (2**32)


@dataclass(frozen=True)
class MosSummary:
    """Mean opinion score (1..5) of one method on one set, with a bootstrap CI."""

    mean: float
    ci_low: float
    ci_high: float
    n_scores: int
    n_raters: int
    n_images: int


def _draw_counts(draws: np.ndarray, size: int) -> np.ndarray:
    """``(B, size)`` float array: how often each index occurs in each row of ``draws``."""
    counts = np.zeros((draws.shape[0], size))
    np.add.at(counts, (np.arange(draws.shape[0])[:, None], draws), 1.0)
    return counts


def mos_with_ci(
    scores: pd.DataFrame, *, label: str, n_boot: int = BOOTSTRAP_SAMPLES, level: float = CI_LEVEL
) -> MosSummary:
    """Mean of ``scores.score`` with a two-way (raters x images) percentile bootstrap CI.

    ``scores`` has columns ``rater``, ``image``, ``score`` (at most one score
    per rater and image). Each resample draws raters and images with
    replacement, independently, and averages every score of the drawn
    (rater, image) cells with multiplicity. ``label`` seeds the generator.
    """
    if scores.empty:
        raise SrbenchError(f"no MOS scores for {label}")
    if scores.duplicated(["rater", "image"]).any():
        raise SrbenchError(f"{label}: more than one score for the same rater and image")
    table = scores.pivot(index="rater", columns="image", values="score")
    table = table.sort_index(axis=0).sort_index(axis=1)
    values = table.to_numpy(dtype=float)
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    n_r, n_i = values.shape
    rng = np.random.default_rng(stable_seed(label))
    rater_draws = rng.integers(0, n_r, size=(n_boot, n_r))
    image_draws = rng.integers(0, n_i, size=(n_boot, n_i))
    wr, wi = _draw_counts(rater_draws, n_r), _draw_counts(image_draws, n_i)
    num = np.einsum("br,ri,bi->b", wr, filled, wi)
    den = np.einsum("br,ri,bi->b", wr, present.astype(float), wi)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = num / den
    means = means[np.isfinite(means)]  # a resample may miss every observed cell of a sparse table
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return MosSummary(
        mean=float(values[present].mean()),
        ci_low=float(low),
        ci_high=float(high),
        n_scores=int(present.sum()),
        n_raters=n_r,
        n_images=n_i,
    )


# --- ITU-R BT.500 observer screening -------------------------------------------------------------


@dataclass(frozen=True)
class RaterScreen:
    """Screening outcome of one rater: ``p``/``q`` scores above/below the acceptance band."""

    rater: str
    n_scores: int
    p: int
    q: int
    rejected: bool
    reason: str


def screen_raters(scores: pd.DataFrame) -> list[RaterScreen]:
    """ITU-R BT.500 observer screening of ``scores`` (columns ``rater``, ``presentation``, ``score``).

    ``presentation`` identifies one test item (same method, set and image for
    every rater). The rule itself is :func:`srbench.ratings.screening.bt500_screen`,
    shared with the MOS admin page (kurtosis test per item, P/Q
    counts, reject if (P+Q)/n > 0.05 and |P-Q|/(P+Q) < 0.3; items on which
    everybody agrees are skipped); this wraps its result with a reason for
    every rater. Sorted by rater.
    """
    table = bt500_screen(scores.rename(columns={"presentation": "item"})[["rater", "item", "score"]])
    out = []
    for row in table.itertuples(index=False):
        n, p, q = int(row.n), int(row.P), int(row.Q)
        share = (p + q) / n if n else 0.0
        if row.kept:
            reason = f"{p + q} of {n} scores ({100 * share:.1f}%) outside the BT.500 band: kept"
        else:
            reason = (f"{p + q} of {n} scores ({100 * share:.1f}%) outside the BT.500 band, on both sides "
                      f"(P={p} above, Q={q} below; |P-Q|/(P+Q) = {row.asymmetry:.2f} < 0.3)")
        out.append(RaterScreen(str(row.rater), n, p, q, not bool(row.kept), reason))
    return out
