"""A stored digest as a web page ("view in browser"), with every matched paper, not capped."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from digest import matching
from digest.mail.entries import DigestEntry, entry_for
from digest.models import Digest, DigestItem
from digest.web.context import subscriber_for, web

bp = Blueprint("digest_page", __name__)


@bp.get("/digest/<token>")
def digest_page(token: str) -> ResponseReturnValue:
    """The digest the token names, if it still belongs to that subscriber."""
    context = web()
    with context.services.reads.begin() as session:
        subscriber, data = subscriber_for(session, "digest", token, lock=False)
        digest = session.scalars(
            select(Digest)
            .where(Digest.id == data.object_id, Digest.subscriber_id == subscriber.id)
            .options(selectinload(Digest.items).selectinload(DigestItem.paper))
        ).one_or_none()
        if digest is None:
            abort(404)
        entries = _entries(digest)
        manage_token = context.tokens.make("manage", subscriber)
        return render_template(
            "web/digest.html", digest=digest, entries=entries, manage_token=manage_token
        )


def _entries(digest: Digest) -> list[DigestEntry]:
    """Each stored item as the email shows it, highlighted with the profile it was composed with."""
    try:
        profile = matching.parse_profile(digest.keywords)
    except matching.KeywordError:
        profile = matching.parse_profile("")
    return [
        entry_for(
            item.paper,
            matching.Match(terms=tuple(item.matched_terms), in_title=item.in_title),
            profile,
        )
        for item in digest.items
    ]
