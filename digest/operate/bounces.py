"""What a bounce or complaint does: find the message by its VERP token, then act and record.

A hard bounce counts against the address through the same rule an SMTP 5xx does (three in a row
suspend it, `mail/delivery.count_hard_failure`); a soft one is counted on the subscriber; a
complaint unsubscribes at once (`subscribers/subscriptions.unsubscribe`, which cancels queued
mail). Without a genuine token (none, forged, altered, or naming a row that is gone) nothing
changes. Every processed message is stored in `bounces` under its Message-ID, so the same
report handed over twice (an MTA retrying the pipe, an IMAP folder read twice) counts once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.mail.delivery import HARD_FAILURE_LIMIT, count_hard_failure
from digest.mail.verp import read_token, token_pattern
from digest.models import Bounce, OutboxMessage, Subscriber
from digest.operate.reports import Report, read_report
from digest.subscribers.subscriptions import unsubscribe

log = logging.getLogger(__name__)
KINDS = ("hard", "soft", "complaint", "ignored")
# How far back the run of failed messages through a bounced one is looked for.
RUN_WINDOW = 4 * HARD_FAILURE_LIMIT


@dataclass
class BounceStats:
    """How many processed messages were of each kind."""

    hard: int = 0
    soft: int = 0
    complaints: int = 0
    ignored: int = 0

    def count(self, kind: str) -> None:
        """Add one message of `kind`."""
        name = "complaints" if kind == "complaint" else kind
        setattr(self, name, getattr(self, name) + 1)

    def line(self) -> str:
        """The summary line of `digest bounces`."""
        return (f"hard {self.hard}, soft {self.soft}, complaints {self.complaints}, "
                f"ignored {self.ignored}")


def process(session: Session, settings: Settings, raw: bytes, *, now: datetime) -> str:
    """Read one message and apply its effect; returns its kind (a repeat counts as ignored)."""
    report = read_report(raw)
    if session.scalar(select(Bounce.id).where(Bounce.dedupe_key == report.dedupe_key)):
        log.info("bounce %s: already processed", report.dedupe_key)
        return "ignored"
    row = _outbox_row(session, settings, report) if report.kind != "ignored" else None
    if report.kind != "ignored" and row is None:
        report.kind, report.reason = "ignored", "no genuine bounce token for a stored message"
    session.add(Bounce(
        dedupe_key=report.dedupe_key, kind=report.kind, received_at=now,
        subscriber_id=row.subscriber_id if row is not None else None,
        outbox_id=row.id if row is not None else None, status=report.status,
        diagnostic=report.diagnostic or report.reason or None,
    ))
    session.flush()
    if report.kind == "ignored" or row is None:
        log.info("bounce %s ignored: %s", report.dedupe_key, report.reason)
        return "ignored"
    subscriber = session.get(Subscriber, row.subscriber_id) if row.subscriber_id else None
    if subscriber is not None:
        _apply(session, subscriber, row, report, now=now)
    log.info("bounce %s: %s for outbox row %d", report.dedupe_key, report.kind, row.id)
    return report.kind


def _outbox_row(session: Session, settings: Settings, report: Report) -> OutboxMessage | None:
    """The outbox row the first genuine VERP token in the report names, if it is stored."""
    if settings.bounce_address is None:
        return None
    pattern = token_pattern(settings.bounce_address)
    for place in report.places:
        for token in pattern.findall(place):
            outbox_id = read_token(settings.secret_key, token.lower())
            if outbox_id is None:
                log.warning("bounce %s: a forged or damaged token", report.dedupe_key)
                continue
            row = session.get(OutboxMessage, outbox_id)
            if row is not None:
                return row
    return None


def _apply(
    session: Session, subscriber: Subscriber, row: OutboxMessage, report: Report, *, now: datetime
) -> None:
    """The effect of a hard, soft or complaint report on the row's subscriber."""
    if report.kind == "complaint":
        unsubscribe(session, subscriber, now=now)
        log.warning("subscriber %d unsubscribed after a complaint", subscriber.id)
        return
    subscriber.last_bounce_at = now
    subscriber.last_bounce = " ".join(filter(None, [report.kind, report.status,
                                                    report.diagnostic]))[:500]
    if report.kind == "soft":
        subscriber.soft_bounces = (subscriber.soft_bounces or 0) + 1
        return
    earlier = session.scalar(select(func.count()).select_from(Bounce).where(
        Bounce.outbox_id == row.id, Bounce.kind == "hard"))
    if (earlier or 0) > 1:  # this message already bounced hard once (a second report for it)
        return
    count_hard_failure(session, subscriber.id, now=now, in_a_row=run_through(session, row))


def run_through(session: Session, row: OutboxMessage) -> int:
    """How many of the subscriber's messages in a row, this one among them, failed for good.

    Messages in the order they went out; a message fails for good if it was refused with 5xx
    (state failed) or bounced hard later. A message the relay accepted that did not bounce
    breaks the run, as a delivery does; bounces that come back out of order still add up.
    """
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.state)
        .where(OutboxMessage.subscriber_id == row.subscriber_id,
               OutboxMessage.state.in_(("sent", "failed")))
        .order_by(func.coalesce(OutboxMessage.sent_at, OutboxMessage.claimed_at),
                  OutboxMessage.id)
    ).all()
    ids = [r.id for r in rows]
    if row.id not in ids:
        return 1
    at = ids.index(row.id)
    near = rows[max(0, at - RUN_WINDOW): at + RUN_WINDOW + 1]
    hard = set(session.scalars(select(Bounce.outbox_id).where(
        Bounce.outbox_id.in_([r.id for r in near]), Bounce.kind == "hard")))
    failed = [r.id in hard or r.state == "failed" for r in near]
    at = [r.id for r in near].index(row.id)
    start = at
    while start > 0 and failed[start - 1]:
        start -= 1
    end = at
    while end + 1 < len(failed) and failed[end + 1]:
        end += 1
    return end - start + 1

