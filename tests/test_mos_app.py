"""The Streamlit rating app driven with streamlit.testing.v1.AppTest on synthetic studies.

Each test builds a tiny study of random-noise images (synthetic) in tmp_path
and a real SQLite answer file; the app reads both through its environment
variables, exactly as under ``srbench mos serve``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from srbench.mos_app.create import ImageSpec, write_study
from srbench.mos_app.order import presentations
from srbench.mos_app.study import load_study

APP = str(Path(__file__).resolve().parent.parent / "mos_app" / "app.py")
TOKEN = "s3cret-token"


def make_study(root: Path) -> Path:
    """3 synthetic images x (hr, nearest), 1 repeated item, 1 calibration pair: 9 presentations."""
    rng = np.random.default_rng(1)
    items = [ImageSpec("set5", f"img{k}.png", m, rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
             for k in range(3) for m in ("hr", "nearest")]
    calib = [(ImageSpec("bsd200", "c0.jpg", "nearest", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)),
              ImageSpec("bsd200", "c0.jpg", "hr", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)))]
    return write_study(root, name="apptest", seed=3, items=items, calibration=calib, repeats=1)


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


def media_id(png: bytes) -> str:
    """The id Streamlit's media store gives ``png`` when the app adds it (file name = its SHA-256)."""
    return _calculate_file_id(png, "image/png", hashlib.sha256(png).hexdigest() + ".png")


def shown(at: AppTest) -> tuple[int, str, str | None]:
    """Presentation index and media id of the image on the page, and the media id preloaded for the next one."""
    bodies = [h.proto.body for h in at.get("html")]
    (body,) = [b for b in bodies if 'class="mos-stimulus"' in b]
    idx = int(re.search(r'data-idx="(\d+)"', body).group(1))
    current = re.search(r'src="mock/media/([0-9a-f]+)\.png"', body).group(1)
    nxt = [re.search(r'src="mock/media/([0-9a-f]+)\.png"', b).group(1) for b in bodies if "mos-preload" in b]
    return idx, current, (nxt[0] if nxt else None)


def click_score(at: AppTest, score: int) -> AppTest:
    (button,) = [b for b in at.button if b.label.startswith(f"{score} (")]
    return button.click().run()


def test_login_calibration_rating_and_resume(study, tmp_path):
    st_study = load_study(study)
    seq = presentations(st_study, "r1")
    at = app()
    assert [e.type for e in at.main if e.type in ("text_input", "button")] == ["text_input", "button"]
    at.text_input[0].input("r1")
    at = at.button[0].click().run()
    assert at.query_params["rater"] in ("r1", ["r1"])
    assert "Rate the **quality**" in at.markdown[0].value
    at = at.button[0].click().run()  # Begin
    png = [(study / p.stimulus.path).read_bytes() for p in seq]
    for k in range(2):  # calibration: anchor 1 then anchor 5, rater's click is stored
        assert shown(at) == (k, media_id(png[k]), media_id(png[k + 1]))
        assert f"Calibration {k + 1} of 2" in at.markdown[0].value
        at = click_score(at, seq[k].stimulus.anchor)
    for k, score in zip(range(2, 5), (2, 4, 3)):
        assert shown(at) == (k, media_id(png[k]), media_id(png[k + 1]))
        assert at.get("progress")[0].proto.text == f"{k} of 9 done"
        at = click_score(at, score)
    assert not at.exception
    assert db_rows(tmp_path) == [
        ("r1", p.index, p.stimulus.item, p.phase, p.repeat, s)
        for p, s in zip(seq[:5], (1, 5, 2, 4, 3))
    ]

    # a new session (closed tab, restarted server) resumes at the next unanswered item, no instructions
    at = app(rater="r1")
    assert shown(at)[0] == 5
    for k in range(5, 9):
        assert shown(at) == (k, media_id(png[k]), media_id(png[k + 1]) if k < 8 else None)
        at = click_score(at, 5)
    assert "All 9 images rated" in at.success[0].value
    rows = db_rows(tmp_path)
    assert [r[1] for r in rows] == list(range(9))
    assert [r[2] for r in rows] == [p.stimulus.item for p in seq]
    assert sum(r[4] for r in rows) == 1  # one repeated item, shown a second time
    assert app(rater="r1").success  # finished raters stay finished


def test_admin_page_is_gated_by_the_token(study, tmp_path):
    at = app(rater="r2")
    at = at.button[0].click().run()
    for score in (1, 5, 2, 4, 4):  # calibration, then three ratings
        at = click_score(at, score)
    assert len(db_rows(tmp_path)) == 5

    at = app(admin="1")  # no token: only the token field
    assert len(at.text_input) == 1 and not at.dataframe and not at.get("download_button")
    assert not at.markdown and not at.error
    at.text_input[0].input("wrong-token")
    at = at.run()
    assert at.error[0].value == "Wrong token." and not at.dataframe and not at.get("download_button")
    assert not any("r2" in str(e.proto) for e in at.main if e.type != "text_input")
    at.text_input[0].input(TOKEN)
    at = at.run()
    assert not at.error and len(at.dataframe) == 5
    progress = at.dataframe[0].value
    assert progress.loc[0, "rater"] == "r2" and progress.loc[0, "answers"] == 5
    assert progress.loc[0, "calibration"] == 2 and progress.loc[0, "rating"] == 3
    mos = at.dataframe[1].value
    first = [p for p in presentations(load_study(study), "r2")[:5] if p.phase == "rating" and p.repeat == 0]
    assert mos["n"].sum() == len(first) and set(mos["method"]) == {p.stimulus.method for p in first}
    assert list(at.dataframe[2].value.columns[:3]) == ["rater", "kept", "reason"]
    assert len(at.get("download_button")) == 1


def test_admin_page_disabled_without_configured_token(study, monkeypatch):
    monkeypatch.setenv("SRBENCH_MOS_ADMIN_TOKEN", "")
    at = app(admin="1")
    assert "disabled" in at.info[0].value and not at.text_input and not at.dataframe


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a b", "x" * 33, "r1'--", "<b>x</b>"])
def test_invalid_rater_id_in_url_shows_message_and_writes_nothing(study, tmp_path, bad):
    at = app(rater=bad)
    assert not at.exception
    assert "invalid rater id" in at.error[0].value
    assert not at.button and not at.get("html")
    assert db_rows(tmp_path) == []


def test_invalid_typed_rater_id(study, tmp_path):
    at = app()
    at.text_input[0].input("no spaces please")
    at = at.button[0].click().run()
    assert "invalid rater id" in at.error[0].value and "rater" not in at.query_params
    assert db_rows(tmp_path) == []


def test_missing_study_folder_and_unconfigured_app(tmp_path, monkeypatch):
    monkeypatch.setenv("SRBENCH_MOS_STUDY", str(tmp_path / "gone"))
    monkeypatch.setenv("SRBENCH_MOS_DB", str(tmp_path / "ratings.sqlite"))
    at = app(rater="r1")
    assert not at.exception and "does not exist" in at.error[0].value and not at.button
    monkeypatch.delenv("SRBENCH_MOS_STUDY")
    at = app(rater="r1")
    assert "No study configured" in at.error[0].value
    assert not (tmp_path / "ratings.sqlite").exists()


def test_image_altered_while_serving_is_not_shown(study, tmp_path):
    at = app(rater="r3")
    at = at.button[0].click().run()  # the study was verified at start; now tamper with the next image
    seq = presentations(load_study(study), "r3")
    at = click_score(at, 1)
    target = study / seq[2].stimulus.path
    target.write_bytes(target.read_bytes()[:-8])  # truncated after the study was loaded
    at = click_score(at, 5)
    assert not at.exception
    assert "altered" in at.error[0].value and not at.button and not at.get("html")
    assert [r[1] for r in db_rows(tmp_path)] == [0, 1]


def test_unwritable_database_path_is_reported(study, tmp_path, monkeypatch):
    monkeypatch.setenv("SRBENCH_MOS_DB", str(tmp_path / "no" / "such" / "dir" / "ratings.sqlite"))
    at = app(rater="r1")
    assert not at.exception and "cannot be opened" in at.error[0].value and not at.button


def test_two_tabs_of_one_rater_first_answer_kept_and_the_other_tab_told(study, tmp_path):
    seq = presentations(load_study(study), "r5")
    tab_a = app(rater="r5")
    tab_a = tab_a.button[0].click().run()  # Begin
    tab_a = click_score(tab_a, 1)  # calibration anchor 1 (presentation 0)
    tab_b = app(rater="r5")  # second tab opens at presentation 1, like tab A
    assert shown(tab_a)[0] == shown(tab_b)[0] == 1
    tab_a = click_score(tab_a, 5)
    tab_b = click_score(tab_b, 3)  # stale: presentation 1 was answered in tab A
    assert db_rows(tmp_path) == [("r5", 0, seq[0].stimulus.item, "calibration", 0, 1),
                                 ("r5", 1, seq[1].stimulus.item, "calibration", 0, 5)]
    assert shown(tab_b)[0] == 2 and shown(tab_a)[0] == 2
    assert any("already been rated in another tab" in w.value for w in tab_b.warning)
    assert not tab_a.warning
    tab_a = click_score(tab_a, 4)
    assert not tab_a.warning  # normal answers say nothing
    assert len(db_rows(tmp_path)) == 3


def test_answers_of_another_study_version_under_the_same_name_are_not_mixed_in(study, tmp_path):
    from srbench.mos_app.store import Answer, Store

    seq = presentations(load_study(study), "r9")
    store = Store(tmp_path / "ratings.sqlite")
    # an earlier, larger study called "apptest" answered in the same file: other items, more presentations
    for i in range(12):
        store.record(Answer("apptest", "r9", i, f"set14/old{i}/bicubic", "bicubic", "set14", f"old{i}.png",
                            "rating", 0, 3, 100))
    store.record(Answer("apptest", "r8", 0, seq[0].stimulus.item, "nearest", "bsd200", "c0.jpg",
                        "calibration", 0, 1, 100))
    at = app(rater="r9")
    assert not at.exception
    assert "do not match this study" in at.error[0].value
    assert not at.button  # nothing to click, nothing recorded
    assert len(db_rows(tmp_path)) == 13
    at = app(rater="r8")  # a rater whose answers match resumes normally
    assert not at.exception and not at.error and shown(at)[0] == 1
