"""Jinja filters and globals of the web pages: dates in the reader's timezone, schedule lines."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from flask import Flask

from digest.config import Settings
from digest.mail.render import author_line, keywords_line
from digest.models import Subscriber
from digest.subscribers.validation import WEEKDAYS


def local_time(instant: datetime, timezone: str) -> str:
    """'Tuesday 27 November 2026 at 07:00 (Europe/Berlin)'."""
    local = instant.astimezone(ZoneInfo(timezone))
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({timezone})"


def local_date(instant: datetime, timezone: str) -> str:
    """'Tue 27 Nov 2026'."""
    local = instant.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b %Y}"


def schedule_line(subscriber: Subscriber) -> str:
    """'Daily at 07:00 (UTC)' or 'Weekly on Monday at 07:00 (Europe/Berlin)'."""
    if subscriber.frequency == "weekly":
        day = WEEKDAYS[subscriber.weekday].capitalize()
        return f"Weekly on {day} at {subscriber.send_time} ({subscriber.timezone})"
    return f"Daily at {subscriber.send_time} ({subscriber.timezone})"


def groupby_region(names: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Timezone names grouped for <optgroup>s: UTC alone first, regions, then the rest."""

    def region(name: str) -> str:
        if name == "UTC":
            return ""
        return name.split("/", 1)[0] if "/" in name else "Other"

    order = sorted(names, key=lambda name: (region(name) != "", region(name) == "Other", name))
    return [(key, list(group)) for key, group in groupby(order, key=region)]


def install(app: Flask, settings: Settings) -> None:
    """Register the filters and the `product` name (the From header's display name)."""
    app.jinja_env.filters.update(
        local_time=local_time,
        local_date=local_date,
        schedule_line=schedule_line,
        groupby_region=groupby_region,
        keywords_line=keywords_line,
        author_line=author_line,
    )
    product = settings.mail_from_address.display_name or "Paper Digest"
    app.jinja_env.globals.update(product=product)
