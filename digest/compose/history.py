"""What a subscriber was given: their stored digests and the papers in them, read back.

Composing writes a `Digest` and its ledger rows (`DigestItem`) for every digest, mailed or not;
the manage page and the personal feed read them back through here, newest digest first and
each digest in rank order (the digest web page reads one digest by id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from digest.models import Digest, DigestItem, Paper


@dataclass(frozen=True)
class DigestStamp:
    """One stored digest without its papers: enough to list it or to version a feed."""

    id: int
    scheduled_for: datetime
    created_at: datetime
    paper_count: int
    window_end: datetime


def digests_since(
    session: Session, subscriber_id: int, since: datetime | None, *, limit: int | None = None
) -> list[DigestStamp]:
    """The subscriber's digests scheduled at or after `since` (all without it), newest first."""
    query = (
        select(
            Digest.id, Digest.scheduled_for, Digest.created_at, Digest.paper_count,
            Digest.window_end,
        )
        .where(Digest.subscriber_id == subscriber_id)
        .order_by(Digest.scheduled_for.desc(), Digest.id.desc())
    )
    if since is not None:
        query = query.where(Digest.scheduled_for >= since)
    if limit is not None:
        query = query.limit(limit)
    return [DigestStamp(*row) for row in session.execute(query)]


def last_digest(session: Session, subscriber_id: int) -> DigestStamp | None:
    """The subscriber's newest digest, if there is one."""
    found = digests_since(session, subscriber_id, None, limit=1)
    return found[0] if found else None


def papers_changed_at(session: Session, digest_ids: list[int]) -> datetime | None:
    """When a paper of these digests last changed (a new version, a merged field), or None."""
    if not digest_ids:
        return None
    return session.scalar(
        select(func.max(Paper.last_changed_at))
        .join(DigestItem, DigestItem.paper_id == Paper.id)
        .where(DigestItem.digest_id.in_(digest_ids))
    )


GIVEN_COLUMNS = (
    DigestItem.digest_id, DigestItem.rank, DigestItem.matched_terms, DigestItem.in_title,
    Paper.key, Paper.arxiv_id, Paper.title, Paper.abstract, Paper.authors, Paper.url,
    Paper.pdf_url, Paper.code_url,
)


def newest_items(session: Session, digests: list[DigestStamp], *, limit: int) -> list[Row[Any]]:
    """The first `limit` papers of these digests, newest digest first, each digest in rank
    order; only the digests needed to reach `limit` are read.

    Rows of plain columns (GIVEN_COLUMNS, by name: `row.title`, `row.matched_terms`), not ORM
    objects: a 30-day feed reads some 750 of them on every full request.
    """
    needed, count = [], 0
    for stamp in sorted(digests, key=lambda d: (d.scheduled_for, d.id), reverse=True):
        if count >= limit:
            break
        needed.append(stamp.id)
        count += stamp.paper_count
    if not needed:
        return []
    return list(
        session.execute(
            select(*GIVEN_COLUMNS)
            .join(Paper, Paper.id == DigestItem.paper_id)
            .join(Digest, Digest.id == DigestItem.digest_id)
            .where(DigestItem.digest_id.in_(needed))
            .order_by(Digest.scheduled_for.desc(), Digest.id.desc(), DigestItem.rank)
            .limit(limit)
        )
    )
