"""A stored digest as a web page ("view in browser"), with every matched paper, not capped."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from digest.compose.stored import stored_entries
from digest.models import Digest
from digest.web.context import subscriber_for, web

bp = Blueprint("digest_page", __name__)


@bp.get("/digest/<token>")
def digest_page(token: str) -> ResponseReturnValue:
    """The digest the token names, if it still belongs to that subscriber."""
    context = web()
    with context.services.sessions.begin() as session:
        subscriber, data = subscriber_for(session, "digest", token)
        digest = session.scalars(
            select(Digest).where(Digest.id == data.object_id, Digest.subscriber_id == subscriber.id)
        ).one_or_none()
        if digest is None:
            abort(404)
        entries = stored_entries(session, digest)
        manage_token = context.tokens.make("manage", subscriber)
        return render_template(
            "web/digest.html", digest=digest, entries=entries, manage_token=manage_token
        )
