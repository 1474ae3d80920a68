"""What every view needs from the app: services, tokens, renderer, clock; and token look-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from digest.models import Subscriber
from digest.render import Renderer
from digest.services import Services
from digest.tokens import TokenData, Tokens


@dataclass
class WebContext:
    """The long-lived objects of one app, kept in `app.extensions["digest"]`."""

    services: Services
    tokens: Tokens
    renderer: Renderer
    limiter: Limiter
    csrf: CSRFProtect
    # Tests replace the clock to step through time without sleeping.
    clock: Callable[[], datetime]
    # Called after a request queued mail; `digest serve` sets it to wake its delivery job now.
    mail_queued: Callable[[], None] = lambda: None


def web() -> WebContext:
    """The current app's WebContext."""
    context: WebContext = current_app.extensions["digest"]
    return context


def now() -> datetime:
    """The current time by the app's clock (aware UTC)."""
    return web().clock()


def mail_queued() -> None:
    """Tell whoever delivers mail in this process that there is some (after the commit)."""
    web().mail_queued()


def subscriber_for(
    session: Session, purpose: str, token: str, max_age: timedelta | None = None
) -> tuple[Subscriber, TokenData]:
    """The subscriber a token names; TokenExpired / TokenInvalid become the bad-link page."""
    tokens = web().tokens
    data = tokens.load(purpose, token, max_age=max_age)
    subscriber = session.get(Subscriber, data.subscriber_id, with_for_update=True)
    tokens.check_current(data, subscriber)
    assert subscriber is not None  # check_current raised otherwise
    return subscriber, data
