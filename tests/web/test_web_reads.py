"""Pages that only read never take, or wait for, SQLite's write lock (issue 8, item 1a).

A writer holds BEGIN IMMEDIATE on another connection for a few seconds; every read-only page must
answer while it does. Before the fix every transaction began IMMEDIATE and waited for the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

import pytest
from web_support import add_paper, add_subscriber, make_app

from digest.db import make_read_factory
from digest.models import Digest
from digest.tokens import Tokens

HOLD_SECONDS = 4.0
FAST_SECONDS = 1.5


@pytest.fixture
def sqlite_only(engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never wait for a writer; the write lock is SQLite's")


@contextmanager
def write_lock_held(engine) -> Iterator[None]:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE) until the block ends."""
    connection = engine.raw_connection()
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        cursor.execute("ROLLBACK")
        connection.close()


def timed(call) -> tuple[float, object]:
    """Run `call` in a thread; how long it took (capped at HOLD_SECONDS) and what it returned."""
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(FAST_SECONDS)
    elapsed = time.monotonic() - start
    return elapsed, out[0] if out else None


def test_a_read_session_does_not_wait_for_the_write_lock(engine, sessions, sqlite_only) -> None:
    from sqlalchemy import text

    reads = make_read_factory(engine)
    with write_lock_held(engine):
        def read() -> int:
            with reads.begin() as session:
                return int(session.scalar(text("SELECT 1")))

        elapsed, value = timed(read)
    assert value == 1 and elapsed < FAST_SECONDS


def test_read_only_pages_answer_while_a_writer_holds_the_lock(
    services, clock, engine, sqlite_only
) -> None:
    app = make_app(services, clock, WTF_CSRF_ENABLED=False)
    stored = add_subscriber(services.sessions, clock(), status="pending")
    add_paper(services.sessions, "p1", "Robot learning", clock() - timedelta(days=1))
    with services.sessions.begin() as session:
        digest = Digest(
            subscriber_id=stored.id, scheduled_for=clock(), window_start=clock(),
            window_end=clock(), keywords="robot*",
        )
        session.add(digest)
        session.flush()
        digest_id = digest.id
    tokens = Tokens(services.settings.secret_key)
    pages = {
        "/healthz": "GET",
        "/": "GET",
        f"/confirm/{tokens.make('confirm', stored)}": "GET",
        f"/manage/{tokens.make('manage', stored)}": "GET",
        f"/manage/{tokens.make('manage', stored)}/delete": "GET",
        f"/unsubscribe/{tokens.make('unsubscribe', stored)}": "GET",
        f"/digest/{tokens.make('digest', stored, digest_id)}": "GET",
        "/check": "POST",
    }
    slow = {}
    with write_lock_held(engine):
        for url, method in pages.items():
            client = app.test_client()
            data = {"keywords": "robot*"} if method == "POST" else None
            request = partial(client.open, url, method=method, data=data)
            elapsed, answer = timed(request)
            if answer is None or answer.status_code != 200 or elapsed >= FAST_SECONDS:
                slow[url.split("/")[1]] = round(elapsed, 2)
    assert slow == {}
