"""When digests fall due: a local time of day, daily or on one weekday, in an IANA zone (pure).

The rule, which holds across every DST change: a digest is due at the first instant of a local day
at which the wall clock reads the send time or later. So a send time that does not exist that day
(spring forward, 02:30 in New York) is due when the gap ends (03:00), and an ambiguous one (fall
back, 01:30) is due at its first occurrence — never twice the same local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FREQUENCIES = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
# Far more days than any schedule needs to find its next slot, even past a skipped calendar day.
_SEARCH_DAYS = 16


def parse_send_time(value: str) -> time:
    """`HH:MM` as a time of day; ValueError for anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError(f"send time must be HH:MM, not {value!r}")
    return time(int(hours), int(minutes))


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The first UTC instant of local `day` whose wall clock reads `at` or later; None if none."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _reading(first, zone) == wall:
        return first  # exists; fold=0 is the earlier of two readings when ambiguous
    # `wall` falls in a gap. The fold=1 reading lies before the transition and fold=0 after it:
    # search between them for the transition, the first instant the clock reads past `wall`.
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    while low < high:
        middle = (low + high) // 2
        if _reading(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle + 1
    resolved = datetime.fromtimestamp(high, UTC)
    return resolved if _reading(resolved, zone).date() == day else None


def _reading(instant: datetime, zone: ZoneInfo) -> datetime:
    """What a wall clock in `zone` shows at `instant`, as a naive datetime."""
    return instant.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class Schedule:
    """A subscriber's schedule: send time, timezone, and a weekday (0 = Monday) when weekly."""

    send_time: time
    zone: ZoneInfo
    weekday: int | None = None

    @classmethod
    def of(cls, frequency: str, send_time: str, timezone: str, weekday: int) -> Schedule:
        """Build from stored values; ValueError (or ZoneInfoNotFoundError) for bad ones."""
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be daily or weekly, not {frequency!r}")
        if frequency == "weekly" and not 0 <= weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6, not {weekday!r}")
        return cls(
            send_time=parse_send_time(send_time),
            zone=ZoneInfo(timezone),
            weekday=weekday if frequency == "weekly" else None,
        )

    @property
    def period(self) -> timedelta:
        """One day, or one week: how far back a first digest reaches."""
        return FREQUENCIES["daily" if self.weekday is None else "weekly"]

    def _slot(self, day: date) -> datetime | None:
        if self.weekday is not None and day.weekday() != self.weekday:
            return None
        return local_instant(day, self.send_time, self.zone)

    def next_after(self, instant: datetime) -> datetime:
        """The first slot strictly after `instant` (an aware datetime), in UTC."""
        # Start a day early: around a fall back at midnight the local date can step backwards.
        day = instant.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(_SEARCH_DAYS):
            slot = self._slot(day + timedelta(days=offset))
            if slot is not None and slot > instant:
                return slot
        raise AssertionError(f"no slot within {_SEARCH_DAYS} days after {instant}")

    def latest_at_or_before(self, instant: datetime) -> datetime:
        """The last slot at or before `instant`, in UTC."""
        day = instant.astimezone(self.zone).date() + timedelta(days=1)
        for offset in range(_SEARCH_DAYS):
            slot = self._slot(day - timedelta(days=offset))
            if slot is not None and slot <= instant:
                return slot
        raise AssertionError(f"no slot within {_SEARCH_DAYS} days before {instant}")


# A schedule changed (or a pause lifted) a few minutes before the new send time still gets that
# slot: the planner runs every five minutes, so it may only see the change after the moment passed.
PLANNER_SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class Window:
    """One digest's slot and the span of first-seen times it covers, (start, end]."""

    scheduled_for: datetime
    start: datetime
    end: datetime
    next_at: datetime


def first_due(
    schedule: Schedule,
    *,
    confirmed_at: datetime | None,
    last_digest_at: datetime | None,
    now: datetime,
) -> datetime:
    """When a subscriber with no planned digest is due: first slot after confirming or resuming."""
    if last_digest_at is None:
        return schedule.next_after(confirmed_at or now)
    return schedule.next_after(max(last_digest_at, now - PLANNER_SLACK))


def digest_window(
    schedule: Schedule,
    *,
    next_digest_at: datetime | None,
    last_digest_at: datetime | None,
    now: datetime,
    force: bool = False,
) -> Window:
    """The slot being composed and its window; a digest late by days covers every missed slot.

    A first digest reaches one period (a day, a week) back from its slot. Forced digests are
    scheduled for `now`.
    """
    scheduled_for = now if force or next_digest_at is None else next_digest_at
    end = scheduled_for if force else max(scheduled_for, schedule.latest_at_or_before(now))
    start = last_digest_at or scheduled_for - schedule.period
    return Window(scheduled_for, start, end, schedule.next_after(end))
