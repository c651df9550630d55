"""The answer store: one SQLite file, written the moment a rater answers.

* WAL journal, ``synchronous=FULL`` (a committed answer survives a killed
  server or a power cut), 30 s busy timeout so concurrent writers wait
  instead of failing.
* One connection per (thread, process): :class:`Store` keeps them in a
  ``threading.local`` and reopens after a ``fork``.
* ``UNIQUE(study, rater, presentation)``: a double click or a replayed
  request for the same presentation is ignored (``INSERT ... ON CONFLICT DO
  NOTHING``); :meth:`Store.record` says whether the answer was new.
* Parameterised SQL only; rater ids are checked against
  :data:`srbench.mos_app.study.RATER_ID_RE` and must be in lower case (ids are
  case-insensitive, :func:`srbench.mos_app.study.check_rater_id` normalises them)
  before anything is written.
* ``Store(path, read_only=True)`` (export, report) opens an existing answer
  file without changing it: no schema, no migration, no journal-mode switch,
  and a clear :class:`AnswerError` for a missing file, a non-SQLite file or a
  SQLite file that holds no ``answers`` table.

Schema versions (``PRAGMA user_version``):

* 0 - the first layout: only ``answers`` (without ``session``, ``view_ms``,
  ``attempts``); rater ids could differ only in case.
* 2 - ``answers`` gains those three columns, plus the tables ``sessions``,
  ``calibration_misses``, ``viewing`` and ``study_secrets``.
* 3 - :data:`SCHEMA_VERSION`: ``answers`` accepts the phases ``gold`` and
  ``attention`` (quality-control items inside the rating phase) and gains
  ``expected_low``/``expected_high`` (their expected score range; the anchor
  for calibration; NULL for rating items); the view ``rater_checks`` gives
  each rater's gold and attention accuracy (answers inside their range /
  answered), computed from the stored rows so it can never disagree with them.

A writable :class:`Store` migrates an older file in one transaction (version
0: rater ids lower-cased; refused, unchanged, if two ids differ only in case;
version 2 -> 3: the ``answers`` table is rebuilt, SQLite cannot widen a CHECK
constraint in place); a file of a newer version is refused.

To extend the schema: add a ``CREATE TABLE IF NOT EXISTS`` to :data:`_TABLES`
(new tables) or a step to :meth:`Store._migrate` that raises
:data:`SCHEMA_VERSION` (new columns).

:data:`CSV_COLUMNS` is the long format shared with the report
(``study,rater,item,method,dataset,image,phase,repeat,score,response_ms,timestamp,session,attempts,view_ms,``
``expected_low,expected_high``).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .study import StudyError, check_rater_id
from srbench.atomicio import write_atomic
from srbench.schema import RATING_COLUMNS, RATING_EXTRA_COLUMNS, RATING_PHASES

CSV_COLUMNS = RATING_COLUMNS + RATING_EXTRA_COLUMNS
PHASES = RATING_PHASES
CHECK_PHASES = ("gold", "attention")
SCHEMA_VERSION = 3
_V0_DEFAULTS = {"session": 0, "attempts": 1, "view_ms": None, "expected_low": None, "expected_high": None}
"""Values of the newer answer columns for rows of an older file read without migrating it."""

_ANSWERS = """
CREATE TABLE IF NOT EXISTS answers (
    study        TEXT    NOT NULL,
    rater        TEXT    NOT NULL,
    presentation INTEGER NOT NULL CHECK (presentation >= 0),
    item         TEXT    NOT NULL,
    method       TEXT    NOT NULL,
    dataset      TEXT    NOT NULL,
    image        TEXT    NOT NULL,
    phase        TEXT    NOT NULL CHECK (phase IN ('calibration', 'rating', 'gold', 'attention')),
    repeat       INTEGER NOT NULL CHECK (repeat >= 0),
    score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    response_ms  INTEGER NOT NULL CHECK (response_ms >= 0),
    timestamp    TEXT    NOT NULL,
    session      INTEGER NOT NULL DEFAULT 0 CHECK (session >= 0),
    attempts     INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    view_ms      INTEGER CHECK (view_ms IS NULL OR view_ms >= 0),
    expected_low  INTEGER CHECK (expected_low IS NULL OR expected_low BETWEEN 1 AND 5),
    expected_high INTEGER CHECK (expected_high IS NULL OR expected_high BETWEEN 1 AND 5),
    UNIQUE (study, rater, presentation),
    CHECK ((expected_low IS NULL) = (expected_high IS NULL) AND (expected_low IS NULL OR expected_low <= expected_high)),
    CHECK (phase NOT IN ('gold', 'attention') OR expected_low IS NOT NULL)
)
"""
_V2_ANSWER_COLUMNS = ("study", "rater", "presentation", "item", "method", "dataset", "image", "phase", "repeat",
                      "score", "response_ms", "timestamp", "session", "attempts", "view_ms")
_TABLES = (
    # one row per rating session: started at Begin/Continue, ended by the item or time limit
    """CREATE TABLE IF NOT EXISTS sessions (
        study      TEXT    NOT NULL,
        rater      TEXT    NOT NULL,
        session    INTEGER NOT NULL CHECK (session >= 1),
        started_at TEXT    NOT NULL,
        ended_at   TEXT,
        end_reason TEXT,
        PRIMARY KEY (study, rater, session)
    )""",
    # every wrong click on a calibration anchor (the presentation stays until it is answered right)
    """CREATE TABLE IF NOT EXISTS calibration_misses (
        id           INTEGER PRIMARY KEY,
        study        TEXT    NOT NULL,
        rater        TEXT    NOT NULL,
        presentation INTEGER NOT NULL CHECK (presentation >= 0),
        expected     INTEGER NOT NULL CHECK (expected BETWEEN 1 AND 5),
        score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
        response_ms  INTEGER NOT NULL CHECK (response_ms >= 0),
        timestamp    TEXT    NOT NULL
    )""",
    # the rater's browser window as reported by the page (a row per change)
    """CREATE TABLE IF NOT EXISTS viewing (
        id            INTEGER PRIMARY KEY,
        study         TEXT    NOT NULL,
        rater         TEXT    NOT NULL,
        session       INTEGER NOT NULL CHECK (session >= 0),
        page          TEXT    NOT NULL,
        inner_width   INTEGER NOT NULL,
        inner_height  INTEGER NOT NULL,
        dpr           REAL    NOT NULL,
        screen_width  INTEGER NOT NULL,
        screen_height INTEGER NOT NULL,
        fits          INTEGER NOT NULL CHECK (fits IN (0, 1)),
        timestamp     TEXT    NOT NULL
    )""",
    # the key of the opaque per-study item tokens the browser sees (mos_app.blind)
    """CREATE TABLE IF NOT EXISTS study_secrets (
        study  TEXT PRIMARY KEY,
        secret TEXT NOT NULL
    )""",
    # crowd studies: the platform's ids of each visit of a rater (mos_app.crowd), first time seen
    """CREATE TABLE IF NOT EXISTS crowd_visits (
        study            TEXT NOT NULL,
        rater            TEXT NOT NULL,
        platform_study   TEXT NOT NULL DEFAULT '',
        platform_session TEXT NOT NULL DEFAULT '',
        first_seen       TEXT NOT NULL,
        PRIMARY KEY (study, rater, platform_study, platform_session)
    )""",
    # each rater's accuracy on the hidden gold items and attention checks (phase), from the stored answers
    """CREATE VIEW IF NOT EXISTS rater_checks AS
        SELECT study, rater, phase, COUNT(*) AS answered,
               SUM(score BETWEEN expected_low AND expected_high) AS in_range,
               ROUND(1.0 * SUM(score BETWEEN expected_low AND expected_high) / COUNT(*), 4) AS accuracy
        FROM answers WHERE phase IN ('gold', 'attention') GROUP BY study, rater, phase""",
)


class AnswerError(StudyError):
    """An answer that must not be stored (score out of range, bad phase, bad rater id), or an unusable file."""


@dataclass(frozen=True)
class Answer:
    """One rating: ``score`` 1..5 (ITU ACR: bad, poor, fair, good, excellent).

    ``response_ms``: server time from sending the image to the answer's
    arrival. ``session``: the rater's session number (0 = none recorded).
    ``expected_low``/``expected_high``: the score range a calibration anchor,
    gold item or attention check expects (None for rating items).
    ``attempts``: clicks it took (calibration: 1 + wrong clicks before the
    right one; rating: 1). ``view_ms``: the browser's time from the image
    being painted to the click (None if not reported).
    """

    study: str
    rater: str
    presentation: int
    item: str
    method: str
    dataset: str
    image: str
    phase: str
    repeat: int
    score: int
    response_ms: int
    session: int = 0
    attempts: int = 1
    view_ms: int | None = None
    expected_low: int | None = None
    expected_high: int | None = None

    def validate(self) -> None:
        """Raise :class:`AnswerError` unless every field is within its range."""
        _check_stored_rater(self.rater)
        _check_score(self.score)
        if self.phase not in PHASES:
            raise AnswerError(f"phase must be one of {PHASES}, got {self.phase!r}")
        for name in ("presentation", "repeat", "response_ms", "session"):
            _check_count(name, getattr(self, name))
        _check_count("attempts", self.attempts, low=1)
        if self.view_ms is not None:
            _check_count("view_ms", self.view_ms)
        lo, hi = self.expected_low, self.expected_high
        if (lo is None) != (hi is None):
            raise AnswerError("expected_low and expected_high must both be given or both be None")
        if lo is not None:
            _check_score(lo)
            _check_score(hi)
            if lo > hi:
                raise AnswerError(f"expected range {lo}..{hi} is empty")
        if self.phase in CHECK_PHASES and lo is None:
            raise AnswerError(f"a {self.phase} answer needs its expected score range")
        if self.phase == "rating" and lo is not None:
            raise AnswerError("a rating answer has no expected score range")


@dataclass(frozen=True)
class Viewing:
    """A rater's browser window: inner size in CSS px, devicePixelRatio, screen size in CSS px."""

    inner_width: int
    inner_height: int
    dpr: float
    screen_width: int
    screen_height: int


@dataclass(frozen=True)
class Session:
    """One rating session of a rater (``ended_at`` None while it runs)."""

    number: int
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None


def _check_stored_rater(rater: str) -> None:
    check_rater_id(rater)
    if rater != rater.lower():
        raise AnswerError(f"rater ids are stored in lower case, got {rater!r}")


def _check_score(score) -> None:
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise AnswerError(f"score must be an integer 1..5, got {score!r}")


def _check_count(name: str, value, low: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        what = "a non-negative integer" if low == 0 else f"an integer >= {low}"
        raise AnswerError(f"{name} must be {what}, got {value!r}")


def utc_now() -> str:
    """Current time as ISO-8601 UTC with milliseconds, e.g. ``2026-11-26T01:02:03.456+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """Answers of one or more studies in the SQLite file ``path`` (created on first use)."""

    def __init__(self, path: str | os.PathLike, *, busy_timeout_s: float = 30.0, read_only: bool = False):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.read_only = read_only
        self._local = threading.local()
        self._checked = False  # WAL is switched on only after _setup has accepted the file
        if read_only:
            self._check_readable()
        else:
            self._setup()

    # -- opening, schema, migration ---------------------------------------------------------------

    def _check_readable(self) -> None:
        """For ``read_only``: the file exists, is SQLite, holds the ``answers`` table, and is not too new."""
        if not self.path.is_file():
            raise AnswerError(f"answer database {self.path} not found")
        try:
            conn = self._conn()
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'").fetchone()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self.close()
            raise AnswerError(f"{self.path} is not a readable SQLite database ({exc})") from exc
        if found is None:
            self.close()
            raise AnswerError(f"{self.path} is a SQLite database but not a MOS answer file (no 'answers' table)")
        if version > SCHEMA_VERSION:
            self.close()
            raise AnswerError(_too_new(self.path, version))

    def _setup(self) -> None:
        """Create the schema in a new file, migrate an old one, refuse a foreign or too new one."""
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise AnswerError(f"{self.path} is not a usable SQLite database ({exc})") from exc
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version > SCHEMA_VERSION:
                raise AnswerError(_too_new(self.path, version))
            if tables and "answers" not in tables:
                raise AnswerError(f"{self.path} is a SQLite database of something else (tables: "
                                  f"{', '.join(sorted(tables))}); give the MOS answer file or a new path")
            if "answers" in tables and version < SCHEMA_VERSION:
                self._migrate(conn, version)
            conn.execute(_ANSWERS)
            for sql in _TABLES:
                conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self.close()
            raise
        self._checked = True
        conn.execute("PRAGMA journal_mode = WAL")

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        """Bring a version-``version`` file to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
        if version not in (0, 2):
            raise AnswerError(f"{self.path}: unknown answer-file schema version {version}")
        if version == 0:
            self._migrate_0_to_2(conn)
        self._migrate_2_to_3(conn)

    @staticmethod
    def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
        """Rebuild ``answers`` with the version-3 phases and the expected-range columns; rows are kept as
        they are (rating rows get NULL ranges, calibration rows their anchor from the method)."""
        columns = ", ".join(_V2_ANSWER_COLUMNS)
        conn.execute("ALTER TABLE answers RENAME TO answers_v2")
        conn.execute(_ANSWERS)
        conn.execute(f"INSERT INTO answers ({columns}) SELECT {columns} FROM answers_v2 ORDER BY rowid")
        conn.execute("UPDATE answers SET expected_low = 1, expected_high = 1 WHERE phase = 'calibration'"
                     " AND method = 'nearest'")
        conn.execute("UPDATE answers SET expected_low = 5, expected_high = 5 WHERE phase = 'calibration'"
                     " AND method = 'hr'")
        conn.execute("DROP TABLE answers_v2")

    def _migrate_0_to_2(self, conn: sqlite3.Connection) -> None:
        clashes = conn.execute(
            "SELECT study, group_concat(DISTINCT rater) FROM answers GROUP BY study, lower(rater)"
            " HAVING COUNT(DISTINCT rater) > 1").fetchall()
        if clashes:
            study, raters = clashes[0]
            raise AnswerError(
                f"{self.path} holds answers of raters {raters.replace(',', ' and ')} in study {study!r}, whose ids "
                "differ only in case; rater ids are now case-insensitive (one rater), so this file cannot be "
                "upgraded as is: export it with an older srbench and rename one of the raters")
        columns = {r[1] for r in conn.execute("PRAGMA table_info(answers)")}
        for name, decl in (("session", "INTEGER NOT NULL DEFAULT 0 CHECK (session >= 0)"),
                           ("attempts", "INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1)"),
                           ("view_ms", "INTEGER CHECK (view_ms IS NULL OR view_ms >= 0)")):
            if name not in columns:
                conn.execute(f"ALTER TABLE answers ADD COLUMN {name} {decl}")
        conn.execute("UPDATE answers SET rater = lower(rater) WHERE rater != lower(rater)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            if self.read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_s, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            else:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
                if self._checked:  # (a refused file is left exactly as it was, journal mode included)
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def schema_version(self) -> int:
        """The file's ``PRAGMA user_version`` (see the module docstring)."""
        return self._conn().execute("PRAGMA user_version").fetchone()[0]

    # -- answers ----------------------------------------------------------------------------------

    def record(self, answer: Answer) -> bool:
        """Store ``answer`` now; return True if it was new, False if that presentation was already answered.

        Raises :class:`AnswerError` (and writes nothing) for an invalid answer.
        """
        answer.validate()
        cur = self._conn().execute(
            "INSERT INTO answers (study, rater, presentation, item, method, dataset, image, phase,"
            " repeat, score, response_ms, timestamp, session, attempts, view_ms, expected_low, expected_high)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (study, rater, presentation) DO NOTHING",
            (answer.study, answer.rater, answer.presentation, answer.item, answer.method,
             answer.dataset, answer.image, answer.phase, answer.repeat, answer.score,
             answer.response_ms, utc_now(), answer.session, answer.attempts, answer.view_ms,
             answer.expected_low, answer.expected_high),
        )
        return cur.rowcount == 1

    def answered(self, study: str, rater: str) -> set[int]:
        """Presentation indices ``rater`` has answered in ``study``."""
        rows = self._conn().execute(
            "SELECT presentation FROM answers WHERE study = ? AND rater = ?", (study, rater)
        )
        return {r[0] for r in rows}

    def answered_items(self, study: str, rater: str) -> dict[int, str]:
        """``presentation index -> item`` of every answer ``rater`` gave in ``study``."""
        rows = self._conn().execute(
            "SELECT presentation, item FROM answers WHERE study = ? AND rater = ?", (study, rater)
        )
        return dict(rows.fetchall())

    def session_answers(self, study: str, rater: str, session: int) -> int:
        """Number of answers ``rater`` gave in session ``session``."""
        return self._conn().execute(
            "SELECT COUNT(*) FROM answers WHERE study = ? AND rater = ? AND session = ?", (study, rater, session)
        ).fetchone()[0]

    def response_times(self, study: str, rater: str) -> list[int]:
        """``response_ms`` of every answer of ``rater`` (for a time estimate at the rater's own pace)."""
        rows = self._conn().execute(
            "SELECT response_ms FROM answers WHERE study = ? AND rater = ?", (study, rater))
        return [r[0] for r in rows]

    def progress(self, study: str) -> dict[str, int]:
        """Number of answers per rater in ``study`` (raters with none are absent)."""
        rows = self._conn().execute(
            "SELECT rater, COUNT(*) FROM answers WHERE study = ? GROUP BY rater ORDER BY rater", (study,)
        )
        return dict(rows.fetchall())

    def rows(self, study: str | None = None) -> list[dict]:
        """Every answer (of ``study``, or all) as dicts with keys :data:`CSV_COLUMNS`, in insertion order.

        A version-0 file opened read-only has no ``session``/``attempts``/``view_ms``
        columns; its rows get 0, 1 and None there.
        """
        conn = self._conn()
        present = {r[1] for r in conn.execute("PRAGMA table_info(answers)")}
        select = [c if c in present else f"{_sql_literal(_V0_DEFAULTS[c])} AS {c}" for c in CSV_COLUMNS]
        sql = f"SELECT {', '.join(select)} FROM answers"
        params: tuple = ()
        if study is not None:
            sql += " WHERE study = ?"
            params = (study,)
        cur = conn.execute(sql + " ORDER BY rowid", params)
        return [dict(zip(CSV_COLUMNS, r)) for r in cur.fetchall()]

    def to_csv(self, study: str | None = None) -> str:
        """The answers as CSV text in the long format (header :data:`CSV_COLUMNS`)."""
        return _csv_text(self.rows(study))

    def export_csv(self, out: str | os.PathLike, study: str | None = None) -> int:
        """Write the answers as CSV to ``out`` atomically; return the number of answers written.

        Raises :class:`AnswerError` if ``out`` is a folder or cannot be written (nothing is left behind).
        """
        rows = self.rows(study)
        out = Path(out)
        if out.is_dir():
            raise AnswerError(f"{out} is a folder; give the CSV file to write, e.g. {out / 'ratings.csv'}")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(out, _csv_text(rows))
        except OSError as exc:
            raise AnswerError(f"cannot write {out} ({exc.strerror or exc})") from exc
        return len(rows)

    # -- calibration ------------------------------------------------------------------------------

    def record_miss(self, study: str, rater: str, presentation: int, expected: int, score: int,
                    response_ms: int) -> None:
        """Store a wrong click on a calibration anchor (``expected`` is the anchor's score)."""
        _check_stored_rater(rater)
        _check_score(score)
        _check_score(expected)
        _check_count("presentation", presentation)
        _check_count("response_ms", response_ms)
        self._conn().execute(
            "INSERT INTO calibration_misses (study, rater, presentation, expected, score, response_ms, timestamp)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (study, rater, presentation, expected, score, response_ms, utc_now()))

    def misses(self, study: str, rater: str, presentation: int) -> int:
        """Number of wrong clicks ``rater`` made on calibration presentation ``presentation``."""
        return self._conn().execute(
            "SELECT COUNT(*) FROM calibration_misses WHERE study = ? AND rater = ? AND presentation = ?",
            (study, rater, presentation)).fetchone()[0]

    def calibration_accuracy(self, study: str) -> list[dict]:
        """Per rater: calibration anchors answered, right at the first click, wrong clicks, accuracy.

        ``accuracy`` = first-click-right / answered (None before any calibration answer).
        """
        conn = self._conn()
        answered = dict(conn.execute(
            "SELECT rater, COUNT(*) FROM answers WHERE study = ? AND phase = 'calibration' GROUP BY rater",
            (study,)).fetchall())
        first = dict(conn.execute(
            "SELECT rater, COUNT(*) FROM answers WHERE study = ? AND phase = 'calibration' AND attempts = 1"
            " GROUP BY rater", (study,)).fetchall())
        wrong = dict(conn.execute(
            "SELECT rater, COUNT(*) FROM calibration_misses WHERE study = ? GROUP BY rater", (study,)).fetchall())
        out = []
        for rater in sorted(set(answered) | set(wrong)):
            n = answered.get(rater, 0)
            out.append({"rater": rater, "calibration_answered": n, "right_first_click": first.get(rater, 0),
                        "wrong_clicks": wrong.get(rater, 0),
                        "calibration_accuracy": round(first.get(rater, 0) / n, 4) if n else None})
        return out

    def check_accuracy(self, study: str) -> list[dict]:
        """Per rater and check phase (``gold``, ``attention``): answered, inside the expected range, accuracy.

        Read from the ``rater_checks`` view (derived from the stored answers).
        """
        rows = self._conn().execute(
            "SELECT rater, phase, answered, in_range, accuracy FROM rater_checks WHERE study = ?"
            " ORDER BY rater, phase", (study,))
        return [dict(zip(("rater", "phase", "answered", "in_range", "accuracy"), r)) for r in rows.fetchall()]

    def first_click_right(self, study: str, rater: str) -> tuple[int, int]:
        """``(calibration answers, of them right at the first click)`` of ``rater``."""
        row = self._conn().execute(
            "SELECT COUNT(*), COALESCE(SUM(attempts = 1), 0) FROM answers WHERE study = ? AND rater = ?"
            " AND phase = 'calibration'", (study, rater)).fetchone()
        return row[0], row[1]

    # -- crowd visits -----------------------------------------------------------------------------

    def record_visit(self, study: str, rater: str, platform_study: str, platform_session: str) -> None:
        """Note a crowd rater's visit under the platform's study and session ids (each pair once)."""
        _check_stored_rater(rater)
        self._conn().execute(
            "INSERT INTO crowd_visits (study, rater, platform_study, platform_session, first_seen)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", (study, rater, platform_study, platform_session,
                                                               utc_now()))

    def visits(self, study: str) -> list[dict]:
        """Crowd visits of ``study``, oldest first."""
        rows = self._conn().execute(
            "SELECT rater, platform_study, platform_session, first_seen FROM crowd_visits WHERE study = ?"
            " ORDER BY first_seen, rater", (study,))
        return [dict(zip(("rater", "platform_study", "platform_session", "first_seen"), r)) for r in rows]

    # -- sessions ---------------------------------------------------------------------------------

    def sessions(self, study: str, rater: str) -> list[Session]:
        """The rater's sessions, oldest first."""
        rows = self._conn().execute(
            "SELECT session, started_at, ended_at, end_reason FROM sessions WHERE study = ? AND rater = ?"
            " ORDER BY session", (study, rater))
        return [Session(n, datetime.fromisoformat(s), datetime.fromisoformat(e) if e else None, why)
                for n, s, e, why in rows.fetchall()]

    def start_session(self, study: str, rater: str, number: int) -> bool:
        """Open session ``number`` now; False if it already exists (another tab started it)."""
        _check_stored_rater(rater)
        _check_count("session", number, low=1)
        cur = self._conn().execute(
            "INSERT INTO sessions (study, rater, session, started_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (study, rater, session) DO NOTHING", (study, rater, number, utc_now()))
        return cur.rowcount == 1

    def end_session(self, study: str, rater: str, number: int, reason: str) -> None:
        """Mark session ``number`` ended now (a session already ended keeps its first end)."""
        self._conn().execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE study = ? AND rater = ? AND session = ?"
            " AND ended_at IS NULL", (utc_now(), reason, study, rater, number))

    def session_summary(self, study: str) -> list[dict]:
        """Per rater: number of sessions and whether the last one is still open."""
        rows = self._conn().execute(
            "SELECT rater, COUNT(*), SUM(ended_at IS NULL) FROM sessions WHERE study = ? GROUP BY rater"
            " ORDER BY rater", (study,))
        return [{"rater": r, "sessions": n, "open": bool(o)} for r, n, o in rows.fetchall()]

    # -- viewing conditions -----------------------------------------------------------------------

    def record_viewing(self, study: str, rater: str, session: int, page: str, view: Viewing, fits: bool) -> None:
        """Store the rater's window as reported by the browser."""
        _check_stored_rater(rater)
        self._conn().execute(
            "INSERT INTO viewing (study, rater, session, page, inner_width, inner_height, dpr, screen_width,"
            " screen_height, fits, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (study, rater, session, page, view.inner_width, view.inner_height, float(view.dpr),
             view.screen_width, view.screen_height, int(bool(fits)), utc_now()))

    def viewing(self, study: str, rater: str | None = None) -> list[dict]:
        """Recorded viewing conditions (of one rater or all), oldest first."""
        sql = ("SELECT rater, session, page, inner_width, inner_height, dpr, screen_width, screen_height, fits,"
               " timestamp FROM viewing WHERE study = ?")
        params: tuple = (study,)
        if rater is not None:
            sql += " AND rater = ?"
            params += (rater,)
        names = ("rater", "session", "page", "inner_width", "inner_height", "dpr", "screen_width",
                 "screen_height", "fits", "timestamp")
        return [dict(zip(names, r)) for r in self._conn().execute(sql + " ORDER BY id", params).fetchall()]

    # -- per-study secret -------------------------------------------------------------------------

    def study_secret(self, study: str) -> bytes:
        """The study's random 32-byte key for opaque item tokens (created on first use, then kept)."""
        conn = self._conn()
        sql = "SELECT secret FROM study_secrets WHERE study = ?"
        row = conn.execute(sql, (study,)).fetchone()
        if row is None:  # two servers may race here: the first insert wins, both read it back
            conn.execute("INSERT INTO study_secrets (study, secret) VALUES (?, ?) ON CONFLICT (study) DO NOTHING",
                         (study, secrets.token_hex(32)))
            row = conn.execute(sql, (study,)).fetchone()
        return bytes.fromhex(row[0])

    # -- one rater's handle -----------------------------------------------------------------------

    def for_rater(self, study: str, rater: str) -> RaterStore:
        """The store as one rater of one study sees it (:class:`RaterStore`); the rater id is checked here."""
        _check_stored_rater(rater)
        return RaterStore(self, study, rater)


@dataclass(frozen=True)
class RaterStore:
    """One rater's view of a :class:`Store` in one study: the store's per-rater calls, without ``(study, rater)``."""

    store: Store
    study: str
    rater: str

    def answered(self) -> set[int]:
        return self.store.answered(self.study, self.rater)

    def answered_items(self) -> dict[int, str]:
        return self.store.answered_items(self.study, self.rater)

    def session_answers(self, session: int) -> int:
        return self.store.session_answers(self.study, self.rater, session)

    def response_times(self) -> list[int]:
        return self.store.response_times(self.study, self.rater)

    def first_click_right(self) -> tuple[int, int]:
        return self.store.first_click_right(self.study, self.rater)

    def record(self, answer: Answer) -> bool:
        """Store ``answer`` (:meth:`Store.record`); it must be this rater's, in this study."""
        if (answer.study, answer.rater) != (self.study, self.rater):
            raise AnswerError(f"an answer of {answer.rater!r} in {answer.study!r} given to the store of "
                              f"{self.rater!r} in {self.study!r}")
        return self.store.record(answer)

    def record_miss(self, presentation: int, expected: int, score: int, response_ms: int) -> None:
        self.store.record_miss(self.study, self.rater, presentation, expected, score, response_ms)

    def misses(self, presentation: int) -> int:
        return self.store.misses(self.study, self.rater, presentation)

    def sessions(self) -> list[Session]:
        return self.store.sessions(self.study, self.rater)

    def start_session(self, number: int) -> bool:
        return self.store.start_session(self.study, self.rater, number)

    def end_session(self, number: int, reason: str) -> None:
        self.store.end_session(self.study, self.rater, number, reason)

    def record_viewing(self, session: int, page: str, view: Viewing, fits: bool) -> None:
        self.store.record_viewing(self.study, self.rater, session, page, view, fits)

    def study_secret(self) -> bytes:
        return self.store.study_secret(self.study)


_STUDY_TABLES = ("answers", "sessions", "calibration_misses", "viewing", "study_secrets", "crowd_visits")


def studies_in(path: str | os.PathLike) -> list[str]:
    """Names of the studies an existing answer file holds anything of (read-only; [] for a new path or a file
    that is not an answer file, which :class:`Store` then refuses with its own message)."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        store = Store(path, read_only=True)
    except AnswerError:  # not an answer file: opening it for writing says what it is
        return []
    try:
        conn = store._conn()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        names: set[str] = set()
        for table in _STUDY_TABLES:
            if table in tables:
                names.update(r[0] for r in conn.execute(f"SELECT DISTINCT study FROM {table}"))
        return sorted(names)
    finally:
        store.close()


def check_study_database(path: str | os.PathLike, study: str) -> None:
    """Refuse (:class:`AnswerError`, nothing written) an answer file that holds other studies but not ``study``.

    One file may hold several studies, but a file with none of this study's
    answers and some of another's is a mix-up (``--db`` of another study):
    serving this study into it, or exporting this study from it, would be wrong.
    """
    found = studies_in(path)
    if found and study not in found:
        raise AnswerError(f"answer database {path} belongs to study {', '.join(map(repr, found))}, not to "
                          f"{study!r}; give this study's answer file (default STUDY/ratings.sqlite) or a new "
                          "path. Nothing was written")


def _too_new(path: Path, version: int) -> str:
    return (f"{path} was written by a newer srbench (answer-file schema {version}, this one knows up to "
            f"{SCHEMA_VERSION}); upgrade srbench to use it")


def _sql_literal(value) -> str:
    return "NULL" if value is None else str(int(value))


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
