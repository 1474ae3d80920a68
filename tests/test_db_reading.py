"""`db.reading`: read-only units of work (the personal feed's) never wait for a writer on
SQLite, and cannot write on PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from digest.db import reading
from digest.models import Subscriber


def test_a_reader_does_not_wait_for_a_writer(engine, sessions) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the deferred BEGIN is SQLite's; PostgreSQL readers never wait for writers")
    with engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE: holds SQLite's write lock until rolled back
        writer.execute(text("UPDATE subscribers SET paused = paused"))
        started = time.monotonic()
        with reading(sessions) as session:
            assert session.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert time.monotonic() - started < 5  # a BEGIN IMMEDIATE would wait 30 s, then fail
        writer.rollback()


def test_a_write_in_a_reading_session_fails_on_postgresql(engine, sessions) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("READ ONLY transactions are PostgreSQL's")
    with pytest.raises(DBAPIError, match="read-only"), reading(sessions) as session:
        session.execute(text("UPDATE subscribers SET paused = paused"))
