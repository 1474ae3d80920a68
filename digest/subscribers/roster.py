"""Bulk subscriber management: stream a CSV in (validated like the web form) and out.

Rows are read and written one batch at a time, so memory stays flat however long the file is.
Import never re-subscribes an address that unsubscribed: consent given through the list's own
unsubscribe link outranks an operator's file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Settings
from digest.mail.render import Renderer
from digest.models import Subscriber
from digest.subscribers.subscriptions import (
    WEEKDAYS,
    InvalidSubscription,
    SubscriptionRequest,
    apply_preferences,
    new_nonce,
    queue_confirmation,
    validate_subscription,
)
from digest.tokens import Tokens

COLUMNS = ("email", "keywords", "frequency", "timezone", "send_time")
# Optional on import; `delivery` (email or feed) defaults to email, as on the subscribe form.
OPTIONAL_COLUMNS = ("weekday", "delivery")
BATCH_SIZE = 500


class CsvFormatError(ValueError):
    """The file is not a subscriber CSV (no header, or a required column missing)."""


@dataclass
class ImportReport:
    """What an import did; `rejections` holds (line number, reason) for each bad row."""

    imported: int = 0
    updated: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def summary(self) -> str:
        return f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}"


@dataclass(frozen=True)
class _Row:
    line: int
    request: SubscriptionRequest
    # A row without a delivery value leaves a stored subscriber's choice alone: a file made
    # before the column existed must not start mailing someone who reads only the feed.
    keeps_delivery: bool = False


def read_rows(
    handle: IO[str], settings: Settings, report: ImportReport
) -> Iterator[_Row]:
    """Validate each CSV row; bad rows go into the report, good ones are yielded."""
    reader = csv.reader(handle)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        header = []
    missing = [name for name in ("email", "keywords") if name not in header]
    if missing:
        raise CsvFormatError(
            f"the CSV header must name the columns {', '.join(COLUMNS)}; "
            f"missing: {', '.join(missing)}"
        )
    while True:
        line = reader.line_num + 1  # where this record starts; a quoted field may span lines
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.rejections.append((line, f"unreadable CSV: {exc}"))
            continue
        if not values:
            continue
        if len(values) > len(header):
            report.rejections.append((line, "the row has more fields than the header"))
            continue
        fields = {name: value.strip() for name, value in zip(header, values, strict=False)}
        try:
            request = validate_subscription(fields, settings)
            yield _Row(line, request, keeps_delivery=not fields.get("delivery"))
        except InvalidSubscription as exc:
            reason = "; ".join(f"{name}: {error}" for name, error in exc.errors.items())
            report.rejections.append((line, reason))


def import_csv(
    sessions: sessionmaker[Session],
    settings: Settings,
    handle: IO[str],
    *,
    confirmed: bool,
    now: datetime,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import a subscriber CSV batch by batch; each batch is one transaction."""
    report = ImportReport()
    tokens = Tokens(settings.secret_key)
    renderer = Renderer(settings)
    rows = read_rows(handle, settings, report)
    while batch := list(islice(rows, BATCH_SIZE)):
        with sessions.begin() as session:
            _import_batch(session, settings, batch, report, confirmed, now, tokens, renderer)
        if on_batch is not None:
            on_batch(report)
    return report


def _import_batch(
    session: Session,
    settings: Settings,
    batch: list[_Row],
    report: ImportReport,
    confirmed: bool,
    now: datetime,
    tokens: Tokens,
    renderer: Renderer,
) -> None:
    emails = {row.request.email for row in batch}
    existing = {
        sub.email: sub
        for sub in session.scalars(select(Subscriber).where(Subscriber.email.in_(emails)))
    }
    for row in batch:
        subscriber = existing.get(row.request.email)
        if subscriber is None:
            subscriber = _new_subscriber(session, row.request, confirmed, now)
            existing[subscriber.email] = subscriber
            report.imported += 1
            if not confirmed:
                session.flush()
                queue_confirmation(
                    session, settings, subscriber, now=now, tokens=tokens, renderer=renderer
                )
            continue
        if subscriber.status == "unsubscribed":
            report.rejections.append(
                (row.line, f"{subscriber.email} unsubscribed and is not subscribed again")
            )
            continue
        request = row.request
        if row.keeps_delivery:
            preferences = replace(request.preferences, delivery=subscriber.delivery)
            request = replace(request, preferences=preferences)
        if _update(subscriber, request, confirmed, now):
            report.updated += 1


def _new_subscriber(
    session: Session, request: SubscriptionRequest, confirmed: bool, now: datetime
) -> Subscriber:
    subscriber = Subscriber(
        email=request.email,
        status="confirmed" if confirmed else "pending",
        token_nonce=new_nonce(),
        created_at=now,
        confirmed_at=now if confirmed else None,
    )
    apply_preferences(subscriber, request.preferences)
    session.add(subscriber)
    return subscriber


def _update(
    subscriber: Subscriber, request: SubscriptionRequest, confirmed: bool, now: datetime
) -> bool:
    """Apply a row to a stored subscriber; True when anything changed."""
    before = _snapshot(subscriber)
    apply_preferences(subscriber, request.preferences)
    if confirmed and subscriber.status == "pending":
        subscriber.status = "confirmed"
        subscriber.confirmed_at = now
        subscriber.next_digest_at = None
    return _snapshot(subscriber) != before


def _snapshot(subscriber: Subscriber) -> tuple[object, ...]:
    return (
        subscriber.keywords,
        subscriber.frequency,
        subscriber.weekday,
        subscriber.send_time,
        subscriber.timezone,
        subscriber.delivery,
        subscriber.status,
    )


def iter_subscribers(
    sessions: sessionmaker[Session], statuses: Iterable[str] | None
) -> Iterator[Subscriber]:
    """Stream subscribers in id order, a batch at a time."""
    query = select(Subscriber).order_by(Subscriber.id)
    if statuses is not None:
        query = query.where(Subscriber.status.in_(list(statuses)))
    with sessions() as session:
        for subscriber in session.scalars(query.execution_options(yield_per=BATCH_SIZE)):
            yield subscriber
            session.expunge(subscriber)


def export_csv(
    sessions: sessionmaker[Session], handle: IO[str], statuses: Iterable[str] | None
) -> int:
    """Write subscribers as CSV (the import's columns, then weekday and delivery); return the
    row count."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow((*COLUMNS, *OPTIONAL_COLUMNS))
    count = 0
    for sub in iter_subscribers(sessions, statuses):
        weekday = WEEKDAYS[sub.weekday] if sub.frequency == "weekly" else ""
        writer.writerow(
            (sub.email, sub.keywords, sub.frequency, sub.timezone, sub.send_time, weekday,
             sub.delivery)
        )
        count += 1
    return count
