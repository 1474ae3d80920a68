"""The figures of the dashboard and /metrics: reads only, a Session and `now` in, plain values out.

Everything is counted in SQL where the database can group it (per day, per state), so a dashboard
over 100,000 subscribers or a month of sent mail moves a few hundred rows, not the whole tables.
Days are UTC days.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from digest.matching.language import KeywordError, split_terms
from digest.models import Bounce, Digest, OutboxMessage, Paper, Source, Subscriber

SUBSCRIBER_STATES = ("pending", "confirmed", "suspended", "unsubscribed")
MESSAGE_OUTCOMES = ("sent", "deferred", "failed")
OUTBOX_STATES = ("queued", "sending", "deferred", "sent", "failed", "cancelled")
# Mail not yet handed over for good: what the queue depth and the oldest message's age measure.
WAITING_STATES = ("queued", "sending", "deferred")
_TERM_BREAK = re.compile(r"[,\r\n]")
MAX_SOURCE_SERIES = 6  # more sources than this are summed up as "other" in the chart


@dataclass(frozen=True)
class DailySeries:
    """Named counts for each day of a window, oldest day first; every series as long as `days`."""

    days: list[date]
    series: dict[str, list[int]] = field(default_factory=dict)

    def rows(self) -> list[tuple[date, list[int]]]:
        """One (day, counts in series order) row per day: the table under a chart."""
        return [(day, [values[i] for values in self.series.values()])
                for i, day in enumerate(self.days)]


@dataclass(frozen=True)
class FeedStatus:
    """One configured source as its row stands: when it last worked and what last went wrong."""

    url: str
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None

    @property
    def failing(self) -> bool:
        """True when the last fetch failed (a success clears the error)."""
        return self.last_error is not None


@dataclass(frozen=True)
class QueueStatus:
    """The outbox: rows per state, and how long the oldest undelivered message has waited."""

    by_state: dict[str, int]
    oldest_waiting_since: datetime | None

    @property
    def waiting(self) -> int:
        """Messages queued, being sent or deferred."""
        return sum(self.by_state.get(state, 0) for state in WAITING_STATES)

    def oldest_age(self, now: datetime) -> timedelta:
        """Age of the oldest undelivered message (zero when nothing waits)."""
        if self.oldest_waiting_since is None:
            return timedelta(0)
        return max(now - self.oldest_waiting_since, timedelta(0))


def window(now: datetime, days: int) -> list[date]:
    """The last `days` UTC days, today included, oldest first."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _day_of(session: Session, column: Any) -> Any:
    """The UTC day of a stored timestamp, grouped in SQL (stored as naive UTC on both backends)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, type_=Text)
    return cast(column, Date)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _per_day(session: Session, days: list[date], column: Any, *where: Any) -> list[int]:
    """How many rows have `column` on each day of the window (rows matching `where`)."""
    day = _day_of(session, column)
    query = (select(day, func.count()).where(column >= _start_of(days[0]), *where).group_by(day))
    counts = {_as_date(d): n for d, n in session.execute(query)}
    return [counts.get(d, 0) for d in days]


def messages_per_day(session: Session, now: datetime, days: int = 30) -> DailySeries:
    """Messages sent, deferred and failed on each day.

    Sent: by `sent_at`. Failed: by the last attempt. Deferred: messages whose first attempt fell on
    that day and did not go through at once (the outbox keeps no history of each retry).
    """
    span = window(now, days)
    last_attempt = func.coalesce(OutboxMessage.claimed_at, OutboxMessage.created_at)
    return DailySeries(span, {
        "sent": _per_day(session, span, OutboxMessage.sent_at),
        "deferred": _per_day(
            session, span, OutboxMessage.first_attempt_at,
            or_(OutboxMessage.attempts > 1, OutboxMessage.state == "deferred"),
        ),
        "failed": _per_day(session, span, last_attempt, OutboxMessage.state == "failed"),
    })


def bounces_per_day(session: Session, now: datetime, days: int = 30) -> DailySeries:
    """Hard and soft bounces and complaints `digest bounces` recorded, per day (UTC)."""
    span = window(now, days)
    return DailySeries(span, {
        kind: _per_day(session, span, Bounce.received_at, Bounce.kind == kind)
        for kind in ("hard", "soft", "complaint")
    })  # fmt: skip


def subscribers_over_time(session: Session, now: datetime, days: int = 30) -> DailySeries:
    """Subscribers in each state at the end of each day, from their state-change timestamps.

    A subscriber's state on a day is their latest change on or before it (confirmed, suspended,
    unsubscribed), else pending from the day they were created. The database groups subscribers
    by the days of their changes, so 100,000 of them come back as a few thousand rows; each day's
    totals are running sums of the changes.
    """
    span = window(now, days)
    changes = {state: [0] * days for state in SUBSCRIBER_STATES}
    # In the order of SUBSCRIBER_STATES, which is also the order of changes on the same day.
    history = [_day_of(session, column) for column in (
        Subscriber.created_at, Subscriber.confirmed_at, Subscriber.suspended_at,
        Subscriber.unsubscribed_at,
    )]
    for *stamps, count in session.execute(select(*history, func.count()).group_by(*history)):
        created = _as_date(stamps[0])
        events = sorted(
            (_as_date(at), rank) for rank, at in enumerate(stamps)
            if at is not None and _as_date(at) >= created
        )
        previous: str | None = None
        for day, rank in events:
            # A change before the window counts from its first day.
            index = max(0, (day - span[0]).days)
            if index >= days:
                continue
            state = SUBSCRIBER_STATES[rank]
            if previous is not None:
                changes[previous][index] -= count
            changes[state][index] += count
            previous = state
    return DailySeries(span, {state: _running(values) for state, values in changes.items()})


def _running(values: Iterable[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


def papers_per_source_per_day(session: Session, now: datetime, days: int = 30) -> DailySeries:
    """Papers first seen on each day, per source (a paper in two feeds counts for both)."""
    span = window(now, days)
    index = {day: i for i, day in enumerate(span)}
    day = _day_of(session, Paper.first_seen_at)
    # Group by the sources list as text: a month of papers collapses to a few rows per day.
    sources = cast(Paper.sources, Text)
    query = (select(day, sources, func.count())
             .where(Paper.first_seen_at >= _start_of(span[0])).group_by(day, sources))
    counts: dict[str, list[int]] = {}
    for seen, names, count in session.execute(query):
        for name in json.loads(names or "[]"):
            counts.setdefault(name, [0] * days)[index[_as_date(seen)]] += count
    ranked = sorted(counts, key=lambda name: (-sum(counts[name]), name))
    series = {name: counts[name] for name in ranked[:MAX_SOURCE_SERIES]}
    if len(ranked) > MAX_SOURCE_SERIES:
        rest = [counts[name] for name in ranked[MAX_SOURCE_SERIES:]]
        series["other"] = [sum(column) for column in zip(*rest, strict=True)]
    return DailySeries(span, series)


def papers_by_source(session: Session) -> dict[str, int]:
    """Papers stored per source, all time."""
    totals: Counter[str] = Counter()
    sources = cast(Paper.sources, Text)
    for names, count in session.execute(select(sources, func.count()).group_by(sources)):
        for name in json.loads(names or "[]"):
            totals[name] += count
    return dict(sorted(totals.items()))


def feed_health(session: Session) -> list[FeedStatus]:
    """Every source row, by URL."""
    rows = session.execute(
        select(Source.url, Source.last_fetched_at, Source.last_success_at, Source.last_error)
        .order_by(Source.url)
    )
    return [FeedStatus(*row) for row in rows]


def outbox_queue(session: Session) -> QueueStatus:
    """Outbox rows per state (every state present, zeros included) and the oldest waiting one."""
    by_state = dict.fromkeys(OUTBOX_STATES, 0)
    for state, count in session.execute(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ):
        by_state[state] = count
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at))
        .where(OutboxMessage.state.in_(WAITING_STATES))
    )
    return QueueStatus(by_state=by_state, oldest_waiting_since=oldest)


def subscribers_by_state(session: Session) -> dict[str, int]:
    """Subscribers per state now (every state present)."""
    counts = dict.fromkeys(SUBSCRIBER_STATES, 0)
    for state, count in session.execute(
        select(Subscriber.status, func.count()).group_by(Subscriber.status)
    ):
        counts[state] = count
    return counts


def digests_composed(session: Session) -> int:
    """Digests composed and kept (each is one row, whatever became of its message)."""
    return session.scalar(select(func.count()).select_from(Digest)) or 0


def top_keywords(session: Session, limit: int = 20) -> list[tuple[str, int]]:
    """The terms most confirmed subscribers have in their profiles (case folded), most first."""
    counts: Counter[str] = Counter()
    active = and_(Subscriber.status == "confirmed", Subscriber.keywords != "")
    for keywords, count in session.execute(
        select(Subscriber.keywords, func.count()).where(active).group_by(Subscriber.keywords)
    ):
        folded = keywords.casefold()
        try:
            # Without quotes a profile is cut at every comma and newline; split_terms, which
            # walks it character by character, is only needed for quoted phrases.
            raw = split_terms(folded) if '"' in folded else _TERM_BREAK.split(folded)
        except KeywordError:  # stored before a rule changed: skip rather than fail the page
            continue
        terms = {" ".join(term.split()) for term in raw}
        terms.discard("")
        if count == 1:
            counts.update(terms)
        else:
            for term in terms:
                counts[term] += count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
