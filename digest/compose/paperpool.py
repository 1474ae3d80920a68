"""The papers one composing run draws from, loaded once, and matched against many profiles at once.

A `PaperPool` loads the papers first seen in a span once per run and keeps each with its
matching Document. `match_group` matches a whole group of profiles (thousands of subscribers)
with one ProfileIndex and one pass over those papers: the index's cost is mostly per call, so
matching 10,000 profiles at once costs little more than matching 1,000.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest import matching
from digest.compose.ranking import Found, Pairs, Ranker
from digest.models import Paper
from digest.papers.store import papers_first_seen_since

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

    def match_group(
        self,
        session: Session,
        profiles: Mapping[Hashable, tuple[str, matching.Profile]],
        start: datetime,
        end: datetime,
    ) -> GroupMatches:
        """Match every (keywords, profile) against the papers first seen in (start, end]."""
        self.ensure(session, start, end)
        papers = self.between(start, end)
        index = matching.ProfileIndex()
        for key, (_, profile) in profiles.items():
            index.add(key, profile)
        found = index.match_all([document for _, document in papers]) if papers else {}
        ranker = Ranker([paper for paper, _ in papers])
        return GroupMatches(start, end, ranker, dict(profiles), found)

    def match_one(
        self,
        session: Session,
        profile: matching.Profile,
        start: datetime,
        end: datetime,
        shown: int,
    ) -> Found:
        """One profile's papers first seen in (start, end], in digest order (the first `shown`
        with their matches)."""
        self.ensure(session, start, end)
        papers = self.between(start, end)
        pairs = []
        for i, (_, document) in enumerate(papers):
            match = matching.match(profile, document)
            if match is not None:
                pairs.append((i, match))
        return Ranker([paper for paper, _ in papers]).rank(pairs, shown)


@dataclass
class GroupMatches:
    """What each profile of a group matched among the papers of (start, end], oldest first."""

    start: datetime
    end: datetime
    ranker: Ranker  # over the group's papers; the indices of `found` point into its list
    profiles: dict[Hashable, tuple[str, matching.Profile]]  # key -> (keywords, parsed profile)
    found: dict[Hashable, list[tuple[int, matching.Match]]]

    def profile(
        self, key: Hashable, keywords: str, start: datetime, end: datetime
    ) -> matching.Profile | None:
        """The profile matched under `key`, if it had these keywords over a span holding this."""
        known = self.profiles.get(key)
        if known is None or known[0] != keywords or not (self.start <= start and end <= self.end):
            return None
        return known[1]

    def between(self, key: Hashable, start: datetime, end: datetime, shown: int) -> Found:
        """`key`'s papers first seen in (start, end], in digest order, the first `shown` with
        their matches: work in proportion to the matched papers' ids plus what is shown."""
        pairs: Pairs = self.found.get(key, [])
        if not (start <= self.start and self.end <= end):  # a window narrower than the group's
            pairs = self.ranker.within(pairs, start, end)
        return self.ranker.rank(pairs, shown)
