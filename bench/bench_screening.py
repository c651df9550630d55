"""SYNTHETIC paper-scale rater screening: which raters the default rules reject, and how long it takes.

    python bench/bench_screening.py [--raters 26] [--images 100] [--methods 12] [--seed 14] [--smoke]

A panel like the SRGAN paper's (26 raters x 12 versions x 100 BSD100 images = 31,200 ratings) plus
what the MOS app adds per rater: 40 calibration anchors, 20 repeated items and 5 % hidden gold items
(HR expected 4..5, nearest 1..2). Genuine raters: bias N(0, 0.35), noise N(0, 0.7), median response
about 4 s. Planted: issue 14's click-through rater (median 128 ms, plausible scores), a rater who
gives 3 to everything, a random clicker, and a rater who ignores the gold items. Printed: the rejected
raters with their rules, the kept count, false rejections among the genuine raters, and the time of
:func:`srbench.ratings.screening.screen_raters` and of the subject model fit on the kept raters
(:func:`srbench.ratings.subject_model.method_quality`), with the load average.

Every rating is SYNTHETIC and lives in memory only. ``--smoke`` runs a tiny panel (used by
tests/test_screening_rules.py).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from srbench.ratings.screening import screen_raters
from srbench.ratings.subject_model import method_quality

PLANTED = ("fast", "threes", "random", "goldblind")


def panel(n_raters: int, n_images: int, n_methods: int, seed: int) -> pd.DataFrame:
    """SYNTHETIC long-format answers (see the module docstring)."""
    rng = np.random.default_rng(seed)
    quality = np.linspace(1.3, 4.5, n_methods)  # method m's typical score
    image_effect = rng.normal(0, 0.3, n_images)
    n_items = n_images * n_methods
    n_gold = max(1, round(0.05 * n_items))
    frames = []
    for r in range(n_raters + len(PLANTED)):
        rater = PLANTED[r - n_raters] if r >= n_raters else f"r{r:02d}"
        bias, noise = rng.normal(0, 0.35), 0.7
        img = np.repeat(np.arange(n_images), n_methods)
        met = np.tile(np.arange(n_methods), n_images)
        q = quality[met] + image_effect[img] + bias
        if rater == "threes":
            score = np.full(n_items, 3)
        elif rater == "random":
            score = rng.integers(1, 6, n_items)
        else:
            score = np.clip(np.rint(q + rng.normal(0, 0.9 if rater == "fast" else noise, n_items)), 1, 5)
        ms = np.full(n_items, 128.0) if rater == "fast" else rng.lognormal(np.log(4000), 0.4, n_items)
        rating = pd.DataFrame({"rater": rater, "item": [f"bsd100/img{i:03d}/m{m:02d}" for i, m in zip(img, met)],
                               "method": [f"m{m:02d}" for m in met], "dataset": "bsd100",
                               "image": [f"img{i:03d}.png" for i in img], "phase": "rating", "repeat": 0,
                               "score": score.astype(int), "response_ms": ms.astype(int)})
        rep = rating.iloc[rng.choice(n_items, 20, replace=False)].copy()
        rep["repeat"] = 1
        if rater in ("random",):
            rep["score"] = rng.integers(1, 6, len(rep))
        hr = np.arange(n_gold) % 2 == 0
        gold_score = np.where(hr, np.clip(np.rint(4.6 + bias + rng.normal(0, 0.6, n_gold)), 1, 5),
                              np.clip(np.rint(1.2 + bias + rng.normal(0, 0.5, n_gold)), 1, 5))
        if rater == "threes":
            gold_score = np.full(n_gold, 3)
        elif rater in ("random", "goldblind"):
            gold_score = rng.integers(1, 6, n_gold)
        gold = pd.DataFrame({"rater": rater, "item": [f"gold/g{k}" for k in range(n_gold)],
                             "method": np.where(hr, "hr", "nearest"), "dataset": "bsd200", "image": "g.jpg",
                             "phase": "gold", "repeat": 0, "score": gold_score.astype(int),
                             "response_ms": (ms[:n_gold] if rater == "fast" else 4000),
                             "expected_low": np.where(hr, 4, 1), "expected_high": np.where(hr, 5, 2)})
        cal = pd.DataFrame({"rater": rater, "item": [f"calibration/c{k // 2}/{'nearest' if k % 2 == 0 else 'hr'}"
                                                     for k in range(40)],
                            "method": ["nearest" if k % 2 == 0 else "hr" for k in range(40)], "dataset": "bsd200",
                            "image": "c.jpg", "phase": "calibration", "repeat": 0,
                            "score": [1 if k % 2 == 0 else 5 for k in range(40)], "response_ms": 3000,
                            "attempts": rng.choice([1, 1, 1, 1, 1, 1, 1, 1, 1, 2], 40)})
        frames += [rating, rep, gold, cal]
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raters", type=int, default=26)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--methods", type=int, default=12)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--smoke", action="store_true", help="tiny panel: 6 raters x 10 images x 4 methods")
    args = ap.parse_args()
    if args.smoke:
        args.raters, args.images, args.methods = 6, 10, 4
    df = panel(args.raters, args.images, args.methods, args.seed)
    print(f"SYNTHETIC panel: {args.raters} genuine + {len(PLANTED)} planted raters, {len(df)} answers "
          f"({args.images} images x {args.methods} methods each); load average {os.getloadavg()}")
    t0 = time.perf_counter()
    table = screen_raters(df)
    t_screen = time.perf_counter() - t0
    rejected = table[~table["kept"]].set_index("rater")
    for rater, row in rejected.iterrows():
        print(f"  rejected {rater}: {row['rejected_by']}")
    genuine_rejected = [r for r in rejected.index if r not in PLANTED]
    missed = [r for r in PLANTED if r not in rejected.index]
    print(f"kept {int(table['kept'].sum())}; genuine raters rejected: {len(genuine_rejected)} {genuine_rejected}; "
          f"planted raters kept: {missed}")
    kept = df[df["rater"].isin(table.loc[table["kept"], "rater"]) & (df["phase"] == "rating")]
    t0 = time.perf_counter()
    _, fit = method_quality(kept[["rater", "dataset", "method", "image", "repeat", "score"]].astype({"score": float}),
                            n_boot=200 if args.smoke else 2000)
    t_model = time.perf_counter() - t0
    print(f"screen_raters: {t_screen:.2f} s; subject model on the kept raters: {t_model:.2f} s "
          f"({fit.iterations} iterations); load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
