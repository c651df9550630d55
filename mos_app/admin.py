"""The admin page (``?admin=1``): progress, rater screening, CSV export.

Shown only after the admin token is entered; it is compared with
``hmac.compare_digest``. Without a configured token the page is disabled.
Without the right token nothing but the token field is shown.
"""

from __future__ import annotations

import hmac

import pandas as pd
import streamlit as st

from .screening import bt500_screen, rater_vs_others, retest_agreement
from .store import Store
from .study import Study

DISABLED = ("The admin page is disabled: no admin token is configured. Restart the server with the token "
            "in the environment variable, e.g. `SRBENCH_MOS_ADMIN_TOKEN=... srbench mos serve --study DIR` "
            "(`--admin-token` also works, but a command line is visible to other users of the machine).")


def token_ok(given: str, expected: str) -> bool:
    """Constant-time comparison; an empty expected token never matches."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def render(study: Study, store: Store, expected_token: str) -> None:
    """Draw the admin page for ``study`` if the session has entered ``expected_token``."""
    st.title("Study administration")
    if not expected_token:
        st.info(DISABLED)
        return
    if not st.session_state.get("admin_ok"):
        given = st.text_input("Admin token", type="password")
        if not given:
            return
        if not token_ok(given, expected_token):
            st.error("Wrong token.")
            return
        st.session_state["admin_ok"] = True
    ratings = pd.DataFrame(store.rows(study.name))
    total = len(study.calibration) + len(study.items) + len(study.repeats)
    st.subheader(f"Study {study.name}: {len(study.items)} items, {len(study.repeats)} repeated, "
                 f"{len(study.calibration)} calibration anchors, {total} presentations per rater")
    if ratings.empty:
        st.write("No answers yet.")
        return
    progress = ratings.groupby("rater").agg(
        answers=("score", "size"),
        calibration=("phase", lambda x: int((x == "calibration").sum())),
        rating=("phase", lambda x: int((x == "rating").sum())),
        median_response_ms=("response_ms", "median"),
        last_answer=("timestamp", "max"),
    ).reset_index()
    progress["complete"] = (progress["answers"] / total).round(3)
    accuracy = pd.DataFrame(store.calibration_accuracy(study.name))
    if not accuracy.empty:
        progress = progress.merge(accuracy, on="rater", how="left")
    sessions = pd.DataFrame(store.session_summary(study.name))
    if not sessions.empty:
        progress = progress.merge(sessions, on="rater", how="left")
    st.markdown("**Progress** (calibration_accuracy = share of calibration images answered right at the "
                "first click; wrong_clicks = wrong calibration clicks, each corrected before going on)")
    st.table(progress.set_index("rater"))
    viewing = pd.DataFrame(store.viewing(study.name))
    if not viewing.empty:
        st.markdown("**Viewing conditions** (last report per rater; fits = every image drawn whole, "
                    "one image pixel per screen pixel)")
        last = viewing.groupby("rater").tail(1)
        ever_unfit = viewing.groupby("rater")["fits"].min().rename("always_fit").reset_index()
        st.table(last.merge(ever_unfit, on="rater").set_index("rater"))
    first = ratings[(ratings["phase"] == "rating") & (ratings["repeat"] == 0)]
    st.markdown("**MOS per method** (first showings, all raters, before screening)")
    st.dataframe(first.groupby("method")["score"].agg(mos="mean", n="size").reset_index(), hide_index=True)
    st.markdown("**ITU-R BT.500 screening** (first showings; reject if (P+Q)/n > 0.05 and |P-Q|/(P+Q) < 0.3)")
    st.dataframe(bt500_screen(ratings), hide_index=True)
    st.markdown("**Test-retest agreement** on repeated items")
    st.dataframe(retest_agreement(ratings), hide_index=True)
    st.markdown("**Correlation with the mean of the other raters**")
    st.dataframe(rater_vs_others(ratings), hide_index=True)
    st.download_button("Download ratings CSV", store.to_csv(study.name),
                       file_name=f"{study.name}_ratings.csv", mime="text/csv")
