"""Sending one claimed batch: re-check each row, hand it to the sender, record the outcome.

The SMTP conversation happens between transactions, never inside one. After each send, one
short transaction records that message's outcome and prepares the next one (re-checks it and
counts the attempt); it commits before the next message goes out. So the outcome of every message
but the one in flight is always stored, and a worker killed at any moment re-sends at most that
one. The re-check sees the row and its subscriber as they are just before the send: a subscriber
who unsubscribed after the batch was claimed gets nothing, and a claim that lapsed meanwhile is
left to its new owner.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from digest.db import UTCDateTime
from digest.mail.mailer import ConnectionFailure, PermanentFailure, Sender, TemporaryFailure
from digest.mail.verp import envelope_sender
from digest.models import OutboxMessage, Subscriber
from digest.services import Services

log = logging.getLogger(__name__)

RETRY_FOR = timedelta(hours=20)
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
HARD_FAILURE_LIMIT = 3

Error = TemporaryFailure | PermanentFailure

# The three statements every message goes through, built once (delivery is a hot loop).
_ROW_ID = bindparam("row_id", type_=Integer)
_NOW = bindparam("now", type_=UTCDateTime())
# A claimed row with its subscriber, locked (SQLite ignores FOR UPDATE: BEGIN IMMEDIATE
# serializes writers there).
_CLAIMED_ROW = (
    select(
        OutboxMessage.id, OutboxMessage.state, OutboxMessage.claimed_by, OutboxMessage.kind,
        OutboxMessage.created_at, OutboxMessage.to_addr, OutboxMessage.message,
        OutboxMessage.attempts, OutboxMessage.first_attempt_at, OutboxMessage.subscriber_id,
        Subscriber.id.label("subscriber_found"), Subscriber.status, Subscriber.unsubscribed_at,
        Subscriber.hard_failures, Subscriber.delivery,
    )
    .outerjoin(Subscriber, Subscriber.id == OutboxMessage.subscriber_id)
    .where(OutboxMessage.id == _ROW_ID)
    .with_for_update(of=OutboxMessage)
)
_COUNT_ATTEMPT = (
    update(OutboxMessage).where(OutboxMessage.id == _ROW_ID)
    .values(attempts=bindparam("attempts_now", type_=Integer),
            first_attempt_at=bindparam("first_now", type_=UTCDateTime()), claimed_at=_NOW)
    .execution_options(synchronize_session=False)
)
_MARK_SENT = (
    update(OutboxMessage).where(OutboxMessage.id == _ROW_ID)
    .values(state="sent", sent_at=_NOW, last_error=None)
    .execution_options(synchronize_session=False)
)


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
    subscriber_id: int | None = None
    # The subscriber's permanent failures in a row when prepared: a delivery forgives them.
    hard_failures: int = 0


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
        self.bounce_address = services.settings.bounce_address
        self.secret_key = services.settings.secret_key
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
        down: ConnectionFailure | None = None
        done: tuple[Job, Error | None] | None = None  # sent (or tried), not yet recorded
        rest = list(ids)
        # One connection for the batch, one short transaction between two sends; nothing is
        # held open while the SMTP server is talking.
        with self.sessions() as session:
            while True:
                session.expunge_all()  # every step reads fresh rows, never cached ones
                with session.begin():
                    if done is not None:
                        self.stats.count(record(session, *done, now=self.clock(), rng=self.rng))
                    job = self._next_job(session, rest)
                if job is None:
                    return
                # Once no connection could be opened, the rest of the batch is deferred untried.
                error = down or self._send(job)
                if isinstance(error, ConnectionFailure):
                    down = error
                done = (job, error)

    def _next_job(self, session: Session, rest: list[int]) -> Job | None:
        """Prepare the next row of `rest` that is to be sent (None: stopped, or none left)."""
        if self.stopped and rest:
            release(session, rest, worker_id=self.worker_id)
            rest.clear()
        while rest:
            job = prepare(session, rest.pop(0), worker_id=self.worker_id, now=self.clock())
            if isinstance(job, Job):
                return job
            self.stats.count(job)
        return None

    def envelope_from(self, job: Job) -> str:
        """MAIL FROM: the VERP form of DIGEST_BOUNCE_ADDRESS naming this row, else From."""
        if self.bounce_address is None:
            return self.from_addr
        return envelope_sender(self.bounce_address, self.secret_key, job.id)

    def _send(self, job: Job) -> Error | None:
        try:
            self.sender.send(self.envelope_from(job), job.to_addr, job.message)
        except (TemporaryFailure, PermanentFailure) as exc:
            log.info("message %d to %s: %s", job.id, job.to_addr, exc)
            return exc
        return None


def prepare(session: Session, row_id: int, *, worker_id: str, now: datetime) -> Job | str | None:
    """Check a claimed row just before sending and count the attempt.

    Returns the Job to send, or the state the row was put in instead ("cancelled", "failed"),
    or None when the row is no longer ours (its claim lapsed, or it was deleted).
    """
    row = session.execute(_CLAIMED_ROW, {"row_id": row_id}).one_or_none()
    if row is None or row.state != "sending" or row.claimed_by != worker_id:
        return None
    reason = _cancel_reason(row)
    if reason is not None:
        _set(session, row_id, state="cancelled", last_error=reason)
        return "cancelled"
    if not row.message:
        log.error("outbox row %d has no message to send", row_id)
        _set(session, row_id, state="failed", last_error="no message was stored for this row")
        return "failed"
    # The claim runs from the start of this send, not of the batch.
    session.execute(_COUNT_ATTEMPT, {"row_id": row_id, "attempts_now": row.attempts + 1,
                                     "first_now": row.first_attempt_at or now, "now": now})
    return Job(id=row_id, to_addr=row.to_addr, message=bytes(row.message),
               subscriber_id=row.subscriber_id, hard_failures=row.hard_failures or 0)


def _cancel_reason(row: Row) -> str | None:
    """Why this row (joined with its subscriber) must not be sent any more, or None."""
    if row.subscriber_id is None:
        return None
    if row.subscriber_found is None:
        return "cancelled: the subscriber was deleted"
    if row.status == "unsubscribed":
        # Mail queued before the unsubscribe never goes out; a confirmation asked for later
        # (the person subscribing again) does.
        since = row.unsubscribed_at
        if row.kind == "digest" or since is None or row.created_at <= since:
            return "cancelled: the address unsubscribed"
    if row.kind == "digest" and row.status != "confirmed":
        return f"cancelled: the subscriber is {row.status}"
    if row.kind == "digest" and row.delivery == "feed":
        # Switched to feed-only after this digest was queued: it is in their feed already.
        return "cancelled: the subscriber reads digests in their feed"
    return None


def _set(session: Session, row_id: int, **values: object) -> None:
    """Update one outbox row in one statement."""
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def record(
    session: Session,
    job: Job,
    error: Error | None,
    *,
    now: datetime,
    rng: random.Random | None = None,
) -> str | None:
    """Store the outcome of one send; returns the row's new state."""
    if error is None:
        return _record_sent(session, job, now=now)
    row = session.get(OutboxMessage, job.id, with_for_update=True)
    if row is None:
        return None
    if row.state in ("sent", "cancelled"):  # decided meanwhile by another worker or an unsubscribe
        return row.state
    if isinstance(error, PermanentFailure):
        row.state, row.last_error = "failed", str(error)
        if error.about_recipient and row.subscriber_id is not None:
            count_hard_failure(session, row.subscriber_id, now=now)
        return "failed"
    first = row.first_attempt_at or now
    if now - first >= RETRY_FOR:
        row.state, row.last_error = "failed", f"gave up after 20 hours: {error}"
        return "failed"
    row.state, row.last_error = "deferred", str(error)
    row.next_attempt_at = min(now + backoff(row.attempts, rng), first + RETRY_FOR)
    return "deferred"


def _record_sent(session: Session, job: Job, *, now: datetime) -> str | None:
    """Mark a row sent (one statement: this is the common case) and forgive past bounces."""
    marked = session.execute(_MARK_SENT, {"row_id": job.id, "now": now})
    if not marked.rowcount:  # type: ignore[attr-defined]
        return None  # deleted meanwhile, with its subscriber
    # Only when there is something to forgive: most subscribers never bounced, and this saves
    # a statement per message. (A bounce counted by another worker during this very send may
    # then stand; the two happened at the same time, so either order is a true account.)
    if job.subscriber_id is not None and job.hard_failures:
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == job.subscriber_id, Subscriber.hard_failures != 0)
            .values(hard_failures=0)
            .execution_options(synchronize_session=False)
        )
    return "sent"


def count_hard_failure(
    session: Session, subscriber_id: int, *, now: datetime, in_a_row: int | None = None
) -> None:
    """One more permanent refusal in a row; the third suspends a confirmed subscriber.

    An SMTP 5xx comes at once, so the stored count plus one is the run. A bounce that comes
    back later (`digest bounces`) knows better: `in_a_row` is the run of failed messages ending
    through the bounced one, which the relay accepting the messages between did not break.
    """
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None:
        return
    before = subscriber.hard_failures or 0
    subscriber.hard_failures = before + 1 if in_a_row is None else max(in_a_row, before)
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
