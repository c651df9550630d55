"""A crowd-platform study (Prolific) in a real headless Chromium against a real ``srbench mos serve`` on 127.0.0.1.

The study: one real BSD100 photo (HR and the nearest-neighbour 4x of the shipped LR), one real BSD200
calibration pair, crowd access with a completion code and a calibration threshold of 0.75 (SYNTHETIC
platform ids). Raters arrive with ``?PROLIFIC_PID=...&STUDY_ID=...&SESSION_ID=...``; answers and visits
are read from the server's SQLite file.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from mos_browser_helpers import browser  # noqa: F401 (fixture)
from mos_browser_helpers import TOKEN, click_score, db_rows, kill_server, rate, start_server, wait_ready
from srbench.data.imageio import read_image
from srbench.data.resize import imresize
from srbench.data.sets import load_manifest
from srbench.mos_app.create import ImageSpec, calibration_pairs, write_study
from srbench.mos_app.crowd import NO_ID, crowd_settings
from srbench.mos_app.study import StudySettings

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PID_OK = "5f0c9b7e8d1a2b3c4d5e6f70"  # SYNTHETIC Prolific-style ids (24 hex digits)
PID_OUT = "60aa11bb22cc33dd44ee55ff"


def _begin(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === "
                           "'Begin' && !b.disabled)", timeout=20000)
    page.get_by_role("button", name="Begin").click()


def test_crowd_raters_arrive_with_platform_ids_and_leave_with_their_code(tmp_path, data_root, train_root, browser):
    entry = load_manifest("bsd100")["images"][0]
    hr, _ = read_image(data_root / "bsd100" / entry["hr"]["path"])
    lr, _ = read_image(data_root / "bsd100" / entry["lr"]["path"])
    crowd = crowd_settings("prolific", "DONE42", None, "SCREEN7", None, 0.75)
    root = write_study(tmp_path / "study", name="crowd", seed=2,
                       items=[ImageSpec("bsd100", entry["name"], "hr", hr),
                              ImageSpec("bsd100", entry["name"], "nearest", imresize(lr, 4, kernel="nearest"))],
                       calibration=calibration_pairs(train_root, 1), run=StudySettings(300, 100, 20.0),
                       access="crowd", extra_settings={"crowd": crowd.as_manifest()})
    db = tmp_path / "ratings.sqlite"
    proc, url = start_server(root, db)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        # no platform id, a malformed one, a malformed session id: one message each, nothing stored, no Begin
        for query, text in (("", NO_ID), ("?PROLIFIC_PID=a%20b", "This link cannot be used"),
                            (f"?PROLIFIC_PID={PID_OK}&SESSION_ID=x%27y", "This link cannot be used")):
            page.goto(f"{url}/{query}")
            page.wait_for_selector(f"text={text[:40]}")
            assert page.get_by_role("button", name="Begin").count() == 0 and page.locator("input").count() == 0
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM crowd_visits").fetchone()[0] == 0

        # a rater who calibrates right and rates everything gets the completion code and the link back
        _begin(page, f"{url}/?PROLIFIC_PID={PID_OK.upper()}&STUDY_ID=st01&SESSION_ID=se01")
        rate(page, 1)
        rate(page, 5)
        rate(page, 3)
        rate(page, 4)
        page.wait_for_selector("text=All 2 images rated")
        assert "DONE42" in page.inner_text("body")
        link = page.get_by_role("link", name="Return to Prolific (submits your code)")
        assert link.get_attribute("href") == "https://app.prolific.com/submissions/complete?cc=DONE42"
        assert [s for _, s in db_rows(db, PID_OK)] == [1, 5, 3, 4]

        # a rater who misses a calibration anchor (1 of 2 right at the first click < 0.75) is screened out
        _begin(page, f"{url}/?PROLIFIC_PID={PID_OUT}&STUDY_ID=st01&SESSION_ID=se02")
        wait_ready(page)
        click_score(page, 4)  # wrong: the first anchor stands for 1
        page.wait_for_function("() => document.querySelector('.mos-viewer .mos-message').innerText.includes("
                               "'Not quite')")
        rate(page, 1)
        rate(page, 5)
        page.wait_for_selector("text=this study ends here for you")
        body = page.inner_text("body")
        assert "SCREEN7" in body and "DONE42" not in body
        link = page.get_by_role("link", name="Return to Prolific (submits your code)")
        assert link.get_attribute("href") == "https://app.prolific.com/submissions/complete?cc=SCREEN7"
        time.sleep(0.5)
        assert [s for _, s in db_rows(db, PID_OUT)] == [1, 5]  # no rating image was shown or stored
        with sqlite3.connect(db) as conn:
            visits = conn.execute("SELECT rater, platform_study, platform_session FROM crowd_visits"
                                  " ORDER BY platform_session").fetchall()
        assert visits == [(PID_OK, "st01", "se01"), (PID_OUT, "st01", "se02")]

        # the admin page shows the crowd settings and the visits
        page.goto(f"{url}/?admin=1")
        page.get_by_label("Admin token").fill(TOKEN)
        page.get_by_label("Admin token").press("Enter")
        page.wait_for_selector("text=Crowd study")
        page.wait_for_selector("td:has-text('se02')")  # the visits table
        admin = page.inner_text("body")
        assert "rater id from ?PROLIFIC_PID" in admin and "completion code DONE42" in admin
        assert "below 0.75: screened out with code SCREEN7" in admin and "se02" in admin
    finally:
        ctx.close()
        kill_server(proc)
