"""Composing digests: who is due, which papers each gets, the once-per-paper ledger, the outbox.

A digest covers the papers first seen in its window, (last digest, this digest], that match the
profile as it stands now; windows of one subscriber never overlap and first_seen_at never
changes, so no paper is in two of their digests (ledger.py). Composing claims the subscriber's
slot with a compare-and-set on `next_digest_at`, so a second `digest send` or a concurrent
planner skips it instead of composing it twice; the unique keys on `Digest` (subscriber, slot)
and the outbox are the second line of defence. Work per subscriber is its matched papers' ids
plus the few the email shows (ranking.py picks them): nothing is stored or rendered per paper.

Scale: due subscribers are matched in groups of GROUP_SIZE (one ProfileIndex per group, over
papers loaded once per run by `paperpool`) and composed in batches of BATCH_SIZE, one transaction
per batch that first locks the batch's rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
`BEGIN IMMEDIATE` already excludes other writers). A batch is written set-wise: one claiming
UPDATE, one INSERT each for digests (their papers packed in a column) and outbox rows. Should
any of those meet a row another planner wrote, the batch's savepoint is rolled back and its
subscribers are written one by one, each in its own savepoint, so a conflict skips one
subscriber, never a batch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest import matching
from digest.compose import ledger
from digest.compose.ledger import Draft
from digest.compose.paperpool import GroupMatches, PaperPool
from digest.compose.ranking import Found
from digest.compose.schedule import Schedule, Window, digest_window, first_due
from digest.mail import entries, outbox, render
from digest.mail.message import HeaderInjection, build_message, check_single_address
from digest.models import Paper, Subscriber
from digest.relevance.arrange import Parts, ReaderState, Relevance
from digest.services import Services
from digest.tokens import Tokens, digest_url, feed_url, rate_url, subscriber_links

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000  # subscribers composed per transaction
GROUP_SIZE = 2_000  # subscribers matched at once: bounds the match results kept in memory
ALSO_MATCHED_LINES = 50  # one-line entries an email shows; the web page shows them all
_EVERY_MATCH = 1 << 62  # `shown` that keeps every matched pair (a list slice takes it as is)
QUEUE_CHUNK = 100  # messages built and inserted at a time: bounds the message bytes in memory
Progress = Callable[[int, int], None]


@dataclass
class ComposeReport:
    """What one composing run did: digests queued, empty ones skipped, subscribers passed over."""

    composed: int = 0
    empty: int = 0
    skipped: int = 0
    outbox_ids: list[int] = field(default_factory=list)
    # Digests of feed-only subscribers: stored (so in their feed), counted in `composed`,
    # never queued as email; `digest send` counts them as sent (delivered to the feed).
    fed: int = 0

    def add(self, other: ComposeReport) -> None:
        """Count `other`'s digests in this report too."""
        self.composed += other.composed
        self.empty += other.empty
        self.skipped += other.skipped
        self.outbox_ids += other.outbox_ids
        self.fed += other.fed


@dataclass(frozen=True)
class Shard:
    """Part `index` of `count` of the subscribers (by id modulo `count`), for composing shared
    by several processes: each composes its own part, so none matches another's profiles."""

    index: int
    count: int

    @classmethod
    def parse(cls, value: str) -> Shard:
        """`i/n` with 0 <= i < n; ValueError for anything else."""
        index, sep, count = value.partition("/")
        if not (sep and index.isdigit() and count.isdigit() and int(index) < int(count)):
            raise ValueError(f"a shard is i/n with 0 <= i < n, not {value!r}")
        return cls(int(index), int(count))

    def of(self, query: Select[Subscriber]) -> Select[Subscriber]:
        """`query` narrowed to this part."""
        return query.where(Subscriber.id % self.count == self.index)


def schedule_of(subscriber: Subscriber) -> Schedule:
    """The subscriber's schedule; ValueError or ZoneInfoNotFoundError if it is unusable."""
    return Schedule.of(
        subscriber.frequency, subscriber.send_time, subscriber.timezone, subscriber.weekday
    )


def plan_next_digests(session: Session, *, now: datetime, shard: Shard | None = None) -> int:
    """Fill `next_digest_at` for confirmed, unpaused subscribers who have none; return how many."""
    planned = 0
    for subscriber in session.scalars(
        _active(shard).where(Subscriber.next_digest_at.is_(None)).order_by(Subscriber.id)
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


def _active(shard: Shard | None = None) -> Select[Subscriber]:
    """Confirmed subscribers who have not paused their digests (in `shard`, if given)."""
    query = select(Subscriber).where(
        Subscriber.status == "confirmed", Subscriber.paused.is_(False)
    )
    return shard.of(query) if shard is not None else query


def count_due(
    session: Session, *, now: datetime, force: bool = False, shard: Shard | None = None
) -> int:
    """How many subscribers a composing run at `now` would look at."""
    active = _active(shard)
    query = active.where(Subscriber.next_digest_at <= now) if not force else active
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


class Composer:
    """Composes one run's digests: one Renderer, one PaperPool, one token maker."""

    def __init__(
        self, services: Services, *, now: datetime, force: bool = False, shard: Shard | None = None
    ) -> None:
        self.services = services
        self.shard = shard
        self.settings = services.settings
        self.now = now
        self.force = force
        self.tokens = Tokens(services.settings.secret_key)
        self.pool = PaperPool()
        self.relevance = Relevance(enabled=services.settings.relevance)  # SPEC §10
        self._values: dict[int, entries.PaperValues] = {}

    @cached_property
    def renderer(self) -> render.Renderer:
        """One Renderer per run (it caches each paper's fragment), built only when needed."""
        return render.Renderer(self.settings)

    def _due(self) -> Select[Subscriber]:
        query = _active(self.shard)
        return query if self.force else query.where(Subscriber.next_digest_at <= self.now)

    def match_group(
        self, session: Session, after_id: int, limit: int
    ) -> tuple[list[int], GroupMatches | None]:
        """The next group of due subscribers by id (unlocked), and their profiles' matches."""
        query = self._due().where(Subscriber.id > after_id).order_by(Subscriber.id).limit(limit)
        group = list(session.scalars(query))
        profiles: dict[Any, tuple[str, matching.Profile]] = {}
        windows: list[Window] = []
        for subscriber in group:
            try:  # an unusable schedule or profile is logged when its batch is composed
                windows.append(self._window(subscriber, schedule_of(subscriber)))
                profiles[subscriber.id] = (
                    subscriber.keywords,
                    matching.parse_profile(subscriber.keywords),
                )
            except (ValueError, ZoneInfoNotFoundError, matching.KeywordError):
                continue
        ids = [subscriber.id for subscriber in group]
        if not profiles:
            return ids, None
        start = min(window.start for window in windows)
        end = max(window.end for window in windows)
        return ids, self.pool.match_group(session, profiles, start, end)

    def lock(self, session: Session, ids: Sequence[int]) -> list[Subscriber]:
        """Those of `ids` still due, locked, as they stand now; rows others hold are skipped."""
        query = (
            self._due()
            .where(Subscriber.id.in_(ids))
            .order_by(Subscriber.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return list(session.scalars(query))

    def compose_batch(
        self,
        session: Session,
        subscribers: Iterable[Subscriber],
        report: ComposeReport,
        group: GroupMatches | None = None,
    ) -> None:
        """Compose each locked subscriber's digest; one conflict skips that subscriber only."""
        subscribers = list(subscribers)
        # Confirmed anew (last_digest_at reset): the first window must start after their last.
        floors = ledger.last_window_ends(
            session, [s.id for s in subscribers if s.last_digest_at is None]
        )
        # SPEC §10 hook: one query for the batch's readers who liked or rated anything (an
        # empty dict when DIGEST_RELEVANCE=off or nobody did: everyone takes the fast path).
        readers = self.relevance.readers(session, [s.id for s in subscribers])
        drafts = []
        for subscriber in subscribers:
            floor, everything = floors.get(subscriber.id), subscriber.id in readers
            draft = self._draft(session, subscriber, group, report, floor, everything=everything)
            if draft is not None:
                drafts.append(draft)
        if not drafts:
            return
        for draft in drafts:
            state = readers.get(draft.subscriber.id)
            if state is not None and draft.found:
                self._arrange(session, draft, state)
        self._store(session, drafts, report)

    def _arrange(self, session: Session, draft: Draft, state: ReaderState) -> None:
        """SPEC §10 for a reader who liked or rated something: the three parts, and `found`
        becomes every paper they hold (suggestions too: the digest stores them all).

        `draft.found.shown` holds every matched pair here (see `_draft`). The window's papers
        are first seen after this subscriber's last digest, so none of them was given before:
        suggestions drawn from it keep once per paper without a ledger to look in."""
        assert draft.profile is not None
        start, end = draft.window.start, draft.window.end
        window = self.relevance.window(session, self.pool.papers, start, end)
        draft.parts = self.relevance.arrange(
            session, state, draft.found.shown, window, draft.profile
        )
        ordered = draft.parts.ordered()
        draft.found = Found(
            [paper.id for paper, _ in ordered], draft.parts.top[: self.settings.max_papers]
        )

    def _window(
        self, subscriber: Subscriber, schedule: Schedule, floor: datetime | None = None
    ) -> Window:
        window = digest_window(
            schedule,
            next_digest_at=subscriber.next_digest_at,
            last_digest_at=subscriber.last_digest_at,
            now=self.now,
            force=self.force,
        )
        # A floor at or past the window's end means this slot was composed already: the claim
        # or the digest's unique key turns that away, so the window is left as it is.
        if floor is not None and window.start < floor < window.end:
            return dataclasses.replace(window, start=floor)
        return window

    def _draft(
        self,
        session: Session,
        subscriber: Subscriber,
        group: GroupMatches | None,
        report: ComposeReport,
        floor: datetime | None = None,
        *,
        everything: bool = False,
    ) -> Draft | None:
        """The subscriber's window and matched papers, or None (logged) for an unusable schedule.

        `found.shown` holds the first max_papers matches, or with `everything` (a reader whose
        digest relevance arranges) every one of them."""
        try:
            # An address stored before it would have been refused (an encoded word) must not
            # stop the batch when its message is built: that subscriber alone is skipped.
            check_single_address(subscriber.email)
        except HeaderInjection as exc:
            logger.warning("subscriber %s skipped, unusable address: %s", subscriber.id, exc)
            report.skipped += 1
            return None
        try:
            schedule = schedule_of(subscriber)
            window = self._window(subscriber, schedule, floor)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            logger.warning("subscriber %s skipped, unusable schedule: %s", subscriber.id, exc)
            report.skipped += 1
            return None
        day = window.end.astimezone(schedule.zone).date()
        start, end, keywords = window.start, window.end, subscriber.keywords
        shown = _EVERY_MATCH if everything else self.settings.max_papers
        profile = group.profile(subscriber.id, keywords, start, end) if group else None
        if profile is not None and group is not None:
            found = group.between(subscriber.id, start, end, shown)
            return Draft(subscriber, window, day, profile, found)
        try:  # not matched with the group: the profile or the window changed since
            profile = matching.parse_profile(keywords)
        except matching.KeywordError as exc:
            logger.warning("subscriber %s skipped, bad keywords: %s", subscriber.id, exc)
            # Their papers wait (last_digest_at stays); they are looked at again next slot.
            return Draft(subscriber, window, day, None)
        found = self.pool.match_one(session, profile, start, end, shown)
        return Draft(subscriber, window, day, profile, found)

    def _store(self, session: Session, drafts: list[Draft], report: ComposeReport) -> None:
        """Write the drafts set-wise; on a conflict, one by one, skipping the conflicting ones."""
        try:
            with session.begin_nested():
                written = self._write(session, drafts)
        except (IntegrityError, ledger.ClaimLost):
            if len(drafts) == 1:
                logger.info(
                    "digest for subscriber %s was composed elsewhere", drafts[0].subscriber.id
                )
                report.skipped += 1
                return
            for draft in drafts:
                self._store(session, [draft], report)
            return
        report.add(written)

    def _write(self, session: Session, drafts: list[Draft]) -> ComposeReport:
        """Claim every slot, then store the digests with their ledger and queue their emails."""
        ledger.claim(session, drafts)
        written = ComposeReport(
            empty=sum(draft.profile is not None and not draft.found for draft in drafts),
            skipped=sum(draft.profile is None for draft in drafts),
        )
        full = [draft for draft in drafts if draft.profile is not None and draft.found]
        if not full:
            return written
        digest_ids = ledger.insert_digests(session, full, now=self.now)
        # A feed-only subscriber's digest is complete once stored: the feed reads it from there.
        written.fed = sum(draft.subscriber.delivery == "feed" for draft in full)
        written.composed += written.fed
        full = [draft for draft in full if draft.subscriber.delivery != "feed"]
        for start in range(0, len(full), QUEUE_CHUNK):
            chunk = full[start : start + QUEUE_CHUNK]
            queued = self._queue(session, chunk, digest_ids)
            written.composed += len(queued)
            written.skipped += len(chunk) - len(queued)  # refused: already queued elsewhere
            written.outbox_ids += queued
        return written

    def _queue(
        self, session: Session, drafts: list[Draft], digest_ids: dict[int, int]
    ) -> list[int]:
        """Render each digest's email and queue it; the outbox ids of the rows inserted."""
        rows = [self._email_row(draft, digest_ids[draft.subscriber.id]) for draft in drafts]
        return outbox.enqueue_many(session, rows)

    def _entry(
        self, paper: Paper, match: matching.Match, profile: matching.Profile
    ) -> entries.DigestEntry:
        """The paper's entry; its values read once per run (papers do not change while in it)."""
        values = self._values.get(paper.id)
        if values is None:
            values = self._values[paper.id] = entries.paper_values(paper)
        return entries.entry_of(values, match, profile)

    def _email_row(self, draft: Draft, digest_id: int) -> dict[str, Any]:
        """The outbox row of one digest: its email rendered and built as a message."""
        subscriber, window = draft.subscriber, draft.window
        assert draft.profile is not None
        profile = draft.profile
        base = self.settings.base_url
        links = subscriber_links(base, self.tokens, subscriber)
        parts = self._parts(draft, digest_id)  # SPEC §10: the parts, with rating links
        email = self.renderer.digest(
            # Only the papers the email shows are made entries; the web page shows the rest.
            # With parts, `parts` holds them (made once) and this list is not used.
            [self._entry(paper, found, profile) for paper, found in draft.found.shown]
            if parts is None
            else [],
            total=len(draft.found),
            parts=parts,
            day=draft.day,
            keywords=subscriber.keywords,
            links=render.DigestLinks(
                manage=links.manage,
                unsubscribe=links.unsubscribe,
                browser=digest_url(base, self.tokens, subscriber, digest_id),
                feed=feed_url(base, self.tokens, subscriber),
            ),
        )
        dedupe_key = f"digest:{subscriber.id}:{window.scheduled_for.isoformat()}"
        message = build_message(
            self.settings, to_addr=subscriber.email, subject=email.subject, text=email.text,
            html=email.html, message_key=dedupe_key, unsubscribe_url=links.unsubscribe,
            date=self.now,
        )  # fmt: skip
        return outbox.outbox_row(
            kind="digest", dedupe_key=dedupe_key, to_addr=subscriber.email,
            subject=email.subject, message=message, now=self.now,
            subscriber_id=subscriber.id, digest_id=digest_id,
        )  # fmt: skip

    def _parts(self, draft: Draft, digest_id: int) -> render.DigestParts | None:
        """The email's §10 view of a draft: its parts as entries, with rating links."""
        if not self.settings.relevance:
            return None
        assert draft.profile is not None
        # Not arranged (nothing liked or rated yet): the shown matches, with rating links.
        parts = draft.parts if draft.parts is not None else Parts(top=draft.found.shown)
        return digest_parts(
            parts, draft.profile, self.settings.max_papers,
            lambda paper_id, value: rate_url(
                self.settings.base_url, self.tokens, draft.subscriber, paper_id, digest_id, value
            ),
            entry=self._entry,
        )  # fmt: skip


def digest_parts(
    parts: Any,
    profile: matching.Profile,
    cap: int,
    rate: Callable[[int, int], str] | None,
    entry: Callable[[Paper, matching.Match, matching.Profile], entries.DigestEntry] = (
        entries.entry_for
    ),
) -> render.DigestParts:
    """relevance.Parts as the renderer takes them: Top matches up to `cap` in full, then the
    suggestions, then up to ALSO_MATCHED_LINES one-line entries; `rate(paper_id, ±1)` links."""
    top = [entry(paper, found, profile) for paper, found in parts.top[:cap]]
    also_like = [entry(paper, found, profile) for paper, found in parts.also_like]
    lines = [
        entry(paper, found, profile) for paper, found in parts.also_matched[:ALSO_MATCHED_LINES]
    ]
    links = {}
    if rate is not None:
        links = {e.paper_id: (rate(e.paper_id, 1), rate(e.paper_id, -1)) for e in top + also_like}
        links.update({e.paper_id: (rate(e.paper_id, 1), "") for e in lines})
    return render.DigestParts(
        top, also_like, lines, reasons=dict(parts.reasons), rate=links, titled=parts.arranged
    )


def compose_due(
    services: Services,
    *,
    now: datetime,
    force: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    group_size: int = GROUP_SIZE,
    progress: Progress | None = None,
    shard: Shard | None = None,
) -> ComposeReport:
    """Compose every digest due at `now` (all confirmed, unpaused subscribers with `force`).

    One transaction per batch. A dry run composes and renders the same way inside one
    transaction that is rolled back, so it stores (and therefore sends) nothing. With `shard`,
    only that part of the subscribers (several processes share composing that way).
    """
    composer = Composer(services, now=now, force=force, shard=shard)
    sizes = (batch_size, max(group_size, batch_size))
    if not dry_run:
        with services.sessions.begin() as session:
            total = _prepare(session, now=now, force=force, shard=shard)
        return _compose_groups(composer, services.sessions.begin, total, sizes, progress)
    with services.sessions() as session:
        transaction = session.begin()
        try:
            total = _prepare(session, now=now, force=force, shard=shard)
            return _compose_groups(composer, lambda: nullcontext(session), total, sizes, progress)
        finally:
            transaction.rollback()


def _prepare(session: Session, *, now: datetime, force: bool, shard: Shard | None) -> int:
    """Plan the subscribers who have no next digest yet; return how many are to be looked at."""
    if not force:
        plan_next_digests(session, now=now, shard=shard)
    return count_due(session, now=now, force=force, shard=shard)


def _compose_groups(
    composer: Composer,
    unit: Callable[[], AbstractContextManager[Session]],
    total: int,
    sizes: tuple[int, int],
    progress: Progress | None,
) -> ComposeReport:
    """Match group after group; compose each in batches, each inside its own `unit` of work."""
    batch_size, group_size = sizes
    report = ComposeReport()
    done, after_id = 0, 0
    while True:
        with unit() as session:
            ids, group = composer.match_group(session, after_id, group_size)
        if not ids:
            return report
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            with unit() as session:
                composer.compose_batch(session, composer.lock(session, batch), report, group)
            done += len(batch)
            if progress is not None:
                progress(done, max(total, done))
        after_id = ids[-1]
