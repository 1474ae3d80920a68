"""SQLite writers of one process queue on a Python lock rather than SQLite's busy polling (db.py).

The lock is taken at BEGIN IMMEDIATE and released the moment the transaction commits or rolls
back, whatever ended it; readers never take it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from digest.db import make_engine, make_read_factory, make_session_factory, reading


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/writers.db")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine
    engine.dispose()


def writer_lock(engine) -> threading.Lock:
    with engine.connect() as connection:
        return type(connection.connection.dbapi_connection).writer_lock


def test_concurrent_writers_all_commit(engine) -> None:
    sessions = make_session_factory(engine)

    def write(n: int) -> None:
        for _ in range(20):
            with sessions.begin() as session:
                session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 160
    assert not writer_lock(engine).locked()


def test_the_lock_is_held_for_a_write_and_released_by_commit_or_error(engine) -> None:
    sessions = make_session_factory(engine)
    lock = writer_lock(engine)
    with sessions.begin() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(RuntimeError), sessions.begin() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("the transaction fails")
    assert not lock.locked()
    with pytest.raises(Exception, match="no such table"), sessions.begin() as session:
        session.execute(text("INSERT INTO missing VALUES (3)"))
    assert not lock.locked()


def test_readers_do_not_take_the_lock(engine) -> None:
    lock = writer_lock(engine)
    with reading(make_session_factory(engine)) as session:
        session.execute(text("SELECT count(*) FROM t"))
        assert not lock.locked()
    with make_read_factory(engine)() as session:
        session.execute(text("SELECT count(*) FROM t"))
        assert not lock.locked()


def test_two_engines_on_one_file_share_the_lock(engine, tmp_path) -> None:
    other = make_engine(f"sqlite:///{tmp_path}/./writers.db")
    try:
        assert writer_lock(other) is writer_lock(engine)
    finally:
        other.dispose()
