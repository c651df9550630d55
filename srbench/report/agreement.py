"""Which metric agrees with people: per-image rank correlations of PSNR, SSIM and NIQE with MOS.

The SRGAN paper's point is that PSNR/SSIM rank SRResNet above SRGAN while
people rank SRGAN far higher. With ratings this module puts a number on it.

* **Items.** One item per rated (method, image) of a set, HR excluded (its
  PSNR/SSIM hold by definition, not by measurement). The item's MOS is the
  mean of its screened rating-phase scores; its metric values are the runs'
  per-image PSNR and SSIM (the report's protocol) and NIQE. Items are kept
  only when every compared metric has a value, so all metrics are judged on
  the same items (the count left out is reported).
* **Sign alignment.** NIQE is lower-is-better, so it enters as ``-NIQE``:
  for every metric a positive correlation means agreement with people.
* **Coefficients.** Spearman's rho (``scipy.stats.spearmanr``) and Kendall's
  tau-b (``scipy.stats.kendalltau``, which handles the many ties of MOS).
* **Confidence intervals.** 95 % percentile bootstrap over images,
  :data:`srbench.ratings.stats.BOOTSTRAP_SAMPLES` resamples: whole images are drawn
  with replacement and all their items (one per rated method) travel
  together, because the items of one image share its content and are not
  independent. Not Fisher's z: its standard errors for rho and tau (Fieller
  et al. 1957; Bonett & Wright 2000) assume independent pairs, so with
  several methods per image it would be too narrow, and it gives no simple
  interval for the difference of two dependent correlations; the bootstrap
  gives *paired* intervals for the differences between metrics from the
  same resamples. Raters are not resampled: drawing raters with replacement
  shrinks the panel (about 63 % distinct raters per draw), which adds noise to
  every item's MOS and so biases rank correlations downward - in a test with
  12 raters the two-way percentile interval of rho = 0.993 was [0.975, 0.991],
  missing its own estimate. Rater noise is in the MOS itself; it attenuates
  every metric's correlation alike, so it does not change which metric
  agrees best. (The report's MOS intervals do resample raters: a mean is not
  biased by it.) Seeded per set (:func:`srbench.ratings.stats.stable_seed` of
  ``agreement/<set>``), so the report is reproducible.
* **Verdict.** The metric with the highest Spearman rho agrees best; its
  lead over each other metric is given with the bootstrap CI of the
  difference, and called clear only when that interval excludes 0.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from srbench.ratings import stats
from srbench.schema import HR_METHOD

from .tables import DATASET_LABELS


def _counts(draws: np.ndarray, size: int) -> np.ndarray:
    """``(B, size)``: how often each index occurs in each row of ``draws`` (as the MOS bootstrap counts)."""
    counts = np.zeros((draws.shape[0], size))
    np.add.at(counts, (np.arange(draws.shape[0])[:, None], draws), 1.0)
    return counts

METRICS = ("psnr", "ssim", "niqe")
SIGN = {"psnr": 1.0, "ssim": 1.0, "niqe": -1.0}
LABELS = {"psnr": "PSNR", "ssim": "SSIM", "niqe": "NIQE"}
COEFFICIENTS = ("spearman", "kendall")
MIN_ITEMS = 4
MIN_IMAGES = 2
CSV_COLUMNS = ["dataset", "comparison", "coefficient", "n_items", "n_images", "n_raters", "estimate", "ci_low",
               "ci_high", "note"]


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float | None
    high: float | None

    def excludes_zero(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class SetAgreement:
    """The correlations of one set: ``values[(metric, coefficient)]``, ``differences[(other, coefficient)]``
    (best minus other), and the counts."""

    dataset: str
    metrics: tuple[str, ...]
    n_items: int
    n_images: int
    n_raters: int
    n_methods: int
    left_out: int
    values: dict
    differences: dict
    best: str | None
    note: str = ""


def item_table(kept: pd.DataFrame, per_image: pd.DataFrame, niqe: pd.DataFrame | None,
               dataset: str) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...], int]:
    """``(items, scores, metrics, left_out)`` of one set.

    ``items``: one row per kept item (``method``, ``image``, the metric columns,
    sign-aligned), sorted; ``scores``: raters x items matrix (NaN = not rated),
    columns in item order; ``left_out``: rated items lacking a metric value.
    """
    rated = kept[(kept["dataset"] == dataset) & (kept["method"] != HR_METHOD)]
    keys = rated[["method", "image"]].drop_duplicates().sort_values(["method", "image"])
    fr = per_image[per_image["dataset"] == dataset][["method", "image", "psnr", "ssim"]]
    items = keys.merge(fr, on=["method", "image"], how="left")
    metrics = ["psnr", "ssim"]
    if niqe is not None and not niqe[(niqe["dataset"] == dataset) & niqe["method"].isin(set(keys["method"]))].empty:
        nr = niqe[niqe["dataset"] == dataset][["method", "image", "niqe"]]
        items = items.merge(nr, on=["method", "image"], how="left")
        metrics.append("niqe")
    values = items[metrics].astype(float)
    ok = np.isfinite(values.to_numpy()).all(axis=1)
    left_out = int((~ok).sum())
    items = items[ok].reset_index(drop=True)
    for m in metrics:
        items[m] = SIGN[m] * items[m].astype(float)
    cells = rated.merge(items[["method", "image"]], on=["method", "image"])
    item_ids = items["method"] + "\x00" + items["image"]
    scores = cells.assign(item=cells["method"] + "\x00" + cells["image"]).pivot(
        index="rater", columns="item", values="score").sort_index()
    scores = scores.reindex(columns=item_ids.tolist()).astype(float) if len(items) else scores
    return items, scores, tuple(metrics), left_out


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(scipy.stats.spearmanr(x, y).statistic)


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(scipy.stats.kendalltau(x, y).statistic)  # tau-b


COEFFICIENT_FUNCTIONS = {"spearman": _spearman, "kendall": _kendall}


def weighted_midranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise midranks of ``values`` in the sample where item ``j`` occurs ``weights[:, j]`` times.

    ``values``, ``weights``: ``(B, n)``. The rank of item ``j`` is the number
    of occurrences of smaller values plus half of (the occurrences of equal
    values + 1): exactly the midrank every copy of ``j`` gets in the expanded
    sample (``scipy.stats.rankdata``), without expanding it.
    """
    order = np.argsort(values, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    csum = np.cumsum(w, axis=1)
    n = v.shape[1]
    cols = np.arange(n)
    new_group = np.ones_like(v, dtype=bool)
    new_group[:, 1:] = v[:, 1:] != v[:, :-1]
    start = np.maximum.accumulate(np.where(new_group, cols, 0), axis=1)  # first column of each group
    last_of_group = np.ones_like(new_group)
    last_of_group[:, :-1] = new_group[:, 1:]
    end = np.minimum.accumulate(np.where(last_of_group, cols, n - 1)[:, ::-1], axis=1)[:, ::-1]
    below = np.where(start > 0, np.take_along_axis(csum, np.maximum(start - 1, 0), axis=1), 0.0)
    equal = np.take_along_axis(csum, end, axis=1) - below
    ranks_sorted = below + (equal + 1.0) / 2.0
    ranks = np.empty_like(ranks_sorted)
    np.put_along_axis(ranks, order, ranks_sorted, axis=1)
    return ranks


def weighted_spearman(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spearman's rho per row of the expanded samples (item ``j`` repeated ``weights[:, j]`` times).

    ``x``, ``y``, ``weights``: ``(B, n)``; NaN where a row's ranks of x or y are constant.
    """
    rx, ry = weighted_midranks(x, weights), weighted_midranks(y, weights)
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty row: NaN
        dx = rx - (weights * rx).sum(axis=1, keepdims=True) / total
        dy = ry - (weights * ry).sum(axis=1, keepdims=True) / total
        sxy = (weights * dx * dy).sum(axis=1)
        sxx = (weights * dx * dx).sum(axis=1)
        syy = (weights * dy * dy).sum(axis=1)
        rho = sxy / np.sqrt(sxx * syy)
    scale = np.maximum(sxx, syy)
    return np.where((sxx > 1e-12 * scale) & (syy > 1e-12 * scale), rho, np.nan)


def set_agreement(kept: pd.DataFrame, per_image: pd.DataFrame, niqe: pd.DataFrame | None, dataset: str, *,
                  n_boot: int = stats.BOOTSTRAP_SAMPLES, level: float = stats.CI_LEVEL) -> SetAgreement:
    """Spearman and Kendall of each metric with MOS on ``dataset``, with image-bootstrap CIs (module notes)."""
    items, scores, metrics, left_out = item_table(kept, per_image, niqe, dataset)
    n_items, n_images = len(items), int(items["image"].nunique()) if len(items) else 0
    n_raters = int(scores.shape[0]) if len(items) else 0
    n_methods = int(items["method"].nunique()) if len(items) else 0
    if n_items < MIN_ITEMS or n_images < MIN_IMAGES:
        return SetAgreement(dataset, metrics, n_items, n_images, n_raters, n_methods, left_out, {}, {}, None,
                            note=f"too few rated items with every metric ({n_items} items, {n_images} images; "
                            f"need {MIN_ITEMS} and {MIN_IMAGES})")
    table = scores.to_numpy(dtype=float)
    present = ~np.isnan(table)
    filled = np.where(present, table, 0.0)
    mos = filled.sum(axis=0) / present.sum(axis=0)
    x = {m: items[m].to_numpy(dtype=float) for m in metrics}
    values = {(m, c): COEFFICIENT_FUNCTIONS[c](x[m], mos) for m in metrics for c in COEFFICIENTS}

    images = sorted(set(items["image"]))
    image_index = items["image"].map({name: i for i, name in enumerate(images)}).to_numpy()
    rng = np.random.default_rng(stats.stable_seed(f"agreement/{dataset}"))
    image_draws = rng.integers(0, len(images), size=(n_boot, len(images)))
    repeat = _counts(image_draws, len(images))[:, image_index]  # (B, items): copies of each item in a resample
    mos_b = np.broadcast_to(mos, repeat.shape)
    boot = {}
    for m in metrics:
        boot[(m, "spearman")] = weighted_spearman(np.broadcast_to(x[m], repeat.shape), mos_b, repeat)
        kendall = np.full(n_boot, math.nan)
        for b in range(n_boot):  # scipy's O(n log n) tau-b on the expanded sample
            keep = repeat[b] > 0
            reps = repeat[b, keep].astype(int)
            kendall[b] = _kendall(np.repeat(x[m][keep], reps), np.repeat(mos[keep], reps))
        boot[(m, "kendall")] = kendall

    tail = (1.0 - level) / 2.0

    def interval(estimate: float, draws: np.ndarray) -> Interval:
        finite = draws[np.isfinite(draws)]
        if math.isnan(estimate) or finite.size < 0.9 * n_boot:  # undefined for many resamples: no CI
            return Interval(estimate, None, None)
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        return Interval(estimate, float(low), float(high))

    intervals = {key: interval(values[key], boot[key]) for key in values}
    ranked = [m for m in metrics if not math.isnan(values[(m, "spearman")])]
    best = max(ranked, key=lambda m: (values[(m, "spearman")], -metrics.index(m))) if ranked else None
    differences = {}
    if best is not None:
        for other in metrics:
            if other != best:
                for c in COEFFICIENTS:
                    differences[(other, c)] = interval(values[(best, c)] - values[(other, c)],
                                                       boot[(best, c)] - boot[(other, c)])
    return SetAgreement(dataset, metrics, n_items, n_images, n_raters, n_methods, left_out, intervals,
                        differences, best)


def agreement(kept: pd.DataFrame | None, per_image: pd.DataFrame, niqe: pd.DataFrame | None, *,
              n_boot: int = stats.BOOTSTRAP_SAMPLES) -> list[SetAgreement]:
    """:func:`set_agreement` for every set with kept ratings of a measured method (sets in the usual order)."""
    if kept is None or kept.empty:
        return []
    measured = set(per_image["dataset"]) | (set(niqe["dataset"]) if niqe is not None else set())
    order = [d for d in DATASET_LABELS if d in set(kept["dataset"]) & measured]
    return [set_agreement(kept, per_image, niqe, d, n_boot=n_boot) for d in order]


def _f(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"


def to_csv(results: list[SetAgreement]) -> str:
    """One row per (set, metric or difference, coefficient); differences are ``best-other``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in results:
        counts = [r.n_items, r.n_images, r.n_raters]
        if not r.values:
            w.writerow([r.dataset, "", "", *counts, "", "", "", r.note])
            continue
        for m in r.metrics:
            for c in COEFFICIENTS:
                iv = r.values[(m, c)]
                note = "sign-aligned: -NIQE" if m == "niqe" else ""
                w.writerow([r.dataset, m, c, *counts, _f(iv.estimate), _f(iv.low), _f(iv.high), note])
        for (other, c), iv in r.differences.items():
            w.writerow([r.dataset, f"{r.best}-{other}", c, *counts, _f(iv.estimate), _f(iv.low), _f(iv.high),
                        "best minus other (paired bootstrap)"])
    return buf.getvalue()


def _ci(iv: Interval, digits: int = 2) -> str:
    if math.isnan(iv.estimate):
        return "undefined (a constant metric or MOS)"
    text = f"{iv.estimate:.{digits}f}"
    return text + (f" [{iv.low:.{digits}f}, {iv.high:.{digits}f}]" if iv.low is not None else " [CI n/a]")


def verdict(r: SetAgreement) -> str:
    """One sentence: which metric agrees best with MOS on the set, and how clearly."""
    name = DATASET_LABELS[r.dataset]
    if r.best is None:
        return f"{name}: no verdict ({r.note or 'every correlation is undefined'})."
    best = LABELS[r.best]
    leads = []
    for other in r.metrics:
        if other == r.best:
            continue
        d = r.differences[(other, "spearman")]
        clear = "clear" if d.excludes_zero() else "not clear: the CI includes 0"
        leads.append(f"{LABELS[other]} by Δρ {_ci(d)} ({clear})")
    text = (f"{name}: **{best} agrees best with people** (Spearman ρ {_ci(r.values[(r.best, 'spearman')])}, "
            f"Kendall τ {_ci(r.values[(r.best, 'kendall')])}); ahead of " + "; ".join(leads) + ".")
    kendall_best = max((m for m in r.metrics if not math.isnan(r.values[(m, "kendall")].estimate)),
                       key=lambda m: r.values[(m, "kendall")].estimate, default=None)
    if kendall_best not in (None, r.best):
        text += f" Kendall's τ ranks {LABELS[kendall_best]} first instead."
    return text


def markdown(results: list[SetAgreement], *, ratings_given: bool, protocol: str, synthetic: bool) -> str:
    """The report's section."""
    intro = ("Per-image rank correlation of each metric with MOS: items are the rated (method, image) pairs of a "
             "set (HR left out: its PSNR/SSIM hold by definition), MOS the mean of the kept raters' scores, "
             f"PSNR/SSIM under protocol `{protocol}`; NIQE enters as -NIQE, so a positive correlation always means "
             "agreement with people. 95% CIs: percentile bootstrap over images (all methods of an image drawn "
             f"together, {stats.BOOTSTRAP_SAMPLES} resamples: the items of an image are not independent, so "
             "Fisher's z would be too narrow); differences between metrics from the same resamples; raters are "
             "not resampled (that biases rank correlations down), their noise attenuates every metric alike. "
             "Data: `agreement.csv`.")
    lines = [intro, ""]
    if not ratings_given:
        return "\n".join(lines + ["Not computed: no ratings were supplied."]) + "\n"
    if not results:
        return "\n".join(lines + ["Not computed: no rated method of a set has metric values in the given runs."]) + "\n"
    if synthetic:
        lines += ["**SYNTHETIC INPUTS**: these correlations describe test data, not people.", ""]
    lines += ["| Set | metric | Spearman ρ [95% CI] | Kendall τ [95% CI] | items | images | raters |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for m in r.metrics if r.values else ():
            sign = "-" if SIGN[m] < 0 else ""
            lines.append(f"| {DATASET_LABELS[r.dataset]} | {sign}{LABELS[m]} | {_ci(r.values[(m, 'spearman')])} | "
                         f"{_ci(r.values[(m, 'kendall')])} | {r.n_items} | {r.n_images} | {r.n_raters} |")
    lines.append("")
    for r in results:
        text = verdict(r)
        if r.left_out:
            text += f" ({r.left_out} rated item(s) without every metric value left out.)"
        if "niqe" not in r.metrics:
            text += " (NIQE not measured for the rated methods: 'srbench run --metrics psnr,ssim,niqe'.)"
        lines += [f"- {text}"]
    return "\n".join(lines) + "\n"
