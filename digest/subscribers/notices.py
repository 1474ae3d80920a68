"""Transactional email about a subscription, rendered and queued in the outbox (never sent here).

Three notices: the double opt-in confirmation, the "you are already subscribed" manage link and
the data-export notice. They differ only in their templates, their outbox kind and how often they
may go (a `Notice`), so one function renders and queues them all. Confirmation and manage-link
emails count against a per-address cap (`links_sent_recently`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.mail.mailbox import mailbox_key
from digest.mail.outbox import queue_email
from digest.mail.render import Renderer
from digest.models import OutboxMessage, Subscriber
from digest.subscribers.validation import Preferences
from digest.tokens import CONFIRM_MAX_AGE, Tokens, confirm_url, stamp, subscriber_links

# Confirmation and manage-link emails one address may be sent per ADDRESS_WINDOW, however
# many times the form is submitted: the form cannot be used to mail-bomb anyone.
MAX_EMAILS_PER_ADDRESS = 3
ADDRESS_WINDOW = timedelta(hours=24)
LINK_KINDS = ("confirm", "manage_link")


class Mailing(TypedDict):
    """The keyword arguments of every domain step that queues mail: `step(..., **mailing)`."""

    now: datetime
    tokens: Tokens
    renderer: Renderer


@dataclass(frozen=True)
class Notice:
    """One transactional email: its templates, its outbox kind, and how often it may go."""

    template: str  # email/<template>/{subject.txt,body.txt,body.html}
    kind: str  # the outbox kind; LINK_KINDS count against the per-address cap
    hourly: bool = False  # at most one an hour per subscriber (else one per request)
    list_unsubscribe: bool = False  # carries List-Unsubscribe: the reader is on the list


CONFIRMATION = Notice("confirm", kind="confirm")
MANAGE_LINK = Notice("already_subscribed", kind="manage_link", list_unsubscribe=True)
EXPORT_NOTICE = Notice("data_export", kind="notice", hourly=True)


def links_sent_recently(session: Session, email: str, *, now: datetime) -> int:
    """How many confirmation and manage-link emails this address's mailbox got in 24 hours
    (`mailbox_key`: every spelling of one inbox counts together).

    On PostgreSQL the mailbox is locked for the rest of the transaction first, so that two
    spellings submitted at the same moment cannot both pass the cap (SQLite's writers queue).
    """
    mailbox = mailbox_key(email)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _lock_key(mailbox)})
    query = select(func.count(OutboxMessage.id)).where(
        OutboxMessage.mailbox == mailbox,
        OutboxMessage.kind.in_(LINK_KINDS),
        OutboxMessage.created_at > now - ADDRESS_WINDOW,
    )
    return int(session.scalar(query) or 0)


def _lock_key(mailbox: str) -> int:
    """A stable signed 64-bit advisory-lock key for a mailbox (hash() varies per process)."""
    digest = hashlib.sha256(f"digest:mailbox:{mailbox}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def queue_confirmation(
    session: Session, settings: Settings, subscriber: Subscriber, **mail: Unpack[Mailing]
) -> None:
    """Queue the double opt-in email with a link valid for seven days."""
    url = confirm_url(settings.base_url, mail["tokens"], subscriber)
    days = CONFIRM_MAX_AGE.days
    _queue_notice(
        session, settings, subscriber, CONFIRMATION, mail,
        confirm_url=url, valid_days=days, shown=subscriber, again=False,
    )


def queue_rejoin(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    request: Preferences,
    **mail: Unpack[Mailing],
) -> None:
    """Queue a confirmation for an address that unsubscribed, its row left as it is.

    The link's signed token carries the request (when it fits, else confirming keeps the stored
    preferences) and which unsubscribe it undoes, so it works once and only for its owner.
    """
    carried = (request.keywords, request.frequency, request.weekday, request.send_time,
               request.timezone)
    token, fits = mail["tokens"].make_rejoin(subscriber, stamp(subscriber.unsubscribed_at), carried)
    _queue_notice(
        session, settings, subscriber, CONFIRMATION, mail,
        confirm_url=f"{settings.base_url}/confirm/{token}", valid_days=CONFIRM_MAX_AGE.days,
        shown=request if fits else subscriber, again=True,
    )


def queue_manage_link(
    session: Session, settings: Settings, subscriber: Subscriber, **mail: Unpack[Mailing]
) -> None:
    """Queue the 'you are already subscribed' email with the manage and unsubscribe links."""
    _queue_notice(session, settings, subscriber, MANAGE_LINK, mail)


def queue_export_notice(
    session: Session, settings: Settings, subscriber: Subscriber, **mail: Unpack[Mailing]
) -> None:
    """Tell the address its data was downloaded (at most one notice an hour)."""
    _queue_notice(session, settings, subscriber, EXPORT_NOTICE, mail, exported_at=mail["now"])


def _queue_notice(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    notice: Notice,
    mail: Mailing,
    **context: Any,
) -> None:
    """Render `notice` for the subscriber (with their manage and unsubscribe links) and queue it."""
    now = mail["now"]
    links = subscriber_links(settings.base_url, mail["tokens"], subscriber)
    email = mail["renderer"].email(
        notice.template,
        subscriber=subscriber,
        manage_url=links.manage,
        unsubscribe_url=links.unsubscribe,
        **context,
    )
    # An hourly notice's key names the hour, so a second one within it finds the row and stops.
    suffix = f"{now:%Y%m%d%H}" if notice.hourly else secrets.token_hex(8)
    prefix = notice.template if notice.hourly else notice.kind
    queue_email(
        session,
        settings,
        kind=notice.kind,
        dedupe_key=f"{prefix}:{subscriber.id}:{suffix}",
        to_addr=subscriber.email,
        subject=email.subject,
        text=email.text,
        html=email.html,
        now=now,
        subscriber_id=subscriber.id,
        unsubscribe_url=links.unsubscribe if notice.list_unsubscribe else None,
    )
