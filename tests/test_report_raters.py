"""`srbench report` with rater screening, per-cell counts, screened Wilcoxon tests, the subject model,
and the refusal of bad ratings files. Every rating here is SYNTHETIC; reports go to tmp_path only."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench import report
from srbench.ratings import stats
from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.report.subjects import MODEL_COLUMNS
from srbench.ratings.screening import ScreeningConfig
from srbench.ratings.subject_model import method_quality

HERE = Path(__file__).resolve().parent
RUNS = [HERE / "fixtures" / "report" / "synthetic-classic", HERE / "fixtures" / "report" / "synthetic-srgan"]
SET5 = ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
QUALITY = {"nearest": 1.3, "bicubic": 1.9, "srresnet-mse": 3.0, "srgan-mse": 3.2, "srgan-vgg54": 4.2, "hr": 4.5}
HEADER = ["study", "rater", "item", "method", "dataset", "image", "phase", "repeat", "score", "response_ms",
          "timestamp", "attempts", "expected_low", "expected_high"]
STUDY = "SYNTHETIC-screen"


def rows_for(seed: int = 5, n_good: int = 10) -> list[dict]:
    """SYNTHETIC answers: ``n_good`` consistent raters, a click-through rater ``fast`` (median 128 ms) and
    ``threes`` (a 3 for everything); calibration anchors, 4 hidden gold items, 3 repeated items."""
    rng = np.random.default_rng(seed)
    out = []

    def add(rater, item, method, dataset, image, phase, repeat, score, ms, lo="", hi="", attempts=1):
        out.append(dict(study=STUDY, rater=rater, item=item, method=method, dataset=dataset, image=image,
                        phase=phase, repeat=repeat, score=int(score), response_ms=int(ms),
                        timestamp="2026-01-01T00:00:00.000+00:00", attempts=attempts, expected_low=lo,
                        expected_high=hi))

    for r in range(n_good + 2):
        rater = "fast" if r == n_good else "threes" if r == n_good + 1 else f"r{r:02d}"
        bias = rng.normal(0, 0.3)

        def vote(q):
            return 3 if rater == "threes" else np.clip(np.rint(q + bias + rng.normal(0, 0.6)), 1, 5)

        def ms():
            return 128 if rater == "fast" else rng.lognormal(np.log(3500), 0.3)

        for c in ("100075", "100080"):
            add(rater, f"calibration/{c}/nearest", "nearest", "bsd200", f"{c}.jpg", "calibration", 0, 1, ms(), 1, 1)
            add(rater, f"calibration/{c}/hr", "hr", "bsd200", f"{c}.jpg", "calibration", 0, 5, ms(), 5, 5)
        for method, q in QUALITY.items():
            for image in SET5:
                add(rater, f"set5/{Path(image).stem}/{method}", method, "set5", image, "rating", 0, vote(q), ms())
        for method, image in (("hr", "baby.png"), ("bicubic", "bird.png"), ("srgan-vgg54", "head.png")):
            add(rater, f"set5/{Path(image).stem}/{method}", method, "set5", image, "rating", 1, vote(QUALITY[method]),
                ms())
        for g, (method, lo, hi) in enumerate((("hr", 4, 5), ("nearest", 1, 2)) * 2):
            add(rater, f"gold/g{g}/{method}", method, "bsd200", f"g{g}.jpg", "gold", 0, vote(QUALITY[method]), ms(),
                lo, hi)
    return out


def write(path: Path, rows: list[dict], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("screened")
    report.build_report(RUNS, [write(tmp / "ratings.csv", rows_for())], tmp / "out")
    return tmp / "out"


def test_planted_raters_rejected_with_reasons_in_screening_csv_and_report_SYNTHETIC(built):
    s = pd.read_csv(built / "screening.csv", keep_default_na=False).set_index("rater")
    assert s.loc[f"{STUDY}/fast", "rejected"] == 1 and "too_fast" in s.loc[f"{STUDY}/fast", "rejected_by"]
    assert s.loc[f"{STUDY}/threes", "rejected"] == 1
    assert set(s.loc[f"{STUDY}/threes", "rejected_by"].split(",")) == {"straight_lining", "gold"}
    good = s.drop(index=[f"{STUDY}/fast", f"{STUDY}/threes"])
    assert (good["rejected"] == 0).all() and (good["reasons"] == "").all()
    assert (good["gold_n"] == 4).all() and (good["calibration_n"] == 4).all() and (good["retest_pairs"] == 3).all()
    md = (built / "report.md").read_text()
    assert "- 12 raters screened, 2 rejected:" in md
    assert f"  - `{STUDY}/threes`: straight-lining: score variance 0.000 < 0.15 over 30 ratings; gold items: " \
           "0 of 4 inside their expected range (0.00 < 0.6)" in md
    assert "median response time 128 ms < 1000 ms" in md
    for key in ("too_fast", "straight_lining", "gold", "attention", "calibration", "retest", "bt500", "correlation"):
        assert f"  - `{key}` (" in md


def test_every_mos_cell_states_its_raters_and_ratings_and_gold_is_not_in_any_mos_SYNTHETIC(built):
    t2 = pd.read_csv(built / "table2.csv", keep_default_na=False, dtype=str)
    mos = t2[(t2["metric"] == "mos") & (t2["ours"] != "")]
    assert len(mos) == 5 and set(mos["n_raters"]) == {"10"} and set(mos["n"]) == {"50"}  # 10 kept x 5 images
    assert "(10 raters, 50 ratings)" in (built / "table2.md").read_text()
    assert "(10 raters, 50 ratings)" in (built / "table2.tex").read_text()
    m = pd.read_csv(built / "mos.csv")
    assert set(m["dataset"]) == {"set5"} and (m["n_raters"] == 10).all()  # the bsd200 gold rows made no MOS
    df = pd.DataFrame(rows_for())
    kept = df[(df["phase"] == "rating") & (df["repeat"] == 0) & ~df["rater"].isin(["fast", "threes"])]
    hr = m[m["method"] == "hr"].iloc[0]
    assert hr["mean"] == pytest.approx(kept[kept["method"] == "hr"]["score"].mean(), abs=1e-6)


def test_wilcoxon_tests_use_the_screened_ratings_SYNTHETIC(built):
    sig = pd.read_csv(built / "significance.csv")
    mos = sig[sig["metric"] == "mos"]
    assert (mos["n_pairs"] == 50).all()  # 10 kept raters x 5 images, not 12 x 5
    df = pd.DataFrame(rows_for())
    kept = df[(df["phase"] == "rating") & (df["repeat"] == 0) & ~df["rater"].isin(["fast", "threes"])]
    a = kept[kept["method"] == "bicubic"].sort_values(["rater", "image"])["score"].to_numpy(float)
    b = kept[kept["method"] == "srgan-vgg54"].sort_values(["rater", "image"])["score"].to_numpy(float)
    expected = stats.wilcoxon_paired(a, b)
    row = mos[(mos["method_a"] == "bicubic") & (mos["method_b"] == "srgan-vgg54")].iloc[0]
    assert row["n"] == expected.n and row["pvalue"] == pytest.approx(expected.pvalue, rel=1e-5)


def test_subject_model_beside_plain_mos_SYNTHETIC(built):
    sm = pd.read_csv(built / "subject_model.csv")
    assert list(sm.columns) == MODEL_COLUMNS and len(sm) == len(QUALITY)
    mos = pd.read_csv(built / "mos.csv").set_index("method")
    for r in sm.itertuples():
        assert r.mos == pytest.approx(mos.loc[r.method, "mean"], abs=1e-6)
        assert r.mos_ci_low == pytest.approx(mos.loc[r.method, "ci_low"], abs=1e-6)
        assert r.n_raters == 10 and r.n_ratings == 50 and r.quality_ci_pop_low < r.quality < r.quality_ci_pop_high
    # the same numbers as the library's fit on the kept raters' rating answers (repeats included)
    df = pd.DataFrame(rows_for())
    kept = df[(df["phase"] == "rating") & ~df["rater"].isin(["fast", "threes"])].copy()
    kept["rater"] = STUDY + "/" + kept["rater"]
    table, fit = method_quality(kept[["rater", "dataset", "method", "image", "repeat", "score"]].astype(
        {"score": float}))
    hr = sm.set_index("method").loc["hr"]
    assert hr["quality"] == pytest.approx(table.set_index("method").loc["hr", "quality"], abs=1e-6)
    assert hr["n_model_ratings"] == 60  # 50 first showings + 10 repeats of baby/hr
    raters = pd.read_csv(built / "subject_raters.csv")
    assert len(raters) == 10 and raters["bias"].abs().max() < 1.5
    md = (built / "report.md").read_text()
    assert "## Subject model" in md and "| Set5 | hr | 10 | 50 | " in md


def test_screening_is_configurable_from_the_cli_SYNTHETIC(tmp_path, capsys):
    ratings = write(tmp_path / "r.csv", rows_for())
    assert main(["report", "--runs", *map(str, RUNS), "--ratings", str(ratings), "--out", str(tmp_path / "o"),
                 "--screening", "min_median_response_ms=off", "--screening", "min_score_variance=off",
                 "--screening", "min_gold_accuracy=off"]) == 0
    s = pd.read_csv(tmp_path / "o" / "screening.csv", keep_default_na=False).set_index("rater")
    assert "too_fast" not in s.loc[f"{STUDY}/fast", "rejected_by"]
    assert "`too_fast` (off)" in (tmp_path / "o" / "report.md").read_text()
    capsys.readouterr()
    assert main(["report", "--ratings", str(ratings), "--out", str(tmp_path / "p"), "--screening", "speed=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("srbench report: error: screening: expected KEY=VALUE") and err.count("\n") == 1
    assert not (tmp_path / "p").exists()
    assert main(["report", "--screening", "bt500=off"]) == 2
    assert "--out is required" in capsys.readouterr().err


def test_cli_epilog_lists_the_default_thresholds():
    from srbench.cli.report import EPILOG

    text = " ".join(EPILOG.split())
    for key, value in ScreeningConfig().as_dict().items():
        shown = "on" if value is True else "off" if value is None else f"{value:g}"
        assert f"{key}={shown}" in text, key


def test_a_design_the_model_cannot_fit_is_said_in_the_report_SYNTHETIC(tmp_path):
    """Two groups of raters who rated disjoint images: their scales cannot be compared."""
    rows = [r for r in rows_for(n_good=4) if r["phase"] != "rating" or r["repeat"] == 0]
    rows = [r for r in rows if r["phase"] != "rating" or (r["rater"] in ("r00", "r01")) == (r["image"] in SET5[:2])]
    report.build_report([], [write(tmp_path / "r.csv", rows)], tmp_path / "o")
    md = (tmp_path / "o" / "report.md").read_text()
    assert "Not fitted: " in md
    assert (tmp_path / "o" / "subject_model.csv").read_text().count("\n") == 1  # header only
    assert "share no rater-item link" in md
    assert (tmp_path / "o" / "mos.csv").read_text().count("\n") == 1 + len(QUALITY)  # plain MOS still there


BAD = [
    (lambda r: r.update(score=6), "score 6 outside 1..5"),
    (lambda r: r.update(score="3.5"), "score is '3.5', not an integer"),
    (lambda r: r.update(score=""), "score is empty"),
    (lambda r: r.update(dataset="set15", item="set15/baby/hr"), "unknown item: set 'set15' is not a benchmark set"),
    (lambda r: r.update(image="nobody.png", item="set5/nobody/hr"), "unknown item: image 'nobody.png' is not in"),
    (lambda r: r.update(method="srgan-vgg45", item="set5/baby/srgan-vgg45"),
     "unknown item: method 'srgan-vgg45' is not registered"),
    (lambda r: r.update(method="bicubic"), "item id 'set5/baby/nearest' does not match its columns"),
    (lambda r: r.update(phase="practice"), "unknown phase 'practice'"),
    (lambda r: r.update(response_ms=-5), "negative response_ms -5"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m.split(":")[0][:30] for _, m in BAD])
def test_bad_ratings_are_refused_with_one_message_and_nothing_written_SYNTHETIC(tmp_path, change, message, capsys):
    rows = rows_for(n_good=3)
    target = next(r for r in rows if r["phase"] == "rating" and r["image"] == "baby.png" and r["method"] == "nearest")
    change(target)
    path = write(tmp_path / "r.csv", rows)
    with pytest.raises(SrbenchError, match="nothing was written") as err:
        report.build_report(RUNS, [path], tmp_path / "out")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert main(["report", "--runs", *map(str, RUNS), "--ratings", str(path), "--out", str(tmp_path / "o2")]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("srbench report: error: ") and message in err_text and err_text.count("\n") == 1
    assert not (tmp_path / "o2").exists()


def test_gold_without_expected_range_is_refused_SYNTHETIC(tmp_path):
    rows = rows_for(n_good=3)
    next(r for r in rows if r["phase"] == "gold").update(expected_low="")
    with pytest.raises(SrbenchError, match="gold answer without expected_low/expected_high"):
        report.build_report([], [write(tmp_path / "r.csv", rows)], tmp_path / "out")
    rows = rows_for(n_good=3)
    next(r for r in rows if r["phase"] == "gold").update(expected_low=4, expected_high=7)
    with pytest.raises(SrbenchError, match="expected range 4..7 is not within 1..5"):
        report.build_report([], [write(tmp_path / "r.csv", rows)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_existing_report_is_left_untouched_when_the_ratings_are_refused_SYNTHETIC(tmp_path):
    out = tmp_path / "out"
    report.build_report(RUNS, [write(tmp_path / "good.csv", rows_for(n_good=3))], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rows = rows_for(n_good=3)
    rows[5]["score"] = 0
    with pytest.raises(SrbenchError):
        report.build_report(RUNS, [write(tmp_path / "bad.csv", rows)], out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not any(name.startswith(".") for name in os.listdir(out))


def test_report_reads_gold_answers_from_the_app_database_SYNTHETIC(tmp_path):
    """Answers written through the MOS app's store (schema 3, gold rows with their range) screen as in a CSV."""
    from srbench.mos_app.store import Answer, Store

    db = tmp_path / "answers.db"
    store = Store(db)
    for k, r in enumerate(rows_for(n_good=3)):
        lo = int(r["expected_low"]) if r["expected_low"] != "" else None
        hi = int(r["expected_high"]) if r["expected_high"] != "" else None
        if r["phase"] == "rating":
            lo = hi = None
        assert store.record(Answer(r["study"], r["rater"], k, r["item"], r["method"], r["dataset"], r["image"],
                                   r["phase"], r["repeat"], r["score"], r["response_ms"], attempts=1,
                                   expected_low=lo, expected_high=hi))
    store.close()
    report.build_report([], [db], tmp_path / "from_db")
    report.build_report([], [write(tmp_path / "r.csv", rows_for(n_good=3))], tmp_path / "from_csv")
    a = pd.read_csv(tmp_path / "from_db" / "screening.csv", keep_default_na=False)
    b = pd.read_csv(tmp_path / "from_csv" / "screening.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    assert a.set_index("rater").loc[f"{STUDY}/threes", "gold_n"] == 4
