"""The whole job, top to bottom: fetch the feeds → compose the digests due → deliver the outbox.

Each step runs alone too (the scheduler runs them on their own clocks); `send` is the three-step
run behind `digest send`: compose, then deliver until none of the digests it composed is left.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select

from digest.compose import digests
from digest.db import utcnow
from digest.mail import outbox
from digest.models import OutboxMessage
from digest.papers import ingest
from digest.papers.locks import exclusive
from digest.relevance import embeddings, lookup
from digest.services import Services

Clock = Callable[[], datetime]
# progress(stage, done, total): stage "composing" counts subscribers, "delivering" digests.
StageProgress = Callable[[str, int, int], None]
# States that mean "not finished yet": queued or claimed by some worker right now.
UNFINISHED = ("queued", "sending")
# How long `send` waits for other workers' claims on its digests (a killed worker's claim lapses
# within five minutes, and then this process takes the message over).
WAIT_FOR_OTHERS = 6 * 60.0
_CHUNK = 500
DELIVERY_ROUND = 500


@dataclass(frozen=True)
class SendSummary:
    """What became of the digests one `digest send` composed, whoever delivered them."""

    sent: int = 0
    empty: int = 0
    deferred: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is left deferred or failed (the exit status a cron job sees)."""
        return not (self.deferred or self.failed)

    def line(self) -> str:
        """The summary line of SPEC §3."""
        return (
            f"sent {self.sent}, empty {self.empty}, deferred {self.deferred}, failed {self.failed}"
        )


def fetch(
    services: Services, *, now: datetime | None = None, sources: Iterable[str] | None = None
) -> Any:
    """Ingest the configured feeds (or `sources`); papers are stamped when stored unless `now`."""
    chosen = list(sources) if sources is not None else list(services.settings.feeds)
    results = ingest.fetch_sources(services, chosen, now=now)
    relevance_step(services, now=now)
    return results


def relevance_step(services: Services, *, now: datetime | None = None) -> int:
    """SPEC §10 after storing papers: look up pending liked papers, embed what has no vector.

    Nothing at all with DIGEST_RELEVANCE=off. Returns how many papers were embedded.
    """
    if not services.settings.relevance:
        return 0
    lookup.lookup_pending(services, now=now or utcnow())
    with services.sessions.begin() as session:
        return embeddings.embed_missing(session)


def plan(
    services: Services,
    *,
    now: datetime | None = None,
    clock: Clock = utcnow,
    wait: bool = True,
    force: bool = False,
    dry_run: bool = False,
    progress: digests.Progress | None = None,
    shard: digests.Shard | None = None,
) -> digests.ComposeReport | None:
    """Compose and queue every digest due at `now` (by default: once planning may start).

    Holds the planning lock for the whole run (see locks.py); without `wait`, returns None at
    once when papers are being stored or another planner runs. With `shard`, only that part of
    the subscribers, holding the lock shared with the other parts' planners.
    """
    with exclusive(services.engine, "plan", wait=wait, shared=shard is not None) as mine:
        if not mine:
            return None
        at = now if now is not None else clock()
        return digests.compose_due(
            services, now=at, force=force, dry_run=dry_run, progress=progress, shard=shard
        )


def send(
    services: Services,
    *,
    clock: Clock = utcnow,
    force: bool = False,
    dry_run: bool = False,
    progress: StageProgress | None = None,
    sender: Any = None,
    wait_for_others: float = WAIT_FOR_OTHERS,
    shard: digests.Shard | None = None,
) -> SendSummary:
    """Compose the digests due now (in `shard`, if given), deliver them, and say what became
    of them."""
    report = plan(
        services, clock=clock, force=force, dry_run=dry_run,
        progress=_stage(progress, "composing"), shard=shard,
    )  # fmt: skip
    assert report is not None  # plan waits for the lock
    if dry_run:
        return SendSummary(sent=report.composed, empty=report.empty)
    deliver_until_done(
        services,
        report.outbox_ids,
        clock=clock,
        sender=sender,
        wait_for_others=wait_for_others,
        progress=_stage(progress, "delivering"),
    )
    states = outbox_states(services, report.outbox_ids)
    return SendSummary(
        sent=states["sent"] + report.fed,  # a feed-only digest is delivered once it is stored
        empty=report.empty,
        deferred=states["deferred"] + sum(states[state] for state in UNFINISHED),
        failed=states["failed"],
    )


def _stage(progress: StageProgress | None, stage: str) -> digests.Progress | None:
    return None if progress is None else partial(progress, stage)


def deliver_until_done(
    services: Services,
    ids: list[int],
    *,
    clock: Clock = utcnow,
    sender: Any = None,
    wait_for_others: float = WAIT_FOR_OTHERS,
    poll: float = 1.0,
    progress: digests.Progress | None = None,
) -> None:
    """Deliver the outbox until none of `ids` is queued or being sent (by us or another worker).

    Delivery goes in rounds of DELIVERY_ROUND messages so that `progress(finished, total)` can
    report on long runs; any due mail is delivered, not only these digests.
    """
    worker_id = f"send:{socket.gethostname()}:{os.getpid()}"
    deadline = time.monotonic() + wait_for_others
    while ids:
        stats = outbox.deliver(
            services, worker_id=worker_id, clock=clock, sender=sender, max_messages=DELIVERY_ROUND
        )
        states = outbox_states(services, ids)
        unfinished = sum(states[state] for state in UNFINISHED)
        if progress is not None:
            progress(len(ids) - unfinished, len(ids))
        if not unfinished or time.monotonic() > deadline:
            return
        if not stats.total:
            time.sleep(poll)  # the rest is claimed by other workers: let them finish


def outbox_states(services: Services, ids: list[int]) -> Counter[str]:
    """How many of these outbox rows are in each state."""
    counts: Counter[str] = Counter()
    with services.sessions() as session:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            counts.update(
                session.scalars(select(OutboxMessage.state).where(OutboxMessage.id.in_(chunk)))
            )
    return counts
