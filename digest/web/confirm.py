"""Double opt-in: the emailed link shows one button (scanners prefetch links); POST confirms."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from digest.models import Subscriber
from digest.subscribers.subscriptions import confirm, next_digest_due
from digest.tokens import CONFIRM_MAX_AGE, subscriber_links
from digest.web.context import now, subscriber_for, web
from digest.web.forms import ActionForm

bp = Blueprint("confirm", __name__)


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    """A pending subscription gets the button; a confirmed one is told so (harmless to revisit)."""
    with web().services.reads.begin() as session:
        subscriber, _ = subscriber_for(session, "confirm", token, CONFIRM_MAX_AGE, lock=False)
        if subscriber.status == "pending":
            return render_template(
                "web/confirm.html", subscriber=subscriber, form=ActionForm(), token=token
            )
        return _outcome_page(subscriber, "already")


@bp.post("/confirm/<token>")
def confirm_post(token: str) -> ResponseReturnValue:
    """Confirm (once; again is harmless) and say when the first digest comes."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "confirm", token, CONFIRM_MAX_AGE)
        outcome = confirm(session, subscriber, now=now())
        return _outcome_page(subscriber, outcome)


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
