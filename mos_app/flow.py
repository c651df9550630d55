"""What a rater sees next and what happens to a click: the study's rules, without any page code.

:class:`RaterFlow` binds a study, its answer store and one rater. The page
asks :meth:`RaterFlow.screen` what to show (instructions, a presentation,
a break, the end) and passes every score click to :meth:`RaterFlow.submit`,
which decides whether it is stored. The rules:

* **Minimum viewing time.** An answer is stored only if it arrives at the
  server at least ``min_view_ms`` after the server sent the image to this
  browser session (``served_at``, server clock; the image cannot be on
  screen earlier) *and* the browser reports that the image had been painted
  for at least that long (``view_ms``). Anything earlier is refused and not
  stored. The page also keeps its buttons disabled until then.
* **Blinding.** A click names its presentation by index and the item's
  opaque token (:mod:`srbench.mos_app.blind`); a wrong token is refused.
* **Calibration.** A calibration anchor stays until the rater clicks the
  score it stands for; every wrong click is stored
  (:meth:`srbench.mos_app.store.Store.record_miss`) and the answer records how many
  clicks it took (``attempts``).
* **Sessions.** Work is split into sessions of at most ``session_items``
  answers or ``session_minutes`` minutes; then a break screen. Sessions are
  rows in the store, so a rater can stop and continue on another day.
* **Two tabs.** The first answer to a presentation is kept (store UNIQUE key).
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone

from .blind import item_token, tokens_match
from .order import Presentation, presentations
from .store import Answer, Store, Viewing
from .study import Study

LABELS = {1: "1 (bad)", 2: "2 (poor)", 3: "3 (fair)", 4: "4 (good)", 5: "5 (excellent)"}
DECISION_S = 3.0
"""Assumed time (s) a rater takes to decide and click, on top of the minimum viewing time, for estimates."""


@dataclass(frozen=True)
class Plan:
    """The numbers a rater is told before starting."""

    calibration: int  # calibration presentations (anchors)
    items: int  # distinct images of the rating phase (the hidden gold items and attention checks included)
    repeats: int  # items shown a second time
    min_view_s: float
    session_items: int
    session_minutes: float
    attention: int = 0  # attention checks among ``items`` (visible, so the instructions may name them)

    @property
    def rating(self) -> int:
        """Rating presentations: every item once plus the repeats."""
        return self.items + self.repeats

    @property
    def total(self) -> int:
        return self.calibration + self.rating

    @property
    def seconds_per_image(self) -> float:
        return self.min_view_s + DECISION_S

    @property
    def minutes(self) -> float:
        """Estimated working time for everything, in minutes (breaks not included)."""
        return self.total * self.seconds_per_image / 60

    @property
    def sessions(self) -> int:
        """Estimated number of sessions (either limit can end one)."""
        by_items = math.ceil(self.total / self.session_items)
        by_time = math.ceil(self.minutes / self.session_minutes) if self.minutes else 1
        return max(1, by_items, by_time)


def plan(study: Study) -> Plan:
    """The up-front numbers of ``study``."""
    return Plan(len(study.calibration), len(study.items) + len(study.checks), len(study.repeats),
                study.run.min_view_ms / 1000, study.run.session_items, study.run.session_minutes,
                sum(1 for c in study.checks if c.check == "attention"))


def minutes_text(minutes: float) -> str:
    """``about 7 minutes`` / ``about 2 hours 10 minutes`` (rounded up to whole minutes)."""
    m = max(1, math.ceil(minutes))
    if m < 60:
        return f"about {m} minute{'s' if m != 1 else ''}"
    h, m = divmod(m, 60)
    return f"about {h} hour{'s' if h != 1 else ''}" + (f" {m} minute{'s' if m != 1 else ''}" if m else "")


@dataclass(frozen=True)
class Progress:
    """Where the rater stands; calibration and rating are counted apart."""

    phase: str
    calibration_done: int
    calibration_total: int
    rating_done: int
    rating_total: int
    session: int
    session_done: int
    session_items: int
    session_minutes: float

    def text(self) -> str:
        """The status line, e.g. ``Rating: image 12 of 40`` or ``Calibration: image 1 of 2``."""
        if self.phase == "calibration":
            return f"Calibration: image {self.calibration_done + 1} of {self.calibration_total}"
        return f"Rating: image {self.rating_done + 1} of {self.rating_total}"

    def session_text(self) -> str:
        """``Session 2: 15 of at most 200 images (break after 20 min)``."""
        return (f"Session {self.session}: {self.session_done} of at most {self.session_items} images done "
                f"(a break after {self.session_minutes:g} min)")


@dataclass(frozen=True)
class Screen:
    """What the page shows now. ``kind``: mismatch, instructions, rate, break, done or screened (a crowd
    study's rater below its calibration threshold: no rating images)."""

    kind: str
    presentation: Presentation | None = None
    next: Presentation | None = None
    progress: Progress | None = None
    session: int = 0
    end_reason: str | None = None


class Outcome(enum.Enum):
    STORED = "stored"
    CALIBRATION_WRONG = "calibration_wrong"
    DUPLICATE = "duplicate"  # already answered (double click, replay, or another tab)
    TOO_EARLY = "too_early"
    NOT_SHOWN = "not_shown"  # this browser session was never sent that presentation
    INVALID = "invalid"  # malformed click: unknown index, wrong token, bad score


@dataclass(frozen=True)
class Result:
    """What :meth:`RaterFlow.submit` did, and the message for the rater (None: say nothing)."""

    outcome: Outcome
    message: str | None = None


def _utc(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


def _whole(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (JSON gives both)."""
    return isinstance(value, int) and not isinstance(value, bool)


class RaterFlow:
    """One rater's way through one study (all state lives in the store)."""

    def __init__(self, study: Study, store: Store, rater: str, seq: list[Presentation] | None = None):
        self.study, self.store, self.rater = study, store, rater
        self.answers = store.for_rater(study.name, rater)  # this rater's view of the store
        self.seq = seq if seq is not None else presentations(study, rater)
        self._secret = self.answers.study_secret()

    # -- blinding ---------------------------------------------------------------------------------

    def token(self, p: Presentation) -> str:
        """The opaque token under which the browser knows ``p``'s image."""
        return item_token(self._secret, p.stimulus.item)

    # -- what to show -----------------------------------------------------------------------------

    def label(self, index: int) -> str:
        """Presentation ``index`` as the status line counts it: ``rating image 12`` / ``calibration image 2``
        (calibration and rating numbered apart, from 1)."""
        n_cal = sum(1 for q in self.seq if q.phase == "calibration")
        if index < n_cal:
            return f"calibration image {index + 1}"
        return f"rating image {index - n_cal + 1}"

    def screen(self, now: datetime | None = None) -> Screen:
        """The screen to show now; ends a session whose item or time limit is reached."""
        answered = self.answers.answered_items()
        expected = {p.index: p.stimulus.item for p in self.seq}
        if any(expected.get(index) != item for index, item in answered.items()):
            return Screen("mismatch")
        pending = [p for p in self.seq if p.index not in answered]
        sessions = self.answers.sessions()
        if self.screened_out():
            if sessions and sessions[-1].ended_at is None:
                self.answers.end_session(sessions[-1].number, "screened")
            return Screen("screened")
        if not pending:
            if sessions and sessions[-1].ended_at is None:  # finished: the last session is over, not open
                self.answers.end_session(sessions[-1].number, "done")
            return Screen("done")
        if not sessions:
            return Screen("instructions")
        cur = sessions[-1]
        if cur.ended_at is not None:
            return Screen("break", session=cur.number, end_reason=cur.end_reason)
        run = self.study.run
        in_session = self.answers.session_answers(cur.number)
        elapsed_min = (_utc(now) - cur.started_at).total_seconds() / 60
        reason = ("items" if in_session >= run.session_items
                  else "time" if elapsed_min >= run.session_minutes else None)
        if reason is not None:
            self.answers.end_session(cur.number, reason)
            return Screen("break", session=cur.number, end_reason=reason)
        p = pending[0]
        n_cal = sum(1 for q in self.seq if q.phase == "calibration")
        cal_done = sum(1 for i in answered if i < n_cal)
        progress = Progress(p.phase, cal_done, n_cal, len(answered) - cal_done, len(self.seq) - n_cal,
                            cur.number, in_session, run.session_items, run.session_minutes)
        return Screen("rate", p, pending[1] if len(pending) > 1 else None, progress, cur.number)

    def screened_out(self) -> bool:
        """A crowd study with a calibration threshold: every calibration image answered, and the share right at
        the first click below the threshold (the rater then rates nothing)."""
        if self.study.settings.get("access") != "crowd":
            return False
        minimum = (self.study.settings.get("crowd") or {}).get("calibration_min")
        n_cal = sum(1 for q in self.seq if q.phase == "calibration")
        if minimum is None or n_cal == 0:
            return False
        answered, right = self.answers.first_click_right()
        return answered >= n_cal and right / answered < minimum

    def counts(self) -> dict[str, int]:
        """Answered and total presentations of the calibration and of the rating phase (checks included:
        the rater is never told which images were gold items)."""
        answered = self.answers.answered()
        out = {}
        for phase in ("calibration", "rating"):
            idx = [p.index for p in self.seq if (p.phase == "calibration") == (phase == "calibration")]
            out[f"{phase}_total"] = len(idx)
            out[f"{phase}_done"] = len(answered.intersection(idx))
        return out

    def minutes_left(self) -> float:
        """Estimated minutes for the rest, at the rater's median pace so far (else the plan's pace)."""
        times = self.answers.response_times()
        per_image = statistics.median(times) / 1000 if times else plan(self.study).seconds_per_image
        left = len(self.seq) - len(self.answers.answered())
        return left * per_image / 60

    def start_session(self) -> int:
        """Start the next session (after the instructions or a break); returns its number.

        A session that is still open is kept (a second tab pressing the button starts nothing new).
        """
        sessions = self.answers.sessions()
        if sessions and sessions[-1].ended_at is None:
            return sessions[-1].number
        number = sessions[-1].number + 1 if sessions else 1
        self.answers.start_session(number)
        return number

    def current_session(self) -> int:
        """Number of the latest session (0 before the first)."""
        sessions = self.answers.sessions()
        return sessions[-1].number if sessions else 0

    def record_viewing(self, page: str, view: Viewing, fits: bool) -> None:
        """Store the window the browser reported on ``page`` (``instructions`` or ``rating``)."""
        self.answers.record_viewing(self.current_session(), page, view, fits)

    # -- a click ----------------------------------------------------------------------------------

    def _invalid_click(self, index: object, token: object, score: object, view_ms: object) -> Result | None:
        """The INVALID result for a click that names no presentation of this study, another image than the
        token's, a score outside 1..5 or no viewing time; None for a well-formed click."""
        if not (_whole(index) and 0 <= index < len(self.seq)):
            return Result(Outcome.INVALID, "Answer not recorded: it did not name an image of this study.")
        if not tokens_match(token, self.token(self.seq[index])):
            return Result(Outcome.INVALID, "Answer not recorded: it did not match the image on screen.")
        if not (_whole(score) and 1 <= score <= 5):
            return Result(Outcome.INVALID, "Answer not recorded: scores are 1 to 5.")
        if not (_whole(view_ms) and view_ms >= 0):
            return Result(Outcome.INVALID, "Answer not recorded: the page did not report the viewing time.")
        return None

    def submit(self, *, index: object, token: object, score: object, view_ms: object,
               served_at: float | None, now: float) -> Result:
        """Handle a score click for presentation ``index``.

        ``served_at``: server monotonic time (s) at which this browser session
        was sent presentation ``index`` (None if it never was); ``now``: the
        same clock at the click's arrival; ``view_ms``: the browser's time
        from the image being painted to the click.
        """
        invalid = self._invalid_click(index, token, score, view_ms)
        if invalid is not None:
            return invalid
        p = self.seq[index]
        if index in self.answers.answered():
            return Result(Outcome.DUPLICATE)
        if served_at is None:
            return Result(Outcome.NOT_SHOWN, f"Answer not recorded: {self.label(index)} was not shown on this page. "
                                             "Please rate the image on screen.")
        shown_ms = int((now - served_at) * 1000)
        min_ms = self.study.run.min_view_ms
        if shown_ms < min_ms or view_ms < min_ms:
            return Result(Outcome.TOO_EARLY,
                          f"Answer not recorded: the image had been on screen for only "
                          f"{min(shown_ms, view_ms) / 1000:.1f} s. Please look at each image for at least "
                          f"{min_ms / 1000:g} s before you score it.")
        s = p.stimulus
        if p.phase == "calibration" and score != s.anchor:
            self.answers.record_miss(index, s.anchor, score, shown_ms)
            return Result(Outcome.CALIBRATION_WRONG,
                          f"Not quite: this calibration image stands for {LABELS[s.anchor]}, you clicked "
                          f"{LABELS[score]}. Please click {LABELS[s.anchor]} to continue.")
        attempts = 1 + (self.answers.misses(index) if p.phase == "calibration" else 0)
        expected = ((s.anchor, s.anchor) if p.phase == "calibration"
                    else (s.expected_low, s.expected_high) if s.check else (None, None))
        answer = Answer(self.study.name, self.rater, index, s.item, s.method, s.dataset, s.image, p.phase,
                        p.repeat, score, shown_ms, session=self.current_session(), attempts=attempts,
                        view_ms=view_ms, expected_low=expected[0], expected_high=expected[1])
        if self.answers.record(answer):
            return Result(Outcome.STORED)
        return Result(Outcome.DUPLICATE)
