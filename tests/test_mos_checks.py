"""Gold items and attention checks inside the rating phase, answer-file schema 3, the per-rater check accuracy,
and the refusal of another study's answer file. Studies hold SYNTHETIC random-noise images (the gold pixels
too, except in the create test, which uses the real BSD200 photos); every answer is written by the test."""

from __future__ import annotations

import json
import random
import sqlite3

import numpy as np
import pandas as pd
import pytest

from srbench.cli import main
from srbench.mos_app import checks
from srbench.mos_app.checks import CheckSpec, gold_count, insert_checks
from srbench.mos_app.create import ImageSpec, create_study, write_study
from srbench.mos_app.flow import Outcome, RaterFlow, plan
from srbench.mos_app.order import presentations
from srbench.mos_app.store import Answer, AnswerError, Store, check_study_database
from srbench.mos_app.study import StudySettings, load_study
from srbench.ratings.screening import screen_raters

MIN_MS = 1000


def noise(rng, h=6, w=8):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def make_study(root, *, gold=2, attention=1, name="checks", seed=2):
    """SYNTHETIC: 4 images x (hr, nearest), one calibration pair, ``gold`` gold items, ``attention`` checks."""
    rng = np.random.default_rng(4)
    items = [ImageSpec("set5", f"img{k}.png", m, noise(rng)) for k in range(4) for m in ("hr", "nearest")]
    calib = [(ImageSpec("bsd200", "c0.jpg", "nearest", noise(rng)), ImageSpec("bsd200", "c0.jpg", "hr", noise(rng)))]
    specs = [CheckSpec("gold", "bsd200", f"g{k}.jpg", m, noise(rng), *checks.GOLD_RANGES[m])
             for k, m in zip(range(gold), ("hr", "nearest") * gold)]
    specs += [CheckSpec("attention", "attention", f"check{k + 1:02d}.png", "attention", noise(rng), 2, 2)
              for k in range(attention)]
    return load_study(write_study(root, name=name, seed=seed, items=items, calibration=calib, repeats=1,
                                  run=StudySettings(MIN_MS, 100, 60.0), checks=specs))


def click(flow, index, score):
    p = flow.seq[index]
    return flow.submit(index=index, token=flow.token(p), score=score, view_ms=1500, served_at=100.0, now=102.0)


def test_checks_are_inside_the_rating_phase_and_leave_the_item_order_alone(tmp_path):
    with_checks = make_study(tmp_path / "a")
    without = make_study(tmp_path / "b", gold=0, attention=0)
    for rater in ("ann", "bob", "cy"):
        seq = presentations(with_checks, rater)
        phases = [p.phase for p in seq]
        assert phases[:2] == ["calibration", "calibration"]
        assert phases.count("gold") == 2 and phases.count("attention") == 1 and phases.count("rating") == 9
        assert all(i >= 2 for i, p in enumerate(phases) if p in ("gold", "attention"))
        plain = [(p.stimulus.item, p.repeat) for p in presentations(without, rater)]
        assert [(p.stimulus.item, p.repeat) for p in seq if p.phase in ("calibration", "rating")] == plain
        assert [p.index for p in seq] == list(range(len(seq)))
    positions = {r: tuple(p.index for p in presentations(with_checks, r) if p.phase in ("gold", "attention"))
                 for r in ("ann", "bob", "cy", "dee")}
    assert len(set(positions.values())) > 1  # the positions differ between raters
    last = len(presentations(with_checks, "ann")) - 1
    assert all(min(pos) < last - 3 for pos in positions.values())  # mixed in, not appended at the end
    assert presentations(with_checks, "ann") == presentations(with_checks, "ann")  # and are reproducible


def test_insert_checks_keeps_checks_apart_while_it_can():
    rng = random.Random(3)
    for n_items, n_checks in ((10, 3), (5, 6), (0, 2), (40, 2)):
        out = insert_checks(list(range(n_items)), [f"c{k}" for k in range(n_checks)], rng)
        assert [x for x in out if isinstance(x, int)] == list(range(n_items))
        assert sorted(x for x in out if isinstance(x, str)) == sorted(f"c{k}" for k in range(n_checks))
        if n_checks <= n_items + 1:
            assert not any(isinstance(a, str) and isinstance(b, str) for a, b in zip(out, out[1:]))
    assert gold_count(0.05, 145) == 7 and gold_count(0.05, 10) == 1 and gold_count(0, 100) == 0
    with pytest.raises(Exception, match="--gold-rate"):
        gold_count(0.9, 10)


def test_gold_and_attention_answers_are_stored_with_their_range_and_counted_as_rating(tmp_path):
    study = make_study(tmp_path / "s")
    store = Store(tmp_path / "r.sqlite")
    flow = RaterFlow(study, store, "ann")
    pl = plan(study)
    assert pl.items == 8 + 3 and pl.rating == 12 and pl.attention == 1  # the instructions count checks as images
    flow.start_session()
    for p in flow.seq:
        if p.phase == "calibration":
            score = p.stimulus.anchor
        elif p.phase == "gold":
            score = 5 if p.stimulus.method == "hr" else 4  # the nearest gold item is missed on purpose
        elif p.phase == "attention":
            score = 2
        else:
            score = 3
        assert click(flow, p.index, score).outcome is Outcome.STORED
        if p.phase != "calibration":
            assert flow.screen().kind in ("rate", "done")
            if flow.screen().kind == "rate":
                assert flow.screen().progress.text().startswith("Rating: image ")  # never "gold"
    assert flow.counts() == {"calibration_total": 2, "calibration_done": 2, "rating_total": 12, "rating_done": 12}
    rows = pd.DataFrame(store.rows("checks"))
    gold = rows[rows["phase"] == "gold"].sort_values("method")
    assert gold[["method", "expected_low", "expected_high"]].values.tolist() == [["hr", 4, 5], ["nearest", 1, 2]]
    assert rows[rows["phase"] == "calibration"][["expected_low", "expected_high"]].values.tolist() == [[1, 1], [5, 5]]
    assert rows[rows["phase"] == "rating"]["expected_low"].isna().all()
    acc = {(r["rater"], r["phase"]): r for r in store.check_accuracy("checks")}
    assert acc[("ann", "gold")]["answered"] == 2 and acc[("ann", "gold")]["in_range"] == 1
    assert acc[("ann", "gold")]["accuracy"] == 0.5 and acc[("ann", "attention")]["accuracy"] == 1.0
    # the same rows through the screening: gold 1 of 2 (0.5 < 0.6) rejects
    screened = screen_raters(rows).set_index("rater")
    assert screened.loc["ann", "gold_accuracy"] == 0.5 and "gold" in screened.loc["ann", "rejected_by"]
    assert {"gold", "attention"}.isdisjoint(set(rows[rows["phase"] == "rating"]["phase"]))


def test_answers_with_bad_expected_ranges_are_refused(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    base = dict(study="s", rater="ann", presentation=3, item="gold/g0/hr", method="hr", dataset="bsd200",
                image="g0.jpg", phase="gold", repeat=0, score=4, response_ms=2000)
    for extra, message in (({}, "needs its expected score range"),
                           (dict(expected_low=4), "both be given"),
                           (dict(expected_low=5, expected_high=4), "is empty"),
                           (dict(expected_low=0, expected_high=4), "score must be"),
                           (dict(phase="rating", expected_low=1, expected_high=2), "has no expected"),
                           (dict(phase="practice"), "phase must be")):
        with pytest.raises(AnswerError, match=message):
            store.record(Answer(**{**base, **extra}))
    assert store.rows() == []


V2_ANSWERS = """CREATE TABLE answers (
    study TEXT NOT NULL, rater TEXT NOT NULL, presentation INTEGER NOT NULL CHECK (presentation >= 0),
    item TEXT NOT NULL, method TEXT NOT NULL, dataset TEXT NOT NULL, image TEXT NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('calibration', 'rating')), repeat INTEGER NOT NULL CHECK (repeat >= 0),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5), response_ms INTEGER NOT NULL CHECK (response_ms >= 0),
    timestamp TEXT NOT NULL, session INTEGER NOT NULL DEFAULT 0 CHECK (session >= 0),
    attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1), view_ms INTEGER CHECK (view_ms IS NULL OR view_ms >= 0),
    UNIQUE (study, rater, presentation))"""


def test_schema_2_file_is_migrated_to_3_keeping_every_answer(tmp_path):
    db = tmp_path / "v2.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(V2_ANSWERS)
        conn.execute("CREATE TABLE study_secrets (study TEXT PRIMARY KEY, secret TEXT NOT NULL)")
        rows = [("s", "ann", 0, "calibration/c/nearest", "nearest", "bsd200", "c.jpg", "calibration", 0, 1, 2100,
                 "2026-01-01T00:00:00.000+00:00", 1, 2, 2000),
                ("s", "ann", 1, "calibration/c/hr", "hr", "bsd200", "c.jpg", "calibration", 0, 5, 2100,
                 "2026-01-01T00:00:01.000+00:00", 1, 1, 2000),
                ("s", "ann", 2, "set5/a/hr", "hr", "set5", "a.png", "rating", 0, 4, 3100,
                 "2026-01-01T00:00:02.000+00:00", 1, 1, None)]
        conn.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("INSERT INTO study_secrets VALUES ('s', 'ab')")
        conn.execute("PRAGMA user_version = 2")
    before = db.read_bytes()
    ro = Store(db, read_only=True)
    assert [r["expected_low"] for r in ro.rows()] == [None, None, None]  # read as it is
    ro.close()
    assert db.read_bytes() == before
    store = Store(db)
    assert store.schema_version() == 3
    got = store.rows()
    assert [(r["item"], r["score"], r["attempts"], r["view_ms"]) for r in got] == [
        ("calibration/c/nearest", 1, 2, 2000), ("calibration/c/hr", 5, 1, 2000), ("set5/a/hr", 4, 1, None)]
    assert [(r["expected_low"], r["expected_high"]) for r in got] == [(1, 1), (5, 5), (None, None)]
    assert store.record(Answer("s", "ann", 3, "gold/g/hr", "hr", "bsd200", "g.jpg", "gold", 0, 4, 2500,
                               expected_low=4, expected_high=5))
    assert store.record(Answer("s", "ann", 2, "set5/a/hr", "hr", "set5", "a.png", "rating", 0, 1, 1)) is False
    assert store.study_secret("s") == bytes.fromhex("ab")
    assert Store(db).schema_version() == 3


def test_another_studys_answer_file_is_refused_with_nothing_written(tmp_path, capsys):
    a = make_study(tmp_path / "a", name="alpha", gold=0, attention=0)
    b = make_study(tmp_path / "b", name="beta", gold=0, attention=0)
    db = tmp_path / "alpha.sqlite"
    flow = RaterFlow(a, Store(db), "ann")
    flow.start_session()
    click(flow, 0, 1)
    flow.store.close()
    before = db.read_bytes()
    with pytest.raises(AnswerError, match="belongs to study 'alpha', not to 'beta'"):
        check_study_database(db, "beta")
    check_study_database(db, "alpha")
    check_study_database(tmp_path / "new.sqlite", "beta")  # a new file is fine
    assert main(["mos", "export", "--study", str(b.root), "--db", str(db), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "belongs to study 'alpha', not to 'beta'" in err and err.count("\n") == 1
    assert main(["mos", "serve", "--study", str(b.root), "--db", str(db), "--port", "8999"]) == 2
    err = capsys.readouterr().err
    assert "belongs to study 'alpha', not to 'beta'" in err and err.count("\n") == 1
    assert db.read_bytes() == before and not (tmp_path / "x.csv").exists()


def test_create_study_with_gold_and_attention_from_real_bsd200(tmp_path, data_root, train_root):
    out = create_study(tmp_path / "s", name="goldtest", methods=["nearest"], datasets=["set5"], data_root=data_root,
                       train_root=train_root, calibration=2, repeats=0, gold_rate=0.2, attention=1,
                       screening={"min_gold_accuracy": "0.75"})
    study = load_study(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["gold"] == 2 and manifest["settings"]["attention"] == 1
    assert manifest["settings"]["screening"] == {"min_gold_accuracy": "0.75"}
    calib_images = {c.image for c in study.calibration}
    gold = [c for c in study.checks if c.check == "gold"]
    assert [(g.method, g.expected_low, g.expected_high) for g in gold] == [("hr", 4, 5), ("nearest", 1, 2)]
    assert not calib_images & {g.image for g in gold}  # other photos than the calibration anchors
    files = sorted(p.name for p in (train_root / "bsd200").iterdir())
    assert sorted(g.image for g in gold) == files[2:4]
    assert all(g.width % 4 == 0 and g.height % 4 == 0 for g in gold)
    (att,) = [c for c in study.checks if c.check == "attention"]
    assert att.expected_low == att.expected_high and (att.width, att.height) == checks.ATTENTION_SIZE
    from srbench.mos_app.admin import screening_config

    assert screening_config(study).min_gold_accuracy == 0.75
    with pytest.raises(Exception, match="--attention must be 0..20"):
        create_study(tmp_path / "t", name="x", methods=["nearest"], datasets=["set5"], data_root=data_root,
                     train_root=train_root, calibration=0, attention=21)


def test_the_page_refuses_another_studys_answer_file_before_writing(tmp_path, monkeypatch):
    """The app itself (not only 'srbench mos serve') checks the answer file it is pointed at (AppTest)."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    a = make_study(tmp_path / "a", name="alpha", gold=0, attention=0)
    b = make_study(tmp_path / "b", name="beta", gold=0, attention=0)
    db = tmp_path / "alpha.sqlite"
    flow = RaterFlow(a, Store(db), "ann")
    flow.start_session()
    flow.store.close()
    before = db.read_bytes()
    monkeypatch.setenv("SRBENCH_MOS_STUDY", str(b.root))
    monkeypatch.setenv("SRBENCH_MOS_DB", str(db))
    app = str(Path(__file__).resolve().parent.parent / "mos_app" / "app.py")
    at = AppTest.from_file(app, default_timeout=30)
    at.query_params["rater"] = "ann"
    at.run()
    assert "belongs to study 'alpha', not to 'beta'" in at.error[0].value
    assert db.read_bytes() == before
