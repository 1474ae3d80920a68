"""A digest's order, computed at the cost of what it shows: every matched paper's id in digest
order, and the (paper, match) pairs of only the first few, those the email displays.

`Ranker` is built once per list of papers (a matching group's): it numbers each paper by the
parts of `matching.rank_key` that depend on the paper alone (upvotes, newest, then first seen),
so that a subscriber's order is one sort of small integers — (title match, number of matched
terms, that number) — instead of a sort on tuples built per matched paper. The result is the
same order as sorting by `matching.rank_key` (tests/compose/test_ranking.py checks it).

`Found.shown` is THE place where a composed digest's displayed entries are chosen: relevance
(SPEC §10) reorders `Found.paper_ids` (or the candidates before the cut) in `choose_shown`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digest import matching
from digest.models import Paper

_POSITION_BITS = 22  # a position in a matched list: up to 4 million papers per window
_PAPER_BITS = 22  # a paper's place in the paper-only order
Pairs = Sequence[tuple[int, matching.Match]]  # (index into the Ranker's papers, match)


@dataclass
class Found:
    """A digest's papers: every matched paper's id in digest order, and the first ones shown,
    with their matches (the email renders those; the web page re-matches the rest)."""

    paper_ids: list[int] = field(default_factory=list)
    shown: list[tuple[Paper, matching.Match]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paper_ids)


class Ranker:
    """Digest order over one fixed list of papers (oldest first), for many subscribers."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = list(papers)
        self.ids = [paper.id for paper in self.papers]
        self.first_seen: list[datetime] = [paper.first_seen_at for paper in self.papers]
        # The paper-only part of rank_key; sorted() is stable, so ties stay oldest first.
        order = sorted(
            range(len(self.papers)),
            key=lambda i: matching.rank_key(
                _NO_MATCH, self.papers[i].upvotes, self.papers[i].published_at
            ),
        )
        self.place = [0] * len(order)
        for place, i in enumerate(order):
            self.place[i] = place
        self._classes: dict[int, int] = {}  # id(Match) -> its part of the key (Matches are shared)
        self._kept: list[matching.Match] = []  # keeps those ids valid

    def _class(self, match: matching.Match) -> int:
        """Title matches first, then more matched terms: a small integer, lower first."""
        found = self._classes.get(id(match))
        if found is None:
            found = 1 + (0 if match.in_title else 256) + 255 - min(len(match.terms), 255)
            self._classes[id(match)] = found
            self._kept.append(match)
        return found

    def rank(self, pairs: Pairs, shown: int) -> Found:
        """`pairs` in digest order; the first `shown` keep their paper and match."""
        classes, place, cls = self._classes, self.place, self._class
        shift = _PAPER_BITS + _POSITION_BITS
        keys = [
            ((classes.get(id(m)) or cls(m)) << shift) | (place[i] << _POSITION_BITS) | j
            for j, (i, m) in enumerate(pairs)
        ]
        keys.sort()
        mask = (1 << _POSITION_BITS) - 1
        order = [pairs[key & mask] for key in keys]
        ids = self.ids
        return choose_shown([ids[i] for i, _ in order], order, self.papers, shown)

    def within(self, pairs: Pairs, start: datetime, end: datetime) -> Pairs:
        """The pairs whose paper was first seen in (start, end]."""
        seen = self.first_seen
        return [pair for pair in pairs if start < seen[pair[0]] <= end]


_NO_MATCH = matching.Match(terms=(), in_title=False)


def choose_shown(
    paper_ids: list[int],
    order: Pairs,
    papers: Sequence[Paper],
    shown: int,
) -> Found:
    """The displayed entries of a digest: the first `shown` of its papers in digest order.

    The one place that picks what an email shows; a relevance step (SPEC §10) reorders here,
    within the budget of scoring a few candidates, not every matched paper.
    """
    return Found(paper_ids, [(papers[i], m) for i, m in order[:shown]])
