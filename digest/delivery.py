"""Sending one claimed batch: re-check each row, hand it to the sender, record the outcome.

Each step is its own short transaction, and the SMTP conversation happens between them, outside
any transaction. A row is re-checked just before it is sent, so a subscriber who unsubscribed
after the batch was claimed gets nothing, and a claim that lapsed meanwhile is left alone.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from digest.mailer import ConnectionFailure, PermanentFailure, Sender, TemporaryFailure
from digest.models import OutboxMessage, Subscriber
from digest.services import Services

log = logging.getLogger(__name__)

RETRY_FOR = timedelta(hours=20)
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
HARD_FAILURE_LIMIT = 3


@dataclass
class DeliveryStats:
    """What one delivery run did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """Messages handled, whatever their outcome."""
        return self.sent + self.deferred + self.failed + self.cancelled

    def count(self, state: str | None) -> None:
        """Add one message that ended in `state` (None: someone else's, not counted)."""
        if state in ("sent", "deferred", "failed", "cancelled"):
            setattr(self, state, getattr(self, state) + 1)


@dataclass(frozen=True)
class Job:
    """One message about to be handed to the sender."""

    id: int
    to_addr: str
    message: bytes


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Wait before the next try after `attempts` tries: 1 minute doubling, at most 1 hour."""
    base = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 16))
    # Jitter spreads the retries of a batch that failed together (say, a server restart).
    return base * (rng or random).uniform(0.8, 1.0)


class Batch:
    """Sends claimed rows one by one for one worker, counting outcomes into `stats`."""

    def __init__(
        self,
        services: Services,
        sender: Sender,
        worker_id: str,
        clock: Callable[[], datetime],
        stop: threading.Event | None = None,
    ) -> None:
        self.sessions = services.sessions
        self.from_addr = services.settings.mail_from_address.addr_spec
        self.sender = sender
        self.worker_id = worker_id
        self.clock = clock
        self.stop = stop
        self.stats = DeliveryStats()
        self.rng = random.Random()

    @property
    def stopped(self) -> bool:
        """Whether a stop was asked for."""
        return self.stop is not None and self.stop.is_set()

    def run(self, ids: list[int]) -> None:
        """Send each claimed row; after a stop, hand the unsent rest back to the queue."""
        down: TemporaryFailure | None = None
        # One connection for the batch, but a short transaction per step; nothing is held open
        # while the SMTP server is talking.
        with self.sessions() as session:
            for index, row_id in enumerate(ids):
                session.expunge_all()  # every step reads fresh rows, never cached ones
                if self.stopped:
                    with session.begin():
                        release(session, ids[index:], worker_id=self.worker_id)
                    return
                with session.begin():
                    job = prepare(session, row_id, worker_id=self.worker_id, now=self.clock())
                if not isinstance(job, Job):
                    self.stats.count(job)
                    continue
                # Once no connection could be opened, the rest of the batch is deferred untried.
                error = down or self._send(job)
                if isinstance(error, ConnectionFailure):
                    down = error
                with session.begin():
                    state = record(session, job.id, error, now=self.clock(), rng=self.rng)
                self.stats.count(state)

    def _send(self, job: Job) -> TemporaryFailure | PermanentFailure | None:
        try:
            self.sender.send(self.from_addr, job.to_addr, job.message)
        except (TemporaryFailure, PermanentFailure) as exc:
            log.info("message %d to %s: %s", job.id, job.to_addr, exc)
            return exc
        return None


def prepare(session: Session, row_id: int, *, worker_id: str, now: datetime) -> Job | str | None:
    """Check a claimed row just before sending and count the attempt.

    Returns the Job to send, or the state the row was put in instead ("cancelled", "failed"),
    or None when the row is no longer ours (its claim lapsed, or it was deleted).
    """
    row = session.get(OutboxMessage, row_id, with_for_update=True)
    if row is None or row.state != "sending" or row.claimed_by != worker_id:
        return None
    reason = _cancel_reason(session, row)
    if reason is not None:
        row.state, row.last_error = "cancelled", reason
        return "cancelled"
    if not row.message:
        log.error("outbox row %d has no message to send", row.id)
        row.state, row.last_error = "failed", "no message was stored for this row"
        return "failed"
    row.attempts += 1
    row.first_attempt_at = row.first_attempt_at or now
    row.claimed_at = now  # the claim runs from the start of this send, not of the batch
    return Job(id=row.id, to_addr=row.to_addr, message=bytes(row.message))


def _cancel_reason(session: Session, row: OutboxMessage) -> str | None:
    """Why this row must not be sent any more, or None."""
    if row.subscriber_id is None:
        return None
    subscriber = session.get(Subscriber, row.subscriber_id)
    if subscriber is None:
        return "cancelled: the subscriber was deleted"
    if subscriber.status == "unsubscribed":
        # Mail queued before the unsubscribe never goes out; a confirmation asked for later
        # (the person subscribing again) does.
        since = subscriber.unsubscribed_at
        if row.kind == "digest" or since is None or row.created_at <= since:
            return "cancelled: the address unsubscribed"
    if row.kind == "digest" and subscriber.status != "confirmed":
        return f"cancelled: the subscriber is {subscriber.status}"
    return None


def record(
    session: Session,
    row_id: int,
    error: TemporaryFailure | PermanentFailure | None,
    *,
    now: datetime,
    rng: random.Random | None = None,
) -> str | None:
    """Store the outcome of one send; returns the row's new state."""
    if error is None:
        return _record_sent(session, row_id, now=now)
    row = session.get(OutboxMessage, row_id, with_for_update=True)
    if row is None:
        return None
    if row.state in ("sent", "cancelled"):  # decided meanwhile by another worker or an unsubscribe
        return row.state
    if isinstance(error, PermanentFailure):
        row.state, row.last_error = "failed", str(error)
        if error.about_recipient and row.subscriber_id is not None:
            _count_hard_failure(session, row.subscriber_id, now=now)
        return "failed"
    first = row.first_attempt_at or now
    if now - first >= RETRY_FOR:
        row.state, row.last_error = "failed", f"gave up after 20 hours: {error}"
        return "failed"
    row.state, row.last_error = "deferred", str(error)
    row.next_attempt_at = min(now + backoff(row.attempts, rng), first + RETRY_FOR)
    return "deferred"


def _record_sent(session: Session, row_id: int, *, now: datetime) -> str | None:
    """Mark a row sent (one statement: this is the common case) and forgive past bounces."""
    subscriber_ids = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(state="sent", sent_at=now, last_error=None)
        .returning(OutboxMessage.subscriber_id)
        .execution_options(synchronize_session=False)
    ).all()
    if not subscriber_ids:
        return None
    if subscriber_ids[0][0] is not None:
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_ids[0][0], Subscriber.hard_failures != 0)
            .values(hard_failures=0)
            .execution_options(synchronize_session=False)
        )
    return "sent"


def _count_hard_failure(session: Session, subscriber_id: int, *, now: datetime) -> None:
    """One more permanent refusal in a row; the third suspends a confirmed subscriber."""
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None:
        return
    subscriber.hard_failures = (subscriber.hard_failures or 0) + 1
    if subscriber.hard_failures >= HARD_FAILURE_LIMIT and subscriber.status == "confirmed":
        subscriber.status, subscriber.suspended_at = "suspended", now
        log.warning("subscriber %d suspended after %d hard failures in a row",
                    subscriber_id, subscriber.hard_failures)


def release(session: Session, ids: list[int], *, worker_id: str) -> None:
    """Give rows claimed but not attempted back to the queue (a worker stopping cleanly)."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.state == "sending",
            OutboxMessage.claimed_by == worker_id,
        )
        .values(state="queued", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
