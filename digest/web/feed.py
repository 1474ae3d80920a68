"""GET /feed/<token>: the subscriber's personal Atom feed, read without cookies or login.

Only a token made for the feed opens it, and only while the subscription lasts (unsubscribing or
deleting one's data ends it: 404). Feed readers poll, usually with If-None-Match or
If-Modified-Since: when this process already built the current version of the feed, that is
answered 304 before any paper is read; otherwise the document is built, its hash is the ETag,
and the reader still gets 304 if it has that document. The database is only read, in a
read-only transaction.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.http import is_resource_modified

from digest.db import reading
from digest.models import Subscriber
from digest.subscribers import feed
from digest.subscribers.atom_writer import CONTENT_TYPE
from digest.web.context import now, web

bp = Blueprint("feed", __name__)

# Readers may keep the feed a while; shared caches must not (the token is in the URL).
CACHE_CONTROL = "private, max-age=900"


@bp.get("/feed/<token>")
def feed_page(token: str) -> Response:
    """The feed, or 304 when the reader's copy is current; 404 for any other token."""
    context = web()
    settings = context.services.settings
    data = context.tokens.load("feed", token)  # TokenInvalid: the 404 page
    with reading(context.services.reads) as session:
        subscriber = session.get(Subscriber, data.subscriber_id)
        context.tokens.check_current(data, subscriber)
        if subscriber is None or not feed.has_feed(subscriber):
            abort(404)
        current = feed.version(session, settings, subscriber, now=now())
        known = _etags().get(current.key)
        if known is not None and _unchanged(known, current):
            return _answer(b"", known, current, status=304)
        self_url = f"{settings.base_url}/feed/{token}"
        body = feed.document(session, settings, subscriber, current, self_url=self_url)
    etag = feed.etag_of(body)
    _etags().put(current.key, etag)
    if _unchanged(etag, current):
        return _answer(b"", etag, current, status=304)
    return _answer(body, etag, current, status=200)


def _unchanged(etag: str, current: feed.FeedVersion) -> bool:
    """True when the request's validators match this document (If-None-Match first)."""
    return not is_resource_modified(
        request.environ, etag=etag, last_modified=current.last_modified
    )


def _answer(body: bytes, etag: str, current: feed.FeedVersion, *, status: int) -> Response:
    response = Response(body, status=status)
    if status == 200:
        response.content_type = CONTENT_TYPE
    response.set_etag(etag)
    response.last_modified = current.last_modified
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def _etags() -> feed.EtagCache:
    """This app's EtagCache, made on first use."""
    cache: feed.EtagCache = current_app.extensions.setdefault("digest_feed_etags", feed.EtagCache())
    return cache
