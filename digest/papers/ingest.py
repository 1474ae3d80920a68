"""Ingest sources: fetch, parse and store each one in its own transaction, failures recorded.

No transaction is open while a source downloads, so a slow feed never holds the database. A
source that fails stores nothing: its transaction is rolled back, the reason lands on its
`sources` row, and the next source is fetched all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.db import utcnow
from digest.feeds import FeedError, PaperIn, parse_feed_kind
from digest.feeds.fetch import RETRY_DELAY, Fetched, fetch, make_client, source_name
from digest.models import Source
from digest.papers.locks import fence_planning
from digest.papers.store import StoreCounts, store_papers
from digest.services import Services

MAX_SOURCE_LENGTH = 2048  # the sources.url column


@dataclass(frozen=True)
class SourceResult:
    """The outcome for one source: counts on success, else a one-line reason."""

    source: str
    counts: StoreCounts | None
    error: str | None

    def line(self) -> str:
        """`SOURCE: N new, N updated, N unchanged` or `SOURCE: failed: reason`."""
        if self.counts is None:
            return f"{self.source}: failed: {self.error}"
        c = self.counts
        return f"{self.source}: {c.new} new, {c.updated} updated, {c.unchanged} unchanged"


def user_agent(base_url: str) -> str:
    """The User-Agent naming the product and where it runs."""
    try:
        release = version("digest")
    except PackageNotFoundError:
        release = "dev"
    return f"digest/{release} (+{base_url})"


def fetch_sources(
    services: Services,
    sources: Sequence[str],
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    retry_delay: float = RETRY_DELAY,
) -> list[SourceResult]:
    """Fetch and store every source in turn; one failing source does not stop the others."""
    own_client = client is None
    http = client or make_client()
    try:
        return [
            ingest_source(services, source, now=now, client=http, retry_delay=retry_delay)
            for source in sources
        ]
    finally:
        if own_client:
            http.close()


def ingest_source(
    services: Services,
    source: str,
    *,
    now: datetime | None = None,
    client: httpx.Client,
    retry_delay: float = RETRY_DELAY,
) -> SourceResult:
    """Fetch, parse and store one source; a FeedError becomes a recorded failure."""
    source = source.strip()
    name = source
    try:
        name = source_name(source)
        if len(name) > MAX_SOURCE_LENGTH:
            raise FeedError(f"the source is longer than {MAX_SOURCE_LENGTH} characters")
        etag, last_modified = _validators(services, name)
        fetched = fetch(
            source,
            client=client,
            user_agent=user_agent(services.settings.base_url),
            etag=etag,
            last_modified=last_modified,
            retry_delay=retry_delay,
        )
        kind: str | None = None
        papers: list[PaperIn] = []
        if fetched.content is not None:
            kind, papers = parse_feed_kind(fetched.content, name)
        counts = _store(services, name, kind, papers, fetched, now)
    except FeedError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        _record_failure(services, name, reason, now or utcnow())
        return SourceResult(source, None, reason)
    return SourceResult(source, counts, None)


def _validators(services: Services, name: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified remembered from the source's last successful fetch."""
    with services.sessions() as session:
        row = session.scalar(select(Source).where(Source.url == name))
        return (row.etag, row.last_modified) if row else (None, None)


def _store(
    services: Services,
    name: str,
    kind: str | None,
    papers: list[PaperIn],
    fetched: Fetched,
    now: datetime | None,
) -> StoreCounts:
    """Store the papers and the source's new validators in one transaction.

    The transaction first fences planning off (locks.py) and only then takes the time that new
    papers are stamped first-seen with (unless the caller fixed `now`), so no digest can be
    composed between that stamp and the commit that makes the papers visible.

    Two processes inserting the same new paper at once collide on its unique key; the loser's
    transaction is rolled back and run once more, when the winner's rows are visible.
    """
    for attempt in (1, 2):
        try:
            with services.sessions.begin() as session:
                fence_planning(session)
                stamp = now if now is not None else utcnow()
                row = _source_row(session, name)
                counts = store_papers(session, papers, source=name, now=stamp)
                row.kind = kind or row.kind
                row.etag = _fits(fetched.etag, 512)
                row.last_modified = _fits(fetched.last_modified, 128)
                row.last_fetched_at = row.last_success_at = stamp
                row.last_error = None
            return counts
        except IntegrityError:
            if attempt == 2:
                raise FeedError(
                    "another process stored the same papers at the same moment; fetch again"
                ) from None
    raise AssertionError("unreachable")


def _fits(value: str | None, length: int) -> str | None:
    """A cache validator, or None when it is too long to keep (the next fetch is then full)."""
    return value if value is not None and len(value) <= length else None


def _record_failure(services: Services, name: str, reason: str, now: datetime) -> None:
    with services.sessions.begin() as session:
        row = _source_row(session, name[:MAX_SOURCE_LENGTH])
        row.last_fetched_at = now
        row.last_error = reason


def _source_row(session: Session, name: str) -> Source:
    row = session.scalar(select(Source).where(Source.url == name))
    if row is None:
        row = Source(url=name)
        session.add(row)
    return row
