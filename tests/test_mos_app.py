"""The Streamlit pages driven with streamlit.testing.v1.AppTest on SYNTHETIC studies.

AppTest runs the real page script (no browser): login, instructions, the
admin page and the error pages. The rating screen itself is a browser
component; it is tested in a real Chromium by test_mos_browser.py, and its
rules directly by test_mos_flow.py. Each test builds a tiny study of
random-noise images (synthetic) in tmp_path and a real SQLite answer file;
the app reads both through its environment variables, exactly as under
``srbench mos serve``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from srbench.mos_app.admin import DISABLED
from srbench.mos_app.create import ImageSpec, write_study
from srbench.mos_app.flow import RaterFlow
from srbench.mos_app.order import presentations
from srbench.mos_app.store import Answer, Store
from srbench.mos_app.study import StudySettings, load_study

APP = str(Path(__file__).resolve().parent.parent / "mos_app" / "app.py")
TOKEN = "s3cret-token"


def make_study(root: Path) -> Path:
    """3 synthetic images x (hr, nearest), 1 repeated item, 1 calibration pair: 9 presentations."""
    rng = np.random.default_rng(1)
    items = [ImageSpec("set5", f"img{k}.png", m, rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
             for k in range(3) for m in ("hr", "nearest")]
    calib = [(ImageSpec("bsd200", "c0.jpg", "nearest", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)),
              ImageSpec("bsd200", "c0.jpg", "hr", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)))]
    return write_study(root, name="apptest", seed=3, items=items, calibration=calib, repeats=1,
                       run=StudySettings(1000, 50, 20.0))


@pytest.fixture
def study(tmp_path, monkeypatch) -> Path:
    root = make_study(tmp_path / "study")
    monkeypatch.setenv("SRBENCH_MOS_STUDY", str(root))
    monkeypatch.setenv("SRBENCH_MOS_DB", str(tmp_path / "ratings.sqlite"))
    monkeypatch.setenv("SRBENCH_MOS_ADMIN_TOKEN", TOKEN)
    return root


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def db_rows(tmp_path: Path) -> list[tuple]:
    db = tmp_path / "ratings.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT rater, presentation, item, phase, repeat, score FROM answers"
                            " ORDER BY presentation").fetchall()


def answer_all(study: Path, db: Path, rater: str, n: int) -> None:
    """Store ``n`` answers of ``rater`` as the rating page would (through RaterFlow, with a session)."""
    flow = RaterFlow(load_study(study), Store(db), rater)
    flow.start_session()
    for p in flow.seq[:n]:
        flow.submit(index=p.index, token=flow.token(p), score=p.stimulus.anchor or 4, view_ms=1500,
                    served_at=0.0, now=2.0)


def test_login_form_lowercases_the_id_and_leads_to_honest_instructions(study):
    at = app()
    assert [e.type for e in at.main if e.type in ("text_input", "button")] == ["text_input", "button"]
    assert "not case-sensitive" in at.caption[0].value
    at.text_input[0].input("R1")
    at = at.button[0].click().run()  # the form's submit button (Enter submits it in a browser)
    assert at.query_params["rater"] in ("r1", ["r1"])
    intro = at.markdown[0].value
    assert "first **2 calibration images**" in intro and "**7 images to rate**" in intro
    assert "(6 images, 1 of them shown a second time)" in intro and "9 images in all" in intro
    assert "Viewing conditions" in at.markdown[1].value
    (begin,) = [b for b in at.button if b.label == "Begin"]
    assert begin.disabled  # until the page has reported the window (a browser does that at once)
    assert db_rows(study.parent) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a b", "x" * 33, "r1'--", "<b>x</b>"])
def test_invalid_rater_id_in_url_shows_the_error_with_the_form(study, tmp_path, bad):
    at = app(rater=bad)
    assert not at.exception
    assert "invalid rater id" in at.error[0].value and bad not in at.error[0].value
    assert len(at.text_input) == 1 and at.button[0].label == "Continue"  # the form to enter a valid id
    at.text_input[0].input("ok1")
    at = at.button[0].click().run()
    assert at.query_params["rater"] in ("ok1", ["ok1"]) and not at.error
    assert db_rows(tmp_path) == []


def test_mixed_case_url_is_the_same_rater(study, tmp_path):
    answer_all(study, tmp_path / "ratings.sqlite", "alice", 3)
    at = app(rater="Alice")
    assert at.query_params["rater"] in ("alice", ["alice"])
    assert not at.error and not [m for m in at.markdown if "calibration images" in m.value]  # no instructions:
    assert {r[0] for r in db_rows(tmp_path)} == {"alice"}  # it resumes alice's session


def test_admin_page_is_gated_and_shows_progress_and_calibration_accuracy(study, tmp_path):
    answer_all(study, tmp_path / "ratings.sqlite", "r2", 5)
    at = app(admin="1")  # no token: only the token field
    assert len(at.text_input) == 1 and not at.dataframe and not at.table and not at.get("download_button")
    at.text_input[0].input("wrong-token")
    at = at.run()
    assert at.error[0].value == "Wrong token." and not at.dataframe and not at.table
    assert not any("r2" in str(e.proto) for e in at.main if e.type != "text_input")
    at.text_input[0].input(TOKEN)
    at = at.run()
    assert not at.error
    progress = at.table[0].value
    assert progress.loc["r2", "answers"] == "5" and progress.loc["r2", "calibration"] == "2"  # shown as text
    assert progress.loc["r2", "calibration_accuracy"] == "1" and progress.loc["r2", "sessions"] == "1"
    mos = next(d.value for d in at.dataframe if "mos" in d.value.columns)
    first = [p for p in presentations(load_study(study), "r2")[:5] if p.phase == "rating" and p.repeat == 0]
    assert mos["n"].sum() == len(first)
    assert len(at.get("download_button")) == 1


def test_admin_page_disabled_without_token_recommends_the_environment_variable(study, monkeypatch):
    monkeypatch.setenv("SRBENCH_MOS_ADMIN_TOKEN", "")
    at = app(admin="1")
    assert at.info[0].value == DISABLED and "SRBENCH_MOS_ADMIN_TOKEN=" in DISABLED
    assert not at.text_input and not at.dataframe


def test_missing_study_folder_and_unconfigured_app(tmp_path, monkeypatch):
    monkeypatch.setenv("SRBENCH_MOS_STUDY", str(tmp_path / "gone"))
    monkeypatch.setenv("SRBENCH_MOS_DB", str(tmp_path / "ratings.sqlite"))
    at = app(rater="r1")
    assert not at.exception and "does not exist" in at.error[0].value and not at.button
    monkeypatch.delenv("SRBENCH_MOS_STUDY")
    at = app(rater="r1")
    assert "No study configured" in at.error[0].value
    assert not (tmp_path / "ratings.sqlite").exists()


def test_image_altered_while_serving_is_not_shown_and_not_named(study, tmp_path):
    answer_all(study, tmp_path / "ratings.sqlite", "r3", 2)
    seq = presentations(load_study(study), "r3")
    at = app(rater="r3")  # loads (and verifies) the study; now tamper with the next image
    target = study / seq[2].stimulus.path
    target.write_bytes(target.read_bytes()[:-8])
    at = at.run()
    assert not at.exception
    msg = at.error[0].value
    assert "Rating image 1 cannot be shown" in msg  # numbered as the status line numbers it and seq[2].stimulus.path not in msg and "nearest" not in msg
    assert [r[1] for r in db_rows(tmp_path)] == [0, 1]


def test_unwritable_or_foreign_database_is_reported(study, tmp_path, monkeypatch):
    monkeypatch.setenv("SRBENCH_MOS_DB", str(tmp_path / "no" / "such" / "dir" / "ratings.sqlite"))
    at = app(rater="r1")
    assert not at.exception and "cannot be opened" in at.error[0].value and not at.button
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    monkeypatch.setenv("SRBENCH_MOS_DB", str(foreign))
    at = app(rater="r1")
    assert not at.exception and "something else" in at.error[0].value


def test_answers_of_another_study_version_under_the_same_name_are_not_mixed_in(study, tmp_path):
    seq = presentations(load_study(study), "r9")
    store = Store(tmp_path / "ratings.sqlite")
    for i in range(12):
        store.record(Answer("apptest", "r9", i, f"set14/old{i}/bicubic", "bicubic", "set14", f"old{i}.png",
                            "rating", 0, 3, 100))
    store.record(Answer("apptest", "r8", 0, seq[0].stimulus.item, "nearest", "bsd200", "c0.jpg",
                        "calibration", 0, 1, 100))
    at = app(rater="r9")
    assert not at.exception
    assert "do not match this study" in at.error[0].value
    assert not at.button
    assert len(db_rows(tmp_path)) == 13
