"""What every view needs from the app: services, tokens, renderer, clock; token look-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from digest.mail.render import Renderer
from digest.models import Subscriber
from digest.services import Services
from digest.subscribers.notices import Mailing
from digest.tokens import TokenData, Tokens
from digest.web.forms import ActionForm


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


def mailing() -> Mailing:
    """The app's clock, tokens and renderer, as every domain step that queues mail takes them."""
    context = web()
    return Mailing(now=now(), tokens=context.tokens, renderer=context.renderer)


def subscriber_for(
    session: Session,
    purpose: str,
    token: str,
    max_age: timedelta | None = None,
    *,
    lock: bool = True,
) -> tuple[Subscriber, TokenData]:
    """The subscriber a token names; TokenExpired / TokenInvalid become the bad-link page.

    `lock=False` for pages that only read (in a `services.reads` session)."""
    tokens = web().tokens
    data = tokens.load(purpose, token, max_age=max_age)
    subscriber = session.get(Subscriber, data.subscriber_id, with_for_update=lock)
    tokens.check_current(data, subscriber)
    assert subscriber is not None  # check_current raised otherwise
    return subscriber, data


def button_page(purpose: str, token: str, template: str) -> str:
    """A page with one POST button for the token's subscriber; showing it changes nothing."""
    with web().services.reads.begin() as session:
        subscriber, _ = subscriber_for(session, purpose, token, lock=False)
        return render_template(template, subscriber=subscriber, token=token, form=ActionForm())
