"""The web application factory: settings, CSRF, rate limits, security headers, blueprints, errors.

Nothing here runs at import time; `wsgi.py` calls `create_app()` and `digest serve` passes the
Services it shares with the scheduler. The scheduler is never started here (every gunicorn worker
would run every job).
"""

from __future__ import annotations

import gzip
from datetime import timedelta

from flask import Flask, Response, current_app, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from digest.config import Settings, load_settings
from digest.db import utcnow
from digest.mail.render import Renderer, templates_path
from digest.services import Services, build_services
from digest.tokens import TokenExpired, TokenInvalid, Tokens
from digest.web import filters
from digest.web.context import WebContext
from digest.web.subscribe import install_limits as subscribe_limits

MAX_REQUEST_BYTES = 64 * 1024
# A year, without includeSubDomains: the operator's other hosts may not all serve HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings | None = None, services: Services | None = None, *, proxy_fix: bool = True
) -> Flask:
    """Build the Flask app around the given (or environment-built) settings and services.

    `proxy_fix=False` when the server applies DIGEST_PROXY_HOPS itself (`digest serve`: waitress
    trusts the proxy's headers), so the hops are not applied twice."""
    if services is None:
        services = build_services(settings or load_settings())
    settings = services.settings
    app = Flask(__name__, template_folder=str(templates_path()), static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        WTF_CSRF_TIME_LIMIT=int(timedelta(hours=12).total_seconds()),
        # Flask-WTF's extra HTTPS check wants a Referer from the same origin, which the
        # no-referrer policy below never lets a browser send: every POST on https would fail.
        # The CSRF token (and the SameSite cookie holding its session) still guards every form.
        WTF_CSRF_SSL_STRICT=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        DIGEST_HSTS=settings.base_url.startswith("https://"),
        # The dashboard's login cookie; admin.py also ends a login after 12 h by the app's clock.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    if settings.proxy_hops and proxy_fix:
        # Behind N trusted reverse proxies, take the client address (which rate limits key on)
        # and scheme from their X-Forwarded-* headers; never trust them without a proxy.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    csrf = CSRFProtect(app)
    limiter = _limiter(app, settings)
    app.extensions["digest"] = WebContext(
        services=services,
        tokens=Tokens(settings.secret_key),
        renderer=Renderer(settings),
        limiter=limiter,
        csrf=csrf,
        clock=utcnow,
    )
    filters.install(app, settings)
    _register_blueprints(app, csrf)
    subscribe_limits(app, limiter, settings.subscribe_rate_limit)
    _register_error_pages(app)
    app.after_request(_security_headers)
    app.after_request(_gzip)
    return app


def _limiter(app: Flask, settings: Settings) -> Limiter:
    """Per-client rate limits, counted in DIGEST_RATELIMIT_STORAGE_URL or this process's memory.

    Process memory is right for `digest serve` (one process). Behind gunicorn each worker counts
    on its own, so the effective limit is N workers times the rate unless a shared store (Redis)
    is configured. While a shared store is unreachable the limits are counted in memory instead,
    so an outage of Redis does not take the pages down with it.
    """
    shared = settings.ratelimit_storage_url
    return Limiter(
        get_remote_address,
        app=app,
        storage_uri=shared or "memory://",
        default_limits=[],
        key_prefix="digest",
        in_memory_fallback_enabled=bool(shared),
    )


def _register_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    """One blueprint per page group."""
    from digest.web import (
        admin,
        confirm,
        digest_page,
        feed,
        health,
        help,
        manage,
        metrics,
        rate,
        subscribe,
        unsubscribe,
    )

    pages = (subscribe, confirm, manage, unsubscribe, digest_page, feed, rate, health, help, admin,
             metrics)
    for module in pages:
        app.register_blueprint(module.bp)
    # RFC 8058 one-click POSTs come from mail providers without cookies or a CSRF token; the
    # view checks the token itself for every other POST (see unsubscribe.py).
    csrf.exempt(unsubscribe.unsubscribe_post)
    # Without a password the dashboard must answer 404, not a CSRF error that shows it exists:
    # its views check the token themselves, after that (see admin.py).
    csrf.exempt(admin.bp)


def _security_headers(response: Response) -> Response:
    """CSP without inline scripts, no framing, no sniffing, and no Referer (tokens are in URLs);
    HSTS when the site is served over HTTPS (DIGEST_BASE_URL), so browsers never fall back."""
    headers = response.headers
    if current_app.config["DIGEST_HSTS"]:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint != "static":
        # Pages behind tokens must not linger in shared caches or the back/forward cache.
        headers.setdefault("Cache-Control", "no-store")
    return response


GZIP_MIN_BYTES = 1024  # smaller bodies gain less than the header and the CPU cost
GZIP_TYPES = ("text/", "application/json", "application/atom+xml", "application/xml")


def _gzip(response: Response) -> Response:
    """Compress a text body of 1 KB or more for clients that accept gzip (Vary says so).

    Streamed and already-encoded responses pass untouched; so does anything smaller, such as
    the RFC 8058 one-click answer, which mail providers read in full.
    """
    response.vary.add("Accept-Encoding")
    if (
        response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or not (response.mimetype or "").startswith(GZIP_TYPES)
        or not request.accept_encodings["gzip"]  # its quality: 0 when absent or refused
    ):
        return response
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    return response


ERROR_PAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Method not allowed", "This page cannot be used that way."),
    413: ("Too much data", "The form sent more data than this service accepts."),
    429: (
        "Too many requests",
        "You have sent this form too often. Please wait a while and try again.",
    ),
    503: ("Busy", "Too many checks are running right now. Please try again in a moment."),
    500: ("Something went wrong", "An unexpected error occurred. Please try again later."),
}


def _register_error_pages(app: Flask) -> None:
    """Friendly pages for HTTP errors, bad CSRF tokens, bad links and crashes."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        title, message = ERROR_PAGES.get(code, (error.name, error.description or ""))
        return render_template("web/error.html", title=title, message=message), code

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        message = (
            "This form has expired or was not sent from this site, so nothing was changed. "
            "Go back, reload the page and submit it again."
        )
        return render_template("web/error.html", title="Form expired", message=message), 400

    @app.errorhandler(TokenExpired)
    def expired_link(error: TokenExpired) -> tuple[str, int]:
        return render_template("web/bad_link.html", expired=True), 400

    @app.errorhandler(TokenInvalid)
    def invalid_link(error: TokenInvalid) -> tuple[str, int]:
        return render_template("web/bad_link.html", expired=False), 404

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        title, message = ERROR_PAGES[500]
        return render_template("web/error.html", title=title, message=message), 500
