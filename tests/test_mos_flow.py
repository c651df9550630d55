"""The rater's way through a study (srbench.mos_app.flow) on a real SQLite answer file, without a page.

Studies are tiny SYNTHETIC random-noise images built in tmp_path. The same
rules are exercised end to end in a real browser by test_mos_browser.py;
here each rule is checked directly, including the cases a page cannot
produce (forged tokens, clicks before the image was sent).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from srbench.mos_app.blind import item_token
from srbench.mos_app.create import ImageSpec, write_study
from srbench.mos_app.flow import Outcome, RaterFlow, minutes_text, plan
from srbench.mos_app.store import Store, Viewing
from srbench.mos_app.study import StudySettings, load_study

MIN_MS = 1000


def make_study(root, *, run=StudySettings(MIN_MS, 4, 10.0), repeats=1, name="flowtest"):
    """SYNTHETIC: 3 random-noise images x (hr, nearest), one calibration pair: 2 + 6 + repeats presentations."""
    rng = np.random.default_rng(4)
    items = [ImageSpec("set5", f"img{k}.png", m, rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
             for k in range(3) for m in ("hr", "nearest")]
    calib = [(ImageSpec("bsd200", "c0.jpg", "nearest", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
              ImageSpec("bsd200", "c0.jpg", "hr", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)))]
    return load_study(write_study(root, name=name, seed=2, items=items, calibration=calib, repeats=repeats, run=run))


@pytest.fixture
def flow(tmp_path):
    study = make_study(tmp_path / "s")
    return RaterFlow(study, Store(tmp_path / "r.sqlite"), "ann")


def click(flow, index, score, *, shown_s=2.0, view_ms=1500, token=None, served=True):
    """A click on presentation ``index`` that arrives ``shown_s`` after the server sent it."""
    p = flow.seq[index]
    return flow.submit(index=index, token=token if token is not None else flow.token(p), score=score,
                       view_ms=view_ms, served_at=100.0 if served else None, now=100.0 + shown_s)


def answers(flow):
    with sqlite3.connect(flow.store.path) as conn:
        return conn.execute("SELECT presentation, score, attempts, session, response_ms, view_ms FROM answers"
                            " ORDER BY presentation").fetchall()


def test_screens_from_instructions_through_sessions_to_done(flow):
    assert flow.screen().kind == "instructions"
    assert flow.start_session() == 1 and flow.start_session() == 1  # a second tab starts nothing new
    s = flow.screen()
    assert s.kind == "rate" and s.presentation.index == 0 and s.next.index == 1 and s.session == 1
    assert s.progress.text() == "Calibration: image 1 of 2"
    for k in range(4):  # session limit: 4 answers
        assert click(flow, k, flow.seq[k].stimulus.anchor or 3).outcome is Outcome.STORED
    s = flow.screen()
    assert s.kind == "break" and s.session == 1 and s.end_reason == "items"
    assert flow.screen().kind == "break"  # stays until the rater continues (any day)
    assert flow.start_session() == 2
    s = flow.screen()
    assert s.kind == "rate" and s.progress.text() == "Rating: image 3 of 7" and s.progress.session_done == 0
    click(flow, 4, 2)
    # the rater comes back 11 minutes later: the session is over by time (limit 10 min)
    later = datetime.now(timezone.utc) + timedelta(minutes=11)
    s = flow.screen(now=later)
    assert s.kind == "break" and s.end_reason == "time"
    flow.start_session()
    for k in range(5, len(flow.seq)):
        if flow.screen().kind == "break":
            flow.start_session()
        assert click(flow, k, 4).outcome is Outcome.STORED
    assert flow.screen().kind == "done"
    assert [r[3] for r in answers(flow)] == [1, 1, 1, 1, 2, 3, 3, 3, 3]
    assert flow.counts() == {"calibration_total": 2, "calibration_done": 2, "rating_total": 7, "rating_done": 7}
    assert [(s.number, s.end_reason) for s in flow.store.sessions("flowtest", "ann")] == [
        (1, "items"), (2, "time"), (3, "done")]  # a finished rater's last session is closed, not left open


def test_answers_before_the_minimum_viewing_time_are_refused_and_not_stored(flow):
    flow.start_session()
    early = click(flow, 0, 1, shown_s=0.4)
    assert early.outcome is Outcome.TOO_EARLY and "only 0.4 s" in early.message and "at least 1 s" in early.message
    assert click(flow, 0, 1, shown_s=0.999, view_ms=5000).outcome is Outcome.TOO_EARLY  # server clock rules
    assert click(flow, 0, 1, shown_s=5.0, view_ms=300).outcome is Outcome.TOO_EARLY  # the page says 0.3 s
    assert click(flow, 0, 1, served=False).outcome is Outcome.NOT_SHOWN  # this session never sent it
    assert answers(flow) == []
    assert click(flow, 0, 1, shown_s=1.0, view_ms=1000).outcome is Outcome.STORED
    assert answers(flow) == [(0, 1, 1, 1, 1000, 1000)]


def test_forged_or_malformed_clicks_are_refused(flow):
    flow.start_session()
    other = item_token(b"x" * 32, flow.seq[0].stimulus.item)
    assert click(flow, 0, 1, token=other).outcome is Outcome.INVALID
    assert click(flow, 0, 1, token=flow.token(flow.seq[1])).outcome is Outcome.INVALID  # token of another image
    for bad in (-1, len(flow.seq), "0", None, True):
        assert flow.submit(index=bad, token="t", score=1, view_ms=2000, served_at=0.0, now=5.0).outcome \
            is Outcome.INVALID
    for score in (0, 6, "3", 2.0, True):
        assert click(flow, 0, score).outcome is Outcome.INVALID
    for view_ms in (None, -1, "2000", 2000.0):
        assert click(flow, 0, 1, view_ms=view_ms).outcome is Outcome.INVALID
    assert answers(flow) == []


def test_duplicates_and_replays_keep_the_first_answer(flow):
    flow.start_session()
    assert click(flow, 0, 1).outcome is Outcome.STORED
    assert click(flow, 0, 1).outcome is Outcome.DUPLICATE
    assert click(flow, 0, 4, shown_s=0.1).outcome is Outcome.DUPLICATE  # not even judged: already answered
    assert answers(flow)[0][:2] == (0, 1) and len(answers(flow)) == 1


def test_calibration_must_be_answered_right_and_counts_attempts(flow):
    flow.start_session()
    wrong = click(flow, 0, 3)
    assert wrong.outcome is Outcome.CALIBRATION_WRONG
    assert "stands for 1 (bad), you clicked 3 (fair). Please click 1 (bad)" in wrong.message
    assert click(flow, 0, 2).outcome is Outcome.CALIBRATION_WRONG
    assert flow.screen().presentation.index == 0  # the same anchor stays
    assert click(flow, 0, 1).outcome is Outcome.STORED
    assert click(flow, 1, 5).outcome is Outcome.STORED
    assert click(flow, 2, 2).outcome is Outcome.STORED  # rating items have no right answer
    assert [(r[0], r[1], r[2]) for r in answers(flow)] == [(0, 1, 3), (1, 5, 1), (2, 2, 1)]
    acc = flow.store.calibration_accuracy("flowtest")
    assert acc == [{"rater": "ann", "calibration_answered": 2, "right_first_click": 1, "wrong_clicks": 2,
                    "calibration_accuracy": 0.5}]


def test_plan_is_honest_about_counts_and_time(tmp_path):
    study = make_study(tmp_path / "s", run=StudySettings(2000, 200, 20.0), repeats=1)
    pl = plan(study)
    assert (pl.calibration, pl.items, pl.repeats, pl.rating, pl.total) == (2, 6, 1, 7, 9)
    assert pl.seconds_per_image == 5.0 and pl.minutes == pytest.approx(0.75) and pl.sessions == 1
    big = make_study(tmp_path / "b", run=StudySettings(2000, 4, 1.0), repeats=0, name="big")
    assert plan(big).sessions == 2  # 8 presentations, 4 per session (40 s of work fits in 1 minute)
    assert minutes_text(0.2) == "about 1 minute" and minutes_text(59.5) == "about 1 hour" and minutes_text(12.2) == "about 13 minutes"
    assert minutes_text(61) == "about 1 hour 1 minute" and minutes_text(61.5) == "about 1 hour 2 minutes" and minutes_text(180) == "about 3 hours"


def test_answers_of_another_study_version_stop_the_rater(tmp_path):
    from srbench.mos_app.store import Answer

    study = make_study(tmp_path / "s")
    store = Store(tmp_path / "r.sqlite")
    store.record(Answer("flowtest", "bob", 3, "set14/old/bicubic", "bicubic", "set14", "old.png", "rating", 0, 3, 100))
    assert RaterFlow(study, store, "bob").screen().kind == "mismatch"
    assert RaterFlow(study, store, "ann").screen().kind == "instructions"


def test_viewing_conditions_are_recorded_per_rater_and_session(flow):
    flow.record_viewing("instructions", Viewing(1280, 720, 2.0, 1440, 900), True)
    flow.start_session()
    flow.record_viewing("rating", Viewing(700, 450, 1.0, 1440, 900), False)
    rows = flow.store.viewing("flowtest", "ann")
    assert [(r["session"], r["page"], r["inner_width"], r["dpr"], r["fits"]) for r in rows] == [
        (0, "instructions", 1280, 2.0, 1), (1, "rating", 700, 1.0, 0)]


def test_tokens_are_opaque_stable_and_per_study(tmp_path):
    a = make_study(tmp_path / "a")
    store = Store(tmp_path / "r.sqlite")
    f1, f2 = RaterFlow(a, store, "ann"), RaterFlow(a, store, "bob")
    p = f1.seq[0]
    assert f1.token(p) == f2.token(p) and len(f1.token(p)) == 24 and int(f1.token(p), 16) >= 0
    tokens = {f1.token(q) for q in f1.seq}
    assert len(tokens) == len({q.stimulus.item for q in f1.seq})  # one per item (repeats share it)
    other = RaterFlow(make_study(tmp_path / "b", name="other"), store, "ann")
    assert other.token(other.seq[0]) != f1.token(p)  # another study, another secret
    assert RaterFlow(a, Store(tmp_path / "r.sqlite"), "ann").token(p) == f1.token(p)  # kept in the file
