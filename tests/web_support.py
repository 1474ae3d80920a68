"""Helpers for the web tests: an app on the test services with a settable clock, a client that
fetches CSRF tokens from the forms as a browser would, and links pulled out of queued emails."""

from __future__ import annotations

import html
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import OutboxMessage, Subscriber
from digest.services import Services
from digest.web import create_app

FORM = {
    "email": "ada@example.org",
    "keywords": "reinforcement learning\nrobot*",
    "frequency": "daily",
    "weekday": "monday",
    "send_time": "07:30",
    "timezone": "Europe/Berlin",
}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def make_app(services: Services, clock: Any, **config: Any) -> Flask:
    """The real app on the test database, its clock replaced by the test's."""
    app = create_app(services=services)
    app.extensions["digest"].clock = clock
    app.config.update(config)
    return app


def csrf_from(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page)
    assert found, "no CSRF token on the page"
    return html.unescape(found[1])


def post_form(client: FlaskClient, page_url: str, action: str, **fields: Any) -> Any:
    """GET the page (for its CSRF token), then POST the fields to `action`."""
    page = client.get(page_url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **fields})


def subscribe(client: FlaskClient, **overrides: Any) -> Any:
    """Fill in and submit the subscribe form."""
    return post_form(client, "/", "/subscribe", **{**FORM, **overrides})


def outbox(sessions: sessionmaker[Session], to_addr: str | None = None) -> list[OutboxMessage]:
    """Queued and sent messages, oldest first."""
    with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if to_addr is not None:
            query = query.where(OutboxMessage.to_addr == to_addr)
        return list(session.scalars(query))


def subscriber(sessions: sessionmaker[Session], email: str = FORM["email"]) -> Subscriber | None:
    """The stored subscriber with this address, if any."""
    with sessions() as session:
        return session.scalars(select(Subscriber).where(Subscriber.email == email)).one_or_none()


def parse(raw: bytes) -> EmailMessage:
    """A serialized message, parsed."""
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def text_part(message: EmailMessage) -> str:
    """The plain-text body of a message."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, kind: str) -> str:
    """The path of the first /<kind>/<token> link in the text part (base URL stripped)."""
    found = re.search(rf"https?://[^/\s]+(/{kind}/[A-Za-z0-9._-]+)", text_part(message))
    assert found, f"no /{kind}/ link in the email"
    return found[1]


def without_csrf(page: str) -> str:
    """A page with its CSRF tokens blanked, to compare two answers byte for byte."""
    return _CSRF.sub('name="csrf_token" value=""', page)


def add_paper(sessions: sessionmaker[Session], key: str, title: str, first_seen: Any, **more: Any):
    """Store one paper first seen at `first_seen`."""
    from digest.models import Paper

    with sessions.begin() as session:
        paper = Paper(
            key=key, title=title, abstract=more.pop("abstract", ""), first_seen_at=first_seen,
            last_seen_at=first_seen, last_changed_at=first_seen, **more,
        )
        session.add(paper)
        session.flush()
        return paper


def update_subscriber(sessions: sessionmaker[Session], email: str = FORM["email"], **values: Any):
    """Change stored subscriber columns directly (to set up a state)."""
    from sqlalchemy import update

    with sessions.begin() as session:
        session.execute(update(Subscriber).where(Subscriber.email == email).values(**values))


def add_subscriber(sessions: sessionmaker[Session], now: Any, **values: Any) -> Subscriber:
    """Store a subscriber directly (confirmed by default), as the pages would have left it."""
    fields = {
        "email": FORM["email"], "status": "confirmed", "keywords": "robot*",
        "send_time": "07:00", "timezone": "UTC", "token_nonce": "nonce-1",
        "created_at": now, "confirmed_at": now, **values,
    }
    with sessions.begin() as session:
        stored = Subscriber(**fields)
        session.add(stored)
        session.flush()
        return stored
