"""Which raters a MOS analysis keeps: every screening rule, its threshold, its source, and the outcome per rater.

Pure pandas, no I/O; used by ``srbench report`` (``screening.csv``), the MOS admin page
and :mod:`srbench.ratings.stats`. Two parts:

* the panel statistics - :func:`bt500_screen` (ITU-R BT.500 observer rejection,
  kurtosis-based beta2 test, P_i / Q_i counts, on first showings),
  :func:`retest_agreement` (the two showings of repeated items) and
  :func:`rater_vs_others` (Pearson correlation of each rater's scores with the
  mean of all other raters, item by item); they need only ``rater``, ``item``,
  ``score`` and, when present, ``phase`` and ``repeat``;
* the screening rules below, which use them.

Input: long-format answers, one row per answer, with the columns ``rater``,
``item``, ``phase``, ``repeat``, ``score`` (1..5) and, where known,
``response_ms``, ``attempts``, ``expected_low``, ``expected_high`` and
``method``. Phases:

* ``calibration`` - the labelled anchors shown first (nearest = score 1, HR = score 5);
* ``rating`` - the items whose scores make the MOS (``repeat`` 1 = second showing);
* ``gold`` - hidden items with a known expected range (``expected_low..expected_high``,
  e.g. an original photo expected >= 4, its nearest-neighbour version <= 2), shown
  like any rating item and never counted in a MOS;
* ``attention`` - visible instructions ("this is an attention check: click 2"),
  expected range a single score.

The rules (:data:`RULES`; thresholds in :class:`ScreeningConfig`, each one can be
switched off) are applied in two stages. First the per-rater rules (too fast,
straight-lining, gold, attention, calibration, test-retest), which look at one
rater alone. Then the panel rules (ITU-R BT.500, optionally the correlation with
the others) on the raters who passed the first stage, so that a straight-liner
or a click-through rater does not widen the spread the panel rules compare with.
A rater is kept only if no rule rejects them; :func:`screen_raters` gives every
reason. A rule that lacks the data it needs (no response times, fewer gold items
than one, fewer repeated pairs than ``min_retest_pairs``, ...) is not applied to
that rater, and the table shows the missing value as empty.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Iterable

import numpy as np
import pandas as pd

from srbench.errors import SrbenchError

# --- panel statistics: BT.500, test-retest, rater vs. others -------------------

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


# --- the screening rules -------------------------------------------------------

CALIBRATION_ANCHORS = {"nearest": 1, "hr": 5}
"""Score each calibration anchor stands for, by method, for answers that do not carry an expected range."""
JUDGED_PHASES = ("rating", "gold", "attention")
"""Phases whose response times count for the speed rule (the rater had to judge an unlabelled image)."""


@dataclass(frozen=True)
class ScreeningConfig:
    """Thresholds of the screening rules; ``None`` switches a rule off (``bt500=False`` likewise).

    Units: milliseconds for times, score units (1..5 scale) for variance and
    differences, fractions 0..1 for accuracies.
    """

    min_median_response_ms: float | None = 1000.0
    min_score_variance: float | None = 0.15
    min_items: int = 10
    min_gold_accuracy: float | None = 0.6
    min_attention_accuracy: float | None = 1.0
    min_calibration_accuracy: float | None = 0.7
    max_retest_mean_abs_diff: float | None = 1.0
    min_retest_pairs: int = 4
    bt500: bool = True
    min_correlation: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_gold_accuracy", "min_attention_accuracy", "min_calibration_accuracy", "min_correlation"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and -1.0 <= value <= 1.0
                                          and (name == "min_correlation" or value >= 0.0)):
                raise SrbenchError(f"screening: {name} must be {'-1..1' if name == 'min_correlation' else '0..1'} "
                                   f"or off, got {value}")
        for name in ("min_median_response_ms", "min_score_variance", "max_retest_mean_abs_diff"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise SrbenchError(f"screening: {name} must be a non-negative number or off, got {value}")
        for name in ("min_items", "min_retest_pairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SrbenchError(f"screening: {name} must be a positive integer, got {value!r}")

    def with_overrides(self, pairs: Iterable[str]) -> "ScreeningConfig":
        """A copy with ``KEY=VALUE`` overrides (``VALUE`` ``off`` switches a rule off; ``bt500=on|off``).

        Raises :class:`SrbenchError` for an unknown key or a bad value.
        """
        known = {f.name: f for f in fields(self)}
        changes: dict[str, object] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or key not in known:
                raise SrbenchError(f"screening: expected KEY=VALUE with KEY one of {', '.join(known)}; got {pair!r}")
            changes[key] = _parse_value(key, raw)
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def _parse_value(key: str, raw: str) -> object:
    low = raw.lower()
    if key == "bt500":
        if low in ("on", "true", "1", "yes"):
            return True
        if low in ("off", "false", "0", "no"):
            return False
        raise SrbenchError(f"screening: bt500 must be on or off, got {raw!r}")
    if key in ("min_items", "min_retest_pairs"):
        try:
            return int(raw)
        except ValueError:
            raise SrbenchError(f"screening: {key} must be a positive integer, got {raw!r}") from None
    if low in ("off", "none"):
        return None
    try:
        return float(raw)
    except ValueError:
        raise SrbenchError(f"screening: {key} must be a number or off, got {raw!r}") from None


@dataclass(frozen=True)
class Rule:
    """One screening rule: its key (as in ``rejected_by``), what it measures, its threshold and its source."""

    key: str
    setting: str
    measures: str
    rejects_when: str  # template: {v} = the threshold, other names = ScreeningConfig fields
    source: str


RULES: tuple[Rule, ...] = (
    Rule("too_fast", "min_median_response_ms",
         "median response time of the rater's rating, gold and attention answers (ms)",
         "median < {v:g} ms",
         "srbench's threshold: a vote on an unlabelled still image takes more than a second, click-through "
         "answers well under one (the planted click-through rater of issue 14: median 128 ms). ITU-T P.808/P.910 "
         "crowdsourcing screen viewing/playback time instead; the MOS app also refuses answers given before its "
         "minimum viewing time, so this rule matters for answers collected elsewhere"),
    Rule("straight_lining", "min_score_variance",
         "sample variance of the rater's rating-phase scores, first showings (gold and attention excluded)",
         "variance < {v:g} (from {min_items} scores on)",
         "ITU-T P.808 / P.910 crowdsourcing implementations (Microsoft P.808 and P.910 toolkits, "
         "accept_and_use.variance_bigger_equal = 0.15): a rater who gives (nearly) the same score to everything"),
    Rule("gold", "min_gold_accuracy",
         "share of hidden gold items scored inside their expected range",
         "share < {v:g}",
         "ITU-T P.808 gold-standard questions (P.808/P.910 toolkits: an answer within 1 of the known score "
         "counts, gold_question.variance = 1, which the expected ranges 4..5 and 1..2 encode); the share is "
         "srbench's, close to the P.910 toolkit's per-rater acceptance share (60 %): a genuine rater who "
         "finds an original photo only 'fair' now and then keeps well above it, a random one scores 0.4"),
    Rule("attention", "min_attention_accuracy",
         "share of attention checks (\"click N\") answered as asked",
         "share < {v:g}",
         "ITU-T P.808 trapping questions (P.808/P.910 toolkits: correct_tps_bigger_equal = 1, every one right)"),
    Rule("calibration", "min_calibration_accuracy",
         "share of calibration anchors scored as labelled at the first click",
         "share < {v:g}",
         "training/anchoring phase of ITU-T P.910 / P.913 and ITU-R BT.500; the anchor tells the score to "
         "click, so missing it at the first click three times in ten shows a rater who is not reading the "
         "screen (srbench's threshold; random clicks score 0.2)"),
    Rule("retest", "max_retest_mean_abs_diff",
         "mean |first - second score| over the rater's repeated items",
         "mean > {v:g} (from {min_retest_pairs} pairs on)",
         "test-retest reliability of repeated presentations (ITU-T P.910 / P.913); threshold srbench's: "
         "random answers give 1.6 on the 1..5 scale, consistent raters about 0.5"),
    Rule("bt500", "bt500",
         "ITU-R BT.500 observer screening: P_i/Q_i scores beyond 2 s (beta2 normal) or sqrt(20) s of "
         "the item mean, among the raters kept by the rules above",
         f"(P+Q)/n > {REJECT_RATIO} and |P-Q|/(P+Q) < {SYMMETRY_LIMIT}",
         "ITU-R BT.500 (observer screening for ACR-type single-stimulus scores), as in the paper's study"),
    Rule("correlation", "min_correlation",
         "Pearson r of the rater's scores with the mean of the other kept raters, item by item (off by default)",
         "r < {v:g}",
         "per-subject correlation screening of ITU-T P.913 / VQEG test plans (r < 0.75) and the P.910 "
         "toolkit's min_inter_rater_reliability = 0.75; off by default because close conditions "
         "(SRGAN variants) give good raters low r"),
)

COLUMNS = ["rater", "kept", "rejected_by", "reasons", "n_rating", "median_response_ms", "score_variance",
           "gold_n", "gold_correct", "gold_accuracy", "attention_n", "attention_correct", "attention_accuracy",
           "calibration_n", "calibration_correct", "calibration_accuracy", "retest_pairs", "retest_mean_abs_diff",
           "bt500_n", "bt500_p", "bt500_q", "bt500_ratio", "bt500_asymmetry", "correlation"]
"""Columns of :func:`screen_raters` (accuracies are fractions; empty = not measured / not applied)."""


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce").astype(float)


def _prepare(ratings: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("rater", "item", "phase", "score") if c not in ratings.columns]
    if missing:
        raise SrbenchError(f"screening: ratings lack column(s) {', '.join(missing)}")
    df = ratings.copy()
    df["rater"] = df["rater"].astype(str)
    df["item"] = df["item"].astype(str)
    df["phase"] = df["phase"].astype(str).str.strip()
    df["score"] = _numeric(df, "score")
    df["repeat"] = _numeric(df, "repeat").fillna(0).astype(int)
    for column in ("response_ms", "attempts", "expected_low", "expected_high"):
        df[column] = _numeric(df, column)
    if "method" not in df.columns:
        df["method"] = ""
    return df


def _in_range(df: pd.DataFrame) -> pd.Series:
    """True/False where the answer's expected range is known, NaN elsewhere."""
    known = df["expected_low"].notna() & df["expected_high"].notna()
    inside = (df["score"] >= df["expected_low"]) & (df["score"] <= df["expected_high"])
    return inside.astype(float).where(known)


def _calibration_correct(df: pd.DataFrame) -> pd.Series:
    """Per calibration answer: 1.0 right at the first click, 0.0 not, NaN unknown.

    ``attempts`` (the MOS app since schema 2: the anchor stays until it is
    answered right) decides where present; else the expected range; else the
    anchor of the method (nearest 1, HR 5) against the stored score.
    """
    out = pd.Series(np.nan, index=df.index, dtype=float)
    anchor = df["method"].astype(str).str.strip().str.lower().map(CALIBRATION_ANCHORS)
    by_anchor = (df["score"] == anchor).astype(float).where(anchor.notna())
    out = out.fillna(by_anchor)
    in_range = _in_range(df)
    out = in_range.where(in_range.notna(), out)
    by_attempts = (df["attempts"] == 1).astype(float).where(df["attempts"].notna())
    return by_attempts.where(by_attempts.notna(), out)


def _share(values: pd.Series) -> tuple[int, int, float]:
    v = values.dropna()
    n = int(v.size)
    correct = int(v.sum())
    return n, correct, (correct / n if n else np.nan)


def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def _per_rater(df: pd.DataFrame, rater: str, cfg: ScreeningConfig, retest: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Measures and first-stage verdicts of one rater: (row, [(rule key, reason)])."""
    row, n_times, mad = _rater_measures(df, rater, cfg, retest)
    return row, _first_stage_fails(row, n_times, mad, cfg)


def _rater_measures(df: pd.DataFrame, rater: str, cfg: ScreeningConfig, retest: dict) -> tuple[dict, int, float]:
    """One rater's measures (the row of :func:`screen_raters`), the number of timed answers and the
    test-retest mean absolute difference."""
    own = df[df["rater"] == rater]
    rating = own[own["phase"] == "rating"]
    first = rating[rating["repeat"] == 0].drop_duplicates("item")
    judged = own[own["phase"].isin(JUDGED_PHASES)]
    times = judged["response_ms"].dropna()
    median_ms = float(times.median()) if len(times) else np.nan
    variance = float(first["score"].var(ddof=1)) if len(first) >= cfg.min_items else np.nan
    gold_n, gold_ok, gold_acc = _share(_in_range(own[own["phase"] == "gold"]))
    att_n, att_ok, att_acc = _share(_in_range(own[own["phase"] == "attention"]))
    cal_n, cal_ok, cal_acc = _share(_calibration_correct(own[own["phase"] == "calibration"]))
    pairs, mad = retest.get(rater, (0, np.nan))
    row = {"rater": rater, "n_rating": len(first), "median_response_ms": median_ms, "score_variance": variance,
           "gold_n": gold_n, "gold_correct": gold_ok, "gold_accuracy": gold_acc,
           "attention_n": att_n, "attention_correct": att_ok, "attention_accuracy": att_acc,
           "calibration_n": cal_n, "calibration_correct": cal_ok, "calibration_accuracy": cal_acc,
           "retest_pairs": pairs, "retest_mean_abs_diff": mad if pairs else np.nan}
    return row, len(times), mad


def _first_stage_fails(row: dict, n_times: int, mad: float, cfg: ScreeningConfig) -> list[tuple[str, str]]:
    """The per-rater rules (too fast, straight-lining, gold, attention, calibration, test-retest) that reject
    the rater measured by ``row``: ``[(rule key, reason)]``."""
    median_ms, variance = row["median_response_ms"], row["score_variance"]
    gold_n, gold_ok, gold_acc = row["gold_n"], row["gold_correct"], row["gold_accuracy"]
    att_n, att_ok, att_acc = row["attention_n"], row["attention_correct"], row["attention_accuracy"]
    cal_n, cal_ok, cal_acc = row["calibration_n"], row["calibration_correct"], row["calibration_accuracy"]
    pairs = row["retest_pairs"]
    fails = []
    t = cfg.min_median_response_ms
    if t is not None and not math.isnan(median_ms) and median_ms < t:
        fails.append(("too_fast", f"too fast: median response time {median_ms:.0f} ms < {t:g} ms "
                                  f"over {n_times} answers"))
    t = cfg.min_score_variance
    if t is not None and not math.isnan(variance) and variance < t:
        fails.append(("straight_lining", f"straight-lining: score variance {variance:.3f} < {t:g} over "
                                         f"{row['n_rating']} ratings"))
    t = cfg.min_gold_accuracy
    if t is not None and gold_n and gold_acc < t:
        fails.append(("gold", f"gold items: {gold_ok} of {gold_n} inside their expected range "
                              f"({_fmt(gold_acc)} < {t:g})"))
    t = cfg.min_attention_accuracy
    if t is not None and att_n and att_acc < t:
        fails.append(("attention", f"attention checks: {att_ok} of {att_n} answered as asked "
                                   f"({_fmt(att_acc)} < {t:g})"))
    t = cfg.min_calibration_accuracy
    if t is not None and cal_n and cal_acc < t:
        fails.append(("calibration", f"calibration: {cal_ok} of {cal_n} anchors right at the first click "
                                     f"({_fmt(cal_acc)} < {t:g})"))
    t = cfg.max_retest_mean_abs_diff
    if t is not None and pairs >= cfg.min_retest_pairs and mad > t:
        fails.append(("retest", f"test-retest: mean |first - second| = {mad:.2f} > {t:g} over {pairs} "
                                "repeated items"))
    return fails


def screen_raters(ratings: pd.DataFrame, config: ScreeningConfig | None = None) -> pd.DataFrame:
    """Apply every rule of ``config`` (default :class:`ScreeningConfig`) to every rater of ``ratings``.

    Returns one row per rater (sorted) with :data:`COLUMNS`: ``kept`` (bool),
    ``rejected_by`` (rule keys, comma-separated, empty if kept), ``reasons``
    (one sentence per failed rule with the measured value and threshold,
    ``"; "``-separated) and the measures every rule looked at.
    """
    cfg = config or ScreeningConfig()
    df = _prepare(ratings)
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    retest_table = retest_agreement(df[df["phase"] == "rating"])
    retest = {str(r.rater): (int(r.pairs), float(r.mean_abs_diff)) for r in retest_table.itertuples(index=False)}
    rows, fails = [], {}
    for rater in sorted(df["rater"].unique()):
        row, failed = _per_rater(df, rater, cfg, retest)
        rows.append(row)
        fails[rater] = failed
    out = pd.DataFrame(rows)
    for c in ("bt500_n", "bt500_p", "bt500_q", "bt500_ratio", "bt500_asymmetry", "correlation"):
        out[c] = np.nan
    out = out.set_index("rater", drop=False)
    stage2 = [r for r in out.index if not fails[r]]
    rating = df[(df["phase"] == "rating") & df["rater"].isin(stage2)]
    if stage2 and not rating.empty:
        _panel_rules(rating, cfg, out, fails)
    out["kept"] = [not fails[r] for r in out.index]
    out["rejected_by"] = [",".join(k for k, _ in fails[r]) for r in out.index]
    out["reasons"] = ["; ".join(text for _, text in fails[r]) for r in out.index]
    return out.reset_index(drop=True)[COLUMNS]


def _panel_rules(rating: pd.DataFrame, cfg: ScreeningConfig, out: pd.DataFrame, fails: dict) -> None:
    """Stage 2 on the raters who passed stage 1: ITU-R BT.500 and the correlation with the others; their
    measures go into ``out``, their failures into ``fails``."""
    bt = bt500_screen(rating).set_index("rater")
    for rater, b in bt.iterrows():
        out.loc[rater, ["bt500_n", "bt500_p", "bt500_q", "bt500_ratio", "bt500_asymmetry"]] = \
            [b["n"], b["P"], b["Q"], b["ratio"], b["asymmetry"]]
        if cfg.bt500 and not b["kept"]:
            fails[rater].append(("bt500", f"BT.500: {int(b['P']) + int(b['Q'])} of {int(b['n'])} scores beyond "
                                          f"the item band on both sides ((P+Q)/n = {b['ratio']:.3f} > "
                                          f"{REJECT_RATIO}, |P-Q|/(P+Q) = {b['asymmetry']:.2f} < "
                                          f"{SYMMETRY_LIMIT}; P={int(b['P'])}, Q={int(b['Q'])})"))
    corr = rater_vs_others(rating).set_index("rater")
    for rater, c in corr.iterrows():
        out.loc[rater, "correlation"] = c["pearson"]
        t = cfg.min_correlation
        if t is not None and not math.isnan(c["pearson"]) and c["pearson"] < t:
            fails[rater].append(("correlation", f"correlation with the other raters r = {c['pearson']:.2f} "
                                                f"< {t:g} over {int(c['items'])} items"))


def describe_rules(config: ScreeningConfig | None = None) -> list[str]:
    """One Markdown line per rule: key, threshold in force (or off), what it measures, source."""
    cfg = config or ScreeningConfig()
    lines = []
    for rule in RULES:
        value = getattr(cfg, rule.setting)
        if value is None or value is False:
            state = "off"
        else:
            state = "rejects when " + rule.rejects_when.format(v=float(value), **cfg.as_dict())
        lines.append(f"`{rule.key}` ({state}): {rule.measures}. Source: {rule.source}.")
    return lines
