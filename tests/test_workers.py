"""`digest worker` processes: a killed worker loses nothing, a stopped one finishes cleanly, and
several workers on PostgreSQL share the outbox without sending anything twice (SPEC §7, §9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import empty_tables, postgres_url, require
from sqlalchemy import func, insert, select, update

from digest.db import make_engine, make_session_factory, upgrade, utcnow
from digest.models import OutboxMessage

DIGEST = Path(sys.executable).with_name("digest")


def tiny_message(n: int) -> bytes:
    return (
        f"From: digest@example.org\r\nTo: r{n}@example.com\r\nSubject: m{n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\n\r\nhello\r\n"
    ).encode()


def queue_many(sessions, count: int) -> None:
    """Queue `count` tiny messages in one statement (what `digest send` would have stored)."""
    now = utcnow()
    rows = [
        {"kind": "notice", "dedupe_key": f"m{n}", "to_addr": f"r{n}@example.com",
         "subject": f"m{n}", "message": tiny_message(n), "state": "queued", "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for n in range(count)
    ]
    with sessions.begin() as session:
        session.execute(insert(OutboxMessage), rows)


def count(sessions, *states: str) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(OutboxMessage)
        return session.scalar(query.where(OutboxMessage.state.in_(states)) if states else query)


def worker_env(base: dict[str, str], smtp_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {**env, **base, "DIGEST_SMTP_URL": smtp_url,
            "DIGEST_MAIL_FROM": "Paper Digest <digest@example.org>"}


def start_worker(env: dict[str, str], name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(DIGEST), "worker", "--id", name, "--idle-sleep", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, as a service manager would; returns the worker's log."""
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=30)
    assert process.returncode == 0, log
    return log


def test_a_killed_worker_loses_nothing_and_duplicates_at_most_its_message_in_flight(
    sessions, smtp_server, cli_env
) -> None:
    total = 300
    queue_many(sessions, total)
    env = worker_env(cli_env, smtp_server.url + "&rate=150")
    first = start_worker(env, "first")
    wait_until(lambda: len(smtp_server.messages) >= 75, 60, "the first worker sent 75")
    first.kill()  # SIGKILL: no clean-up at all
    first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    stranded = count(sessions, "sending")
    assert stranded > 0, "the worker was killed between batches; the test proves nothing"

    # The killed worker's claims lapse 5 minutes after they were made. Rather than wait, the
    # claims are made to look 6 minutes old (the restarted worker runs on the real clock).
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.state == "sending")
                        .values(claimed_at=utcnow() - timedelta(minutes=6)))
    second = start_worker(env, "second")
    wait_until(lambda: count(sessions, "sent") == total, 60, "every message is sent")
    log = stop(second)

    arrivals = smtp_server.message_ids()
    assert len(arrivals) == total  # nothing lost
    assert sum(arrivals.values()) - total <= 1  # at most the one message in flight twice
    assert "stopped" in log
    if sessions.kw["bind"].dialect.name == "sqlite":
        assert "only one worker at a time" in log


def test_sigterm_stops_a_worker_after_the_message_in_flight(sessions, smtp_server,
                                                            cli_env) -> None:
    queue_many(sessions, 200)
    worker = start_worker(worker_env(cli_env, smtp_server.url + "&rate=40"), "w")
    wait_until(lambda: len(smtp_server.messages) >= 5, 60, "the worker started sending")
    log = stop(worker)
    assert "SIGTERM received" in log
    assert count(sessions, "sending") == 0  # unsent claims were handed back
    assert count(sessions, "sent") == len(smtp_server.messages) < 200
    assert count(sessions, "queued") == 200 - len(smtp_server.messages)


@pytest.mark.slow
@pytest.mark.postgres
def test_four_workers_on_postgresql_send_20000_messages_exactly_once(
    smtp_server, tmp_path
) -> None:
    url = postgres_url()
    if url is None:
        require("postgres", "DIGEST_TEST_POSTGRES_URL is not set")
        return
    upgrade(url)
    engine = make_engine(url)
    try:
        empty_tables(engine)
        sessions = make_session_factory(engine)
        total = 20_000
        queue_many(sessions, total)
        env = worker_env(
            {"DIGEST_DATABASE_URL": url, "DIGEST_SECRET_KEY": "k",
             "DIGEST_INSTANCE_PATH": str(tmp_path)},
            smtp_server.url,
        )
        workers = [start_worker(env, f"worker-{n}") for n in range(4)]
        try:
            wait_until(lambda: count(sessions, "sent") == total, 600, "20,000 messages are sent")
        finally:
            for worker in workers:
                stop(worker)
        arrivals = smtp_server.message_ids()
        assert len(arrivals) == total and set(arrivals.values()) == {1}
        with sessions() as session:
            shares = dict(session.execute(
                select(OutboxMessage.claimed_by, func.count()).group_by(OutboxMessage.claimed_by)
            ).all())
        assert sorted(shares) == [f"worker-{n}" for n in range(4)], shares
    finally:
        empty_tables(engine)
        engine.dispose()
