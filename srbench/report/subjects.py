"""The subject model in the report: per (set, method) quality beside the plain MOS, per-rater bias and inconsistency.

One joint fit (:func:`srbench.ratings.subject_model.method_quality`, REML) over the
rating-phase answers of the raters kept by screening, repeats included.
Outputs (deterministic text):

* ``subject_model.csv`` - per (set, method): raters, ratings and images it
  rests on, the plain MOS with its two-way bootstrap CI (the ``mos.csv``
  numbers), the model's quality with the panel-conditional CI and the CI that
  also samples raters and images;
* ``subject_raters.csv`` - per rater: bias and inconsistency with CIs;
* a Markdown section for ``report.md`` with both side by side and the fit's notes.

If the model cannot be fitted (fewer than three raters, raters who share no
items, ...) the section says why and the CSV files hold only their header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from srbench.ratings import stats
from srbench.errors import SrbenchError
from srbench.ratings.subject_model import method_quality

from .render import csv_text
from .tables import DATASET_LABELS

MODEL_COLUMNS = ["dataset", "method", "n_raters", "n_ratings", "n_images", "n_model_ratings", "mos", "mos_ci_low",
                 "mos_ci_high", "quality", "quality_se", "quality_ci_low", "quality_ci_high", "quality_se_pop",
                 "quality_ci_pop_low", "quality_ci_pop_high"]
RATER_COLUMNS = ["rater", "n_ratings", "n_items", "bias", "bias_ci_low", "bias_ci_high", "inconsistency",
                 "inconsistency_ci_low", "inconsistency_ci_high", "at_floor"]


@dataclass(frozen=True)
class SubjectOutputs:
    model_csv: str
    raters_csv: str
    markdown: str


def _f(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"


def subject_outputs(kept_answers: pd.DataFrame | None) -> SubjectOutputs:
    """Fit the model on ``kept_answers`` (rating phase, kept raters; None = no ratings) and render it."""
    head = ["", "## Subject model (item quality with rater bias and inconsistency)", ""]
    if kept_answers is None:
        return SubjectOutputs(csv_text(MODEL_COLUMNS, []), csv_text(RATER_COLUMNS, []),
                              "\n".join(head + ["No ratings: nothing fitted."]) + "\n")
    if kept_answers.empty:
        return SubjectOutputs(csv_text(MODEL_COLUMNS, []), csv_text(RATER_COLUMNS, []),
                              "\n".join(head + ["No kept ratings: nothing fitted."]) + "\n")
    df = kept_answers[["rater", "dataset", "method", "image", "repeat", "score"]].copy()
    df["score"] = df["score"].astype(float)
    try:
        table, fit = method_quality(df)
    except SrbenchError as exc:
        text = (f"Not fitted: {exc}. The plain MOS (Tables 1-2, `mos.csv`) stands alone; "
                "`subject_model.csv` and `subject_raters.csv` hold only their header.")
        return SubjectOutputs(csv_text(MODEL_COLUMNS, []), csv_text(RATER_COLUMNS, []), "\n".join(head + [text]) + "\n")
    first = df[df["repeat"] == 0].groupby(["dataset", "method"])
    model_rows, md_rows = [], []
    for r in table.itertuples(index=False):
        n_first = int(first.get_group((r.dataset, r.method)).shape[0])
        model_rows.append([r.dataset, r.method, r.n_raters, n_first, r.n_images, r.n_ratings, _f(r.mos),
                           _f(r.mos_ci_low), _f(r.mos_ci_high), _f(r.quality), _f(r.quality_se),
                           _f(r.quality_ci_low), _f(r.quality_ci_high), _f(r.quality_se_pop),
                           _f(r.quality_ci_pop_low), _f(r.quality_ci_pop_high)])
        label = DATASET_LABELS.get(r.dataset, r.dataset)
        md_rows.append(f"| {label} | {r.method} | {r.n_raters} | {n_first} | {r.mos:.2f} [{r.mos_ci_low:.2f}, "
                       f"{r.mos_ci_high:.2f}] | {r.quality:.2f} [{r.quality_ci_pop_low:.2f}, "
                       f"{r.quality_ci_pop_high:.2f}] | [{r.quality_ci_low:.2f}, {r.quality_ci_high:.2f}] |")
    rater_rows = []
    for rater, r in fit.raters.sort_index().iterrows():
        rater_rows.append([rater, int(r["n_ratings"]), int(r["n_items"]), _f(r["bias"]), _f(r["bias_ci_low"]),
                           _f(r["bias_ci_high"]), _f(r["inconsistency"]), _f(r["inconsistency_ci_low"]),
                           _f(r["inconsistency_ci_high"]), int(bool(r["at_floor"]))])
    level = int(round(100 * stats.CI_LEVEL))
    text = [
        f"Model (Li & Bampis 2017; ITU-T P.913 / Netflix SUREAL): score = quality of the item + bias of the rater "
        f"+ inconsistency of the rater x N(0, 1), fitted by REML ({fit.n_ratings} ratings of "
        f"{len(fit.raters)} kept raters, repeats included, {fit.iterations} iterations; constraint: "
        f"{fit.constraint}). Quality of a method = mean item quality over its images. Plain MOS: mean of the "
        f"first showings with the two-way bootstrap CI (as in Tables 1-2 and `mos.csv`).",
        "",
        f"- *quality CI* ({level}%): raters and images treated as samples (adds the spread of the biases over "
        f"raters and of the quality over images); the interval to compare with the plain MOS's bootstrap CI;",
        f"- *conditional CI* ({level}%): for this panel and these images (the level of this panel's average "
        f"rater); use it to compare methods within this study. Both ignore the error of the estimated "
        f"inconsistencies, so they run a little narrow in sparse designs.",
        "",
        "| Set | Method | raters | ratings | MOS [CI] | quality [CI] | conditional CI |",
        "|---|---|---:|---:|---:|---:|---:|",
        *md_rows,
        "",
        "Per-rater bias and inconsistency with CIs: `subject_raters.csv`; per (set, method): `subject_model.csv`.",
    ]
    if fit.notes:
        text += ["", "Notes of the fit:", *[f"- {n}" for n in fit.notes]]
    return SubjectOutputs(csv_text(MODEL_COLUMNS, model_rows), csv_text(RATER_COLUMNS, rater_rows),
                          "\n".join(head + text) + "\n")
