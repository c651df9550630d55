"""Rater screening rules (srbench.ratings.screening) on SYNTHETIC panels with planted bad raters.

Every rating here is SYNTHETIC (drawn from a seeded generator); nothing is written to disk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from srbench.errors import SrbenchError
from srbench.ratings.screening import COLUMNS, RULES, ScreeningConfig, describe_rules, screen_raters

N_ITEMS = 145  # the size of the study in which issue 14's two bad raters were found
METHODS = ("nearest", "bicubic", "srresnet-mse", "srgan-vgg54", "hr")
QUALITY = {"nearest": 1.4, "bicubic": 2.0, "srresnet-mse": 2.9, "srgan-vgg54": 3.9, "hr": 4.5}


def synthetic_panel(seed: int = 14, n_good: int = 12, *, gold: int = 0, attention: int = 0, calibration: int = 0,
                    repeats: int = 0) -> pd.DataFrame:
    """SYNTHETIC answers of ``n_good`` consistent raters (bias N(0, 0.35), noise N(0, 0.7), median time about 4 s)
    plus issue 14's planted raters: ``fast`` (all 145 items in 23 s, median 128 ms, scores as plausible as a
    careless rater's: the item's quality + N(0, 0.9), so that BT.500 alone cannot tell) and
    ``threes`` (a 3 for everything at a normal pace). Optional calibration anchors, hidden gold items
    (HR expected 4..5, nearest 1..2), attention checks ("click 2") and repeated items."""
    rng = np.random.default_rng(seed)
    items = [(f"set14/img{k:02d}/{m}", m) for k in range(N_ITEMS // len(METHODS)) for m in METHODS]
    assert len(items) == N_ITEMS
    rows = []

    def add(rater, item, method, phase, repeat, score, ms, lo=None, hi=None, attempts=1):
        rows.append(dict(rater=rater, item=item, method=method, phase=phase, repeat=repeat, score=int(score),
                         response_ms=int(ms), expected_low=lo, expected_high=hi, attempts=attempts))

    fast_ms = np.full(N_ITEMS, 128)
    fast_ms[N_ITEMS // 2 + 1:] = 128 + np.round(np.linspace(1, 2 * (23000 - 128 * N_ITEMS) / (N_ITEMS // 2), N_ITEMS // 2))
    assert abs(fast_ms.sum() - 23000) < 200 and np.median(fast_ms) == 128
    for r in range(n_good + 2):
        rater = "fast" if r == n_good else "threes" if r == n_good + 1 else f"good{r:02d}"
        bias = rng.normal(0, 0.35)

        def vote(q):
            if rater == "threes":
                return 3
            noise = 0.9 if rater == "fast" else 0.7
            return np.clip(np.rint(q + bias + rng.normal(0, noise)), 1, 5)

        def ms(k=0):
            return fast_ms[k % N_ITEMS] if rater == "fast" else rng.lognormal(np.log(4000), 0.4)

        for c in range(calibration):
            add(rater, f"calibration/c{c}/nearest", "nearest", "calibration", 0, 1, ms(c), 1, 1)
            add(rater, f"calibration/c{c}/hr", "hr", "calibration", 0, 5, ms(c), 5, 5)
        for k, (item, method) in enumerate(items):
            add(rater, item, method, "rating", 0, vote(QUALITY[method]), ms(k))
        for k, (item, method) in enumerate(items[:repeats]):
            add(rater, item, method, "rating", 1, vote(QUALITY[method]), ms(k))
        for g in range(gold):
            method = "hr" if g % 2 == 0 else "nearest"
            lo, hi = (4, 5) if method == "hr" else (1, 2)
            add(rater, f"gold/bsd200/g{g}/{method}", method, "gold", 0, vote(QUALITY[method]), ms(g), lo, hi)
        for a in range(attention):
            score = 2 if rater not in ("fast", "threes") else vote(3)
            add(rater, f"attention/a{a}", "attention", "attention", 0, score, ms(a), 2, 2)
    return pd.DataFrame(rows)


def by_rater(df: pd.DataFrame, config: ScreeningConfig | None = None) -> pd.DataFrame:
    out = screen_raters(df, config)
    assert list(out.columns) == COLUMNS
    return out.set_index("rater")


def test_issue14_planted_raters_are_rejected_by_the_defaults_SYNTHETIC():
    """Only what the issue's study had: rating answers with response times (no gold, no calibration)."""
    out = by_rater(synthetic_panel())
    assert out.loc["fast", "median_response_ms"] == 128
    assert not out.loc["fast", "kept"] and "too_fast" in out.loc["fast", "rejected_by"].split(",")
    assert "median response time 128 ms < 1000 ms" in out.loc["fast", "reasons"]
    assert not out.loc["threes", "kept"] and out.loc["threes", "rejected_by"] == "straight_lining"
    assert out.loc["threes", "score_variance"] == 0
    assert out.loc["threes", "reasons"] == "straight-lining: score variance 0.000 < 0.15 over 145 ratings"
    good = out.drop(index=["fast", "threes"])
    assert good["kept"].all() and (good["reasons"] == "").all()
    # the panel rules ran without the two: their BT.500 and correlation columns are empty
    assert out.loc[["fast", "threes"], ["bt500_n", "correlation"]].isna().all().all()
    assert (good["bt500_n"] == N_ITEMS).all() and (good["correlation"] > 0.7).all()


def test_bt500_alone_keeps_the_fast_rater_and_has_no_verdict_on_straight_lining_SYNTHETIC():
    """The failure the issue reports: BT.500 alone keeps a click-through rater whose scores look plausible,
    and it says nothing about a straight-liner beyond the band counts (their correlation is undefined)."""
    only_bt500 = ScreeningConfig(min_median_response_ms=None, min_score_variance=None, min_gold_accuracy=None,
                                 min_attention_accuracy=None, min_calibration_accuracy=None,
                                 max_retest_mean_abs_diff=None)
    for seed in (14, 1, 2):
        out = by_rater(synthetic_panel(seed), only_bt500)
        assert out.loc["fast", "kept"], seed
        assert np.isnan(out.loc["threes", "correlation"])  # the "correlation None" of the issue
        assert out.loc["threes", "rejected_by"] in ("", "bt500")  # BT.500 catches it only by the band counts


def test_gold_attention_calibration_and_retest_rules_SYNTHETIC():
    df = synthetic_panel(gold=6, attention=2, calibration=4, repeats=12)
    out = by_rater(df)
    assert set(out.loc["threes", "rejected_by"].split(",")) == {"straight_lining", "gold", "attention"}
    assert "gold items: 0 of 6 inside their expected range (0.00 < 0.6)" in out.loc["threes", "reasons"]
    assert out.loc["threes", "attention_n"] == 2
    good = out.drop(index=["fast", "threes"])
    assert good["kept"].all()
    assert (good["gold_accuracy"] >= 0.6).all() and (good["attention_accuracy"] == 1).all()
    assert (good["calibration_accuracy"] == 1).all() and (good["calibration_n"] == 8).all()
    assert (good["retest_pairs"] == 12).all() and (good["retest_mean_abs_diff"] < 1).all()
    assert "too_fast" in out.loc["fast", "rejected_by"].split(",")

    # a rater who misses the anchors (stored attempts > 1) and rates repeats at random
    sloppy = df[df["rater"] == "good00"].copy()
    sloppy["rater"] = "sloppy"
    cal = sloppy["phase"] == "calibration"
    sloppy.loc[cal, "attempts"] = [1, 3, 2, 2, 1, 4, 2, 1]
    rep = sloppy["repeat"] == 1
    first = sloppy[(sloppy["phase"] == "rating") & (sloppy["repeat"] == 0)].set_index("item")["score"]
    sloppy.loc[rep, "score"] = [6 - first[i] if first[i] != 3 else 5 for i in sloppy.loc[rep, "item"]]
    out = by_rater(pd.concat([df, sloppy]))
    row = out.loc["sloppy"]
    assert set(row["rejected_by"].split(",")) == {"calibration", "retest"}
    assert "calibration: 3 of 8 anchors right at the first click (0.38 < 0.7)" in row["reasons"]
    assert row["retest_mean_abs_diff"] > 1


def test_calibration_without_attempts_uses_the_anchor_of_the_method_SYNTHETIC():
    rows = [dict(rater="a", item=f"calibration/c{k}/{m}", method=m, phase="calibration", repeat=0,
                 score=s, response_ms=3000) for k, (m, s) in enumerate([("nearest", 1), ("hr", 5), ("nearest", 3),
                                                                          ("hr", 5), ("nearest", 1)])]
    out = by_rater(pd.DataFrame(rows))
    assert out.loc["a", "calibration_n"] == 5 and out.loc["a", "calibration_correct"] == 4
    assert out.loc["a", "kept"]  # 0.8 is not below 0.7
    rows[0]["score"] = 2
    out = by_rater(pd.DataFrame(rows))
    assert out.loc["a", "rejected_by"] == "calibration"


def test_attention_check_failed_once_rejects_SYNTHETIC():
    df = synthetic_panel(n_good=5, attention=3)
    df.loc[(df["rater"] == "good01") & (df["phase"] == "attention"), "score"] = [2, 2, 4]
    out = by_rater(df)
    assert out.loc["good01", "rejected_by"] == "attention"
    assert "attention checks: 2 of 3 answered as asked (0.67 < 1)" in out.loc["good01", "reasons"]


def test_thresholds_are_configurable_and_rules_can_be_switched_off_SYNTHETIC():
    df = synthetic_panel(gold=6)
    cfg = ScreeningConfig().with_overrides(["min_median_response_ms=off", "min_score_variance=off",
                                            "min_gold_accuracy=off"])
    out = by_rater(df, cfg)
    assert out.loc["threes", "rejected_by"] in ("", "bt500")  # only the panel rule can still catch it
    assert out.loc["fast", "rejected_by"] in ("", "bt500")
    assert out.loc["threes", "gold_accuracy"] == 0  # still measured, no longer a reason
    strict = ScreeningConfig().with_overrides(["min_median_response_ms=5000"])
    out = by_rater(df, strict)
    assert (out["rejected_by"].str.contains("too_fast")).sum() >= 8  # median times are about 4 s
    assert ScreeningConfig().with_overrides(["bt500=off"]).bt500 is False
    with_corr = by_rater(df, ScreeningConfig(min_correlation=0.99))
    assert with_corr.drop(index=["fast", "threes"])["rejected_by"].str.contains("correlation").all()
    for bad in (["nope=1"], ["min_gold_accuracy"], ["min_gold_accuracy=2"], ["min_items=0"], ["bt500=maybe"],
                ["min_median_response_ms=-1"], ["min_retest_pairs=x"]):
        with pytest.raises(SrbenchError, match="screening"):
            ScreeningConfig().with_overrides(bad)


def test_rules_are_documented_with_source_and_threshold():
    assert {r.key for r in RULES} == {"too_fast", "straight_lining", "gold", "attention", "calibration", "retest",
                                      "bt500", "correlation"}
    lines = describe_rules()
    assert len(lines) == len(RULES) and all("Source: " in line for line in lines)
    assert lines[0].startswith("`too_fast` (rejects when median < 1000 ms): median response time")
    assert "`straight_lining` (rejects when variance < 0.15 (from 10 scores on))" in lines[1]
    assert describe_rules(ScreeningConfig(min_retest_pairs=7))[5].startswith(
        "`retest` (rejects when mean > 1 (from 7 pairs on))")
    assert any(line.startswith("`correlation` (off)") for line in lines)
    assert "P.808" in " ".join(lines) and "BT.500" in " ".join(lines)


def test_too_few_data_leaves_a_rule_unapplied_and_empty_input():
    rows = [dict(rater="new", item=f"set5/i{k}/hr", phase="rating", repeat=0, score=3) for k in range(5)]
    out = by_rater(pd.DataFrame(rows))
    assert out.loc["new", "kept"] and np.isnan(out.loc["new", "score_variance"])  # 5 < min_items
    assert np.isnan(out.loc["new", "median_response_ms"])  # no response times given
    assert screen_raters(pd.DataFrame(columns=["rater", "item", "phase", "score"])).empty
    with pytest.raises(SrbenchError, match="lack column"):
        screen_raters(pd.DataFrame({"rater": ["a"]}))


def test_bench_screening_smoke():
    """bench/bench_screening.py --smoke runs and rejects every planted rater (SYNTHETIC, in memory)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "bench_screening.py"
    proc = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "planted raters kept: []" in proc.stdout and "screen_raters: " in proc.stdout
