"""srbench.ratings.stats against hand-worked cases and scipy directly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from srbench.ratings import stats
from srbench.errors import SrbenchError


def test_wilcoxon_hand_worked_exact_case():
    # differences 1, -2, 3, 4, 0: the zero is dropped, ranks of |d| are 1..4,
    # R+ = 1 + 3 + 4 = 8, R- = 2, W = min = 2. Exact null for n = 4: 16 equally
    # likely sign patterns, R+ <= 2 for {}, {1}, {2} -> P = 3/16, two-sided 6/16.
    t = stats.wilcoxon_paired([11, 8, 13, 14, 10], [10, 10, 10, 10, 10])
    assert (t.n_pairs, t.n_zero, t.n) == (5, 1, 4)
    assert t.statistic == 2.0
    assert t.method == "exact"
    assert t.pvalue == pytest.approx(6 / 16)
    assert t.effect == pytest.approx((8 - 2) / 10)
    assert t.mean_diff == pytest.approx(6 / 5)


def test_wilcoxon_hand_worked_ties_use_tie_corrected_normal_approximation():
    # d = 1, 1, -1, 2, 2, 2: midranks 2, 2, 2, 5, 5, 5; R+ = 19, R- = 2, W = 2.
    # mean n(n+1)/4 = 10.5; var = n(n+1)(2n+1)/24 - sum(t^3 - t)/48 = 22.75 - 48/48 = 21.75.
    t = stats.wilcoxon_paired([2, 2, 1, 3, 3, 3], [1, 1, 2, 1, 1, 1])
    assert t.method == "approx" and t.n == 6 and t.statistic == 2.0
    assert t.pvalue == pytest.approx(2 * scipy.stats.norm.sf(8.5 / math.sqrt(21.75)), rel=1e-9)
    assert t.effect == pytest.approx(17 / 21)


def test_wilcoxon_matches_scipy_continuous_exact():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(0.4, 1, size=30)
    ours = stats.wilcoxon_paired(x, y)
    ref = scipy.stats.wilcoxon(x, y, method="exact")
    assert ours.method == "exact"
    assert ours.statistic == ref.statistic and ours.pvalue == pytest.approx(ref.pvalue, rel=1e-12)


def test_wilcoxon_matches_scipy_on_1_to_5_scores_with_zeros_dropped():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, size=300)
    y = np.clip(x + rng.integers(-1, 3, size=300), 1, 5)
    ours = stats.wilcoxon_paired(x, y)
    ref = scipy.stats.wilcoxon(x, y, zero_method="wilcox", method="approx", correction=False)
    assert ours.method == "approx"
    assert ours.n == int(np.count_nonzero(x - y)) and ours.n_zero == 300 - ours.n
    assert ours.statistic == ref.statistic and ours.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    # Zeros are dropped, so adding more equal pairs changes nothing...
    more = stats.wilcoxon_paired(np.r_[x, [3] * 50], np.r_[y, [3] * 50])
    assert more.pvalue == ours.pvalue and more.n == ours.n and more.n_zero == ours.n_zero + 50
    # ...whereas Pratt's rule (zeros ranked, then dropped) would give another p-value.
    pratt = scipy.stats.wilcoxon(x, y, zero_method="pratt", method="approx")
    assert pratt.pvalue != pytest.approx(ours.pvalue, rel=1e-6)


def test_wilcoxon_all_pairs_equal_and_bad_input():
    t = stats.wilcoxon_paired([3, 4, 5], [3, 4, 5])
    assert (t.n, t.n_zero, t.pvalue, t.effect, t.method) == (0, 3, 1.0, 0.0, "none")
    with pytest.raises(SrbenchError, match="equally long"):
        stats.wilcoxon_paired([1, 2], [1, 2, 3])
    with pytest.raises(SrbenchError, match="non-finite"):
        stats.wilcoxon_paired([1, float("inf")], [1, 2])


def test_rank_biserial_extremes_and_symmetry():
    assert stats.rank_biserial([1, 2, 3]) == 1.0
    assert stats.rank_biserial([-1, -2, 0]) == -1.0
    assert stats.rank_biserial([0, 0]) == 0.0
    assert stats.rank_biserial([1, -1]) == 0.0
    d = [3, -1, 2, 0, -5]
    assert stats.rank_biserial(d) == -stats.rank_biserial([-v for v in d])


def test_holm_hand_worked():
    # sorted p: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.03, 0.06, 0.06
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == []


def _scores(rows):
    return pd.DataFrame(rows, columns=["rater", "image", "score"])


def test_mos_ci_hand_worked_rater_resampling():
    # 2 raters, 1 image, scores 1 and 5: resampled means are 1 (p=1/4), 3 (1/2), 5 (1/4),
    # so the 2.5% and 97.5% quantiles of 2000 draws are 1 and 5.
    m = stats.mos_with_ci(_scores([("a", "x", 1), ("b", "x", 5)]), label="t")
    assert (m.mean, m.ci_low, m.ci_high) == (3.0, 1.0, 5.0)
    assert (m.n_scores, m.n_raters, m.n_images) == (2, 2, 1)


def test_mos_ci_resamples_images_too():
    # 1 rater, 2 images scored 2 and 4: only image resampling can vary the mean.
    m = stats.mos_with_ci(_scores([("a", "x", 2), ("a", "y", 4)]), label="t")
    assert (m.mean, m.ci_low, m.ci_high) == (3.0, 2.0, 4.0)


def test_mos_ci_constant_deterministic_and_sparse():
    const = stats.mos_with_ci(_scores([(r, i, 4) for r in "abc" for i in "xyz"]), label="c")
    assert (const.mean, const.ci_low, const.ci_high) == (4.0, 4.0, 4.0)
    rng = np.random.default_rng(3)
    rows = [(f"r{r}", f"i{i}", int(rng.integers(1, 6))) for r in range(8) for i in range(6) if (r + i) % 3]
    one = stats.mos_with_ci(_scores(rows), label="set5/bicubic")
    two = stats.mos_with_ci(_scores(rows[::-1]), label="set5/bicubic")
    assert one == two  # order of the input rows does not matter; fixed seed
    assert one.ci_low <= one.mean <= one.ci_high
    assert one.mean == pytest.approx(np.mean([s for *_, s in rows]))
    other = stats.mos_with_ci(_scores(rows), label="set5/nearest")
    assert other.mean == one.mean and (other.ci_low, other.ci_high) != (one.ci_low, one.ci_high)


def test_mos_ci_rejects_duplicates_and_empty():
    with pytest.raises(SrbenchError, match="more than one score"):
        stats.mos_with_ci(_scores([("a", "x", 1), ("a", "x", 2)]), label="t")
    with pytest.raises(SrbenchError, match="no MOS scores"):
        stats.mos_with_ci(_scores([]), label="t")


def test_stable_seed_is_fixed():
    # Pinned values (BOOTSTRAP_SEED 20170721 + CRC-32 of the UTF-8 label, mod 2**32), so a seed that
    # changes between processes or versions (a salted hash(), another checksum) fails here, not only
    # in a report that no longer reproduces. CRC-32("set5/bicubic") = 682024635.
    assert stats.BOOTSTRAP_SEED == 20170721
    assert stats.stable_seed("set5/bicubic") == 702195356
    assert stats.stable_seed("set5/nearest") == 1251360469
    assert stats.stable_seed("bsd100/srgan-vgg54") == 623532639
    assert stats.stable_seed("set14/\u00e9") == 2453130548  # non-ASCII: hashed as UTF-8
    assert stats.stable_seed("set5/bicubic", base=2**32 - 1) == 682024635 - 1  # wraps mod 2**32
    assert stats.stable_seed("") == stats.BOOTSTRAP_SEED


def _consistent_raters(rng: np.random.Generator, n_items: int = 40) -> list[tuple[str, int, int]]:
    """12 raters scoring 3, sometimes 2 or 4 (SYNTHETIC)."""
    return [(f"good{r:02d}", item, int(3 + rng.integers(-1, 2) * (rng.random() < 0.3)))
            for r in range(12) for item in range(n_items)]


def test_screen_raters_rejects_a_rater_who_strays_both_ways():
    rng = np.random.default_rng(7)
    rows = _consistent_raters(rng) + [("wild", item, 5 if item % 2 else 1) for item in range(40)]
    screened = stats.screen_raters(pd.DataFrame(rows, columns=["rater", "presentation", "score"]))
    result = {s.rater: s for s in screened}
    assert [s.rater for s in screened] == sorted(result)
    wild = result["wild"]
    assert wild.rejected and wild.p > 0 and wild.q > 0 and "both sides" in wild.reason
    assert (wild.p + wild.q) / wild.n_scores > 0.05
    assert not any(result[f"good{r:02d}"].rejected for r in range(12))
    assert all(s.n_scores == 40 for s in screened)


def test_screen_raters_keeps_a_one_sided_rater():
    # Always two steps above the others: every outlier is on one side (|P-Q|/(P+Q) = 1), so kept.
    rng = np.random.default_rng(8)
    rows = _consistent_raters(rng) + [("high", item, 5) for item in range(40)]
    result = {s.rater: s for s in stats.screen_raters(pd.DataFrame(rows, columns=["rater", "presentation", "score"]))}
    assert result["high"].p > 2 and result["high"].q == 0 and not result["high"].rejected


# SYNTHETIC differences: |d| = 0.1 * (1..50), all distinct; ten of them negative. Exact and normal p-values
# differ by a factor of about 3 here (exact 5.68e-6, normal 1.78e-5), so the switch point is visible.
_NEGATIVE_RANKS = (1, 2, 3, 7, 12, 18, 25, 33, 42, 50)


def _untied_differences(n: int) -> np.ndarray:
    d = 0.1 * np.arange(1, n + 1)
    d[[r - 1 for r in _NEGATIVE_RANKS if r <= n]] *= -1
    return d


def test_wilcoxon_is_exact_at_exactly_fifty_untied_nonzero_differences():
    d = _untied_differences(50)
    b = np.full(52, 5.0)
    a = b + np.r_[d, 0.0, 0.0]  # two equal pairs: dropped, so n = 50 non-zero differences
    ours = stats.wilcoxon_paired(a, b)
    exact = scipy.stats.wilcoxon(d, method="exact")
    normal = scipy.stats.wilcoxon(d, method="approx", correction=False)
    assert (ours.n_pairs, ours.n_zero, ours.n, ours.method) == (52, 2, 50, "exact")
    assert ours.statistic == exact.statistic == 1 + 2 + 3 + 7 + 12 + 18 + 25 + 33 + 42 + 50
    assert ours.pvalue == pytest.approx(exact.pvalue, rel=1e-12)
    assert normal.pvalue > 2 * exact.pvalue  # the normal approximation would be a different number
    assert ours.pvalue != pytest.approx(normal.pvalue, rel=0.5)


def test_wilcoxon_uses_the_normal_approximation_from_fifty_one_differences():
    d = _untied_differences(51)
    ours = stats.wilcoxon_paired(d, np.zeros(51))
    normal = scipy.stats.wilcoxon(d, method="approx", correction=False)
    exact = scipy.stats.wilcoxon(d, method="exact")
    assert (ours.n, ours.method) == (51, "approx")
    assert ours.pvalue == pytest.approx(normal.pvalue, rel=1e-12)
    assert ours.pvalue != pytest.approx(exact.pvalue, rel=0.5)


def test_mos_ci_is_the_95_percent_percentile_interval():
    # One rater (so rater resampling changes nothing) and 16 images scored 1 or 2, eight each (SYNTHETIC):
    # a resample's mean is 1 + X / 16 with X ~ Binomial(16, 1/2), so the 2.5% and 97.5% percentiles of many
    # resamples are 1 + q / 16 for the binomial quantiles q = 4 and 12 (a 90% interval would give 5 and 11).
    # P(X <= 3) = 0.0106 and P(X <= 4) = 0.0384 (and symmetrically): with 20000 resamples the empirical
    # quantile is more than 10 standard errors away from either neighbouring value.
    binom = scipy.stats.binom(16, 0.5)
    q95 = binom.ppf([0.025, 0.975])
    q90 = binom.ppf([0.05, 0.95])
    assert q95.tolist() == [4, 12] and q90.tolist() == [5, 11]
    rows = [("a", f"img{i:02d}", 1 + i % 2) for i in range(16)]
    m = stats.mos_with_ci(_scores(rows), label="SYNTHETIC/binomial", n_boot=20000)  # default level
    assert m.mean == 1.5
    assert (m.ci_low, m.ci_high) == (1 + 4 / 16, 1 + 12 / 16)
    assert stats.CI_LEVEL == 0.95
