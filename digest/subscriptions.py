"""A subscription's life as domain functions (no Flask): validate, subscribe, confirm, leave.

Every function takes a Session and an explicit `now`, and never commits. Mail is only queued
(through the outbox), never sent here. The validation helpers are shared by the web forms and the
CSV import, so both accept exactly the same addresses, profiles and schedules.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.digests import schedule_of
from digest.matching import KeywordError, parse_profile
from digest.models import OutboxMessage, Subscriber
from digest.outbox import cancel_for_subscriber, queue_email
from digest.render import Renderer
from digest.schedule import first_due
from digest.tokens import CONFIRM_MAX_AGE, Tokens, confirm_url, subscriber_links

FREQUENCIES = ("daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_EMAIL_LENGTH = 254
MAX_KEYWORDS_LENGTH = 6000
# Confirmation and manage-link emails one address may be sent per ADDRESS_WINDOW, however
# many times the form is submitted: the form cannot be used to mail-bomb anyone.
MAX_EMAILS_PER_ADDRESS = 3
ADDRESS_WINDOW = timedelta(hours=24)
LINK_KINDS = ("confirm", "manage_link")
_SEND_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::00)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidSubscription(ValueError):
    """Input a person can correct: one sentence per field, keyed by the form's field name."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True)
class Preferences:
    """What a subscriber chooses: their keyword profile and when digests arrive."""

    keywords: str
    frequency: str
    weekday: int
    send_time: str
    timezone: str


@dataclass(frozen=True)
class SubscriptionRequest:
    """A validated subscribe form or CSV row."""

    email: str
    preferences: Preferences


@cache
def timezone_names() -> tuple[str, ...]:
    """Every IANA timezone this machine knows, UTC first, then alphabetical."""
    names = available_timezones() - {"Factory", "localtime", "posixrules"}
    return ("UTC", *sorted(name for name in names if name != "UTC"))


@cache
def _timezones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in timezone_names()}


def clean_email(value: str | None) -> str:
    """The address normalised to lowercase; ValueError with one sentence if unusable."""
    text = (value or "").strip()
    if not text:
        raise ValueError("Enter your email address.")
    if _CONTROL.search(text):
        raise ValueError("The email address must be on one line, without control characters.")
    if len(text) > MAX_EMAIL_LENGTH:
        raise ValueError(f"The email address is longer than {MAX_EMAIL_LENGTH} characters.")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"That is not a usable email address: {exc}") from exc
    return str(valid.ascii_email or valid.normalized).lower()


def clean_keywords(value: str | None) -> str:
    """The profile text, checked against the keyword language; ValueError naming the bad term."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ValueError("Enter at least one keyword.")
    if len(text) > MAX_KEYWORDS_LENGTH:
        raise ValueError(f"The keywords are longer than {MAX_KEYWORDS_LENGTH} characters.")
    try:
        profile = parse_profile(text)
    except KeywordError as exc:
        raise ValueError(str(exc)) from exc
    if not profile.terms:
        raise ValueError("Enter at least one keyword.")
    if not profile.positives:
        raise ValueError(
            "Add at least one term without a minus: minus terms only leave papers out."
        )
    return text


def clean_frequency(value: str) -> str:
    """`daily` or `weekly`."""
    frequency = value.strip().lower()
    if frequency not in FREQUENCIES:
        raise ValueError("Choose daily or weekly.")
    return frequency


def clean_weekday(value: str) -> int:
    """A weekday by name (`monday`, `mon`) or number (0 = Monday) as 0 to 6."""
    text = value.strip().lower()
    if text.isdigit() and int(text) < 7:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise ValueError("Choose a day of the week.")


def clean_send_time(value: str) -> str:
    """A time of day as `HH:MM`."""
    found = _SEND_TIME.fullmatch(value.strip())
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError("Enter the send time as HH:MM, for example 07:30.")
    return f"{int(found[1]):02d}:{found[2]}"


def clean_timezone(value: str) -> str:
    """A known IANA timezone name, in its canonical spelling."""
    name = _timezones_by_lower_name().get(value.strip().lower())
    if name is None:
        raise ValueError("Choose a timezone from the list, such as Europe/Berlin.")
    return name


def validate_preferences(fields: Mapping[str, Any], defaults: Settings) -> Preferences:
    """Check keywords and schedule; a missing or blank schedule field takes the default."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    cleaners: dict[str, tuple[Callable[[Any], Any], str | None]] = {
        "keywords": (clean_keywords, None),
        "frequency": (clean_frequency, "daily"),
        "weekday": (clean_weekday, "monday"),
        "send_time": (clean_send_time, defaults.send_time.strftime("%H:%M")),
        "timezone": (clean_timezone, defaults.timezone),
    }
    for name, (clean, default) in cleaners.items():
        raw = fields.get(name)
        if default is not None and (raw is None or not str(raw).strip()):
            raw = default
        try:
            values[name] = clean(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise InvalidSubscription(errors)
    return Preferences(**values)


def validate_subscription(fields: Mapping[str, Any], defaults: Settings) -> SubscriptionRequest:
    """Check a subscribe form or CSV row; InvalidSubscription holds every field's error."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = clean_email(fields.get("email"))
    except ValueError as exc:
        errors["email"] = str(exc)
    try:
        preferences = validate_preferences(fields, defaults)
    except InvalidSubscription as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidSubscription(errors)
    return SubscriptionRequest(email=email, preferences=preferences)


def find_subscriber(session: Session, email: str, *, lock: bool = False) -> Subscriber | None:
    """The subscriber with this (normalised) address, optionally locked for update."""
    query = select(Subscriber).where(Subscriber.email == email)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def apply_preferences(subscriber: Subscriber, preferences: Preferences) -> None:
    """Store new preferences; a changed schedule is left for the planner to recompute."""
    schedule_before = _schedule_fields(subscriber)
    subscriber.keywords = preferences.keywords
    subscriber.frequency = preferences.frequency
    subscriber.weekday = preferences.weekday
    subscriber.send_time = preferences.send_time
    subscriber.timezone = preferences.timezone
    if _schedule_fields(subscriber) != schedule_before:
        subscriber.next_digest_at = None


def _schedule_fields(subscriber: Subscriber) -> tuple[Any, ...]:
    weekday = subscriber.weekday if subscriber.frequency == "weekly" else None
    return (subscriber.frequency, weekday, subscriber.send_time, subscriber.timezone)


def links_sent_recently(session: Session, email: str, *, now: datetime) -> int:
    """How many confirmation and manage-link emails this address got in the last 24 hours."""
    query = select(func.count(OutboxMessage.id)).where(
        OutboxMessage.to_addr == email,
        OutboxMessage.kind.in_(LINK_KINDS),
        OutboxMessage.created_at > now - ADDRESS_WINDOW,
    )
    return int(session.scalar(query) or 0)


def subscribe(
    session: Session,
    settings: Settings,
    request: SubscriptionRequest,
    *,
    now: datetime,
    tokens: Tokens,
    renderer: Renderer,
) -> str:
    """Start (or restart) double opt-in; return what happened, never shown to the visitor.

    Outcomes: `confirm_sent` (new, pending or unsubscribed address: preferences stored, a fresh
    confirmation queued), `manage_link_sent` (already subscribed: nothing changes, the manage link
    is mailed), `capped` (the address had its emails for today: nothing changes).
    """
    subscriber = find_subscriber(session, request.email, lock=True)
    if links_sent_recently(session, request.email, now=now) >= MAX_EMAILS_PER_ADDRESS:
        return "capped"
    if subscriber is not None and subscriber.status in ("confirmed", "suspended"):
        queue_manage_link(session, settings, subscriber, now=now, tokens=tokens, renderer=renderer)
        return "manage_link_sent"
    if subscriber is None:
        subscriber = Subscriber(
            email=request.email, status="pending", token_nonce=new_nonce(), created_at=now
        )
        session.add(subscriber)
    subscriber.status = "pending"
    apply_preferences(subscriber, request.preferences)
    session.flush()
    queue_confirmation(session, settings, subscriber, now=now, tokens=tokens, renderer=renderer)
    return "confirm_sent"


def new_nonce() -> str:
    """A fresh token nonce; replacing a subscriber's voids all their older links."""
    return secrets.token_hex(16)


def queue_confirmation(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    *,
    now: datetime,
    tokens: Tokens,
    renderer: Renderer,
) -> None:
    """Queue the double opt-in email with a link valid for seven days."""
    email = renderer.email(
        "confirm",
        confirm_url=confirm_url(settings.base_url, tokens, subscriber),
        valid_days=CONFIRM_MAX_AGE.days,
        subscriber=subscriber,
    )
    _queue(session, settings, subscriber, "confirm", email, now=now)


def queue_manage_link(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    *,
    now: datetime,
    tokens: Tokens,
    renderer: Renderer,
) -> None:
    """Queue the 'you are already subscribed' email with the manage and unsubscribe links."""
    links = subscriber_links(settings.base_url, tokens, subscriber)
    email = renderer.email(
        "already_subscribed",
        manage_url=links.manage,
        unsubscribe_url=links.unsubscribe,
        subscriber=subscriber,
    )
    _queue(
        session, settings, subscriber, "manage_link", email, now=now,
        unsubscribe_url=links.unsubscribe,
    )


def _queue(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    kind: str,
    email: Any,
    *,
    now: datetime,
    unsubscribe_url: str | None = None,
    dedupe_key: str | None = None,
) -> None:
    queue_email(
        session,
        settings,
        kind=kind,
        dedupe_key=dedupe_key or f"{kind}:{subscriber.id}:{secrets.token_hex(8)}",
        to_addr=subscriber.email,
        subject=email.subject,
        text=email.text,
        html=email.html,
        now=now,
        subscriber_id=subscriber.id,
        unsubscribe_url=unsubscribe_url,
    )


def confirm(session: Session, subscriber: Subscriber, *, now: datetime) -> str:
    """Confirm a pending subscription; `confirmed`, `already` or `unsubscribed` (nothing done)."""
    if subscriber.status == "unsubscribed":
        return "unsubscribed"
    if subscriber.status != "pending":
        return "already"
    subscriber.status = "confirmed"
    subscriber.confirmed_at = now
    subscriber.paused = False
    subscriber.last_digest_at = None
    subscriber.next_digest_at = None
    return "confirmed"


def next_digest_due(subscriber: Subscriber, *, now: datetime) -> datetime:
    """When the next digest is due, as the planner will compute it (for display)."""
    if subscriber.next_digest_at is not None:
        return subscriber.next_digest_at
    return first_due(
        schedule_of(subscriber),
        confirmed_at=subscriber.confirmed_at,
        last_digest_at=subscriber.last_digest_at,
        now=now,
    )


def pause(session: Session, subscriber: Subscriber, *, now: datetime) -> None:
    """Stop digests until resumed; the subscription and its profile stay."""
    subscriber.paused = True


def resume(session: Session, subscriber: Subscriber, *, now: datetime) -> None:
    """Restart digests after a pause or a bounce suspension; the planner picks the next slot."""
    subscriber.paused = False
    if subscriber.status == "suspended":
        subscriber.status = "confirmed"
        subscriber.suspended_at = None
        subscriber.hard_failures = 0
    subscriber.next_digest_at = None


def unsubscribe(session: Session, subscriber: Subscriber, *, now: datetime) -> bool:
    """End the subscription and cancel its queued mail; False when it had already ended."""
    cancel_for_subscriber(session, subscriber.id, now=now)
    if subscriber.status == "unsubscribed":
        return False
    subscriber.status = "unsubscribed"
    subscriber.unsubscribed_at = now
    subscriber.next_digest_at = None
    return True


def delete_data(session: Session, subscriber: Subscriber) -> None:
    """Delete the subscriber; the database cascades to digests, their items and the outbox."""
    session.delete(subscriber)
    session.flush()


def export_data(subscriber: Subscriber, *, now: datetime) -> dict[str, Any]:
    """Everything stored about a subscriber, as JSON-ready values (GDPR-style data access)."""

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "exported_at": stamp(now),
        "email": subscriber.email,
        "status": subscriber.status,
        "paused": subscriber.paused,
        "keywords": subscriber.keywords,
        "schedule": {
            "frequency": subscriber.frequency,
            "weekday": WEEKDAYS[subscriber.weekday] if subscriber.frequency == "weekly" else None,
            "send_time": subscriber.send_time,
            "timezone": subscriber.timezone,
        },
        "dates": {
            "created_at": stamp(subscriber.created_at),
            "confirmed_at": stamp(subscriber.confirmed_at),
            "unsubscribed_at": stamp(subscriber.unsubscribed_at),
            "suspended_at": stamp(subscriber.suspended_at),
            "last_digest_at": stamp(subscriber.last_digest_at),
        },
        "digests": [
            {
                "scheduled_for": stamp(digest.scheduled_for),
                "keywords": digest.keywords,
                "papers": [
                    {
                        "title": item.paper.title,
                        "url": item.paper.url,
                        "matched": item.matched_terms,
                    }
                    for item in digest.items
                ],
            }
            for digest in sorted(subscriber.digests, key=lambda d: d.scheduled_for)
        ],
    }


def queue_export_notice(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    *,
    now: datetime,
    tokens: Tokens,
    renderer: Renderer,
) -> None:
    """Tell the address its data was downloaded (at most one notice an hour)."""
    links = subscriber_links(settings.base_url, tokens, subscriber)
    email = renderer.email(
        "data_export", manage_url=links.manage, exported_at=now, subscriber=subscriber
    )
    dedupe_key = f"data_export:{subscriber.id}:{now:%Y%m%d%H}"
    _queue(session, settings, subscriber, "notice", email, now=now, dedupe_key=dedupe_key)
