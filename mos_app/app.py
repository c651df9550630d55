"""The MOS rating app (Streamlit). Start it with ``srbench mos serve --study DIR``.

Configuration comes from environment variables (set by ``srbench mos serve``;
nothing secret on the command line):

* ``SRBENCH_MOS_STUDY`` - the study folder (required),
* ``SRBENCH_MOS_DB`` - the SQLite answer file (default ``STUDY/ratings.sqlite``),
* ``SRBENCH_MOS_ADMIN_TOKEN`` - enables the admin page (``?admin=1``).

Rater flow: id (typed, or ``?rater=ID`` in the URL) -> instructions ->
calibration (each anchor image is shown with the score it stands for; the
rater's click is stored with phase ``calibration``) -> every item rated with
five buttons 1..5. Every click is stored at once; reopening the URL resumes
at the first unanswered presentation, so "pause" is simply closing the tab.
Two tabs of the same rater share one sequence: the first answer to a
presentation is kept, and a later click on it in the other tab is not
stored and is reported there (a double click in one tab is ignored silently).
Stored answers of the rater whose items differ from this study's sequence
(a study re-created under the same name, same answer file) stop the page
with a message instead of being counted as done.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import streamlit as st

from srbench.mos_app import admin
from srbench.mos_app.order import Presentation, presentations
from srbench.mos_app.render import media_url, preload_html, stimulus_html
from srbench.mos_app.store import Answer, Store
from srbench.mos_app.study import DB_NAME, Study, StudyError, check_rater_id, load_study

ENV_STUDY = "SRBENCH_MOS_STUDY"
ENV_DB = "SRBENCH_MOS_DB"
ENV_TOKEN = "SRBENCH_MOS_ADMIN_TOKEN"
LABELS = {1: "1 (bad)", 2: "2 (poor)", 3: "3 (fair)", 4: "4 (good)", 5: "5 (excellent)"}
INSTRUCTIONS = """
You will see a series of photographs, one at a time, shown at their native
resolution (keep your browser zoom at 100 %). Rate the **quality** of each
one with the buttons: **1 bad, 2 poor, 3 fair, 4 good, 5 excellent**.

* First come a few **calibration** images. Each tells you which score it
  stands for: blocky low-resolution versions are a 1, the original photos a 5.
* Then rate every image. Some images appear more than once; rate each time
  as you see it. There are no right answers, go with your first impression.
* Your answers are saved at every click. To pause, just close the tab;
  open the same link later to continue where you stopped.
"""


@st.cache_resource(show_spinner="Checking the study files ...")
def _study(path: str) -> Study:
    return load_study(path, verify=True)


@st.cache_resource
def _store(path: str) -> Store:
    return Store(path)


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
        store = _store(db)
    except sqlite3.Error as exc:
        st.error(f"The answer database {db} cannot be opened ({exc}); check the path and its permissions.")
        return
    if "admin" in st.query_params:
        admin.render(study, store, os.environ.get(ENV_TOKEN, ""))
    else:
        rater_page(study, store)


def rater_page(study: Study, store: Store) -> None:
    """Log in, instruct, then show the rater's next unanswered presentation."""
    raw = st.query_params.get("rater")
    if raw is None:
        st.title("Image quality study")
        typed = st.text_input("Your rater id (given to you by the study organiser)", max_chars=32)
        if st.button("Continue", type="primary") and typed:
            try:
                check_rater_id(typed.strip(), study)
            except StudyError as exc:
                st.error(str(exc))
                return
            st.query_params["rater"] = typed.strip()
            st.rerun()
        return
    try:
        rater = check_rater_id(raw, study)
    except StudyError as exc:
        st.error(f"{exc}. Open the study link again and enter a valid id.")
        return

    seq = presentations(study, rater)
    answered = store.answered_items(study.name, rater)
    expected = {p.index: p.stimulus.item for p in seq}
    if any(expected.get(index) != item for index, item in answered.items()):
        # Answers stored under this study name for other images: the study was re-created under the
        # same name with the same answer file. Mixing the two would corrupt both; nothing is shown.
        st.error(f"The answer database holds earlier answers of {rater} that do not match this study's images "
                 f"(was study {study.name!r} re-created under the same name?). Nothing was recorded; please "
                 "tell the study organiser, who should give the new study its own name or answer file.")
        return
    done = set(answered)
    pending = [p for p in seq if p.index not in done]
    if not pending:
        st.success(f"All {len(seq)} images rated. Thank you, {rater}! You can close this tab.")
        return
    if not done and not st.session_state.get("started"):
        st.title("Image quality study")
        st.markdown(INSTRUCTIONS)
        if st.button("Begin", type="primary"):
            st.session_state["started"] = True
            st.rerun()
        return
    if _show(study, store, rater, pending[0], len(done), len(seq)) and len(pending) > 1:
        _preload(study, pending[1])


def _preload(study: Study, p: Presentation) -> None:
    """Let the browser fetch the next image now (skipped if that file is bad: it is reported in its turn)."""
    try:
        png = study.read_verified(p.stimulus)
    except StudyError:
        return
    st.html(preload_html(media_url(png, p.stimulus.sha256, "next")))


def _show(study: Study, store: Store, rater: str, p: Presentation, n_done: int, n_total: int) -> bool:
    """Progress, caption, the five score buttons and the image; False if the image cannot be shown."""
    st.progress(n_done / n_total, text=f"{n_done} of {n_total} done")
    message = st.session_state.pop("message", None)
    if message:
        st.warning(message)
    try:
        png = study.read_verified(p.stimulus)
    except StudyError as exc:
        st.error(f"This image cannot be shown: {exc}. Please tell the study organiser; nothing was recorded.")
        return False
    if p.phase == "calibration":
        k, n = p.index + 1, len(study.calibration)
        what = "the original photo" if p.stimulus.anchor == 5 else "a blocky low-resolution version"
        st.markdown(f"**Calibration {k} of {n}.** This is {what}: it stands for score "
                    f"**{LABELS[p.stimulus.anchor]}**. Click that score to continue.")
    else:
        st.markdown("**How good is the quality of this image?**")
    if st.session_state.get("shown") != (rater, p.index):
        st.session_state["shown"] = (rater, p.index)
        st.session_state["shown_at"] = time.monotonic()
    # Button keys include the presentation index: a click on a stale button (double click,
    # replayed request) can only ever answer the presentation it was shown with.
    cols = st.columns(5)
    for score, col in zip(LABELS, cols):
        col.button(LABELS[score], key=f"score-{p.index}-{score}", on_click=_answer,
                   args=(study, store, rater, p, score), use_container_width=True)
    st.html(stimulus_html(media_url(png, p.stimulus.sha256, "current"), p.stimulus, p.index))
    return True


def _answer(study: Study, store: Store, rater: str, p: Presentation, score: int) -> None:
    """Button callback: store the answer for presentation ``p`` (a replay of ``p`` is ignored)."""
    shown_at = st.session_state.get("shown_at") if st.session_state.get("shown") == (rater, p.index) else None
    elapsed = 0 if shown_at is None else int(round((time.monotonic() - shown_at) * 1000))
    s = p.stimulus
    answer = Answer(study.name, rater, p.index, s.item, s.method, s.dataset, s.image,
                    p.phase, p.repeat, score, elapsed)
    try:
        new = store.record(answer)
    except StudyError as exc:
        st.session_state["message"] = f"Answer not recorded: {exc}"
    except sqlite3.Error as exc:
        st.session_state["message"] = f"Answer not recorded, the database is busy or unwritable ({exc}); click again."
    else:
        if new:
            st.session_state["last_answered"] = (rater, p.index)
        elif st.session_state.get("last_answered") != (rater, p.index):
            # Not a double click in this tab: the same rater answered this image in another tab or window
            # first. That answer is kept; say so instead of silently dropping the click.
            st.session_state["message"] = (f"Image {p.index + 1} had already been rated in another tab or window; "
                                           "that first answer is kept and this click was not recorded. "
                                           "Please rate in one tab only.")


if __name__ == "__main__":
    main()
