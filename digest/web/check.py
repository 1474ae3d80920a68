"""The "what would these keywords have matched?" check, bounded whatever the profile.

Anyone may run it without an account, so its cost is capped: it reads only the newest
`MAX_PAPERS` papers of the last `CHECK_DAYS` days (just the columns matching and the examples
need), in a read-only session (no write lock on SQLite), stops preparing papers when its time
`BUDGET_SECONDS` is spent, matches them all at once with `ProfileIndex` (each distinct term
evaluated once over posting lists, not profile by paper), and renders only a few examples. At most
`MAX_RUNNING` checks run at a time in a process, so checks can never occupy every server thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest import matching
from digest.mail.entries import DigestEntry, PaperLike, entry_for
from digest.models import Paper

CHECK_DAYS = 7
CHECK_EXAMPLES = 5
MAX_PAPERS = 1000
BUDGET_SECONDS = 1.0
MAX_RUNNING = 2
WAIT_SECONDS = 2.0  # how long a check waits for a free slot before "busy, try again"

_COLUMNS = (
    Paper.id, Paper.title, Paper.abstract, Paper.authors, Paper.categories, Paper.url,
    Paper.pdf_url, Paper.code_url, Paper.upvotes, Paper.published_at, Paper.arxiv_id,
)
_running = threading.BoundedSemaphore(MAX_RUNNING)


@dataclass(frozen=True)
class CheckResult:
    """How many of the papers looked at a profile matched, and the first few of them."""

    count: int
    days: int
    examples: list[DigestEntry]
    considered: int  # papers actually matched against
    total: int  # papers first seen in the window; more than `considered` when capped


class CheckBusy(Exception):
    """Every check slot stayed taken for WAIT_SECONDS."""


def run_check(
    session: Session,
    profile: matching.Profile,
    *,
    now: datetime,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Match the profile against the newest papers of the last days, within the budget."""
    if not _running.acquire(timeout=WAIT_SECONDS):
        raise CheckBusy
    try:
        return _bounded_check(session, profile, now=now, clock=clock)
    finally:
        _running.release()


def _bounded_check(
    session: Session, profile: matching.Profile, *, now: datetime, clock: Callable[[], float]
) -> CheckResult:
    """The check itself: load, prepare within the budget, match once, rank, show a few."""
    since = now - timedelta(days=CHECK_DAYS)
    recent = Paper.first_seen_at >= since
    total = int(session.scalar(select(func.count(Paper.id)).where(recent)) or 0)
    rows: list[Any] = list(
        session.execute(
            select(*_COLUMNS)
            .where(recent)
            .order_by(Paper.first_seen_at.desc(), Paper.id.desc())
            .limit(MAX_PAPERS)
        )
    )
    deadline = clock() + BUDGET_SECONDS
    docs = []
    for row in rows:
        if clock() > deadline:
            break
        docs.append(matching.make_document(row.title, row.abstract, row.authors, row.categories))
    index = matching.ProfileIndex()
    index.add(0, profile)
    hits = index.match_all(docs).get(0, [])
    hits.sort(key=lambda hit: matching.rank_key(hit[1], rows[hit[0]].upvotes,
                                                rows[hit[0]].published_at))
    examples = [
        entry_for(cast(PaperLike, rows[d]), found, profile) for d, found in hits[:CHECK_EXAMPLES]
    ]
    return CheckResult(
        count=len(hits), days=CHECK_DAYS, examples=examples, considered=len(docs), total=total
    )
