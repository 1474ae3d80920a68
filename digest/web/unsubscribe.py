"""Leaving: GET shows one button and changes nothing; POST unsubscribes, RFC 8058 one-click too.

Mail providers send the one-click POST (body `List-Unsubscribe=One-Click`) without cookies, so it
cannot carry a CSRF token; the signed token in the URL is what authorises it. The view is exempt
from the app-wide CSRF check and checks the CSRF token itself for every other POST. The token
never expires and repeating the POST is harmless: it answers 200 every time, never a redirect.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from digest.subscribers.subscriptions import unsubscribe
from digest.tokens import subscriber_links
from digest.web.context import button_page, now, subscriber_for, web

bp = Blueprint("unsubscribe", __name__)

ONE_CLICK = "One-Click"


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """One button; mail scanners that follow the link change nothing."""
    return button_page("unsubscribe", token, "web/unsubscribe.html")


@bp.post("/unsubscribe/<token>")
def unsubscribe_post(token: str) -> ResponseReturnValue:
    """Unsubscribe and cancel queued mail; one-click POSTs get a small 200 answer."""
    one_click = _is_one_click()
    if not one_click:
        web().csrf.protect()  # raises CSRFError (400) without a valid token
    context = web()
    with context.services.sessions.begin() as session:
        subscriber, _ = subscriber_for(session, "unsubscribe", token)
        unsubscribe(session, subscriber, now=now())
        links = subscriber_links(context.services.settings.base_url, context.tokens, subscriber)
        email = subscriber.email
    if one_click:
        return Response("You are unsubscribed.\n", 200, mimetype="text/plain")
    return render_template("web/unsubscribed.html", email=email, manage_url=links.manage)


def _is_one_click() -> bool:
    """True for an RFC 8058 POST (form-encoded or multipart `List-Unsubscribe=One-Click`)."""
    if request.form.get("List-Unsubscribe") == ONE_CLICK:
        return True
    return request.get_data(cache=True, as_text=True).strip() == f"List-Unsubscribe={ONE_CLICK}"
