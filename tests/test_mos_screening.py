"""Rater screening (BT.500, test-retest, correlation with others) on synthetic ratings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from srbench.ratings.screening import bt500_screen, rater_vs_others, retest_agreement


def synthetic_ratings(seed: int = 0, n_raters: int = 12, n_items: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic panel: raters r00.. score a hidden quality +- 1 noise; r00 answers at random, r01 adds +2."""
    rng = np.random.default_rng(seed)
    quality = rng.uniform(1.5, 4.5, n_items)
    rows = []
    for r in range(n_raters):
        for j in range(n_items):
            if r == 0:
                score = rng.integers(1, 6)
            else:
                score = quality[j] + rng.normal(0, 0.5) + (2 if r == 1 else 0)
            rows.append({"rater": f"r{r:02d}", "item": f"i{j:03d}", "phase": "rating", "repeat": 0,
                         "score": int(np.clip(round(score), 1, 5))})
    return pd.DataFrame(rows), quality


def reference_pq(df: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Loop-by-loop BT.500 P_i/Q_i counts, written straight from the standard's text."""
    counts = {r: [0, 0] for r in df["rater"].unique()}
    for _, g in df.groupby("item"):
        x = g["score"].to_numpy(float)
        n = len(x)
        if n < 2:
            continue
        mean = sum(x) / n
        s = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
        if s == 0:
            continue
        m2 = sum((v - mean) ** 2 for v in x) / n
        m4 = sum((v - mean) ** 4 for v in x) / n
        k = 2.0 if 2 <= m4 / m2**2 <= 4 else math.sqrt(20)
        for rater, v in zip(g["rater"], x):
            if v >= mean + k * s:
                counts[rater][0] += 1
            if v <= mean - k * s:
                counts[rater][1] += 1
    return {r: tuple(c) for r, c in counts.items()}


def test_bt500_counts_match_reference_and_reject_the_random_rater():
    df, _ = synthetic_ratings()
    out = bt500_screen(df).set_index("rater")
    assert list(out.columns) == ["kept", "reason", "n", "P", "Q", "ratio", "asymmetry"]
    ref = reference_pq(df)
    for rater, (p, q) in ref.items():
        assert (out.loc[rater, "P"], out.loc[rater, "Q"]) == (p, q), rater
    assert (out["n"] == 60).all()
    assert not out.loc["r00", "kept"] and out.loc["r00", "reason"].startswith("BT.500")
    assert out.loc["r00", "ratio"] > 0.05 and out.loc["r00", "asymmetry"] < 0.3
    # a consistent +2 bias is one-sided (|P-Q|/(P+Q) ~ 1): BT.500 keeps such a rater
    assert out.loc["r01", "kept"] and out.loc["r01", "P"] > out.loc["r01", "Q"]
    assert out.drop(index=["r00"])["kept"].all()


def test_bt500_ignores_calibration_repeats_and_unanimous_items():
    df, _ = synthetic_ratings()
    extra = df[df["rater"] == "r05"].assign(phase="calibration", score=1)
    repeat = df[df["rater"] == "r05"].assign(repeat=1, score=5)
    out_plain = bt500_screen(df)
    out_mixed = bt500_screen(pd.concat([df, extra, repeat]))
    pd.testing.assert_frame_equal(out_plain, out_mixed)
    unanimous = pd.DataFrame({"rater": ["a", "b", "c"] * 2, "item": ["x"] * 3 + ["y"] * 3, "score": [3] * 6})
    out = bt500_screen(unanimous)
    assert out["kept"].all() and (out["P"] == 0).all() and (out["Q"] == 0).all()
    assert bt500_screen(df.iloc[:0]).empty


def test_retest_agreement():
    df = pd.DataFrame({
        "rater": ["a"] * 6 + ["b"] * 4,
        "item": ["x", "y", "z", "x", "y", "z", "x", "y", "x", "y"],
        "phase": "rating",
        "repeat": [0, 0, 0, 1, 1, 1, 0, 0, 1, 1],
        "score": [1, 3, 5, 1, 4, 5, 2, 4, 5, 1],
    })
    out = retest_agreement(df).set_index("rater")
    assert out.loc["a", "pairs"] == 3 and math.isclose(out.loc["a", "exact"], 2 / 3)
    assert out.loc["a", "within1"] == 1.0 and math.isclose(out.loc["a", "mean_abs_diff"], 1 / 3)
    assert out.loc["a", "pearson"] > 0.9
    assert out.loc["b", "exact"] == 0 and out.loc["b", "mean_abs_diff"] == 3 and math.isclose(out.loc["b", "pearson"], -1)


def test_rater_vs_others_flags_the_random_rater():
    df, _ = synthetic_ratings()
    out = rater_vs_others(df).set_index("rater")
    assert (out["items"] == 60).all()
    assert out.loc["r00", "pearson"] < 0.4
    assert (out.drop(index="r00")["pearson"] > 0.6).all()
    # by hand for a 3-rater panel: rater a vs the mean of b and c
    small = pd.DataFrame({"rater": list("abc") * 3, "item": ["1"] * 3 + ["2"] * 3 + ["3"] * 3,
                          "score": [1, 2, 2, 3, 3, 4, 5, 4, 5]})
    a = rater_vs_others(small).set_index("rater").loc["a", "pearson"]
    assert math.isclose(a, np.corrcoef([1, 3, 5], [2, 3.5, 4.5])[0, 1])


def test_bt500_threshold_is_2_sigma_for_normal_items_and_sqrt20_sigma_otherwise():
    # Hand-worked, one item each, ten raters; rater r9 gives the 5.
    # Item "normal": 1 x8, 4, 5 -> mean 1.7, s = 1.4944, beta2 = m4/m2^2 = 3.676 in [2, 4]:
    #   threshold 2 s, 5 >= 1.7 + 2.989 = 4.689 -> P += 1 (4 < 4.689 is not an outlier).
    # Item "peaked": 3 x9, 5 -> mean 3.2, s = 0.6325, beta2 = 1.0512 / 0.36^2 = 8.11 > 4:
    #   threshold sqrt(20) s = 2.828, 5 < 6.028 -> not counted (2 s = 1.265 would count it).
    normal = [1] * 8 + [4, 5]
    peaked = [3] * 9 + [5]
    rows = [(f"r{k}", item, score) for item, scores in (("normal", normal), ("peaked", peaked))
            for k, score in enumerate(scores)]
    out = bt500_screen(pd.DataFrame(rows, columns=["rater", "item", "score"])).set_index("rater")
    assert out.loc["r9", "P"] == 1 and out.loc["r9", "Q"] == 0 and out.loc["r9", "n"] == 2
    assert out["P"].sum() == 1 and out["Q"].sum() == 0
    # (P+Q)/n = 0.5 > 0.05 but every outlier is on one side (|P-Q|/(P+Q) = 1 >= 0.3): kept
    assert out.loc["r9", "ratio"] == 0.5 and out.loc["r9", "asymmetry"] == 1.0 and out.loc["r9", "kept"]
