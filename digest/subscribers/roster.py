"""Bulk subscriber management: stream a CSV in (validated like the web form) and out.

Rows are read and written one batch at a time, so memory stays flat however long the file is.
Import never re-subscribes an address that unsubscribed: consent given through the list's own
unsubscribe link outranks an operator's file.
"""

from __future__ import annotations

import csv
import io
import re
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
# A cell a spreadsheet would run as a formula (OWASP's CSV-injection list) is written behind a
# single quote. Quotes already in front of such a start get one more, so that reading back
# strips exactly the one added and every value round-trips: `-survey` is a keyword, not a formula.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
# Control characters an older row may hold (validation refuses them now); never printed raw,
# so that an ESC sequence cannot reach the operator's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


MAX_KEPT_REJECTIONS = 1000  # the report keeps the first ones; on_rejection hears every one
PROGRESS_EVERY = 10_000  # rows read between two calls of on_progress
# What a byte that is not UTF-8 becomes under errors="surrogateescape" (U+DC80 to U+DCFF).
_UNDECODED = re.compile("[\udc80-\udcff]")
NOT_UTF8 = "not valid UTF-8 text (save the file as UTF-8 and import it again)"


class CsvFormatError(ValueError):
    """The file is not a subscriber CSV (no header, or a required column missing)."""


@dataclass
class ImportReport:
    """What an import did; `rejections` holds the first (line number, reason) pairs."""

    imported: int = 0
    updated: int = 0
    rejected: int = 0
    rows: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)
    on_rejection: Callable[[int, str], None] | None = field(default=None, repr=False)

    def reject(self, line: int, reason: str) -> None:
        """Count a bad row, tell on_rejection, and keep it if fewer than the cap are kept."""
        self.rejected += 1
        if self.on_rejection is not None:
            self.on_rejection(line, reason)
        if len(self.rejections) < MAX_KEPT_REJECTIONS:
            self.rejections.append((line, reason))

    def summary(self) -> str:
        return f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}"


@dataclass(frozen=True)
class _Row:
    line: int
    request: SubscriptionRequest
    # A row without a delivery value leaves a stored subscriber's choice alone: a file made
    # before the column existed must not start mailing someone who reads only the feed.
    keeps_delivery: bool = False


def text_stream(binary: IO[bytes]) -> IO[str]:
    """A CSV file's text, decoded as it is read; a byte that is not UTF-8 fails its row only.

    A strict decoder would raise in the middle of a batch, name a byte offset and stop the
    import; surrogateescape keeps the undecodable bytes as marks that read_rows refuses by line.
    """
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_rows(
    handle: IO[str],
    settings: Settings,
    report: ImportReport,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> Iterator[_Row]:
    """Validate each CSV row; bad rows go into the report, good ones are yielded."""
    reader = csv.reader(handle)
    header = _header(reader)
    while True:
        if on_progress is not None and report.rows and report.rows % PROGRESS_EVERY == 0:
            on_progress(report)  # each pass reads one row, so this says each count once
        line = reader.line_num + 1  # where this record starts; a quoted field may span lines
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.rows += 1
            report.reject(line, f"unreadable CSV: {exc}")
            continue
        report.rows += 1
        if not values:
            continue
        if len(values) > len(header):
            report.reject(line, "the row has more fields than the header")
            continue
        if any(_UNDECODED.search(value) for value in values):
            report.reject(line, NOT_UTF8)
            continue
        fields = {
            name: unneutralise(value).strip()
            for name, value in zip(header, values, strict=False)
        }
        try:
            request = validate_subscription(fields, settings)
            yield _Row(line, request, keeps_delivery=not fields.get("delivery"))
        except InvalidSubscription as exc:
            report.reject(line, "; ".join(f"{name}: {error}" for name, error in exc.errors.items()))


def _header(reader: Iterator[list[str]]) -> list[str]:
    """The lowercased column names; CsvFormatError when email or keywords is missing."""
    try:
        header = [name.strip().lower() for name in next(reader)]
    except (StopIteration, csv.Error):
        header = []
    missing = [name for name in ("email", "keywords") if name not in header]
    if missing:
        raise CsvFormatError(
            f"the CSV header must name the columns {', '.join(COLUMNS)}; "
            f"missing: {', '.join(missing)}"
        )
    return header


def import_csv(
    sessions: sessionmaker[Session],
    settings: Settings,
    handle: IO[str],
    *,
    confirmed: bool,
    now: datetime,
    on_rejection: Callable[[int, str], None] | None = None,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import a subscriber CSV batch by batch; each batch is one transaction, committed at once.

    Memory stays flat whatever the file's length: rows are read as they are needed, and bad
    rows go to on_rejection as they are found (the report keeps only the first ones).
    """
    report = ImportReport(on_rejection=on_rejection)
    tokens = Tokens(settings.secret_key)
    renderer = Renderer(settings)
    rows = read_rows(handle, settings, report, on_progress)
    while batch := list(islice(rows, BATCH_SIZE)):
        with sessions.begin() as session:
            _import_batch(session, settings, batch, report, confirmed, now, tokens, renderer)
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
            report.reject(row.line, f"{subscriber.email} unsubscribed and is not subscribed again")
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
        cells = (sub.email, sub.keywords, sub.frequency, sub.timezone, sub.send_time, weekday,
                 sub.delivery)
        writer.writerow([neutralise(printable(cell)) for cell in cells])
        count += 1
    return count


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it as text: a formula start gets a leading quote."""
    return f"'{cell}" if _FORMULA_START.match(cell) else cell


def unneutralise(cell: str) -> str:
    """The value `neutralise` wrote the cell for: the one added quote taken off again."""
    return cell[1:] if cell.startswith("'") and _FORMULA_START.match(cell, 1) else cell


def printable(text: str, *, one_line: bool = False) -> str:
    """Text with control characters written as `\\xNN` (one_line: newlines and tabs too)."""
    pattern = _LINE_CONTROL if one_line else _CONTROL
    return pattern.sub(lambda found: f"\\x{ord(found[0]):02x}", text)
