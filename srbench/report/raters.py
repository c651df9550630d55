"""Rater screening in the report: which raters every MOS rests on, ``screening.csv`` and its report section.

The rules, thresholds and sources are :mod:`srbench.ratings.screening`; this
module applies them to the loaded ratings, keeps the scores of the kept
raters, and renders the outcome (deterministic text).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import pandas as pd

from srbench.ratings.screening import COLUMNS, ScreeningConfig, describe_rules, screen_raters

from .inputs import Ratings

CSV_COLUMNS = ["rater", "rejected"] + [c for c in COLUMNS if c not in ("rater", "kept")]
"""``screening.csv``: one row per rater; ``rejected`` 0/1, ``rejected_by`` the rule keys, ``reasons`` in words."""


@dataclass(frozen=True)
class Screened:
    """Outcome of screening the report's ratings."""

    table: pd.DataFrame  # screen_raters' table (one row per rater)
    kept_scores: pd.DataFrame  # Ratings.scores of the kept raters (rating phase, first showings)
    kept_answers: pd.DataFrame  # rating-phase answers of the kept raters, repeats included
    config: ScreeningConfig


def screen(ratings: Ratings | None, config: ScreeningConfig | None = None) -> Screened | None:
    """Screen every rater of ``ratings`` (None: no ratings) and keep the scores of those who pass."""
    if ratings is None:
        return None
    cfg = config or ScreeningConfig()
    answers = ratings.answers
    # an item is one version of one image, whatever id the file gave it (ids are checked, not trusted)
    keyed = answers.assign(item=answers["dataset"] + "/" + answers["image"] + "/" + answers["method"])
    table = screen_raters(keyed, cfg)
    kept = set(table.loc[table["kept"], "rater"])
    scores = ratings.scores[ratings.scores["rater"].isin(kept)].reset_index(drop=True)
    rating = answers[(answers["phase"] == "rating") & answers["rater"].isin(kept)].reset_index(drop=True)
    return Screened(table, scores, rating, cfg)


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return int(value) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    return value


def to_csv(screened: Screened | None) -> str:
    """``screening.csv`` text (header only without ratings)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    if screened is not None:
        for row in screened.table.to_dict("records"):
            row["rejected"] = not row["kept"]
            writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def section(screened: Screened | None) -> str:
    """The report's "Rater screening" section (Markdown)."""
    out = ["", "## Rater screening", ""]
    if screened is None:
        out.append("- no ratings: nothing screened")
        return "\n".join(out) + "\n"
    table = screened.table
    rejected = table[~table["kept"]]
    out.append(f"- {len(table)} raters screened, {len(rejected)} rejected" + (":" if len(rejected) else ""))
    out += [f"  - `{r.rater}`: {r.reasons}" for r in rejected.itertuples(index=False)]
    out += ["- per-rater measures and reasons in `screening.csv`; the rules in force (a rater is kept only if "
            "none rejects them; the per-rater rules first, then the panel rules on the raters who passed them):"]
    out += [f"  - {line}" for line in describe_rules(screened.config)]
    return "\n".join(out) + "\n"
