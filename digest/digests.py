"""Composing digests: who is due, which papers each gets, the once-per-paper ledger, the outbox.

A digest covers the papers first seen in its window, (last digest, this digest], that match the
profile as it stands now and are not yet in the subscriber's ledger (`DigestItem`, unique per
subscriber and paper). Composing claims the subscriber's slot with a compare-and-set on
`next_digest_at`, so a second `digest send` or a concurrent planner skips it instead of composing
it twice; the unique keys on `Digest` and the outbox are the second line of defence.

Scale: subscribers are read in batches by id, one transaction per batch, with one ProfileIndex per
batch; papers are loaded and turned into matching Documents once per run (`paperpool`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import Select, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest import matching, outbox, render
from digest.models import Digest, DigestItem, Paper, Subscriber
from digest.paperpool import PaperPool
from digest.schedule import Schedule, Window, digest_window, first_due
from digest.services import Services
from digest.tokens import Tokens, digest_url, subscriber_links

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
Progress = Callable[[int, int], None]


@dataclass
class ComposeReport:
    """What one composing run did: digests queued, empty ones skipped, subscribers passed over."""

    composed: int = 0
    empty: int = 0
    skipped: int = 0
    outbox_ids: list[int] = field(default_factory=list)


def schedule_of(subscriber: Subscriber) -> Schedule:
    """The subscriber's schedule; ValueError or ZoneInfoNotFoundError if it is unusable."""
    return Schedule.of(
        subscriber.frequency, subscriber.send_time, subscriber.timezone, subscriber.weekday
    )


def plan_next_digests(session: Session, *, now: datetime) -> int:
    """Fill `next_digest_at` for confirmed, unpaused subscribers who have none; return how many."""
    planned = 0
    for subscriber in session.scalars(
        _active().where(Subscriber.next_digest_at.is_(None)).order_by(Subscriber.id)
    ):
        try:
            subscriber.next_digest_at = first_due(
                schedule_of(subscriber),
                confirmed_at=subscriber.confirmed_at,
                last_digest_at=subscriber.last_digest_at,
                now=now,
            )
        except (ValueError, ZoneInfoNotFoundError) as exc:
            logger.warning("subscriber %s has an unusable schedule: %s", subscriber.id, exc)
            continue
        planned += 1
    return planned


def _active() -> Select[Subscriber]:
    """Confirmed subscribers who have not paused their digests."""
    return select(Subscriber).where(Subscriber.status == "confirmed", Subscriber.paused.is_(False))


def count_due(session: Session, *, now: datetime, force: bool = False) -> int:
    """How many subscribers a composing run at `now` would look at."""
    query = _active().where(Subscriber.next_digest_at <= now) if not force else _active()
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


class Composer:
    """Composes one run's digests: one Renderer, one PaperPool, one token maker."""

    def __init__(self, services: Services, *, now: datetime, force: bool = False) -> None:
        self.services = services
        self.settings = services.settings
        self.now = now
        self.force = force
        self.tokens = Tokens(services.settings.secret_key)
        self.pool = PaperPool()

    @cached_property
    def renderer(self) -> render.Renderer:
        """One Renderer per run (it caches each paper's fragment), built only when needed."""
        return render.Renderer(self.settings)

    def due(self, session: Session, after_id: int, limit: int) -> list[Subscriber]:
        """The next batch to compose, by id; rows another planner has locked are skipped."""
        query = _active().where(Subscriber.id > after_id)
        if not self.force:
            query = query.where(Subscriber.next_digest_at <= self.now)
        query = query.order_by(Subscriber.id).limit(limit).with_for_update(skip_locked=True)
        return list(session.scalars(query))

    def compose_batch(
        self, session: Session, subscribers: Iterable[Subscriber], report: ComposeReport
    ) -> None:
        """Compose each subscriber's digest; one failure skips that subscriber, not the batch."""
        plans: dict[int, tuple[Subscriber, Window, matching.Profile]] = {}
        index = matching.ProfileIndex()
        for subscriber in subscribers:
            plan = self._plan(session, subscriber, report)
            if plan is not None:
                plans[subscriber.id] = plan
                index.add(subscriber.id, plan[2])
        if not plans:
            return
        start = min(window.start for _, window, _ in plans.values())
        end = max(window.end for _, window, _ in plans.values())
        self.pool.ensure(session, start, end)
        candidates = self.pool.between(start, end)
        matches = index.match_all([document for _, document in candidates])
        ledger = _ledger(session, list(plans), start)
        for subscriber_id, (subscriber, window, profile) in plans.items():
            entries = [
                render.entry_for(paper, found, profile)
                for paper, found in (
                    (candidates[i][0], found) for i, found in matches.get(subscriber_id, ())
                )
                if window.start < paper.first_seen_at <= window.end
                and (subscriber_id, paper.id) not in ledger
            ]
            self._compose_one(session, subscriber, window, render.rank_entries(entries), report)

    def _plan(
        self, session: Session, subscriber: Subscriber, report: ComposeReport
    ) -> tuple[Subscriber, Window, matching.Profile] | None:
        """The subscriber's window and parsed profile, or None (logged) when unusable."""
        try:
            schedule = schedule_of(subscriber)
            window = digest_window(
                schedule,
                next_digest_at=subscriber.next_digest_at,
                last_digest_at=subscriber.last_digest_at,
                now=self.now,
                force=self.force,
            )
        except (ValueError, ZoneInfoNotFoundError) as exc:
            logger.warning("subscriber %s skipped, unusable schedule: %s", subscriber.id, exc)
            report.skipped += 1
            return None
        try:
            return subscriber, window, matching.parse_profile(subscriber.keywords)
        except matching.KeywordError as exc:
            logger.warning("subscriber %s skipped, bad keywords: %s", subscriber.id, exc)
            # Their papers wait (last_digest_at stays); they are looked at again next slot.
            if self._claim(session, subscriber, window, advance_window=False):
                report.skipped += 1
            return None

    def _claim(
        self, session: Session, subscriber: Subscriber, window: Window, advance_window: bool = True
    ) -> bool:
        """Move the subscriber past this slot, unless someone else did first (compare-and-set)."""
        values = {"next_digest_at": window.next_at}
        if advance_window:
            values["last_digest_at"] = window.end
        result = session.execute(
            update(Subscriber)
            .where(
                Subscriber.id == subscriber.id,
                Subscriber.status == "confirmed",
                Subscriber.paused.is_(False),
                Subscriber.next_digest_at.is_not_distinct_from(subscriber.next_digest_at),
                Subscriber.last_digest_at.is_not_distinct_from(subscriber.last_digest_at),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _compose_one(
        self,
        session: Session,
        subscriber: Subscriber,
        window: Window,
        entries: list[render.DigestEntry],
        report: ComposeReport,
    ) -> None:
        """Claim the slot, store the digest and its ledger, and queue its email."""
        try:
            with session.begin_nested():
                if not self._claim(session, subscriber, window):
                    report.skipped += 1
                    return
                if not entries:
                    report.empty += 1
                    return
                message_id = self._store(session, subscriber, window, entries)
        except IntegrityError:
            logger.info("digest for subscriber %s was composed elsewhere", subscriber.id)
            report.skipped += 1
            return
        if message_id is None:
            report.skipped += 1
        else:
            report.composed += 1
            report.outbox_ids.append(message_id)

    def _store(
        self,
        session: Session,
        subscriber: Subscriber,
        window: Window,
        entries: list[render.DigestEntry],
    ) -> int | None:
        """Insert Digest and DigestItems, render, and queue; the outbox row's id (None: refused)."""
        digest = Digest(
            subscriber_id=subscriber.id,
            scheduled_for=window.scheduled_for,
            window_start=window.start,
            window_end=window.end,
            paper_count=len(entries),
            keywords=subscriber.keywords,
            created_at=self.now,
        )
        session.add(digest)
        session.flush()
        session.execute(
            insert(DigestItem),
            [
                {
                    "digest_id": digest.id,
                    "subscriber_id": subscriber.id,
                    "paper_id": entry.paper_id,
                    "rank": rank,
                    "matched_terms": list(entry.matched_terms),
                    "in_title": entry.in_title,
                }
                for rank, entry in enumerate(entries, start=1)
            ],
        )
        base = self.settings.base_url
        links = subscriber_links(base, self.tokens, subscriber)
        email = self.renderer.digest(
            entries[: self.settings.max_papers],
            total=len(entries),
            day=window.end.astimezone(schedule_of(subscriber).zone).date(),
            keywords=subscriber.keywords,
            links=render.DigestLinks(
                manage=links.manage,
                unsubscribe=links.unsubscribe,
                browser=digest_url(base, self.tokens, subscriber, digest.id),
            ),
        )
        message = outbox.queue_email(
            session,
            self.settings,
            kind="digest",
            dedupe_key=f"digest:{subscriber.id}:{window.scheduled_for.isoformat()}",
            to_addr=subscriber.email,
            subject=email.subject,
            text=email.text,
            html=email.html,
            now=self.now,
            subscriber_id=subscriber.id,
            digest_id=digest.id,
            unsubscribe_url=links.unsubscribe,
        )
        return None if message is None else message.id


def _ledger(session: Session, subscriber_ids: list[int], since: datetime) -> set[tuple[int, int]]:
    """(subscriber, paper) pairs already given, for papers first seen after `since`."""
    rows = session.execute(
        select(DigestItem.subscriber_id, DigestItem.paper_id)
        .join(Paper, and_(Paper.id == DigestItem.paper_id, Paper.first_seen_at > since))
        .where(DigestItem.subscriber_id.in_(subscriber_ids))
    )
    return {(row[0], row[1]) for row in rows}


def compose_due(
    services: Services,
    *,
    now: datetime,
    force: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ComposeReport:
    """Compose every digest due at `now` (all confirmed, unpaused subscribers with `force`).

    One transaction per batch. A dry run composes and renders the same way inside one
    transaction that is rolled back, so it stores (and therefore sends) nothing.
    """
    composer = Composer(services, now=now, force=force)
    if not dry_run:
        with services.sessions.begin() as session:
            total = _prepare(session, now=now, force=force)
        return _compose_batches(composer, services.sessions.begin, total, batch_size, progress)
    with services.sessions() as session:
        transaction = session.begin()
        try:
            total = _prepare(session, now=now, force=force)
            return _compose_batches(
                composer, lambda: nullcontext(session), total, batch_size, progress
            )
        finally:
            transaction.rollback()


def _prepare(session: Session, *, now: datetime, force: bool) -> int:
    """Plan the subscribers who have no next digest yet; return how many are to be looked at."""
    if not force:
        plan_next_digests(session, now=now)
    return count_due(session, now=now, force=force)


def _compose_batches(
    composer: Composer,
    unit: Callable[[], AbstractContextManager[Session]],
    total: int,
    batch_size: int,
    progress: Progress | None,
) -> ComposeReport:
    """Compose batch after batch, each inside its own `unit` of work, until none is due."""
    report = ComposeReport()
    done, after_id = 0, 0
    while True:
        with unit() as session:
            batch = composer.due(session, after_id, batch_size)
            if batch:
                composer.compose_batch(session, batch, report)
        if not batch:
            return report
        after_id = batch[-1].id
        done += len(batch)
        if progress is not None:
            progress(done, max(total, done))
