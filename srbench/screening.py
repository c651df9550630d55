"""Rater screening on long-format ratings (pure pandas, no I/O): used by the report and the MOS admin page.

Input everywhere: a DataFrame with at least the columns ``rater``, ``item``,
``score`` (int 1..5), and optionally ``phase`` (only ``rating`` rows are
used when present) and ``repeat`` (0 = first showing; when absent every row
counts as a first showing).

* :func:`bt500_screen` - ITU-R BT.500 observer rejection (kurtosis-based
  beta2 test, P_i / Q_i counts) on first showings.
* :func:`retest_agreement` - agreement between the two showings of repeated items.
* :func:`rater_vs_others` - Pearson correlation of each rater's scores with
  the mean of all other raters, item by item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REJECT_RATIO = 0.05
"""Reject if (P_i + Q_i) / (J*K) exceeds this ..."""
SYMMETRY_LIMIT = 0.3
"""... and |P_i - Q_i| / (P_i + Q_i) is below this (BT.500 screening rule)."""


def _first_showings(ratings: pd.DataFrame) -> pd.DataFrame:
    df = ratings
    if "phase" in df.columns:
        df = df[df["phase"] == "rating"]
    if "repeat" in df.columns:
        df = df[df["repeat"] == 0]
    df = df.drop_duplicates(["rater", "item"])
    return df.assign(score=df["score"].astype(float))


def bt500_screen(ratings: pd.DataFrame) -> pd.DataFrame:
    """ITU-R BT.500 observer screening; one row per rater.

    For every item (test condition j x image k) over the raters who scored
    it: mean u, sample standard deviation s (N - 1), kurtosis
    beta2 = m4 / m2**2 (moments about the mean, divided by N). If
    2 <= beta2 <= 4 the scores count as normal and the threshold is 2 s,
    otherwise sqrt(20) s. A rater's score >= u + threshold adds 1 to P_i,
    <= u - threshold adds 1 to Q_i (items with s = 0 or fewer than 2 raters
    are skipped). A rater is rejected if (P_i + Q_i) / n_i > 0.05 and
    |P_i - Q_i| / (P_i + Q_i) < 0.3, where n_i (= J*K) is the number of items
    the rater scored.

    Returns columns ``rater, kept, reason, n, P, Q, ratio, asymmetry``
    (``ratio`` = (P+Q)/n, ``asymmetry`` = |P-Q|/(P+Q), NaN when P+Q = 0),
    sorted by rater.
    """
    columns = ["rater", "kept", "reason", "n", "P", "Q", "ratio", "asymmetry"]
    df = _first_showings(ratings)
    if df.empty:
        return pd.DataFrame(columns=columns)
    grouped = df.groupby("item")["score"]
    u = grouped.transform("mean")
    s = grouped.transform(lambda x: x.std(ddof=1) if len(x) > 1 else np.nan)
    dev = df["score"] - u
    m2 = dev.pow(2).groupby(df["item"]).transform("mean")
    m4 = dev.pow(4).groupby(df["item"]).transform("mean")
    with np.errstate(divide="ignore", invalid="ignore"):
        beta2 = m4 / m2.pow(2)
    factor = np.where((beta2 >= 2) & (beta2 <= 4), 2.0, np.sqrt(20.0))
    valid = s.notna() & (s > 0)
    threshold = factor * s
    high = valid & (df["score"] >= u + threshold)
    low = valid & (df["score"] <= u - threshold)
    counts = pd.DataFrame({"rater": df["rater"], "P": high.astype(int), "Q": low.astype(int), "n": 1})
    out = counts.groupby("rater", sort=True)[["n", "P", "Q"]].sum().reset_index()
    out["ratio"] = (out["P"] + out["Q"]) / out["n"]
    pq = out["P"] + out["Q"]
    out["asymmetry"] = (out["P"] - out["Q"]).abs() / pq.where(pq > 0)
    reject = (out["ratio"] > REJECT_RATIO) & (out["asymmetry"] < SYMMETRY_LIMIT)
    out["kept"] = ~reject
    out["reason"] = [
        f"BT.500: (P+Q)/n = {r:.3f} > {REJECT_RATIO} and |P-Q|/(P+Q) = {a:.3f} < {SYMMETRY_LIMIT}" if rej else ""
        for r, a, rej in zip(out["ratio"], out["asymmetry"], reject)
    ]
    return out[columns]


def retest_agreement(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per rater: agreement between first (repeat 0) and second (repeat 1) showing of repeated items.

    Columns ``rater, pairs, exact`` (fraction of identical scores),
    ``within1`` (fraction differing by at most 1), ``mean_abs_diff``,
    ``pearson`` (NaN with fewer than 2 pairs or no variance).
    """
    columns = ["rater", "pairs", "exact", "within1", "mean_abs_diff", "pearson"]
    df = ratings
    if "phase" in df.columns:
        df = df[df["phase"] == "rating"]
    if "repeat" not in df.columns or df.empty:
        return pd.DataFrame(columns=columns)
    first = df[df["repeat"] == 0].drop_duplicates(["rater", "item"])[["rater", "item", "score"]]
    second = df[df["repeat"] == 1].drop_duplicates(["rater", "item"])[["rater", "item", "score"]]
    pairs = first.merge(second, on=["rater", "item"], suffixes=("_a", "_b"))
    rows = []
    for rater, g in pairs.groupby("rater", sort=True):
        a, b = g["score_a"].astype(float), g["score_b"].astype(float)
        diff = (a - b).abs()
        r = a.corr(b) if len(g) >= 2 and a.std() > 0 and b.std() > 0 else np.nan
        rows.append([rater, len(g), (diff == 0).mean(), (diff <= 1).mean(), diff.mean(), r])
    return pd.DataFrame(rows, columns=columns)


def rater_vs_others(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per rater: Pearson r between their first-showing scores and the other raters' mean per item.

    Columns ``rater, items`` (items scored by this rater and at least one
    other), ``pearson`` (NaN with fewer than 3 such items or no variance).
    """
    columns = ["rater", "items", "pearson"]
    df = _first_showings(ratings)
    if df.empty:
        return pd.DataFrame(columns=columns)
    totals = df.groupby("item")["score"].agg(["sum", "count"])
    rows = []
    for rater, g in df.groupby("rater", sort=True):
        t = totals.loc[g["item"]]
        others_n = t["count"].to_numpy() - 1
        mask = others_n > 0
        own = g["score"].to_numpy()[mask]
        others = (t["sum"].to_numpy()[mask] - own) / others_n[mask]
        r = np.nan
        if mask.sum() >= 3 and own.std() > 0 and others.std() > 0:
            r = float(np.corrcoef(own, others)[0, 1])
        rows.append([rater, int(mask.sum()), r])
    return pd.DataFrame(rows, columns=columns)
