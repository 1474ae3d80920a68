"""The ledger's set-wise writes: every digest lands with its papers packed in digest order, and a
duplicate slot is an IntegrityError the caller's savepoint can roll back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from digest import matching
from digest.compose import ledger
from digest.compose.ledger import Draft
from digest.compose.ranking import Found
from digest.compose.schedule import Window
from digest.feeds.common import PaperIn
from digest.matching.matcher import Match
from digest.models import Digest, Paper, Subscriber, pack_ids, unpack_ids
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
        ranked = Found([paper.id for paper in reversed(papers)], found[:2])
        result.append(Draft(subscriber, WINDOW, date(2026, 6, 2), profile, ranked))
    return result


def test_digests_are_written_with_their_papers_in_digest_order(services) -> None:
    with services.sessions.begin() as session:
        batch = drafts(session, 2)
        digest_ids = ledger.insert_digests(session, batch, now=NOW)
        expected = [draft.found.paper_ids for draft in batch]
    with services.sessions() as session:
        digests = list(session.scalars(select(Digest).order_by(Digest.id)))
    assert {digest.id for digest in digests} == set(digest_ids.values())
    assert [digest.paper_id_list for digest in digests] == expected
    assert expected[0] == sorted(expected[0], reverse=True)  # the order given, not id order
    assert [digest.paper_count for digest in digests] == [3, 3]
    assert digests[0].keywords == "robot*"


def test_a_duplicate_slot_raises_integrity_error_and_the_savepoint_recovers(services) -> None:
    with services.sessions.begin() as session:
        batch = drafts(session, 1)
        ledger.insert_digests(session, batch, now=NOW)
        with pytest.raises(IntegrityError), session.begin_nested():
            ledger.insert_digests(session, batch, now=NOW)  # the same slot again
        # The transaction goes on after the savepoint's rollback; the first write stands.
        assert len(list(session.scalars(select(Digest)))) == 1
    with services.sessions() as session:
        assert len(list(session.scalars(select(Digest)))) == 1


def test_last_window_ends_names_each_subscribers_latest_digest(services) -> None:
    with services.sessions.begin() as session:
        batch = drafts(session, 2)
        ledger.insert_digests(session, batch, now=NOW)
        ids = [draft.subscriber.id for draft in batch]
        assert ledger.last_window_ends(session, ids) == {ids[0]: NOW, ids[1]: NOW}
        assert ledger.last_window_ends(session, []) == {}


@pytest.mark.parametrize("ids", [[], [1], [5, 3, 2**32 - 1, 0, 7]])
def test_packed_ids_come_back_in_order(ids) -> None:
    assert unpack_ids(pack_ids(ids)) == ids
    assert len(pack_ids(ids)) == 4 * len(ids)


def test_an_id_beyond_four_bytes_is_refused() -> None:
    with pytest.raises(OverflowError):
        pack_ids([2**32])
