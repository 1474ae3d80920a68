"""Store papers: one row per arXiv id across feeds, fields merged, newer versions applied.

Merge rules, chosen so that the result does not depend on which feed arrives first:
- a known field is never blanked out by an empty one from a poorer source;
- a higher arXiv version replaces title, abstract and authors (a feed without versions, like
  Hugging Face, only fills them while they are empty), and the version only goes up;
- categories are a union, the first-known primary first; published_at keeps the earliest
  date seen, updated_at the latest;
- upvotes keep the highest count seen (counts grow, and third-party copies lag behind);
- code and project links: the latest non-empty one wins (Hugging Face lets authors fix them);
- first_seen_at is set when the row is created and never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.feeds import PaperIn
from digest.models import Paper

# Rows looked up per SELECT … WHERE key IN (…): far below every backend's parameter limit.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class StoreCounts:
    """What storing one feed did: papers created, papers whose stored fields changed, the rest."""

    new: int
    updated: int
    unchanged: int


def store_papers(
    session: Session, papers: Sequence[PaperIn], *, source: str, now: datetime
) -> StoreCounts:
    """Insert or merge every paper of one feed; duplicates within the feed collapse into one."""
    existing = _rows_by_key(session, {paper.key for paper in papers})
    created: set[str] = set()
    changed: set[str] = set()
    for paper in papers:
        row = existing.get(paper.key)
        if row is None:
            row = existing[paper.key] = _new_row(paper, now)
            session.add(row)
            created.add(paper.key)
        elif merge_into(row, paper, now=now) and paper.key not in created:
            changed.add(paper.key)
        if source not in row.sources:
            row.sources = [*row.sources, source]
        row.last_seen_at = now
    seen = {paper.key for paper in papers}
    return StoreCounts(
        new=len(created), updated=len(changed), unchanged=len(seen - created - changed)
    )


def papers_first_seen_since(
    session: Session, since: datetime, until: datetime | None = None
) -> list[Paper]:
    """Papers with since <= first_seen_at < until (no upper bound without until), oldest first."""
    query = select(Paper).where(Paper.first_seen_at >= since)
    if until is not None:
        query = query.where(Paper.first_seen_at < until)
    return list(session.scalars(query.order_by(Paper.first_seen_at, Paper.id)))


def _rows_by_key(session: Session, keys: Iterable[str]) -> dict[str, Paper]:
    """The stored rows for these keys, fetched in a few bulk SELECTs."""
    keys = sorted(keys)
    rows: dict[str, Paper] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        found = session.scalars(select(Paper).where(Paper.key.in_(chunk)))
        rows.update((row.key, row) for row in found)
    return rows


def _new_row(paper: PaperIn, now: datetime) -> Paper:
    return Paper(
        key=paper.key,
        arxiv_id=paper.arxiv_id,
        version=paper.version,
        title=paper.title,
        abstract=paper.abstract,
        authors=list(paper.authors),
        categories=list(paper.categories),
        url=paper.url,
        pdf_url=paper.pdf_url,
        code_url=paper.code_url,
        project_url=paper.project_url,
        upvotes=paper.upvotes,
        sources=[],
        published_at=paper.published_at,
        updated_at=paper.updated_at,
        first_seen_at=now,
        last_seen_at=now,
        last_changed_at=now,
    )


def merge_into(row: Paper, paper: PaperIn, *, now: datetime) -> bool:
    """Merge what `paper` knows into the stored row; True when a stored field changed."""
    newer = paper.version is not None and (row.version is None or paper.version > row.version)
    updates = {
        "arxiv_id": row.arxiv_id or paper.arxiv_id,
        "version": paper.version if newer else row.version,
        "title": _text(row.title, paper.title, newer),
        "abstract": _text(row.abstract, paper.abstract, newer),
        "authors": list(paper.authors) if paper.authors and (newer or not row.authors) else None,
        "categories": _union(row.categories, paper.categories),
        "url": row.url or paper.url,
        "pdf_url": row.pdf_url or paper.pdf_url,
        "code_url": paper.code_url or row.code_url,
        "project_url": paper.project_url or row.project_url,
        "upvotes": _highest(row.upvotes, paper.upvotes),
        "published_at": _earliest(row.published_at, paper.published_at),
        "updated_at": _latest(row.updated_at, paper.updated_at),
    }
    changed = False
    for field, value in updates.items():
        if value is not None and value != getattr(row, field):
            setattr(row, field, value)
            changed = True
    if changed:
        row.last_changed_at = now
    return changed


def _text(stored: str | None, incoming: str, newer: bool) -> str | None:
    """The incoming text when it is non-empty and newer, or fills an empty stored one."""
    if incoming and (newer or not stored):
        return incoming
    return stored


def _union(stored: list[str], incoming: tuple[str, ...]) -> list[str]:
    return [*stored, *(c for c in incoming if c not in stored)]


def _highest(a: int | None, b: int | None) -> int | None:
    return max(a, b) if a is not None and b is not None else b if a is None else a


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b
