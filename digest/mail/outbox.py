"""The outbox: every message is stored before it is sent, then claimed, sent, retried and recorded.

A row moves queued → sending → sent / deferred / failed / cancelled. Claims are short
transactions (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite); the SMTP
conversation happens outside any transaction, and each outcome is committed (together with the
re-check of the next row, see delivery.py) before the next message is sent. So a worker killed at
any moment leaves at most its in-flight message in doubt, and its claim lapses after STALE_CLAIM,
when another worker (or its own restart) picks the row up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, make_transient_to_detached

from digest.config import Settings
from digest.db import insert_or_ignore, utcnow
from digest.mail.delivery import Batch, DeliveryStats
from digest.mail.mailbox import mailbox_key
from digest.mail.mailer import Sender, build_message, make_sender
from digest.models import OutboxMessage
from digest.services import Services

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=5)
WAITING = ("queued", "deferred")
FINAL = ("sent", "failed", "cancelled")
# Rows of confirmation and manage-link emails are what the per-address cap counts (a day's
# worth, see subscriptions.links_sent_recently): no purge may delete them sooner.
KEEP_ROWS_AT_LEAST = timedelta(days=1)

__all__ = [
    "STALE_CLAIM", "DeliveryStats", "cancel_for_subscriber", "claim", "deliver", "enqueue",
    "enqueue_many", "outbox_row", "purge_old_messages", "queue_email", "recover_stale_claims",
    "run_worker",
]


def outbox_row(
    *,
    kind: str,
    dedupe_key: str,
    to_addr: str,
    subject: str,
    message: bytes,
    now: datetime,
    subscriber_id: int | None = None,
    digest_id: int | None = None,
) -> dict[str, Any]:
    """The values of a new, queued outbox row (for `enqueue_many`)."""
    return {
        "kind": kind, "dedupe_key": dedupe_key, "to_addr": to_addr,
        "mailbox": mailbox_key(to_addr), "subject": subject,
        "message": message, "subscriber_id": subscriber_id, "digest_id": digest_id,
        "state": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }  # fmt: skip


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Store many messages (values from `outbox_row`) in one statement; the ids of those stored.

    INSERT … ON CONFLICT DO NOTHING is atomic: two processes queueing the same message (same
    dedupe_key or digest) at the same moment store it once, and neither sees an error.
    """
    if not rows:
        return []
    session.flush()
    statement = insert_or_ignore(session, OutboxMessage.__table__).returning(OutboxMessage.id)
    return list(session.execute(statement, list(rows)).scalars())


def enqueue(
    session: Session,
    *,
    kind: str,
    dedupe_key: str,
    to_addr: str,
    subject: str,
    message: bytes,
    now: datetime,
    subscriber_id: int | None = None,
    digest_id: int | None = None,
) -> OutboxMessage | None:
    """Store a message to send; None when one with this dedupe_key (or digest) is already stored."""
    row = outbox_row(
        kind=kind, dedupe_key=dedupe_key, to_addr=to_addr, subject=subject, message=message,
        now=now, subscriber_id=subscriber_id, digest_id=digest_id,
    )  # fmt: skip
    session.flush()
    statement = insert_or_ignore(session, OutboxMessage.__table__).values(**row)
    new_id = session.execute(statement.returning(OutboxMessage.id)).scalar_one_or_none()
    if new_id is None:
        return None
    # The row as stored, put in the session without reading it back (a SELECT of the whole
    # message was 5% of a sign-up); the columns not written load if someone reads them.
    stored = OutboxMessage(id=new_id, **row)
    make_transient_to_detached(stored)
    session.add(stored)
    return stored


def queue_email(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    dedupe_key: str,
    to_addr: str,
    subject: str,
    text: str,
    html: str | None,
    now: datetime,
    subscriber_id: int | None = None,
    digest_id: int | None = None,
    unsubscribe_url: str | None = None,
) -> OutboxMessage | None:
    """Build the message (Message-ID from dedupe_key) and enqueue it."""
    message = build_message(
        settings, to_addr=to_addr, subject=subject, text=text, html=html,
        message_key=dedupe_key, unsubscribe_url=unsubscribe_url, date=now,
    )
    return enqueue(
        session, kind=kind, dedupe_key=dedupe_key, to_addr=to_addr, subject=subject,
        message=message, now=now, subscriber_id=subscriber_id, digest_id=digest_id,
    )


def cancel_for_subscriber(session: Session, subscriber_id: int, *, now: datetime) -> int:
    """Cancel every unsent message to this subscriber; returns how many were cancelled."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.subscriber_id == subscriber_id,
            OutboxMessage.state.in_((*WAITING, "sending")),
        )
        .values(state="cancelled", last_error="cancelled: the address unsubscribed",
                claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def recover_stale_claims(session: Session, *, now: datetime) -> int:
    """Put `sending` rows claimed more than STALE_CLAIM ago back in the queue."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == "sending", OutboxMessage.claimed_at < now - STALE_CLAIM)
        .values(state="queued", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_old_messages(
    session: Session,
    *,
    now: datetime,
    keep_bodies: timedelta = timedelta(days=7),
    keep_rows: timedelta = timedelta(days=90),
) -> tuple[int, int]:
    """Forget finished mail: bodies after keep_bodies, transactional rows after keep_rows.

    Returns (bodies cleared, rows deleted). Only sent, failed and cancelled rows are touched, aged
    from when they finished. A row whose body is gone keeps its state, times and dedupe_key, which
    is what stops the same message being queued again. Digest rows are never deleted here: they
    belong to their Digest and go with it.
    """
    if keep_rows < KEEP_ROWS_AT_LEAST:
        raise ValueError(f"keep_rows must be at least {KEEP_ROWS_AT_LEAST}, not {keep_rows}")
    finished_at = func.coalesce(
        OutboxMessage.sent_at, OutboxMessage.claimed_at, OutboxMessage.created_at
    )
    deleted = session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.state.in_(FINAL), OutboxMessage.kind != "digest",
               finished_at < now - keep_rows)
        .execution_options(synchronize_session=False)
    )
    cleared = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state.in_(FINAL), OutboxMessage.message.is_not(None),
               finished_at < now - keep_bodies)
        .values(message=None)
        .execution_options(synchronize_session=False)
    )
    return int(cleared.rowcount), int(deleted.rowcount)  # type: ignore[attr-defined]


def deliver(
    services: Services,
    *,
    worker_id: str,
    clock: Callable[[], datetime] = utcnow,
    retry_now: bool = False,
    sender: Sender | None = None,
    batch_size: int = 50,
    max_messages: int | None = None,
    stop: threading.Event | None = None,
) -> DeliveryStats:
    """Deliver everything due until none is left (or `stop` is set), then return what happened."""
    own_sender = sender is None
    batch = Batch(services, sender or make_sender(services.settings), worker_id, clock, stop)
    try:
        if retry_now:
            with services.sessions.begin() as session:
                _make_deferred_due(session, now=clock())
        while not batch.stopped:
            limit = batch_size
            if max_messages is not None:
                limit = min(limit, max_messages - batch.stats.total)
            if limit <= 0:
                break
            with services.sessions.begin() as session:
                recover_stale_claims(session, now=clock())
                ids = claim(session, worker_id=worker_id, now=clock(), limit=limit)
            if not ids:
                break
            batch.run(ids)
    finally:
        if own_sender:
            batch.sender.close()
    return batch.stats


def claim(session: Session, *, worker_id: str, now: datetime, limit: int) -> list[int]:
    """Mark up to `limit` due rows `sending` for this worker; rows locked by others are skipped."""
    due = select(OutboxMessage.id).where(
        OutboxMessage.state.in_(WAITING), OutboxMessage.next_attempt_at <= now
    )
    ids = list(session.scalars(
        due.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # SQLite ignores it: BEGIN IMMEDIATE serializes there
    ))
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(state="sending", claimed_at=now, claimed_by=worker_id)
            .execution_options(synchronize_session=False)
        )
    return ids


def _make_deferred_due(session: Session, *, now: datetime) -> None:
    """For --retry-now: every deferred message becomes due at once."""
    session.execute(
        update(OutboxMessage)
        .where(and_(OutboxMessage.state == "deferred", OutboxMessage.next_attempt_at > now))
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def run_worker(
    services: Services,
    *,
    worker_id: str,
    stop: threading.Event,
    clock: Callable[[], datetime] = utcnow,
    idle_sleep: float = 2.0,
    sender: Sender | None = None,
) -> None:
    """Deliver queued mail until `stop` is set; stops after the message in flight."""
    log.info("worker %s started", worker_id)
    while not stop.is_set():
        try:
            stats = deliver(services, worker_id=worker_id, clock=clock, sender=sender, stop=stop)
        except OperationalError as exc:  # the database is restarting or unreachable: wait it out
            log.warning("worker %s: database unavailable (%s); retrying", worker_id, exc.orig)
            stop.wait(max(idle_sleep, 5.0))
            continue
        if stats.total:
            log.info(
                "worker %s: sent %d, deferred %d, failed %d, cancelled %d", worker_id,
                stats.sent, stats.deferred, stats.failed, stats.cancelled,
            )
        else:
            stop.wait(idle_sleep)
    log.info("worker %s stopped", worker_id)

