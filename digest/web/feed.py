"""GET /feed/<token>: the subscriber's personal Atom feed, read without cookies or login.

Only a token made for the feed opens it, and only while the subscription lasts (unsubscribing or
deleting one's data ends it: 404). A conditional GET (If-None-Match, If-Modified-Since) is
answered 304 from the feed's version alone, before any paper is read; feed readers poll, so that
is the common request. The database is only read, in a read-only transaction.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
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
    data = context.tokens.load("feed", token)  # TokenInvalid: the 404 page
    with reading(context.services.sessions) as session:
        subscriber = session.get(Subscriber, data.subscriber_id)
        context.tokens.check_current(data, subscriber)
        if subscriber is None or not feed.has_feed(subscriber):
            abort(404)
        settings = context.services.settings
        current = feed.version(session, settings, subscriber, now=now())
        response = Response(status=200)
        response.set_etag(current.etag)
        response.last_modified = current.last_modified
        response.headers["Cache-Control"] = CACHE_CONTROL
        fresh = not is_resource_modified(
            request.environ, etag=current.etag, last_modified=current.last_modified
        )
        if fresh:
            response.status_code = 304
            return response
        self_url = f"{settings.base_url}/feed/{token}"
        response.set_data(feed.document(session, settings, subscriber, current, self_url=self_url))
    response.content_type = CONTENT_TYPE
    return response
