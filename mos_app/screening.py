"""Rater screening for the admin page: the math lives in the core (:mod:`srbench.screening`)."""

from srbench.screening import bt500_screen, rater_vs_others, retest_agreement  # noqa: F401
