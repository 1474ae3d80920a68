"""What a subscriber was given: their stored digests and the papers in them, read back.

Composing writes a `Digest` for every digest, mailed or not, its papers' ids packed in digest
order (`Digest.paper_ids`); the manage page and the personal feed read them back through here,
newest digest first and each digest in its order (the digest web page reads one digest by id).
What each paper matched is derived again from the digest's stored profile (`stored.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest import matching
from digest.models import Digest, Paper, unpack_ids

_CHUNK = 5000  # ids per IN list, well within every database's limit


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
    ids = sorted({i for _, packed in _packed(session, digest_ids) for i in unpack_ids(packed)})
    changed = [
        session.scalar(
            select(func.max(Paper.last_changed_at)).where(Paper.id.in_(ids[start : start + _CHUNK]))
        )
        for start in range(0, len(ids), _CHUNK)
    ]
    return max((moment for moment in changed if moment is not None), default=None)


@dataclass(frozen=True)
class GivenPaper:
    """One paper of one stored digest, as the feed shows it: the paper's own columns and what
    it matched of the digest's profile (derived again; `rank` counts from 1 in digest order)."""

    digest_id: int
    rank: int
    matched_terms: list[Any]
    in_title: bool
    key: str
    arxiv_id: str | None
    title: str
    abstract: str
    authors: list[Any]
    url: str | None
    pdf_url: str | None
    code_url: str | None


def newest_items(session: Session, digests: list[DigestStamp], *, limit: int) -> list[GivenPaper]:
    """The first `limit` papers of these digests, newest digest first, each digest in its
    order; only the digests needed to reach `limit` are read. A paper deleted since is left
    out; one that no longer matches the digest's profile shows with no matched terms."""
    needed, count = [], 0
    for stamp in sorted(digests, key=lambda d: (d.scheduled_for, d.id), reverse=True):
        if count >= limit:
            break
        needed.append(stamp.id)
        count += stamp.paper_count
    if not needed:
        return []
    rows = session.execute(
        select(Digest.id, Digest.paper_ids, Digest.keywords).where(Digest.id.in_(needed))
    )
    stored = {row[0]: (unpack_ids(row[1]), row[2]) for row in rows}
    wanted = sorted({i for d in needed if d in stored for i in stored[d][0]})
    papers: dict[int, Paper] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        papers.update((p.id, p) for p in session.scalars(select(Paper).where(Paper.id.in_(chunk))))
    found: list[GivenPaper] = []
    for digest_id in needed:
        ids, keywords = stored.get(digest_id, ([], ""))
        profile = _profile(keywords)
        present = [papers[i] for i in ids if i in papers]
        for rank, paper in enumerate(present, start=1):
            if len(found) >= limit:
                return found
            found.append(_given(digest_id, rank, paper, profile))
    return found


def _profile(keywords: str) -> matching.Profile:
    """The profile a digest was composed with (an empty one if it no longer parses)."""
    try:
        return matching.parse_profile(keywords)
    except matching.KeywordError:
        return matching.parse_profile("")


def _given(digest_id: int, rank: int, paper: Paper, profile: matching.Profile) -> GivenPaper:
    document = matching.make_document(paper.title, paper.abstract, paper.authors, paper.categories)
    match = matching.match(profile, document)
    return GivenPaper(
        digest_id, rank, list(match.terms) if match else [], bool(match and match.in_title),
        paper.key, paper.arxiv_id, paper.title, paper.abstract, list(paper.authors),
        paper.url, paper.pdf_url, paper.code_url,
    )  # fmt: skip


def _packed(session: Session, digest_ids: list[int]) -> list[tuple[int, bytes]]:
    """(digest id, packed paper ids) of these digests."""
    if not digest_ids:
        return []
    rows = session.execute(select(Digest.id, Digest.paper_ids).where(Digest.id.in_(digest_ids)))
    return [(row[0], row[1]) for row in rows]
