"""The MOS rating app (Streamlit). Start it with ``srbench mos serve --study DIR``.

Configuration comes from environment variables (set by ``srbench mos serve``;
nothing secret on the command line):

* ``SRBENCH_MOS_STUDY`` - the study folder (required),
* ``SRBENCH_MOS_DB`` - the SQLite answer file (default ``STUDY/ratings.sqlite``),
* ``SRBENCH_MOS_ADMIN_TOKEN`` - enables the admin page (``?admin=1``).

This file is page code only: the rules (what comes next, which click is
stored) are in :mod:`srbench.mos_app.flow`, the rating screen in
:mod:`srbench.mos_app.viewer` (``viewer.js``), the window check in
:mod:`srbench.mos_app.viewing`.

Rater flow: id (typed, Enter or *Continue*; or ``?rater=ID``; ids are
case-insensitive) -> instructions with the honest numbers and a window check
-> sessions of calibration / rating with break screens between them -> end.
In an invite study (:mod:`srbench.mos_app.invites`, the default of
``srbench mos create``) the id comes only from the rater's link,
``?rater=ID&token=TOKEN``: there is no id form, and a missing, wrong, edited
or another rater's token shows one message and writes nothing.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from functools import partial
from pathlib import Path

import streamlit as st

from srbench.mos_app import admin, viewer
from srbench.mos_app.flow import Outcome, RaterFlow, Screen, minutes_text, plan
from srbench.mos_app.crowd import NO_ID, platform_params, study_crowd
from srbench.mos_app.invites import WRONG_LINK, InviteError, access_mode, check_token
from srbench.mos_app.order import Presentation, presentations
from srbench.mos_app.store import Store, check_study_database
from srbench.mos_app.study import DB_NAME, Study, StudyError, check_rater_id, load_study
from srbench.mos_app.viewing import VIEWING_GUIDANCE, describe, fits, needed_window, page_css, parse_view

ENV_STUDY = "SRBENCH_MOS_STUDY"
ENV_DB = "SRBENCH_MOS_DB"
ENV_TOKEN = "SRBENCH_MOS_ADMIN_TOKEN"


@st.cache_resource(show_spinner="Checking the study files ...")
def _study(path: str) -> Study:
    return load_study(path, verify=True)


@st.cache_resource
def _store(path: str, study: str) -> Store:
    check_study_database(path, study)  # another study's answer file: refused before anything is written
    return Store(path)


@st.cache_resource(max_entries=256)
def _sequence(root: str, name: str, rater: str, _study: Study) -> list[Presentation]:
    return presentations(_study, rater)


def main() -> None:
    st.set_page_config(page_title="Image quality study", layout="wide")
    study_dir = os.environ.get(ENV_STUDY, "")
    if not study_dir:
        st.error(f"No study configured: start the app with 'srbench mos serve --study DIR' (sets ${ENV_STUDY}).")
        return
    try:
        study = _study(str(Path(study_dir).resolve()))
    except StudyError as exc:
        st.error(f"The study cannot be served: {exc}")
        return
    db = os.environ.get(ENV_DB) or str(study.root / DB_NAME)
    try:
        store = _store(db, study.name)
    except (sqlite3.Error, StudyError) as exc:
        st.error(f"The answer database {db} cannot be opened ({exc}); check the path and its permissions.")
        return
    if "admin" in st.query_params:
        admin.render(study, store, os.environ.get(ENV_TOKEN, ""))
    else:
        rater_page(study, store)


INVITE_ONLY = ("This study is by invitation. Open the personal link the study organiser sent you "
               "(it contains your rater id and a token).")


def invited_login(study: Study) -> str | None:
    """Invite study: the rater of ``?rater=ID&token=TOKEN`` if the token is theirs, else a message (None).

    Every failure (no link, malformed id, wrong / edited / re-issued token, a token of another
    rater or study, an unreadable invitations file) shows the same text and stores nothing.
    """
    raw, token = st.query_params.get("rater"), st.query_params.get("token")
    if raw is None and token is None:
        st.title("Image quality study")
        st.info(INVITE_ONLY)
        return None
    try:
        rater = check_rater_id(raw or "", study)
        check_token(study.root, study.name, rater, token)
    except StudyError as exc:  # InviteError included
        if isinstance(exc, InviteError) and str(exc) != WRONG_LINK:
            # the organiser's problem (e.g. a damaged or copied invites.json): log it, tell the rater the same
            print(f"srbench mos: invitation check failed: {exc}", file=sys.stderr)
        st.title("Image quality study")
        st.error(WRONG_LINK)
        return None
    if raw != rater:
        st.query_params["rater"] = rater
    return rater


def crowd_login(study: Study, store: Store) -> str | None:
    """Crowd study: the rater id from the platform's participant parameter (e.g. ``?PROLIFIC_PID=...``), the
    visit's other platform ids stored; a missing or invalid id shows one message and stores nothing."""
    crowd = study_crowd(study.settings)
    raw = st.query_params.get(crowd.id_param)
    try:
        if raw is None:
            raise StudyError(NO_ID)
        rater = check_rater_id(raw, study)
        params = platform_params(crowd, st.query_params.to_dict())
    except StudyError as exc:
        st.title("Image quality study")
        st.error(NO_ID if str(exc) == NO_ID else f"This link cannot be used: {exc}. Please open the study from "
                 "the platform's link; nothing was recorded.")
        return None
    keep = crowd.keep_params
    store.record_visit(study.name, rater, params.get(keep[0], ""), params.get(keep[1], "") if len(keep) > 1 else "")
    return rater


def login(study: Study, store: Store | None = None) -> str | None:
    """The rater id from ``?rater=`` (normalised to lower case), else the login form (returns None).

    In an invite study, :func:`invited_login` instead (no form: the link is the login).
    """
    if access_mode(study.settings) == "invite":
        return invited_login(study)
    if access_mode(study.settings) == "crowd":
        return crowd_login(study, store)
    raw = st.query_params.get("rater")
    problem = None
    if raw is not None:
        try:
            rater = check_rater_id(raw, study)
        except StudyError as exc:
            problem = f"{exc}."
        else:
            if raw != rater:
                st.query_params["rater"] = rater
            return rater
    st.title("Image quality study")
    slot = st.empty()
    with st.form("login", border=False, enter_to_submit=True):
        typed = st.text_input("Your rater id (given to you by the study organiser)", max_chars=200,
                              placeholder="for example r07")
        submitted = st.form_submit_button("Continue", type="primary")
    st.caption("Ids are not case-sensitive: 'Alice' and 'alice' are the same rater (stored in lower case). "
               "Press Enter or Continue.")
    if submitted:
        try:
            rater = check_rater_id(typed.strip(), study)
        except StudyError as exc:
            problem = f"{exc}."
        else:
            st.query_params["rater"] = rater
            st.rerun()
    if problem:
        slot.error(problem)
    return None


def rater_page(study: Study, store: Store) -> None:
    """Log in, then show what :meth:`RaterFlow.screen` says."""
    st.html(page_css())
    rater = login(study, store)
    if rater is None:
        return
    flow = RaterFlow(study, store, rater, _sequence(str(study.root), study.name, rater, study))
    screen = flow.screen()
    if screen.kind == "mismatch":
        # Answers stored under this study name for other images: the study was re-created under the
        # same name with the same answer file. Mixing the two would corrupt both; nothing is shown.
        st.error(f"The answer database holds earlier answers of {rater} that do not match this study's images "
                 f"(was study {study.name!r} re-created under the same name?). Nothing was recorded; please "
                 "tell the study organiser, who should give the new study its own name or answer file.")
    elif screen.kind == "done":
        c = flow.counts()
        if access_mode(study.settings) == "crowd":
            crowd = study_crowd(study.settings)
            st.success(f"All {c['rating_total']} images rated (after {c['calibration_total']} calibration images). "
                       "Thank you!")
            leave(crowd.completion_code, crowd.completion_url, crowd.platform)
        else:
            st.success(f"All {c['rating_total']} images rated (after {c['calibration_total']} calibration images). "
                       f"Thank you, {rater}! You can close this tab.")
    elif screen.kind == "screened":
        crowd = study_crowd(study.settings)
        st.info("Thank you for your time. Your answers on the calibration images did not match what they stand "
                "for closely enough, so this study ends here for you.")
        leave(crowd.screened_out_code, crowd.screened_out_url, crowd.platform)
    elif screen.kind == "instructions":
        instructions(study, flow)
    elif screen.kind == "break":
        break_screen(study, flow, screen)
    else:
        rate(study, flow, screen)


def leave(code: str, url: str, platform: str) -> None:
    """A crowd rater's way back: the code to enter on the platform and the link that returns there."""
    st.markdown(f"Your completion code: **`{code}`**")
    st.link_button(f"Return to {platform.capitalize()} (submits your code)", url, type="primary")


def _on_view(flow: RaterFlow, page: str) -> None:
    """Component callback: record the window the browser reported (once per change)."""
    raw = st.session_state[viewer.PROBE_KEY if page == "instructions" else viewer.KEY].get("view")
    view = parse_view(raw)
    if view is None:
        return
    if page == "instructions":
        exact = raw.get("exact") is True  # the rating page's own pixel-exact test, run by the probe
        st.session_state["view_exact"] = exact
        ok = exact and fits(view, *viewer.largest(flow.study))
    else:
        ok = bool(raw.get("fits"))
    st.session_state["view"] = (view, ok)
    flow.record_viewing(page, view, ok)


def instructions(study: Study, flow: RaterFlow) -> None:
    """The numbers, what to do, the viewing conditions, the window check, and *Begin*."""
    pl = plan(study)
    attention = ("" if not pl.attention else
                 f"\n* {pl.attention} of the images are attention checks: they ask you to click a given score. "
                 "Please do exactly that.")
    st.title("Image quality study")
    st.markdown(
        f"""
You will see photographs one at a time, drawn at their native resolution, and rate the **quality** of
each with the buttons **1 bad, 2 poor, 3 fair, 4 good, 5 excellent**.

**How much:** first **{pl.calibration} calibration images**, then **{pl.rating} images to rate**
({pl.items} images, {pl.repeats} of them shown a second time): {pl.total} images in all, taking
**{minutes_text(pl.minutes)}** (estimated at {pl.seconds_per_image:g} s per image), in
**about {pl.sessions} session{'s' if pl.sessions != 1 else ''}** of at most {pl.session_items} images or
{pl.session_minutes:g} minutes, with a break screen between sessions.

* **Calibration** images tell you which score they stand for: blocky low-resolution versions are a 1,
  the original photos a 5. Click that score; a wrong click is pointed out and you click again.
* Then rate every image. Some images appear more than once; rate each time as you see it. There are
  no right answers; go with your first impression.
* Look at each image: the buttons unlock after it has been shown for {pl.min_view_s:g} s.{attention}
* Every click is saved at once. To pause, close the tab; open the same link later (another day is
  fine) to continue where you stopped.
"""
    )
    st.markdown(VIEWING_GUIDANCE)
    viewer.mount(key=viewer.PROBE_KEY, data={"mode": "probe", "sizes": [list(s) for s in viewer.sizes(study)]},
                 on_view=partial(_on_view, flow, "instructions"))
    got = st.session_state.get("view")
    width, height = viewer.largest(study)
    ready = False
    if got is None:
        st.info("Checking your browser window ...")
    else:
        view, ok = got
        need = needed_window(width, height, view.dpr)
        if not st.session_state.get("view_exact", True):
            st.warning(f"Your {describe(view)} cannot draw this study's images one image pixel per screen pixel: "
                       "the browser zoom or the display scaling is not 100 % (or another ratio the images can "
                       "be drawn at, such as 125 %, 150 % or 200 %). Set the browser zoom to 100 % (Ctrl and 0, "
                       "on a Mac Cmd and 0); if the ratio stays, set the display scaling of your system to "
                       "100 %. This check updates itself.")
        elif ok:
            st.success(f"Your {describe(view)} shows every image of this study whole, one image pixel per "
                       "screen pixel.")
            ready = True
        else:
            st.warning(f"Your {describe(view)} is too small for the largest images of this study: they need a "
                       f"window of at least {need[0]} x {need[1]}. Maximise the window or press F11 (full "
                       "screen), keep the zoom at 100 %, and this check updates itself.")
    if st.button("Begin", type="primary", disabled=not ready):
        flow.start_session()
        st.rerun()


def break_screen(study: Study, flow: RaterFlow, screen: Screen) -> None:
    """Between sessions: what is done, what is left, *Continue*."""
    c = flow.counts()
    why = "the time limit" if screen.end_reason == "time" else "the image limit"
    st.title(f"Session {screen.session} complete")
    st.markdown(
        f"Session {screen.session} ended at {why} of the session ({study.run.session_items} images or "
        f"{study.run.session_minutes:g} minutes). So far: {c['calibration_done']} of {c['calibration_total']} "
        f"calibration images and **{c['rating_done']} of {c['rating_total']} images rated**; the rest takes "
        f"{minutes_text(flow.minutes_left())} at your pace.\n\n"
        "Please take a break of at least 5 minutes (rest your eyes away from the screen). Continue now, or "
        "close this tab and open the same link later - another day is fine."
    )
    if st.button(f"Continue with session {screen.session + 1}", type="primary"):
        flow.start_session()
        st.rerun()


def _on_answer(flow: RaterFlow) -> None:
    """Component callback: one score click, judged by :meth:`RaterFlow.submit`."""
    now = time.monotonic()
    ss = st.session_state
    click = ss[viewer.KEY].get("answer")
    ss["rev"] = ss.get("rev", 0) + 1
    if not isinstance(click, dict):
        return
    index = click.get("p")
    served = ss.get("served")
    served_at = served[2] if served and served[0] == flow.rater and served[1] == index else None
    try:
        result = flow.submit(index=index, token=click.get("token"), score=click.get("score"),
                             view_ms=click.get("view_ms"), served_at=served_at, now=now)
    except StudyError as exc:
        ss["message"] = f"Answer not recorded: {exc}"
        return
    except sqlite3.Error as exc:
        print(f"srbench mos: answer not stored ({exc})", file=sys.stderr)
        ss["message"] = "Answer not recorded: the database is busy or unwritable; please click again."
        return
    if result.outcome is Outcome.STORED:
        ss["last_answered"] = (flow.rater, index)
    elif result.outcome is Outcome.DUPLICATE:
        if ss.get("last_answered") != (flow.rater, index):
            # Not a double click in this tab: the same rater answered this image in another tab or window
            # first. That answer is kept; say so instead of silently dropping the click.
            what = flow.label(index)
            ss["message"] = (f"{what[0].upper()}{what[1:]} had already been rated in another tab or window; that first "
                             "answer is kept and this click was not recorded. Please rate in one tab only.")
    else:
        ss["message"] = result.message
    view = parse_view(click.get("view"))
    last = ss.get("view")
    if view is not None and (last is None or last[0] != view):
        ss["view"] = (view, last[1] if last else True)
        flow.record_viewing("rating", view, ss["view"][1])


def rate(study: Study, flow: RaterFlow, screen: Screen) -> None:
    """The rating screen for ``screen.presentation``; remembers when this session was sent it."""
    p = screen.presentation
    ss = st.session_state
    token = flow.token(p)
    if ss.get("served", (None, None))[:2] != (flow.rater, p.index):
        ss["served"] = (flow.rater, p.index, time.monotonic())
    try:
        png = study.read_verified(p.stimulus)
    except StudyError as exc:
        print(f"srbench mos: presentation {p.index} of {flow.rater} cannot be shown: {exc}", file=sys.stderr)
        what = flow.label(p.index)
        st.error(f"{what[0].upper()}{what[1:]} cannot be shown (its file is missing or was altered). Please tell the "
                 "study organiser; nothing was recorded.")
        return
    next_src = None
    if screen.next is not None:
        try:
            next_src = viewer.media_url(study.read_verified(screen.next.stimulus), flow.token(screen.next), "next")
        except StudyError:
            pass  # reported in its turn
    data = viewer.viewer_data(study, p, token, viewer.media_url(png, token, "current"), next_src,
                              screen.progress, ss.pop("message", None), ss.get("rev", 0))
    viewer.mount(key=viewer.KEY, data=data, on_answer=partial(_on_answer, flow),
                 on_view=partial(_on_view, flow, "rating"))


if __name__ == "__main__":
    main()
