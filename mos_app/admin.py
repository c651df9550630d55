"""The admin page (``?admin=1``): progress, invitations, rater screening, MOS beside the subject model, CSV export.

Shown only after the admin token is entered; it is compared with
``hmac.compare_digest``. Without a configured token the page is disabled.
Without the right token nothing but the token field is shown.
"""

from __future__ import annotations

import hmac

import pandas as pd
import streamlit as st

from .crowd import describe as describe_crowd
from .crowd import study_crowd
from .invites import access_mode, invited_raters
from .store import Store
from .study import Study, StudyError
from srbench.errors import SrbenchError
from srbench.ratings.screening import ScreeningConfig, describe_rules, screen_raters
from srbench.ratings.subject_model import method_quality

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
    total = len(study.calibration) + len(study.items) + len(study.repeats) + len(study.checks)
    gold = sum(1 for c in study.checks if c.check == "gold")
    st.subheader(f"Study {study.name}: {len(study.items)} items, {len(study.repeats)} repeated, "
                 f"{len(study.calibration)} calibration anchors, {gold} hidden gold items, "
                 f"{len(study.checks) - gold} attention checks, {total} presentations per rater")
    _invitations(study, ratings, store)
    if ratings.empty:
        st.write("No answers yet.")
        return
    progress = ratings.groupby("rater").agg(
        answers=("score", "size"),
        calibration=("phase", lambda x: int((x == "calibration").sum())),
        rating=("phase", lambda x: int((x != "calibration").sum())),
        median_response_ms=("response_ms", "median"),
        last_answer=("timestamp", "max"),
    ).reset_index()
    progress["median_response_ms"] = progress["median_response_ms"].round().astype(int)  # whole ms
    progress["complete"] = (progress["answers"] / total).round(3)
    accuracy = pd.DataFrame(store.calibration_accuracy(study.name))
    if not accuracy.empty:
        progress = progress.merge(accuracy, on="rater", how="left")
    checks = pd.DataFrame(store.check_accuracy(study.name))
    if not checks.empty:
        wide = checks.pivot(index="rater", columns="phase", values=["answered", "accuracy"])
        wide.columns = [f"{phase}_{what}" for what, phase in wide.columns]
        progress = progress.merge(wide.reset_index(), on="rater", how="left")
    sessions = pd.DataFrame(store.session_summary(study.name))
    if not sessions.empty:
        progress = progress.merge(sessions, on="rater", how="left")
    st.markdown("**Progress** (calibration_accuracy = share of calibration images answered right at the "
                "first click; wrong_clicks = wrong calibration clicks, each corrected before going on; "
                "gold_accuracy / attention_accuracy = share of hidden gold items / attention checks scored "
                "inside their expected range)")
    st.table(shown(progress.set_index("rater")))
    viewing = pd.DataFrame(store.viewing(study.name))
    if not viewing.empty:
        st.markdown("**Viewing conditions** (last report per rater; fits = every image drawn whole, "
                    "one image pixel per screen pixel)")
        last = viewing.groupby("rater").tail(1)
        ever_unfit = viewing.groupby("rater")["fits"].min().rename("always_fit").reset_index()
        st.table(shown(last.merge(ever_unfit, on="rater").set_index("rater")))
    config = screening_config(study)
    screened = screen_raters(ratings, config)
    kept = set(screened.loc[screened["kept"], "rater"])
    rejected = screened[~screened["kept"]]
    st.markdown(f"**Rater screening**: {count(len(screened), 'rater')}, {len(rejected)} rejected "
                "(the same rules as `srbench report`; reasons per rater, every measure beside them)")
    st.table(screened[["rater", "kept", "rejected_by", "reasons"]].set_index("rater"))
    st.dataframe(screened.drop(columns=["kept", "rejected_by", "reasons"]), hide_index=True)
    with st.expander("Screening rules, thresholds and sources"):
        st.markdown("\n".join(f"- {line}" for line in describe_rules(config)))
    _mos_and_model(ratings[ratings["rater"].isin(kept)])
    st.download_button("Download ratings CSV", store.to_csv(study.name),
                       file_name=f"{study.name}_ratings.csv", mime="text/csv")


def count(n: int, noun: str) -> str:
    """``1 rater`` / ``2 raters`` (English plural with ``s``)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cell(value: object) -> object:
    """A table cell as shown: whole numbers without decimals or thousands separators, other floats to at most
    3 decimals, missing values empty; anything else unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    if value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN: no value
            return ""
        if value.is_integer():
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return str(value)
    return value


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every number as text formatted by :func:`_cell` (``st.table`` would print a median of
    2319 ms as ``2,319.0000``)."""
    return table.astype(object).map(_cell)


def screening_config(study: Study) -> ScreeningConfig:
    """The default screening thresholds, overridden by the study's ``settings.screening`` (KEY: VALUE)."""
    overrides = study.settings.get("screening") or {}
    return ScreeningConfig().with_overrides(f"{k}={v}" for k, v in sorted(overrides.items()))


def _invitations(study: Study, ratings: pd.DataFrame, store: Store) -> None:
    """Invite studies: who holds a link and who has started; crowd studies: the settings and every visit."""
    if access_mode(study.settings) == "crowd":
        crowd = study_crowd(study.settings)
        st.markdown(f"**Crowd study**: {describe_crowd(crowd)}")
        visits = pd.DataFrame(store.visits(study.name))
        if not visits.empty:
            st.table(visits.rename(columns={"platform_study": crowd.keep_params[0],
                                            "platform_session": crowd.keep_params[1]}).set_index("rater"))
        return
    if access_mode(study.settings) != "invite":
        st.caption("Open study: raters choose their own id (no invitation links).")
        return
    try:
        invited = invited_raters(study.root, study.name)
    except StudyError as exc:
        st.error(f"The invitations file cannot be read: {exc}")
        return
    started = set(ratings["rater"]) if not ratings.empty else set()
    n_started = len(started & set(invited))
    st.markdown(f"**Invitations**: {count(len(invited), 'rater')} {'holds' if len(invited) == 1 else 'hold'} a link, "
                f"{n_started} {'has' if n_started == 1 else 'have'} started "
                "(add raters with `srbench mos invite --study DIR --raters ID,...`)")
    if invited:
        st.table(pd.DataFrame({"rater": invited, "started": [r in started for r in invited]}).set_index("rater"))


def _mos_and_model(kept: pd.DataFrame) -> None:
    """Plain MOS per (set, method) beside the subject model's quality, and each rater's bias and inconsistency."""
    rating = kept[kept["phase"] == "rating"].copy()
    if rating.empty:
        st.write("No rating answers of kept raters yet.")
        return
    rating["score"] = rating["score"].astype(float)
    rating["repeat"] = rating["repeat"].astype(int)
    st.markdown("**MOS per set and method** (kept raters; MOS = mean of first showings with its two-way "
                "bootstrap CI; quality = subject model (Li & Bampis 2017, REML) with the CI that samples raters "
                "and images)")
    try:
        table, fit = method_quality(rating[["rater", "dataset", "method", "image", "repeat", "score"]], n_boot=500)
    except SrbenchError as exc:
        first = rating[rating["repeat"] == 0]
        st.dataframe(first.groupby(["dataset", "method"])["score"].agg(mos="mean", n="size").reset_index(),
                     hide_index=True)
        st.info(f"Subject model not fitted: {exc}")
        return
    n_first = rating[rating["repeat"] == 0].groupby(["dataset", "method"]).size().rename("n").reset_index()
    table = table.merge(n_first, on=["dataset", "method"], how="left")
    cols = ["dataset", "method", "n_raters", "n", "n_images", "mos", "mos_ci_low", "mos_ci_high", "quality",
            "quality_ci_pop_low", "quality_ci_pop_high", "quality_ci_low", "quality_ci_high"]
    st.dataframe(table[cols].round(3), hide_index=True)
    raters = fit.raters[["n_ratings", "bias", "bias_ci_low", "bias_ci_high", "inconsistency",
                         "inconsistency_ci_low", "inconsistency_ci_high", "at_floor"]].round(3)
    st.markdown("**Rater bias and inconsistency** (subject model; bias in score units, mean 0 over raters; "
                "inconsistency = the rater's noise SD)")
    st.dataframe(raters.reset_index(names="rater"), hide_index=True)
    for note in fit.notes:
        st.caption(note)
