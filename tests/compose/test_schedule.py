"""Schedule arithmetic: next send time in the subscriber's zone, right across every DST change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.compose.schedule import (
    Schedule,
    digest_window,
    first_due,
    local_instant,
    parse_send_time,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(send_time: str, zone: str) -> Schedule:
    return Schedule.of("daily", send_time, zone, 0)


def test_next_daily_slot_is_today_when_the_time_is_still_ahead() -> None:
    assert daily("07:00", "UTC").next_after(utc(2026, 5, 4, 6, 59)) == utc(2026, 5, 4, 7, 0)


def test_next_slot_is_strictly_after_the_instant() -> None:
    assert daily("07:00", "UTC").next_after(utc(2026, 5, 4, 7, 0)) == utc(2026, 5, 5, 7, 0)


def test_send_time_is_read_in_the_subscribers_zone() -> None:
    assert daily("07:00", "Asia/Kolkata").next_after(utc(2026, 5, 4)) == utc(2026, 5, 4, 1, 30)
    assert daily("07:00", "Pacific/Chatham").next_after(utc(2026, 5, 4)) == utc(2026, 5, 4, 18, 15)


def test_weekly_slot_falls_on_the_chosen_weekday() -> None:
    weekly = Schedule.of("weekly", "09:30", "Europe/Berlin", 4)  # Friday
    # Monday 4 May 2026 → Friday 8 May, 09:30 CEST (UTC+2).
    assert weekly.next_after(utc(2026, 5, 4, 12)) == utc(2026, 5, 8, 7, 30)
    assert weekly.next_after(utc(2026, 5, 8, 7, 30)) == utc(2026, 5, 15, 7, 30)


def test_weekly_slot_on_the_same_weekday_later_that_day() -> None:
    weekly = Schedule.of("weekly", "18:00", "UTC", 0)
    assert weekly.next_after(utc(2026, 5, 4, 8)) == utc(2026, 5, 4, 18)


def test_nonexistent_time_is_sent_when_the_spring_forward_gap_ends() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    assert daily("02:30", "America/New_York").next_after(utc(2026, 3, 8)) == utc(2026, 3, 8, 7)
    # Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST.
    assert daily("02:15", "Europe/Berlin").next_after(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)
    # Chatham, 27 September 2026: 02:45 +1245 jumps to 03:45 +1345.
    chatham = daily("03:00", "Pacific/Chatham").next_after(utc(2026, 9, 26, 12))
    assert chatham == utc(2026, 9, 26, 14, 0)  # 03:45 +1345


def test_ambiguous_time_is_sent_at_its_first_occurrence_and_once_that_day() -> None:
    # New York, 1 November 2026: 01:59 EDT falls back to 01:00 EST; 01:30 happens twice.
    schedule = daily("01:30", "America/New_York")
    first = schedule.next_after(utc(2026, 11, 1))
    assert first == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert schedule.next_after(first) == utc(2026, 11, 2, 6, 30)  # not 01:30 EST the same day


def test_southern_hemisphere_dst() -> None:
    # Sydney falls back on 5 April 2026 (03:00 AEDT → 02:00 AEST) and springs forward on 4 October.
    fall = daily("02:30", "Australia/Sydney")
    first = fall.next_after(utc(2026, 4, 4, 12))
    assert first == utc(2026, 4, 4, 15, 30)  # 02:30 AEDT (+11)
    assert fall.next_after(first) == utc(2026, 4, 5, 16, 30)  # next day, 02:30 AEST (+10)
    assert fall.next_after(utc(2026, 10, 3, 12)) == utc(2026, 10, 3, 16)  # gap → 03:00 AEDT


def test_latest_slot_at_or_before() -> None:
    schedule = daily("07:00", "UTC")
    assert schedule.latest_at_or_before(utc(2026, 5, 4, 7)) == utc(2026, 5, 4, 7)
    assert schedule.latest_at_or_before(utc(2026, 5, 4, 6, 59)) == utc(2026, 5, 3, 7)


def test_a_skipped_calendar_day_has_no_slot() -> None:
    # Samoa skipped 30 December 2011 entirely.
    assert local_instant(date(2011, 12, 30), time(9), ZoneInfo("Pacific/Apia")) is None


@pytest.mark.parametrize("bad", ["7:0", "24:00", "07-00", "", "07:60"])
def test_bad_send_times_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_send_time(bad)


def test_bad_frequency_and_weekday_are_refused() -> None:
    with pytest.raises(ValueError):
        Schedule.of("hourly", "07:00", "UTC", 0)
    with pytest.raises(ValueError):
        Schedule.of("weekly", "07:00", "UTC", 7)


# Exhaustive check against a brute-force oracle written straight from the rule: the slot of a local
# day is the first minute of that day at which the wall clock reads the send time or later.

DST_DAYS = {
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Sydney": [date(2026, 4, 5), date(2026, 10, 4)],
    "Asia/Kolkata": [date(2026, 3, 8)],
    "Pacific/Chatham": [date(2026, 4, 5), date(2026, 9, 27)],
    "UTC": [date(2026, 3, 29)],
}


def oracle_slots(zone: ZoneInfo, days: list[date]) -> dict[date, dict[time, datetime]]:
    """For each local day and each quarter hour, the first minute the clock reads it or later."""
    start = datetime.combine(days[0], time(0), UTC) - timedelta(days=1)
    readings: dict[date, list[tuple[datetime, datetime]]] = {day: [] for day in days}
    for minute in range(60 * 24 * (len(days) + 2)):
        instant = start + timedelta(minutes=minute)
        reading = instant.astimezone(zone).replace(tzinfo=None)
        if reading.date() in readings:
            readings[reading.date()].append((reading, instant))
    slots: dict[date, dict[time, datetime]] = {}
    for day, seen in readings.items():
        slots[day] = {}
        for quarter in range(96):
            wall = datetime.combine(day, time(quarter // 4, quarter % 4 * 15))
            slots[day][wall.time()] = next(instant for reading, instant in seen if reading >= wall)
    return slots


@pytest.mark.parametrize("zone_name", sorted(DST_DAYS))
def test_every_quarter_hour_around_dst_changes_matches_the_rule(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    for change in DST_DAYS[zone_name]:
        days = [change + timedelta(days=n) for n in (-1, 0, 1)]
        slots = oracle_slots(zone, days)
        for send_time in slots[days[0]]:
            schedule = Schedule(send_time=send_time, zone=zone)
            expected = [slots[day][send_time] for day in days]
            got = [schedule.next_after(expected[0] - timedelta(seconds=1))]
            while len(got) < len(days):
                got.append(schedule.next_after(got[-1]))
            assert got == expected, (zone_name, change, send_time)
            assert [schedule.latest_at_or_before(slot) for slot in expected] == expected


@pytest.mark.parametrize("zone_name", sorted(DST_DAYS))
def test_a_year_of_daily_slots_gives_exactly_one_per_local_day(zone_name: str) -> None:
    for send_time in ("00:30", "01:30", "02:30", "03:00", "07:00", "23:45"):
        schedule = daily(send_time, zone_name)
        slot = schedule.next_after(utc(2026, 1, 1))
        days = []
        for _ in range(365):
            days.append(slot.astimezone(schedule.zone).date())
            slot = schedule.next_after(slot)
        assert days == [days[0] + timedelta(days=n) for n in range(365)], (zone_name, send_time)


# Windows: which slot a composition claims and which first-seen times it covers.


def test_first_digest_is_the_first_send_time_after_confirming() -> None:
    schedule = daily("07:00", "Europe/Berlin")  # 05:00 UTC in summer
    confirmed = utc(2026, 6, 1, 9)
    assert first_due(schedule, confirmed_at=confirmed, last_digest_at=None, now=confirmed) == utc(
        2026, 6, 2, 5
    )


def test_first_weekly_digest_is_on_the_chosen_weekday() -> None:
    schedule = Schedule.of("weekly", "07:00", "UTC", 2)  # Wednesday
    due = first_due(
        schedule, confirmed_at=utc(2026, 6, 1, 9), last_digest_at=None, now=utc(2026, 6, 1, 9)
    )
    assert due == utc(2026, 6, 3, 7)


def test_after_resuming_the_next_digest_is_the_next_send_time() -> None:
    schedule = daily("07:00", "UTC")
    due = first_due(
        schedule,
        confirmed_at=utc(2026, 1, 1),
        last_digest_at=utc(2026, 6, 1, 7),
        now=utc(2026, 6, 9, 12),
    )
    assert due == utc(2026, 6, 10, 7)


def test_a_schedule_changed_just_before_the_new_time_still_gets_that_slot() -> None:
    schedule = daily("09:00", "UTC")
    due = first_due(
        schedule,
        confirmed_at=utc(2026, 1, 1),
        last_digest_at=utc(2026, 6, 9, 7),
        now=utc(2026, 6, 9, 9, 3),
    )
    assert due == utc(2026, 6, 9, 9)


def test_first_daily_window_reaches_back_one_day() -> None:
    slot = utc(2026, 6, 2, 7)
    window = digest_window(
        daily("07:00", "UTC"), next_digest_at=slot, last_digest_at=None, now=slot
    )
    assert (window.scheduled_for, window.start, window.end) == (slot, utc(2026, 6, 1, 7), slot)
    assert window.next_at == utc(2026, 6, 3, 7)


def test_first_weekly_window_reaches_back_seven_days() -> None:
    slot = utc(2026, 6, 3, 7)
    weekly = Schedule.of("weekly", "07:00", "UTC", 2)
    window = digest_window(weekly, next_digest_at=slot, last_digest_at=None, now=slot)
    assert window.start == utc(2026, 5, 27, 7)
    assert window.next_at == utc(2026, 6, 10, 7)


def test_later_windows_start_at_the_previous_digest() -> None:
    window = digest_window(
        daily("07:00", "UTC"),
        next_digest_at=utc(2026, 6, 3, 7),
        last_digest_at=utc(2026, 6, 2, 7),
        now=utc(2026, 6, 3, 7, 4),
    )
    assert (window.start, window.end) == (utc(2026, 6, 2, 7), utc(2026, 6, 3, 7))


def test_a_digest_missed_for_days_is_one_digest_covering_the_gap() -> None:
    window = digest_window(
        daily("07:00", "UTC"),
        next_digest_at=utc(2026, 6, 3, 7),
        last_digest_at=utc(2026, 6, 2, 7),
        now=utc(2026, 6, 6, 12),
    )
    assert window.scheduled_for == utc(2026, 6, 3, 7)
    assert (window.start, window.end) == (utc(2026, 6, 2, 7), utc(2026, 6, 6, 7))
    assert window.next_at == utc(2026, 6, 7, 7)


def test_a_forced_digest_is_scheduled_for_now() -> None:
    now = utc(2026, 6, 3, 15, 20)
    window = digest_window(
        daily("07:00", "UTC"),
        next_digest_at=utc(2026, 6, 4, 7),
        last_digest_at=utc(2026, 6, 3, 7),
        now=now,
        force=True,
    )
    assert (window.scheduled_for, window.start, window.end) == (now, utc(2026, 6, 3, 7), now)
    assert window.next_at == utc(2026, 6, 4, 7)
