"""Rating a paper of a digest (SPEC §10): GET shows one button and changes nothing (mail
scanners follow links); POST records the rating, says what changed, offers undo and the rest of
that digest with a pair of buttons per paper, so a whole digest is rated in a minute.

The token names subscriber, paper, digest and rating; a bad, forged or stale token is a 404.
Every form is a small POST with the app's CSRF token: no JavaScript needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.compose.stored import digest_papers
from digest.models import Digest, Paper, Subscriber
from digest.relevance import feedback
from digest.tokens import TokenData
from digest.web.context import now, subscriber_for, web
from digest.web.forms import ActionForm

bp = Blueprint("rate", __name__)

WORDS = {1: "More like this", -1: "Less like this"}


@dataclass(frozen=True)
class Row:
    """One paper of the digest on the rating page, with its current rating and both tokens."""

    paper: Paper
    rating: int | None
    more: str
    less: str


@bp.get("/rate/<token>")
def rate_page(token: str) -> ResponseReturnValue:
    """The paper and one button; nothing changes until it is pressed."""
    with web().services.sessions.begin() as session:
        _, data, paper, _ = _load(session, token)
        return render_template(
            "web/rate.html", step="ask", paper=paper, value=_value(data), token=token,
            words=WORDS, form=ActionForm(),
        )  # fmt: skip


@bp.post("/rate/<token>")
def rate_post(token: str) -> ResponseReturnValue:
    """Record (or replace) the rating; 200 with what changed, undo, and the rest of the digest."""
    with web().services.sessions.begin() as session:
        subscriber, data, paper, digest = _load(session, token)
        before = feedback.rate(session, subscriber.id, paper.id, _value(data), now=now())
        return _answer(session, subscriber, digest, paper, token, _value(data), before, "rated")


@bp.post("/rate/<token>/undo")
def undo(token: str) -> ResponseReturnValue:
    """Remove the rating of this paper."""
    with web().services.sessions.begin() as session:
        subscriber, data, paper, digest = _load(session, token)
        removed = feedback.unrate(session, subscriber.id, paper.id)
        return _answer(session, subscriber, digest, paper, token, _value(data), None,
                       "undone" if removed else "nothing")  # fmt: skip


def _answer(
    session: Session,
    subscriber: Subscriber,
    digest: Digest,
    paper: Paper,
    token: str,
    value: int,
    before: int | None,
    step: str,
) -> str:
    return render_template(
        "web/rate.html", step=step, paper=paper, value=value, before=before, token=token,
        words=WORDS, form=ActionForm(), rows=_rows(session, subscriber, digest),
    )  # fmt: skip


def _rows(session: Session, subscriber: Subscriber, digest: Digest) -> list[Row]:
    """Every paper of the digest with the subscriber's rating and a token per button."""
    tokens = web().tokens
    papers = digest_papers(session, digest)
    ratings = feedback.ratings_of(session, subscriber.id, [p.id for p in papers])
    return [
        Row(
            paper,
            ratings.get(paper.id),
            tokens.make("rate", subscriber, paper.id, (digest.id, 1)),
            tokens.make("rate", subscriber, paper.id, (digest.id, -1)),
        )
        for paper in papers
    ]


def _load(session: Session, token: str) -> tuple[Subscriber, TokenData, Paper, Digest]:
    """What the token names, or 404: a current subscriber, a paper of one of their digests."""
    if not web().services.settings.relevance:
        abort(404)
    subscriber, data = subscriber_for(session, "rate", token)
    digest = session.scalars(
        select(Digest).where(Digest.id == data.extra[0], Digest.subscriber_id == subscriber.id)
    ).one_or_none()
    paper = (
        session.get(Paper, data.object_id)
        if digest is not None and data.object_id in digest.paper_id_list
        else None
    )
    if digest is None or paper is None:
        abort(404)
    return subscriber, data, paper, digest


def _value(data: TokenData) -> int:
    return 1 if data.extra[1] > 0 else -1
