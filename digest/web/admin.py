"""The operator's dashboard `/admin` (SPEC §12): login, logout and the page of charts.

Without a password set (`digest admin password`) every URL here answers 404, as an unknown page
does. A login lives in the signed Flask session: when it was made, and a fingerprint of the
password hash it was made with, so it ends after SESSION_LIFETIME by the app's clock whatever the
cookie says, and a new password ends every login at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from flask import Blueprint, abort, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import PasswordField

from digest.operate import charts, stats
from digest.operate.password import password_hash, verify
from digest.web.context import now, web
from digest.web.forms import ActionForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

SESSION_LIFETIME = timedelta(hours=12)
LOGIN_RATE_LIMIT = "5 per minute; 20 per hour"
CHART_DAYS = 30
T = TypeVar("T")
WRONG_PASSWORD = "That password is not right."  # noqa: S105 (a message, not a secret)


class LoginForm(FlaskForm):
    """The one field of the login page (and the CSRF token every form carries)."""

    password = PasswordField("Password")


def _fingerprint(stored_hash: str) -> str:
    """A keyed digest of the password hash: changes with the password, reveals nothing of it."""
    key = web().services.settings.secret_key.encode()
    return hmac.new(key, stored_hash.encode(), hashlib.sha256).hexdigest()


def _stored_hash() -> str:
    """The password hash, or 404 for every admin URL while none is set."""
    with web().services.sessions() as db:
        stored = password_hash(db)
    if stored is None:
        abort(404)
    return stored


def _logged_in(stored_hash: str) -> bool:
    """True while this browser's login is younger than SESSION_LIFETIME and for this password."""
    login = session.get("admin")
    if not isinstance(login, dict):
        return False
    try:
        since = datetime.fromisoformat(str(login.get("since")))
    except ValueError:
        return False
    fresh = since <= now() < since + SESSION_LIFETIME
    return fresh and hmac.compare_digest(str(login.get("key", "")), _fingerprint(stored_hash))


@bp.get("")
def dashboard() -> ResponseReturnValue:
    """The dashboard when logged in, else the login form."""
    stored = _stored_hash()
    if not _logged_in(stored):
        session.pop("admin", None)
        return render_template("web/admin/login.html", form=LoginForm(), error=None)
    return render_template("web/admin/dashboard.html", form=ActionForm(), **_figures())


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Check the password (rate-limited per client); one answer for every wrong one."""
    stored = _stored_hash()
    web().csrf.protect()
    with web().limiter.limit(LOGIN_RATE_LIMIT, scope="admin-login"):
        form = LoginForm()
        if not form.validate() or not verify(stored, form.password.data or ""):
            return render_template("web/admin/login.html", form=form, error=WRONG_PASSWORD), 400
    # A fresh session: nothing from before the login (an old CSRF token included) carries over.
    session.clear()
    session.permanent = True
    session["admin"] = {"since": now().isoformat(), "key": _fingerprint(stored)}
    return redirect(url_for("admin.dashboard"), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End this browser's login (CSRF-checked like every form)."""
    _stored_hash()
    web().csrf.protect()
    session.clear()
    return redirect(url_for("admin.dashboard"), 303)


def _figures() -> dict[str, object]:
    """Every figure and chart of the page, read in one transaction."""
    moment = now()
    with web().services.sessions() as db:
        subscribers = stats.subscribers_over_time(db, moment, CHART_DAYS)
        messages = stats.messages_per_day(db, moment, CHART_DAYS)
        bounces = stats.bounces_per_day(db, moment, CHART_DAYS)
        papers = _short_names(stats.papers_per_source_per_day(db, moment, CHART_DAYS))
        keywords = stats.top_keywords(db, 20)
        queue = stats.outbox_queue(db)
        feeds = sorted(stats.feed_health(db), key=lambda feed: not feed.failing)
        states = stats.subscribers_by_state(db)
        composed = stats.digests_composed(db)
    return {
        "now": moment,
        "states": states,
        "composed": composed,
        "queue": queue,
        "oldest_age": queue.oldest_age(moment),
        "feeds": feeds,
        "keywords": keywords,
        "tables": {
            "subscribers": subscribers, "messages": messages, "bounces": bounces, "papers": papers,
        },
        # Each chart at two widths: the page shows the one that fits (see _chart.html).
        "charts": {
            "subscribers": _both(charts.lines, subscribers),
            "messages": _both(charts.stacked_bars, messages),
            "bounces": _both(charts.stacked_bars, bounces),
            "papers": _both(charts.stacked_bars, papers),
            "keywords": _both(charts.horizontal_bars, keywords),
        },
        "duration": duration,
    }


def _both(draw: Callable[[T, int], charts.Chart], data: T) -> tuple[charts.Chart, charts.Chart]:
    """A chart laid out for a wide card and for a phone."""
    return draw(data, charts.WIDE), draw(data, charts.NARROW)


def _short_names(data: stats.DailySeries) -> stats.DailySeries:
    """Sources named without their scheme, so a legend of URLs stays readable on a phone."""
    renamed = {short_source(name): values for name, values in data.series.items()}
    if len(renamed) < len(data.series):  # two names became one: keep them apart
        return data
    return stats.DailySeries(data.days, renamed)


def short_source(name: str) -> str:
    """`https://export.arxiv.org/rss/cs.AI` -> `export.arxiv.org/rss/cs.AI`; a path's file name."""
    for scheme in ("https://", "http://", "file://"):
        if name.startswith(scheme):
            name = name.removeprefix(scheme)
            break
    else:
        name = name.rsplit("/", 1)[-1] or name
    return name if len(name) <= 48 else name[:22] + "…" + name[-24:]


def duration(span: timedelta) -> str:
    """A span as an operator reads it: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"
