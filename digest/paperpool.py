"""The papers one composing run draws from, each loaded and made a matching Document only once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest import matching
from digest.models import Paper
from digest.papers import papers_first_seen_since

_TICK = timedelta(microseconds=1)


class PaperPool:
    """Papers first seen within a span, each with its matching Document, loaded once per run."""

    def __init__(self) -> None:
        self.papers: dict[int, tuple[Paper, matching.Document]] = {}
        self.start: datetime | None = None
        self.end: datetime | None = None

    def ensure(self, session: Session, start: datetime, end: datetime) -> None:
        """Load whatever of (start, end] is not loaded yet."""
        if self.start is None or self.end is None:
            self._load(session, start, end)
            self.start, self.end = start, end
            return
        if start < self.start:
            self._load(session, start, self.start)
            self.start = start
        if end > self.end:
            self._load(session, self.end, end)
            self.end = end

    def _load(self, session: Session, since: datetime, until: datetime) -> None:
        # papers_first_seen_since is [since, until); the pool's spans are (since, until].
        for paper in papers_first_seen_since(session, since, until + _TICK):
            if paper.id not in self.papers and since < paper.first_seen_at <= until:
                document = matching.make_document(
                    paper.title, paper.abstract, paper.authors, paper.categories
                )
                self.papers[paper.id] = (paper, document)
            # Detached, the paper outlives this batch's transaction (and a dry run's rollback).
            session.expunge(paper)

    def between(self, start: datetime, end: datetime) -> list[tuple[Paper, matching.Document]]:
        """The loaded papers first seen in (start, end], oldest first."""
        found = [pair for pair in self.papers.values() if start < pair[0].first_seen_at <= end]
        return sorted(found, key=lambda pair: (pair[0].first_seen_at, pair[0].id))
