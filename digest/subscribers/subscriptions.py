"""A subscription's life as domain functions (no Flask): subscribe, confirm, pause, leave, delete.

Every function takes a Session and an explicit `now`, and never commits. Input arrives checked
(validation.py makes the SubscriptionRequest); mail is only queued, through notices.py and the
outbox, never sent here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from digest.compose.digests import schedule_of
from digest.compose.schedule import first_due
from digest.compose.stored import stored_matches
from digest.config import Settings
from digest.mail.outbox import cancel_for_subscriber
from digest.mail.render import Renderer
from digest.models import Subscriber
from digest.relevance import feedback

# The notices and the validation lived here before their own modules; callers still import
# them from here (`name as name` marks a re-export).
from digest.subscribers.notices import ADDRESS_WINDOW as ADDRESS_WINDOW
from digest.subscribers.notices import LINK_KINDS as LINK_KINDS
from digest.subscribers.notices import MAX_EMAILS_PER_ADDRESS, links_sent_recently, queue_rejoin
from digest.subscribers.notices import queue_confirmation as queue_confirmation
from digest.subscribers.notices import queue_export_notice as queue_export_notice
from digest.subscribers.notices import queue_manage_link as queue_manage_link
from digest.subscribers.validation import DELIVERIES as DELIVERIES
from digest.subscribers.validation import FREQUENCIES as FREQUENCIES
from digest.subscribers.validation import MAX_EMAIL_LENGTH as MAX_EMAIL_LENGTH
from digest.subscribers.validation import MAX_KEYWORDS_LENGTH as MAX_KEYWORDS_LENGTH
from digest.subscribers.validation import WEEKDAYS, Preferences, SubscriptionRequest
from digest.subscribers.validation import InvalidSubscription as InvalidSubscription
from digest.subscribers.validation import clean_email as clean_email
from digest.subscribers.validation import clean_frequency as clean_frequency
from digest.subscribers.validation import clean_keywords as clean_keywords
from digest.subscribers.validation import clean_send_time as clean_send_time
from digest.subscribers.validation import clean_timezone as clean_timezone
from digest.subscribers.validation import clean_weekday as clean_weekday
from digest.subscribers.validation import timezone_names as timezone_names
from digest.subscribers.validation import validate_preferences as validate_preferences
from digest.subscribers.validation import validate_subscription as validate_subscription
from digest.tokens import RejoinData, Tokens, stamp


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
    subscriber.delivery = preferences.delivery
    if _schedule_fields(subscriber) != schedule_before:
        subscriber.next_digest_at = None


def _schedule_fields(subscriber: Subscriber) -> tuple[Any, ...]:
    """What decides the send times (the weekday only for weekly digests)."""
    weekday = subscriber.weekday if subscriber.frequency == "weekly" else None
    return (subscriber.frequency, weekday, subscriber.send_time, subscriber.timezone)


def subscribe(
    session: Session,
    settings: Settings,
    request: SubscriptionRequest,
    *,
    now: datetime,
    tokens: Tokens,
    renderer: Renderer,
    liked: Sequence[str] | None = None,
) -> str:
    """Start (or restart) double opt-in; return what happened, never shown to the visitor.

    `liked` (SPEC §10, None when relevance is off): the papers the form named, stored with the
    preferences, i.e. only on `confirm_sent`; a subscribed address changes nothing here.

    Outcomes: `confirm_sent` (new or pending address: preferences stored, a fresh confirmation
    queued), `rejoin_sent` (unsubscribed: nothing stored changes, SPEC §4; the confirmation
    carries the request, see `rejoin`), `manage_link_sent` (already subscribed: nothing changes,
    the manage link is mailed), `capped` (the address had its emails for today: nothing changes).
    """
    subscriber = find_subscriber(session, request.email, lock=True)
    if links_sent_recently(session, request.email, now=now) >= MAX_EMAILS_PER_ADDRESS:
        return "capped"
    if subscriber is not None and subscriber.status in ("confirmed", "suspended"):
        queue_manage_link(session, settings, subscriber, now=now, tokens=tokens, renderer=renderer)
        return "manage_link_sent"
    if subscriber is not None and subscriber.status == "unsubscribed":
        queue_rejoin(session, settings, subscriber, request.preferences,
                     now=now, tokens=tokens, renderer=renderer)
        return "rejoin_sent"
    created = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(
            email=request.email, status="pending", token_nonce=new_nonce(), created_at=now
        )
        session.add(subscriber)
    subscriber.status = "pending"
    apply_preferences(subscriber, request.preferences)
    session.flush()
    queue_confirmation(session, settings, subscriber, now=now, tokens=tokens, renderer=renderer)
    if liked is not None and (liked or not created):  # a new address has no likes to clear
        feedback.set_liked(session, subscriber.id, liked, now=now)
    return "confirm_sent"


def new_nonce() -> str:
    """A fresh token nonce; replacing a subscriber's voids all their older links."""
    return secrets.token_hex(16)


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


def rejoin(
    session: Session, subscriber: Subscriber, data: RejoinData, *, now: datetime
) -> str:
    """Follow a rejoin link: re-subscribe with the request it carries; `confirmed`, `already`
    (subscribed again meanwhile) or `unsubscribed` (it unsubscribed again since: nothing done)."""
    if subscriber.status != "unsubscribed":
        return "already"
    if stamp(subscriber.unsubscribed_at) != data.unsubscribed_at:
        return "unsubscribed"
    if data.request is not None:
        keywords, frequency, weekday, send_time, timezone = data.request
        requested = Preferences(keywords, frequency, weekday, send_time, timezone)
        apply_preferences(subscriber, requested)
    subscriber.status = "pending"
    subscriber.unsubscribed_at = None
    subscriber.hard_failures = 0
    return confirm(session, subscriber, now=now)


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
    """Delete the subscriber; the database cascades to their digests and the outbox."""
    session.delete(subscriber)
    session.flush()


def export_data(subscriber: Subscriber, *, now: datetime) -> dict[str, Any]:
    """Everything stored about a subscriber, as JSON-ready values (GDPR-style data access)."""

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    session = object_session(subscriber)
    assert session is not None, "export_data reads the subscriber's digests through its session"

    return {
        "exported_at": stamp(now),
        "email": subscriber.email,
        "status": subscriber.status,
        "paused": subscriber.paused,
        "delivery": subscriber.delivery,
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
                    {"title": paper.title, "url": paper.url, "matched": list(match.terms)}
                    for paper, match in stored_matches(session, digest)
                ],
            }
            for digest in sorted(subscriber.digests, key=lambda d: d.scheduled_for)
        ],
    }
