"""The ledger's set-wise writes: every row lands as given, and a duplicate is an IntegrityError
the caller's savepoint can roll back (on PostgreSQL the rows go in with COPY)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from digest import matching
from digest.compose import ledger
from digest.compose.ledger import Draft
from digest.compose.schedule import Window
from digest.feeds.common import PaperIn
from digest.matching.matcher import Match
from digest.models import DigestItem, Paper, Subscriber
from digest.papers.store import store_papers

NOW = datetime(2026, 6, 2, 7, tzinfo=UTC)
WINDOW = Window(scheduled_for=NOW, start=datetime(2026, 6, 1, 7, tzinfo=UTC), end=NOW, next_at=NOW)


def paper_in(key: str) -> PaperIn:
    return PaperIn(
        key=key, arxiv_id=key, version=1, title=f"Robots {key}", abstract="An abstract.",
        authors=("Ada L.",), categories=("cs.RO",), url=f"https://arxiv.org/abs/{key}",
        pdf_url=None, code_url=None, project_url=None, upvotes=None, published_at=None,
        updated_at=None, announce_type="new",
    )  # fmt: skip


def drafts(session, count: int) -> list[Draft]:
    store_papers(session, [paper_in(f"2606.0{n:04d}") for n in range(3)], source="t", now=NOW)
    papers = list(session.scalars(select(Paper).order_by(Paper.id)))
    profile = matching.parse_profile('robot*, "größe, klein"')
    result = []
    for n in range(count):
        subscriber = Subscriber(
            email=f"s{n}@example.org", keywords="robot*", token_nonce="n", status="confirmed",
            confirmed_at=NOW, created_at=NOW,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        found = [
            (paper, Match(terms=("robot*", 'größe, "quoted"'), in_title=rank == 0))
            for rank, paper in enumerate(papers)
        ]
        result.append(Draft(subscriber, WINDOW, date(2026, 6, 2), profile, found))
    return result


def test_ledger_rows_are_written_as_given(services) -> None:
    with services.sessions.begin() as session:
        batch = drafts(session, 2)
        digest_ids = ledger.insert_digests(session, batch, now=NOW)
        ledger.insert_items(session, batch, digest_ids)
    with services.sessions() as session:
        items = list(session.scalars(select(DigestItem).order_by(DigestItem.id)))
    assert len(items) == 6
    first = items[0]
    assert (first.rank, first.in_title) == (1, True)
    assert first.matched_terms == ["robot*", 'größe, "quoted"']  # JSON, non-ASCII and quotes kept
    assert [item.rank for item in items] == [1, 2, 3, 1, 2, 3]
    assert {item.digest_id for item in items} == set(digest_ids.values())


def test_a_duplicate_ledger_row_raises_integrity_error_and_the_savepoint_recovers(
    services,
) -> None:
    with services.sessions.begin() as session:
        batch = drafts(session, 1)
        digest_ids = ledger.insert_digests(session, batch, now=NOW)
        ledger.insert_items(session, batch, digest_ids)
        with pytest.raises(IntegrityError), session.begin_nested():
            ledger.insert_items(session, batch, digest_ids)  # the same papers again
        # The transaction goes on after the savepoint's rollback; the first write stands.
        assert len(list(session.scalars(select(DigestItem)))) == 3
    with services.sessions() as session:
        assert len(list(session.scalars(select(DigestItem)))) == 3
