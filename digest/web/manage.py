"""The manage page behind the link in every email: preferences, pause/resume, export, delete."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.compose import history
from digest.models import Digest, Subscriber
from digest.relevance import feedback
from digest.subscribers.feed import has_feed
from digest.subscribers.notices import queue_export_notice
from digest.subscribers.subscriptions import (
    apply_preferences,
    delete_data,
    export_data,
    next_digest_due,
    pause,
    resume,
    subscribe,
)
from digest.subscribers.validation import Preferences, SubscriptionRequest
from digest.tokens import feed_url
from digest.web.context import button_page, mail_queued, mailing, now, subscriber_for, web
from digest.web.forms import LIMITS, ActionForm, PreferencesForm
from digest.web.help import COMMON_TIMEZONES

bp = Blueprint("manage", __name__, url_prefix="/manage/<token>")

RECENT_DIGESTS = 5


@bp.get("")
def manage_page(token: str) -> ResponseReturnValue:
    """The subscription as it stands, with a form for every change."""
    with web().services.reads.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token, lock=False)
        current = _current(subscriber)
        current["papers"] = "\n".join(
            row.arxiv_id for row in feedback.liked_papers(session, subscriber.id)
        )
        form = PreferencesForm(data=current)
        return _page(session, subscriber, token, form)


@bp.post("")
def update(token: str) -> ResponseReturnValue:
    """Save keywords and schedule, validated exactly as the subscribe form is."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        form = PreferencesForm()
        if not form.validate():
            return _page(session, subscriber, token, form, status=400)
        apply_preferences(subscriber, form.preferences())
        if web().services.settings.relevance:  # SPEC §10: looked up later if not stored
            feedback.set_liked(session, subscriber.id, form.liked_ids(), now=now())
    flash("Your keywords, schedule and delivery are saved.")
    return _back(token)


@bp.post("/pause")
def pause_post(token: str) -> ResponseReturnValue:
    """Stop digests until resumed."""
    return _change(token, pause, "Digests are paused. Resume them here whenever you like.")


@bp.post("/resume")
def resume_post(token: str) -> ResponseReturnValue:
    """Restart digests after a pause or a suspension."""
    return _change(token, resume, "Digests are back on.")


@bp.post("/resubscribe")
def resubscribe(token: str) -> ResponseReturnValue:
    """After unsubscribing: start double opt-in again with the stored preferences."""
    context = web()
    with context.services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        preferences = Preferences(**_current(subscriber))
        request = SubscriptionRequest(email=subscriber.email, preferences=preferences)
        subscribe(session, context.services.settings, request, **mailing())
        email = subscriber.email
    mail_queued()
    return render_template("web/check_inbox.html", email=email)


@bp.post("/export")
def export(token: str) -> ResponseReturnValue:
    """Download everything stored about this address as JSON; the address is told by email."""
    context = web()
    with context.services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        data = export_data(subscriber, now=now())
        data.update(feedback.export(session, subscriber.id))  # SPEC §10: ratings, liked papers
        queue_export_notice(session, context.services.settings, subscriber, **mailing())
    mail_queued()
    body = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="paper-digest-data.json"'
    return response


@bp.get("/delete")
def delete_page(token: str) -> ResponseReturnValue:
    """Ask before deleting: this cannot be undone."""
    return button_page("manage", token, "web/delete.html")


@bp.post("/delete")
def delete_post(token: str) -> ResponseReturnValue:
    """Delete the address, profile and delivery history; every link dies with the row."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        delete_data(session, subscriber)
    return render_template("web/deleted.html")


def _current(subscriber: Subscriber) -> dict[str, Any]:
    """The stored preferences, as the preferences form and `Preferences` take them."""
    return {
        "keywords": subscriber.keywords,
        "frequency": subscriber.frequency,
        "weekday": subscriber.weekday,
        "send_time": subscriber.send_time,
        "timezone": subscriber.timezone,
        "delivery": subscriber.delivery,
    }


def _page(
    session: Session,
    subscriber: Subscriber,
    token: str,
    form: PreferencesForm,
    status: int = 200,
) -> tuple[str, int]:
    """The manage page: the form, the schedule, the last few digests."""
    context = web()
    recent = session.scalars(
        select(Digest)
        .where(Digest.subscriber_id == subscriber.id)
        .order_by(Digest.scheduled_for.desc())
        .limit(RECENT_DIGESTS)
    ).all()
    active = subscriber.status == "confirmed" and not subscriber.paused
    last = history.last_digest(session, subscriber.id)
    base = context.services.settings.base_url
    page = render_template(
        "web/manage.html",
        subscriber=subscriber,
        token=token,
        form=form,
        action=ActionForm(),
        timezones=COMMON_TIMEZONES,
        limits=LIMITS,
        next_digest=next_digest_due(subscriber, now=now()) if active else None,
        unsubscribe_token=context.tokens.make("unsubscribe", subscriber),
        recent=[(d, context.tokens.make("digest", subscriber, d.id)) for d in recent],
        last_digest=last,
        # Composed since the last digest, with nothing matched: "why did I get nothing?"
        empty_since=_empty_since(subscriber, last),
        feed_url=feed_url(base, context.tokens, subscriber) if has_feed(subscriber) else None,
        liked=feedback.liked_papers(session, subscriber.id)
        if context.services.settings.relevance
        else [],
        relevance=context.services.settings.relevance,
    )
    return page, status


def _empty_since(subscriber: Subscriber, last: history.DigestStamp | None) -> datetime | None:
    """When the latest digest slot passed without a digest (nothing new matched), if it did."""
    moved_on = subscriber.last_digest_at
    if moved_on is None or (last is not None and last.window_end >= moved_on):
        return None
    return moved_on


class _Step(Protocol):
    """A domain step on one subscriber, such as pause and resume."""

    def __call__(self, session: Session, subscriber: Subscriber, *, now: datetime) -> None: ...


def _change(token: str, step: _Step, message: str) -> ResponseReturnValue:
    """Apply `step` to the token's subscriber, then say so on the manage page."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        step(session, subscriber, now=now())
    flash(message)
    return _back(token)


def _back(token: str) -> ResponseReturnValue:
    """Back to the manage page (303: the browser follows with a GET)."""
    return redirect(url_for("manage.manage_page", token=token), code=303)
