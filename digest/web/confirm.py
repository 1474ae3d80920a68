"""Double opt-in: the emailed link shows one button (scanners prefetch links); POST confirms.

Two kinds of token lead here: a `confirm` token for a pending subscription, and a `rejoin` token
for an address that unsubscribed, carrying what was requested (SPEC §4: the stored row stays as
it is until the owner follows the link). Both answer the same pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest.models import Subscriber
from digest.subscribers.subscriptions import confirm, next_digest_due, rejoin
from digest.subscribers.validation import Preferences
from digest.tokens import CONFIRM_MAX_AGE, RejoinData, TokenInvalid, stamp, subscriber_links
from digest.web.context import now, subscriber_for, web
from digest.web.forms import ActionForm

bp = Blueprint("confirm", __name__)


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    """The button while there is something to confirm; else what the POST would answer."""
    with web().services.reads.begin() as session:
        subscriber, data = _load(session, token, lock=False)
        outcome = _would_be(subscriber, data)
        if outcome != "confirm":
            return _outcome_page(subscriber, outcome)
        shown: Any = subscriber
        if data is not None and data.request is not None:
            shown = Preferences(*data.request)
        return render_template(
            "web/confirm.html", subscriber=subscriber, shown=shown, form=ActionForm(), token=token
        )


@bp.post("/confirm/<token>")
def confirm_post(token: str) -> ResponseReturnValue:
    """Confirm (once; again is harmless) and say when the first digest comes."""
    with web().services.sessions.begin() as session:
        subscriber, data = _load(session, token, lock=True)
        if data is None:
            outcome = confirm(session, subscriber, now=now())
        else:
            outcome = rejoin(session, subscriber, data, now=now())
        return _outcome_page(subscriber, outcome)


def _load(session: Session, token: str, *, lock: bool) -> tuple[Subscriber, RejoinData | None]:
    """The token's subscriber, and the rejoin request when it is a rejoin token."""
    try:
        subscriber, _ = subscriber_for(session, "confirm", token, CONFIRM_MAX_AGE, lock=lock)
        return subscriber, None
    except TokenInvalid:
        context = web()
        data = context.tokens.load_rejoin(token, CONFIRM_MAX_AGE)  # its errors: the bad-link page
        found = session.get(Subscriber, data.subscriber_id, with_for_update=lock)
        context.tokens.check_current(data, found)
        assert found is not None
        return found, data


def _would_be(subscriber: Subscriber, data: RejoinData | None) -> str:
    """What following the link would do: `confirm`, `already` or `unsubscribed` (ended)."""
    if subscriber.status == "unsubscribed":
        if data is not None and stamp(subscriber.unsubscribed_at) == data.unsubscribed_at:
            return "confirm"
        return "unsubscribed"
    if subscriber.status == "pending" and data is None:
        return "confirm"
    return "already"


def _outcome_page(subscriber: Subscriber, outcome: str) -> ResponseReturnValue:
    """What confirming did, and when the first digest comes."""
    if outcome == "unsubscribed":
        return render_template("web/confirm_ended.html"), 200
    context = web()
    links = subscriber_links(context.services.settings.base_url, context.tokens, subscriber)
    first = next_digest_due(subscriber, now=now()) if subscriber.status == "confirmed" else None
    return render_template(
        "web/confirmed.html",
        subscriber=subscriber,
        outcome=outcome,
        first_digest=first,
        manage_url=links.manage,
    )
