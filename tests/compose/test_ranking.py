"""The Ranker's integer keys give exactly the order of sorting by matching.rank_key, and only
the first `shown` papers keep their match."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from digest import matching
from digest.compose.ranking import Ranker

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def papers(n: int, rng: random.Random) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            id=1000 + i,
            upvotes=rng.choice([None, 0, 3, 3, 10]),
            published_at=rng.choice([None, T0, T0 + timedelta(hours=rng.randint(0, 5))]),
            first_seen_at=T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_the_order_is_rank_keys_order_ties_oldest_first() -> None:
    rng = random.Random(5)
    for _ in range(50):
        stock = papers(40, rng)
        matches = [
            matching.Match(terms=tuple("abc"[: rng.randint(1, 3)]), in_title=rng.random() < 0.3)
            for _ in range(8)
        ]
        pairs = sorted(
            (i, rng.choice(matches)) for i in rng.sample(range(len(stock)), rng.randint(0, 40))
        )
        found = Ranker(stock).rank(pairs, 5)  # type: ignore[arg-type]
        expected = sorted(
            pairs,
            key=lambda p: matching.rank_key(p[1], stock[p[0]].upvotes, stock[p[0]].published_at),
        )
        assert found.paper_ids == [stock[i].id for i, _ in expected]
        assert [(paper.id, m) for paper, m in found.shown] == [
            (stock[i].id, m) for i, m in expected[:5]
        ]


def test_within_keeps_the_papers_first_seen_in_the_window() -> None:
    stock = papers(5, random.Random(1))
    ranker = Ranker(stock)  # type: ignore[arg-type]
    hit = matching.Match(terms=("a",), in_title=False)
    pairs = [(i, hit) for i in range(5)]
    kept = ranker.within(pairs, T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    assert [i for i, _ in kept] == [2, 3]
