"""The subscribe page: the form, the "what would this have matched?" check, and POST /subscribe."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from sqlalchemy.exc import IntegrityError

from digest.matching import parse_profile
from digest.subscribers.subscriptions import subscribe
from digest.subscribers.validation import SubscriptionRequest
from digest.web.check import CheckBusy, CheckResult, run_check
from digest.web.context import mail_queued, mailing, now, web
from digest.web.forms import LIMITS, SubscribeForm, defaults_for
from digest.web.help import COMMON_TIMEZONES

bp = Blueprint("subscribe", __name__)

# Per client address (behind a proxy, per visitor: DIGEST_PROXY_HOPS); check.py bounds each run.
CHECK_RATE_LIMIT = "30 per minute;300 per hour"


def _page(
    form: SubscribeForm, status: int = 200, check: CheckResult | None = None
) -> tuple[str, int]:
    """The subscribe page: the form, its errors, and the result of a check if there was one."""
    return (
        render_template(
            "web/subscribe.html",
            form=form,
            check=check,
            timezones=COMMON_TIMEZONES,
            limits=LIMITS,
        ),
        status,
    )


@bp.get("/")
def index() -> ResponseReturnValue:
    """The empty form, prefilled with the configured defaults."""
    form = SubscribeForm(data=defaults_for(web().services.settings))
    return _page(form)


def install_limits(app: Flask, limiter: Limiter, subscribe_rate_limit: str) -> None:
    """Rate-limit the two POSTs per client, as decorators (flask-limiter's context-manager
    form reads the call stack on every request: 3% of a sign-up's time under load)."""
    for endpoint, rate in (("subscribe.check", CHECK_RATE_LIMIT),
                           ("subscribe.subscribe_post", subscribe_rate_limit)):
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(rate)(view)  # type: ignore[assignment]


@bp.post("/check")
def check() -> ResponseReturnValue:
    """Count the papers of the last week the typed keywords match; the form keeps its values."""
    form = SubscribeForm()
    form.validate()
    form.email.errors = []  # only the keywords matter here; other fields are judged on submit
    for name in ("frequency", "weekday", "send_time", "timezone", "delivery"):
        form[name].errors = []
    if form.keywords.errors:
        return _page(form, 400)
    return _page(form, check=_check(form.keywords.data))


def _check(keywords: str) -> CheckResult:
    """What the profile would have matched among the papers first seen in the last days."""
    profile = parse_profile(keywords)
    try:
        # A read session: the check never holds SQLite's write lock, so it cannot delay writers.
        with web().services.reads() as session:
            return run_check(session, profile, now=now())
    except CheckBusy:
        abort(503)


@bp.post("/subscribe")
def subscribe_post() -> ResponseReturnValue:
    """Valid input: the same "check your inbox" page for every address. Invalid: 400 and errors."""
    form = SubscribeForm()
    if not form.validate():
        return _page(form, 400)
    if not form.is_bot():
        _subscribe(
            SubscriptionRequest(email=form.email.data, preferences=form.preferences()),
            form.liked_ids(),
        )
    return render_template("web/check_inbox.html", email=form.email.data), 200


def _subscribe(request: SubscriptionRequest, liked: list[str] | None = None) -> None:
    """Run the domain step; a concurrent first subscribe of the same address is retried once.

    Liked papers (SPEC §10) are stored with the preferences, i.e. only when they are (pending a
    confirmation); a subscribed address changes nothing here, as for its keywords."""
    context = web()
    for attempt in (1, 2):
        try:
            likes = (liked or []) if context.services.settings.relevance else None
            with context.services.sessions.begin() as session:
                subscribe(session, context.services.settings, request, liked=likes, **mailing())
            mail_queued()
            return
        except IntegrityError:
            if attempt == 2:
                raise
