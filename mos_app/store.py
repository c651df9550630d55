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
  :data:`srbench.mos_app.study.RATER_ID_RE` before anything is written.
* ``Store(path, read_only=True)`` (export, report) opens an existing answer
  file without changing it: no schema, no journal-mode switch, and a clear
  :class:`AnswerError` for a missing file, a non-SQLite file or a SQLite file
  that holds no ``answers`` table.

:data:`CSV_COLUMNS` is the long format shared with the report
(``study,rater,item,method,dataset,image,phase,repeat,score,response_ms,timestamp``).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .study import StudyError, check_rater_id
from srbench.atomicio import write_atomic
from srbench.schema import RATING_COLUMNS

CSV_COLUMNS = RATING_COLUMNS
PHASES = ("calibration", "rating")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    study        TEXT    NOT NULL,
    rater        TEXT    NOT NULL,
    presentation INTEGER NOT NULL CHECK (presentation >= 0),
    item         TEXT    NOT NULL,
    method       TEXT    NOT NULL,
    dataset      TEXT    NOT NULL,
    image        TEXT    NOT NULL,
    phase        TEXT    NOT NULL CHECK (phase IN ('calibration', 'rating')),
    repeat       INTEGER NOT NULL CHECK (repeat >= 0),
    score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    response_ms  INTEGER NOT NULL CHECK (response_ms >= 0),
    timestamp    TEXT    NOT NULL,
    UNIQUE (study, rater, presentation)
)
"""


class AnswerError(StudyError):
    """An answer that must not be stored (score out of range, bad phase, bad rater id)."""


@dataclass(frozen=True)
class Answer:
    """One rating: ``score`` 1..5 (ITU ACR: bad, poor, fair, good, excellent), ``response_ms`` >= 0."""

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

    def validate(self) -> None:
        """Raise :class:`AnswerError` unless every field is within its range."""
        check_rater_id(self.rater)
        if not isinstance(self.score, int) or isinstance(self.score, bool) or not 1 <= self.score <= 5:
            raise AnswerError(f"score must be an integer 1..5, got {self.score!r}")
        if self.phase not in PHASES:
            raise AnswerError(f"phase must be one of {PHASES}, got {self.phase!r}")
        for name in ("presentation", "repeat", "response_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise AnswerError(f"{name} must be a non-negative integer, got {value!r}")


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
        if read_only:
            self._check_readable()
        else:
            with self._conn() as conn:
                conn.execute(_SCHEMA)

    def _check_readable(self) -> None:
        """For ``read_only``: the file exists, is SQLite and holds the ``answers`` table."""
        if not self.path.is_file():
            raise AnswerError(f"answer database {self.path} not found")
        try:
            found = self._conn().execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise AnswerError(f"{self.path} is not a readable SQLite database ({exc})") from exc
        if found is None:
            self.close()
            raise AnswerError(f"{self.path} is a SQLite database but not a MOS answer file (no 'answers' table)")

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

    def record(self, answer: Answer) -> bool:
        """Store ``answer`` now; return True if it was new, False if that presentation was already answered.

        Raises :class:`AnswerError` (and writes nothing) for an invalid answer.
        """
        answer.validate()
        cur = self._conn().execute(
            "INSERT INTO answers (study, rater, presentation, item, method, dataset, image, phase,"
            " repeat, score, response_ms, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (study, rater, presentation) DO NOTHING",
            (answer.study, answer.rater, answer.presentation, answer.item, answer.method,
             answer.dataset, answer.image, answer.phase, answer.repeat, answer.score,
             answer.response_ms, utc_now()),
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

    def progress(self, study: str) -> dict[str, int]:
        """Number of answers per rater in ``study`` (raters with none are absent)."""
        rows = self._conn().execute(
            "SELECT rater, COUNT(*) FROM answers WHERE study = ? GROUP BY rater ORDER BY rater", (study,)
        )
        return dict(rows.fetchall())

    def rows(self, study: str | None = None) -> list[dict]:
        """Every answer (of ``study``, or all) as dicts with keys :data:`CSV_COLUMNS`, in insertion order."""
        sql = f"SELECT {', '.join(CSV_COLUMNS)} FROM answers"
        params: tuple = ()
        if study is not None:
            sql += " WHERE study = ?"
            params = (study,)
        cur = self._conn().execute(sql + " ORDER BY rowid", params)
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


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
