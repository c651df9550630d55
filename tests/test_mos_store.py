"""The MOS answer store on a real SQLite file: concurrency, replays, validation, CSV export."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import sqlite3
import sys
import threading

import pytest

from srbench.mos_app.store import CSV_COLUMNS, Answer, AnswerError, Store
from srbench.mos_app.study import StudyError

N_THREADS = 24
N_PROCS = 4
PER_WRITER = 50


def _answer(rater: str, index: int, score: int = 3, **kw) -> Answer:
    fields = dict(study="s1", rater=rater, presentation=index, item=f"set5/img{index}/bicubic",
                  method="bicubic", dataset="set5", image=f"img{index}.png", phase="rating",
                  repeat=0, score=score, response_ms=1200)
    fields.update(kw)
    return Answer(**fields)


def _write_many(path: str, rater: str, barrier=None) -> list[bool]:
    store = Store(path)
    if barrier is not None:
        barrier.wait()
    results = [store.record(_answer(rater, i, score=1 + i % 5)) for i in range(PER_WRITER)]
    # a replay of every presentation (double click / resent request) must change nothing
    results += [store.record(_answer(rater, i, score=5)) for i in range(PER_WRITER)]
    store.close()
    return results


def _proc_writer(path: str, rater: str, queue) -> None:
    queue.put(_write_many(path, rater))


def _count_rows(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT rater, presentation, score FROM answers ORDER BY rater, presentation").fetchall()


def test_concurrent_thread_writers_store_each_answer_once(tmp_path):
    db = tmp_path / "ratings.sqlite"
    Store(db)  # create the schema once, like the app does at start
    barrier = threading.Barrier(N_THREADS)
    results: dict[str, list[bool]] = {}

    def run(rater: str) -> None:
        results[rater] = _write_many(str(db), rater, barrier)

    threads = [threading.Thread(target=run, args=(f"t{k:02d}",)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == N_THREADS
    for rater, res in results.items():
        assert res[:PER_WRITER] == [True] * PER_WRITER, rater  # first answers are new
        assert res[PER_WRITER:] == [False] * PER_WRITER, rater  # replays are not
    rows = _count_rows(db)
    assert len(rows) == N_THREADS * PER_WRITER
    assert len(set((r, p) for r, p, _ in rows)) == len(rows)
    # the replay (score 5) did not overwrite the first answer
    assert all(score == 1 + p % 5 for _, p, score in rows)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_process_writers(tmp_path):
    db = tmp_path / "ratings.sqlite"
    Store(db)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_proc_writer, args=(str(db), f"p{k}", queue)) for k in range(N_PROCS)]
    for p in procs:
        p.start()
    outs = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for res in outs:
        assert sum(res) == PER_WRITER
    rows = _count_rows(db)
    assert len(rows) == N_PROCS * PER_WRITER
    assert len(set((r, p) for r, p, _ in rows)) == len(rows)


def test_record_reports_new_and_duplicate(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    assert store.record(_answer("r1", 0, score=2)) is True
    assert store.record(_answer("r1", 0, score=4)) is False
    assert store.record(_answer("r2", 0, score=4)) is True  # another rater, same index
    assert store.answered("s1", "r1") == {0}
    assert store.progress("s1") == {"r1": 1, "r2": 1}
    assert [r["score"] for r in store.rows("s1")] == [2, 4]


@pytest.mark.parametrize("bad", [0, 6, -1, 3.0, "3", True, None])
def test_out_of_range_or_non_integer_score_is_refused_and_not_written(tmp_path, bad):
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(AnswerError, match="score must be an integer 1..5"):
        store.record(_answer("r1", 0, score=bad))
    assert store.rows() == []


@pytest.mark.parametrize("rater", ["", "a b", "../etc", "x" * 33, "r1'; DROP TABLE answers;--", "é"])
def test_invalid_rater_id_is_refused_and_not_written(tmp_path, rater):
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(StudyError, match="invalid rater id"):
        store.record(_answer(rater, 0))
    assert store.rows() == []


def test_bad_phase_and_negative_fields_are_refused(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(AnswerError, match="phase"):
        store.record(_answer("r1", 0, phase="practice"))
    with pytest.raises(AnswerError, match="response_ms"):
        store.record(_answer("r1", 0, response_ms=-5))
    with pytest.raises(AnswerError, match="presentation"):
        store.record(_answer("r1", -1))
    assert store.rows() == []


def test_csv_export_long_format(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    store.record(_answer("r1", 0, score=1, phase="calibration", method="nearest"))
    store.record(_answer("r1", 1, score=5, repeat=1))
    store.record(_answer("r2", 0, score=3, study="other"))
    out = tmp_path / "out" / "ratings.csv"
    assert store.export_csv(out, "s1") == 2
    text = out.read_text()
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert text.splitlines()[0] == ("study,rater,item,method,dataset,image,phase,repeat,score,response_ms,timestamp,"
                                    "session,attempts,view_ms,expected_low,expected_high")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["phase"], r["method"], r["repeat"], r["score"]) for r in rows] == [
        ("calibration", "nearest", "0", "1"), ("rating", "bicubic", "1", "5")]
    assert all(r["timestamp"].endswith("+00:00") and "T" in r["timestamp"] for r in rows)
    assert all(r["response_ms"] == "1200" for r in rows)


def _delete_journal_db(path) -> None:
    """A MOS answer file in rollback-journal mode (e.g. copied with sqlite3 .backup)."""
    store = Store(path)
    store.record(_answer("r1", 0, score=2))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")


def test_read_only_store_reads_without_changing_the_file(tmp_path):
    db = tmp_path / "copy of ratings é.sqlite"
    _delete_journal_db(db)
    before = db.read_bytes()
    store = Store(db, read_only=True)
    assert [r["score"] for r in store.rows()] == [2]
    store.close()
    assert db.read_bytes() == before  # journal mode not switched to WAL, nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == [db.name]  # no -wal/-shm left behind


def test_read_only_store_refuses_missing_foreign_and_non_sqlite_files(tmp_path):
    with pytest.raises(AnswerError, match="not found"):
        Store(tmp_path / "absent.sqlite", read_only=True)
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)
    with pytest.raises(AnswerError, match="not a readable SQLite database"):
        Store(junk, read_only=True)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(AnswerError, match="no 'answers' table"):
        Store(other, read_only=True)
    with sqlite3.connect(other) as conn:  # and the foreign database was not given an answers table
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]


def test_export_csv_to_a_folder_or_unwritable_place_is_a_clear_error(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    store.record(_answer("r1", 0))
    with pytest.raises(AnswerError, match="is a folder"):
        store.export_csv(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AnswerError, match="cannot write"):
        store.export_csv(blocker / "sub" / "ratings.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "r.sqlite", "r.sqlite-shm", "r.sqlite-wal"]


# -- schema version 2: migration of version-0 files, refusal of others ------------------------------------

V0_SCHEMA = """
CREATE TABLE answers (
    study TEXT NOT NULL, rater TEXT NOT NULL, presentation INTEGER NOT NULL CHECK (presentation >= 0),
    item TEXT NOT NULL, method TEXT NOT NULL, dataset TEXT NOT NULL, image TEXT NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('calibration', 'rating')), repeat INTEGER NOT NULL CHECK (repeat >= 0),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5), response_ms INTEGER NOT NULL CHECK (response_ms >= 0),
    timestamp TEXT NOT NULL, UNIQUE (study, rater, presentation))
"""


def _v0_file(path, raters=("Alice", "bob")):
    """An answer file as the first MOS app wrote it (schema 0: no session/attempts/view_ms, ids kept as typed)."""
    with sqlite3.connect(path) as conn:
        conn.execute(V0_SCHEMA)
        for k, rater in enumerate(raters):
            conn.execute("INSERT INTO answers VALUES ('s1', ?, ?, 'set5/a/hr', 'hr', 'set5', 'a.png', 'rating', 0, 4, 900,"
                         " '2026-01-01T00:00:00.000+00:00')", (rater, k))
    return path


def test_version0_file_is_read_as_is_and_migrated_when_opened_for_writing(tmp_path):
    db = _v0_file(tmp_path / "old.sqlite")
    before = db.read_bytes()
    ro = Store(db, read_only=True)
    assert [(r["rater"], r["session"], r["attempts"], r["view_ms"]) for r in ro.rows()] == [
        ("Alice", 0, 1, None), ("bob", 0, 1, None)]
    ro.close()
    assert db.read_bytes() == before  # reading never migrates
    store = Store(db)
    assert store.schema_version() == 3
    assert [(r["rater"], r["session"], r["attempts"]) for r in store.rows()] == [("alice", 0, 1), ("bob", 0, 1)]
    assert store.record(_answer("alice", 1, session=2, attempts=1, view_ms=2100)) is True
    assert store.record(_answer("alice", 0)) is False  # the migrated answer keeps its unique key
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"answers", "sessions", "calibration_misses", "viewing", "study_secrets"} <= tables
    assert Store(db).schema_version() == 3  # reopening is a no-op


def test_version0_file_with_ids_differing_only_in_case_is_refused_unchanged(tmp_path):
    db = _v0_file(tmp_path / "old.sqlite", raters=("Alice", "alice"))
    before = db.read_bytes()
    with pytest.raises(AnswerError, match="Alice and alice.*differ only in case"):
        Store(db)
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0


def test_newer_or_foreign_files_are_refused(tmp_path):
    newer = tmp_path / "newer.sqlite"
    Store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 9")
    with pytest.raises(AnswerError, match="newer srbench"):
        Store(newer)
    with pytest.raises(AnswerError, match="newer srbench"):
        Store(newer, read_only=True)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(AnswerError, match="something else"):
        Store(foreign)
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]


def test_mixed_case_rater_ids_are_not_stored(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(AnswerError, match="lower case"):
        store.record(_answer("Alice", 0))
    with pytest.raises(AnswerError, match="attempts"):
        store.record(_answer("alice", 0, attempts=0))
    with pytest.raises(AnswerError, match="view_ms"):
        store.record(_answer("alice", 0, view_ms=-3))
    assert store.rows() == []


def test_sessions_misses_viewing_and_secret(tmp_path):
    from srbench.mos_app.store import Viewing

    store = Store(tmp_path / "r.sqlite")
    assert store.start_session("s1", "r1", 1) is True and store.start_session("s1", "r1", 1) is False
    store.end_session("s1", "r1", 1, "items")
    store.end_session("s1", "r1", 1, "time")  # the first end is kept
    assert [(s.number, s.ended_at is not None, s.end_reason) for s in store.sessions("s1", "r1")] == [(1, True, "items")]
    store.record_miss("s1", "r1", 0, expected=1, score=4, response_ms=2500)
    assert store.misses("s1", "r1", 0) == 1 and store.misses("s1", "r1", 1) == 0
    with pytest.raises(AnswerError, match="score"):
        store.record_miss("s1", "r1", 0, expected=1, score=9, response_ms=2500)
    store.record_viewing("s1", "r1", 1, "rating", Viewing(1280, 720, 2.0, 1920, 1080), True)
    assert store.viewing("s1")[0]["dpr"] == 2.0
    secret = store.study_secret("s1")
    assert len(secret) == 32 and Store(tmp_path / "r.sqlite").study_secret("s1") == secret
    assert store.study_secret("s2") != secret
    with sqlite3.connect(tmp_path / "r.sqlite") as conn:  # the answer file holds the secret, the export does not
        assert conn.execute("SELECT COUNT(*) FROM study_secrets").fetchone()[0] == 2
    assert "secret" not in store.to_csv()


# ---------------------------------------------------------------- one Store shared as the app shares it
# mos_app/app.py keeps ONE Store per server (st.cache_resource) and Streamlit runs every browser
# session's script in its own thread; `srbench mos serve` may also fork. The tests above give each
# writer its own Store; these share one.

def test_one_store_shared_by_session_threads(tmp_path):
    db = tmp_path / "ratings.sqlite"
    store = Store(db)  # the app's single instance
    start, end = threading.Barrier(N_THREADS), threading.Barrier(N_THREADS)
    results: dict[str, list[bool]] = {}
    connections: dict[str, int] = {}
    errors: list[BaseException] = []

    def session(rater: str) -> None:
        try:
            start.wait()
            results[rater] = [store.record(_answer(rater, i, score=1 + i % 5)) for i in range(PER_WRITER)]
            results[rater] += [store.record(_answer(rater, i, score=5)) for i in range(PER_WRITER)]  # replays
            connections[rater] = id(store._conn())
            end.wait()  # all threads alive together, so no connection object is freed and its id reused
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
            start.abort()
            end.abort()

    threads = [threading.Thread(target=session, args=(f"t{k:02d}",)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for rater, res in results.items():
        assert res == [True] * PER_WRITER + [False] * PER_WRITER, rater
    assert len(set(connections.values())) == N_THREADS  # one connection per thread
    rows = _count_rows(db)
    assert len(rows) == N_THREADS * PER_WRITER  # 0 lost
    assert len({(r, p) for r, p, _ in rows}) == len(rows)  # 0 duplicated
    assert all(score == 1 + p % 5 for _, p, score in rows)  # no replay overwrote an answer


def _forked_writer(store: Store, rater: str, inherited_conn_id: int, queue) -> None:
    """Runs in a fork of the test process with the parent's Store object (not a new one)."""
    try:
        before = store._local.conn  # the connection object inherited from the parent
        results = [store.record(_answer(rater, i)) for i in range(PER_WRITER)]
        queue.put((rater, results, store._local.conn is not before and id(before) == inherited_conn_id,
                   store._local.pid == os.getpid()))
    except BaseException as exc:
        queue.put((rater, repr(exc), False, False))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_one_store_reopens_its_connection_after_fork(tmp_path):
    db = tmp_path / "ratings.sqlite"
    store = Store(db)
    assert store.record(_answer("parent", 0))  # the parent's connection is open when it forks
    parent_conn = store._local.conn
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_forked_writer, args=(store, f"child{k}", id(parent_conn), queue)) for k in range(N_PROCS)]
    for p in procs:
        p.start()
    parent = [store.record(_answer("parent", i)) for i in range(1, PER_WRITER)]  # while the children write
    outs = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for rater, results, reopened, own_pid in outs:
        assert results == [True] * PER_WRITER, (rater, results)
        assert reopened and own_pid, rater  # the child opened its own connection
    assert parent == [True] * (PER_WRITER - 1) and store._local.conn is parent_conn  # the parent's still works
    rows = _count_rows(db)
    assert len(rows) == (N_PROCS + 1) * PER_WRITER and len({(r, p) for r, p, _ in rows}) == len(rows)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_rater_handle_reads_and_writes_only_that_rater_in_that_study(tmp_path):
    """``Store.for_rater``: the per-rater calls without ``(study, rater)``; another rater's answer is refused."""
    store = Store(tmp_path / "r.sqlite")
    ann, bob = store.for_rater("s1", "ann"), store.for_rater("s1", "bob")
    assert ann.record(_answer("ann", 0)) and bob.record(_answer("bob", 1))
    assert ann.answered() == {0} and bob.answered() == {1}
    assert store.for_rater("s2", "ann").answered() == set()
    with pytest.raises(AnswerError, match="'bob' in 's1' given to the store of 'ann'"):
        ann.record(_answer("bob", 2))
    with pytest.raises(AnswerError, match="'ann' in 's2'"):
        ann.record(_answer("ann", 3, study="s2"))
    assert store.answered("s1", "bob") == {1} and store.answered("s2", "ann") == set()
    assert ann.start_session(1) and not ann.start_session(1)
    ann.record_miss(5, 1, 4, 900)
    assert [s.number for s in ann.sessions()] == [1] and bob.sessions() == []
    assert ann.misses(5) == 1 and bob.misses(5) == 0
    assert ann.study_secret() == store.study_secret("s1") != store.study_secret("s2")
    with pytest.raises(StudyError):
        store.for_rater("s1", "no spaces allowed")
