"""The manage page behind the link in every email: preferences, pause/resume, export, delete."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Digest, Subscriber
from digest.subscriptions import (
    Preferences,
    SubscriptionRequest,
    apply_preferences,
    delete_data,
    export_data,
    next_digest_due,
    pause,
    queue_export_notice,
    resume,
    subscribe,
    timezone_names,
)
from digest.web.context import mail_queued, now, subscriber_for, web
from digest.web.forms import LIMITS, ActionForm, PreferencesForm

bp = Blueprint("manage", __name__, url_prefix="/manage/<token>")

RECENT_DIGESTS = 5


@bp.get("")
def manage_page(token: str) -> ResponseReturnValue:
    """The subscription as it stands, with a form for every change."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        form = PreferencesForm(data=_current(subscriber))
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
    flash("Your keywords and schedule are saved.")
    return _back(token)


@bp.post("/pause")
def pause_post(token: str) -> ResponseReturnValue:
    """Stop digests until resumed."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        pause(session, subscriber, now=now())
    flash("Digests are paused. Resume them here whenever you like.")
    return _back(token)


@bp.post("/resume")
def resume_post(token: str) -> ResponseReturnValue:
    """Restart digests after a pause or a suspension."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        resume(session, subscriber, now=now())
    flash("Digests are back on.")
    return _back(token)


@bp.post("/resubscribe")
def resubscribe(token: str) -> ResponseReturnValue:
    """After unsubscribing: start double opt-in again with the stored preferences."""
    context = web()
    with context.services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        preferences = Preferences(**_current(subscriber))
        request = SubscriptionRequest(email=subscriber.email, preferences=preferences)
        subscribe(
            session,
            context.services.settings,
            request,
            now=now(),
            tokens=context.tokens,
            renderer=context.renderer,
        )
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
        queue_export_notice(
            session,
            context.services.settings,
            subscriber,
            now=now(),
            tokens=context.tokens,
            renderer=context.renderer,
        )
    mail_queued()
    body = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="paper-digest-data.json"'
    return response


@bp.get("/delete")
def delete_page(token: str) -> ResponseReturnValue:
    """Ask before deleting: this cannot be undone."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        return render_template(
            "web/delete.html", subscriber=subscriber, token=token, form=ActionForm()
        )


@bp.post("/delete")
def delete_post(token: str) -> ResponseReturnValue:
    """Delete the address, profile and delivery history; every link dies with the row."""
    with web().services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "manage", token)
        delete_data(session, subscriber)
    return render_template("web/deleted.html")


def _current(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "keywords": subscriber.keywords,
        "frequency": subscriber.frequency,
        "weekday": subscriber.weekday,
        "send_time": subscriber.send_time,
        "timezone": subscriber.timezone,
    }


def _page(
    session: Session,
    subscriber: Subscriber,
    token: str,
    form: PreferencesForm,
    status: int = 200,
) -> tuple[str, int]:
    context = web()
    recent = session.scalars(
        select(Digest)
        .where(Digest.subscriber_id == subscriber.id)
        .order_by(Digest.scheduled_for.desc())
        .limit(RECENT_DIGESTS)
    ).all()
    active = subscriber.status == "confirmed" and not subscriber.paused
    page = render_template(
        "web/manage.html",
        subscriber=subscriber,
        token=token,
        form=form,
        action=ActionForm(),
        timezones=timezone_names(),
        limits=LIMITS,
        next_digest=next_digest_due(subscriber, now=now()) if active else None,
        unsubscribe_token=context.tokens.make("unsubscribe", subscriber),
        recent=[(d, context.tokens.make("digest", subscriber, d.id)) for d in recent],
    )
    return page, status


def _back(token: str) -> ResponseReturnValue:
    return redirect(url_for("manage.manage_page", token=token), code=303)
