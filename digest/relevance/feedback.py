"""Ratings and liked papers as stored rows: record, replace, undo, list, export (SPEC §10).

Domain functions take a Session and an explicit `now` and never commit; the web and the
subscription code own the transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from digest.models import LikedPaper, Paper, Rating


def rate(
    session: Session, subscriber_id: int, paper_id: int, value: int, *, now: datetime
) -> int | None:
    """Record +1 / -1 for the paper, replacing an earlier rating; the earlier value, if any."""
    if value not in (1, -1):
        raise ValueError("a rating is +1 or -1")
    row = session.scalars(
        select(Rating).where(Rating.subscriber_id == subscriber_id, Rating.paper_id == paper_id)
    ).one_or_none()
    if row is None:
        session.add(
            Rating(subscriber_id=subscriber_id, paper_id=paper_id, value=value, created_at=now)
        )
        session.flush()
        return None
    before = row.value
    row.value, row.created_at = value, now
    return before


def unrate(session: Session, subscriber_id: int, paper_id: int) -> bool:
    """Remove the subscriber's rating of the paper; True if there was one."""
    result = session.execute(
        delete(Rating).where(Rating.subscriber_id == subscriber_id, Rating.paper_id == paper_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def ratings_of(session: Session, subscriber_id: int, paper_ids: Sequence[int]) -> dict[int, int]:
    """The subscriber's ratings of these papers."""
    if not paper_ids:
        return {}
    rows = session.execute(
        select(Rating.paper_id, Rating.value).where(
            Rating.subscriber_id == subscriber_id, Rating.paper_id.in_(list(paper_ids))
        )
    )
    return {paper_id: value for paper_id, value in rows}


def set_liked(
    session: Session, subscriber_id: int, arxiv_ids: Sequence[str], *, now: datetime
) -> None:
    """Make the subscriber's liked papers exactly `arxiv_ids`: stored papers are found at once,
    the others wait for the arXiv lookup (status pending); entries no longer named are removed."""
    existing = {row.arxiv_id: row for row in liked_papers(session, subscriber_id)}
    wanted = list(dict.fromkeys(arxiv_ids))
    for arxiv_id, row in existing.items():
        if arxiv_id not in wanted:
            session.delete(row)
    known = (
        {
            paper.arxiv_id: paper
            for paper in session.scalars(select(Paper).where(Paper.arxiv_id.in_(wanted)))
        }
        if wanted
        else {}
    )
    for arxiv_id in wanted:
        if arxiv_id in existing:
            continue
        paper = known.get(arxiv_id)
        session.add(
            LikedPaper(
                subscriber_id=subscriber_id, arxiv_id=arxiv_id, created_at=now,
                paper_id=paper.id if paper else None, title=paper.title if paper else None,
                status="found" if paper else "pending",
            )
        )  # fmt: skip
    session.flush()


def liked_papers(session: Session, subscriber_id: int) -> list[LikedPaper]:
    """The subscriber's liked papers, in the order they were given."""
    return list(
        session.scalars(
            select(LikedPaper)
            .where(LikedPaper.subscriber_id == subscriber_id)
            .order_by(LikedPaper.id)
        )
    )


def export(session: Session, subscriber_id: int) -> dict[str, Any]:
    """Ratings and liked papers as JSON-ready values, for the data export."""
    ratings = session.execute(
        select(Rating.value, Rating.created_at, Paper.title, Paper.arxiv_id, Paper.url)
        .join(Paper, Paper.id == Rating.paper_id)
        .where(Rating.subscriber_id == subscriber_id)
        .order_by(Rating.id)
    )
    return {
        "ratings": [
            {"rating": "more like this" if value > 0 else "less like this", "at": at.isoformat(),
             "title": title, "arxiv_id": arxiv_id, "url": url}
            for value, at, title, arxiv_id, url in ratings
        ],
        "liked_papers": [
            {"arxiv_id": row.arxiv_id, "status": row.status, "title": row.title}
            for row in liked_papers(session, subscriber_id)
        ],
    }  # fmt: skip
