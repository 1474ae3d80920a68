"""A stored digest as a web page ("view in browser"), with every matched paper, not capped."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from digest.compose.stored import stored_entries
from digest.mail.entries import DigestEntry
from digest.models import Digest
from digest.tokens import rate_url
from digest.web.context import subscriber_for, web

bp = Blueprint("digest_page", __name__)


@bp.get("/digest/<token>")
def digest_page(token: str) -> ResponseReturnValue:
    """The digest the token names, if it still belongs to that subscriber."""
    context = web()
    with context.services.reads.begin() as session:
        subscriber, data = subscriber_for(session, "digest", token, lock=False)
        digest = session.scalars(
            select(Digest).where(Digest.id == data.object_id, Digest.subscriber_id == subscriber.id)
        ).one_or_none()
        if digest is None:
            abort(404)
        entries = stored_entries(session, digest)
        manage_token = context.tokens.make("manage", subscriber)
        rate: dict[int, tuple[str, str]] = {}
        if context.services.settings.relevance:  # SPEC §10: a pair of rating links per paper
            base = context.services.settings.base_url
            rate = {
                e.paper_id: tuple(  # type: ignore[misc]
                    rate_url(base, context.tokens, subscriber, e.paper_id, digest.id, v)
                    for v in (1, -1)
                )
                for e in entries
            }
        return render_template(
            "web/digest.html", digest=digest, entries=entries, manage_token=manage_token,
            sections=_sections(digest, entries), rate=rate,
        )  # fmt: skip


def _sections(
    digest: Digest, entries: list[DigestEntry]
) -> list[tuple[str | None, str, list[Any]]]:
    """(title, kind, entries) per part of SPEC §10 as composed; one untitled part for a plain
    digest. A suggestion's entry comes with the title of the liked paper it is close to."""
    if not digest.parts:
        return [(None, "full", [(e, None) for e in entries])]
    summary = json.loads(digest.parts)
    also_like: dict[str, str] = summary.get("also_like", {})
    also_matched = set(summary.get("also_matched", []))
    top = [
        (e, None)
        for e in entries
        if str(e.paper_id) not in also_like and e.paper_id not in also_matched
    ]
    liked = [(e, also_like[str(e.paper_id)]) for e in entries if str(e.paper_id) in also_like]
    lines = [(e, None) for e in entries if e.paper_id in also_matched]
    runs = (
        ("Top matches", "full", top),
        ("You may also like", "full", liked),
        ("Also matched your keywords", "line", lines),
    )
    return [run for run in runs if run[2]]
