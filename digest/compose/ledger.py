"""The ledger side of composing: where each subscriber's last digest ended, and the set-wise
writes of a composed batch (claim the slots, insert the digests with their papers).

Once per paper, without a row per paper: a digest covers the papers first seen in its window,
(last_digest_at, end], the claim moves last_digest_at to the window's end, and a paper's
first_seen_at never changes, so two digests of one subscriber never share a paper. The one case
where last_digest_at is not the last window's end, a subscriber confirmed anew (it is reset),
is covered by `last_window_ends`. Each digest stores its papers' ids packed in one column.

Each statement covers the whole batch, so a batch of 1,000 subscribers costs a handful of round
trips, not thousands; `digests.py` falls back to one subscriber at a time when a statement meets
a row another planner wrote (ClaimLost, or an IntegrityError on a unique key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from digest import matching
from digest.compose.ranking import Found
from digest.compose.schedule import Window
from digest.db import Base
from digest.models import Digest, Subscriber, pack_ids


@dataclass
class Draft:
    """One subscriber's part of a batch: the slot to claim and the papers to give, ranked."""

    subscriber: Subscriber
    window: Window
    day: date  # the digest's date, in the subscriber's timezone
    profile: matching.Profile | None  # None: unusable keywords; the slot passes, the papers wait
    found: Found = field(default_factory=Found)
    # relevance.Parts (SPEC §10) once arranged; `found.paper_ids` is then parts.ordered()'s ids
    parts: Any = None


class ClaimLost(Exception):
    """Another planner moved a subscriber of the batch past this slot first."""


def last_window_ends(session: Session, subscriber_ids: list[int]) -> dict[int, datetime]:
    """Where each subscriber's latest digest window ended, for those who have a digest.

    Asked only for subscribers without last_digest_at (confirmed anew after unsubscribing):
    their first window reaches a period back, and must not reach into a digest they had.
    """
    if not subscriber_ids:
        return {}
    rows = session.execute(
        select(Digest.subscriber_id, func.max(Digest.window_end))
        .where(Digest.subscriber_id.in_(subscriber_ids))
        .group_by(Digest.subscriber_id)
    )
    return {row[0]: row[1] for row in rows}


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
    """Insert one Digest per draft, its papers' ids packed in digest order; each subscriber's
    digest id. One executemany INSERT for the batch (a duplicate slot: IntegrityError)."""
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
            "paper_ids": pack_ids(draft.found.paper_ids),
            "created_at": now,
        }
        for draft in drafts
    ]
    statement = insert(table).returning(table.c.subscriber_id, table.c.id)
    return {row[0]: row[1] for row in session.execute(statement, rows)}


def _table(model: type[Base]) -> Table:
    """The model's Core table: bulk statements on it skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)
