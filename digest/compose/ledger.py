"""The ledger side of composing: what each subscriber was already given, and the set-wise writes
of a composed batch (claim the slots, insert the digests and their ledger rows).

Each statement covers the whole batch, so a batch of 1,000 subscribers costs a handful of round
trips, not thousands; `digests.py` falls back to one subscriber at a time when a statement meets
a row another planner wrote (ClaimLost, or an IntegrityError on a unique key).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from digest import matching
from digest.compose.paperpool import Found
from digest.compose.schedule import Window
from digest.db import Base
from digest.models import Digest, DigestItem, Paper, Subscriber


@dataclass
class Draft:
    """One subscriber's part of a batch: the slot to claim and the papers to give, ranked."""

    subscriber: Subscriber
    window: Window
    day: date  # the digest's date, in the subscriber's timezone
    profile: matching.Profile | None  # None: unusable keywords; the slot passes, the papers wait
    found: Found = field(default_factory=list)
    parts: Any = None  # relevance.Parts (SPEC §10) once arranged; `found` is then parts.ordered()


class ClaimLost(Exception):
    """Another planner moved a subscriber of the batch past this slot first."""


def given(session: Session, subscriber_ids: list[int], since: datetime) -> set[tuple[int, int]]:
    """(subscriber, paper) pairs already given, for papers first seen after `since`."""
    rows = session.execute(
        select(DigestItem.subscriber_id, DigestItem.paper_id)
        .join(Paper, and_(Paper.id == DigestItem.paper_id, Paper.first_seen_at > since))
        .where(DigestItem.subscriber_id.in_(subscriber_ids))
    )
    return {(row[0], row[1]) for row in rows}


def claim(session: Session, drafts: list[Draft]) -> None:
    """Move every subscriber past their slot at once (a compare-and-set per row); ClaimLost if
    some row changed since it was read. A bad profile's papers wait: last_digest_at stays."""
    table = _table(Subscriber)
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("claim_id"),
            table.c.status == "confirmed",
            table.c.paused.is_(False),
            table.c.next_digest_at.is_not_distinct_from(bindparam("old_next")),
            table.c.last_digest_at.is_not_distinct_from(bindparam("old_last")),
        )
        .values(next_digest_at=bindparam("new_next"), last_digest_at=bindparam("new_last"))
    )
    rows = [
        {
            "claim_id": draft.subscriber.id,
            "old_next": draft.subscriber.next_digest_at,
            "old_last": draft.subscriber.last_digest_at,
            "new_next": draft.window.next_at,
            "new_last": (
                draft.window.end if draft.profile is not None else draft.subscriber.last_digest_at
            ),
        }
        for draft in drafts
    ]
    claimed = session.execute(statement, rows).rowcount  # type: ignore[attr-defined]
    if claimed != len(rows):
        raise ClaimLost


def insert_digests(session: Session, drafts: list[Draft], *, now: datetime) -> dict[int, int]:
    """Insert one Digest per draft; each subscriber's digest id."""
    table = _table(Digest)
    rows = [
        {
            "subscriber_id": draft.subscriber.id,
            "scheduled_for": draft.window.scheduled_for,
            "window_start": draft.window.start,
            "window_end": draft.window.end,
            "paper_count": len(draft.found),
            "keywords": draft.subscriber.keywords,
            # §10: which papers are suggestions / moved to "Also matched", for the web page
            "parts": (
                json.dumps(draft.parts.summary())
                if getattr(draft.parts, "arranged", False)
                else None
            ),
            "created_at": now,
        }
        for draft in drafts
    ]
    statement = insert(table).returning(table.c.subscriber_id, table.c.id)
    return {row[0]: row[1] for row in session.execute(statement, rows)}


ITEM_COLUMNS = ("digest_id", "subscriber_id", "paper_id", "rank", "matched_terms", "in_title")


def insert_items(session: Session, drafts: list[Draft], digest_ids: dict[int, int]) -> None:
    """Write the ledger: every matched paper of every digest, in rank order.

    This is the largest write of composing (about 50 rows per digest). On PostgreSQL with
    psycopg it is one COPY; elsewhere one executemany INSERT. A row that breaks a unique key
    raises IntegrityError either way.
    """
    rows = (  # a generator: COPY streams the rows without a list of them all
        (
            digest_ids[draft.subscriber.id],
            draft.subscriber.id,
            paper.id,
            rank,
            list(found.terms),
            found.in_title,
        )
        for draft in drafts
        for rank, (paper, found) in enumerate(draft.found, start=1)
    )
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        copy_rows(connection, _table(DigestItem), ITEM_COLUMNS, rows)
    else:
        session.execute(
            insert(_table(DigestItem)), [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in rows]
        )


def copy_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY `rows` into `table` within the connection's transaction (PostgreSQL, psycopg 3).

    Several times faster than an executemany INSERT for hundreds of thousands of rows. A list
    value is written as JSON. A driver error is raised as SQLAlchemy's own (a unique or foreign
    key violation as IntegrityError, a lost connection as OperationalError), as the INSERT's
    would be; the caller's savepoint then rolls it back.
    """
    import psycopg

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    try:
        with dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row([dumps(v) if isinstance(v, list) else v for v in row])
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _table(model: type[Base]) -> Table:
    """The model's Core table: bulk statements on it skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)
