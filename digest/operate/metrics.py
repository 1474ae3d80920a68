"""Prometheus metrics (SPEC §12), read from the database at each scrape.

Every figure is a count of rows the database already holds, so any web process answers a scrape
with the same numbers whoever did the work: no per-process counters that gunicorn workers would
each keep a part of, and no PROMETHEUS_MULTIPROC_DIR to set up. A scrape that cannot reach the
database answers `digest_database_up 0` and nothing else, rather than an error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.operate import stats

log = logging.getLogger(__name__)


class DatabaseCollector(Collector):
    """Yields every digest metric from one read-only transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        """The metrics as they stand now (called by the registry at each scrape)."""
        up = GaugeMetricFamily("digest_database_up", "1 when the database answered this scrape.")
        try:
            with self.sessions() as session:
                metrics = list(database_metrics(session, self.clock()))
        except SQLAlchemyError:
            log.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics


def database_metrics(session: Session, now: datetime) -> Iterator[Metric]:
    """The figures of SPEC §12 as Prometheus metric families."""
    papers = GaugeMetricFamily(
        "digest_papers", "Papers stored, per source they were fetched from.", labels=["source"]
    )
    for source, count in stats.papers_by_source(session).items():
        papers.add_metric([source], count)
    yield papers

    composed = CounterMetricFamily("digest_digests_composed", "Digests composed and kept.")
    composed.add_metric([], stats.digests_composed(session))
    yield composed

    queue = stats.outbox_queue(session)
    messages = GaugeMetricFamily(
        "digest_outbox_messages",
        "Outbox messages per state (sent, deferred, failed, queued, …); finished rows are "
        "purged after their keep period.",
        labels=["state"],
    )
    for state, count in queue.by_state.items():
        messages.add_metric([state], count)
    yield messages
    yield _gauge("digest_outbox_depth", "Messages not yet delivered (queued, sending, deferred).",
                 queue.waiting)
    yield _gauge("digest_outbox_oldest_message_age_seconds",
                 "Age of the oldest message not yet delivered; 0 when none waits.",
                 queue.oldest_age(now).total_seconds())

    subscribers = GaugeMetricFamily("digest_subscribers", "Subscribers per state.",
                                    labels=["state"])
    for state, count in stats.subscribers_by_state(session).items():
        subscribers.add_metric([state], count)
    yield subscribers
    yield from _feed_metrics(stats.feed_health(session), now)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


def _feed_metrics(feeds: list[stats.FeedStatus], now: datetime) -> Iterator[Metric]:
    """Feed health: when each source last worked, and whether its last fetch failed."""
    success = GaugeMetricFamily(
        "digest_feed_last_success_timestamp_seconds",
        "Unix time of the source's last successful fetch (absent if it never worked).",
        labels=["source"],
    )
    since = GaugeMetricFamily(
        "digest_feed_seconds_since_success",
        "Seconds since the source's last successful fetch; +Inf if it never worked.",
        labels=["source"],
    )
    failed = GaugeMetricFamily(
        "digest_feed_last_fetch_failed", "1 when the source's last fetch failed, else 0.",
        labels=["source"],
    )
    for feed in feeds:
        if feed.last_success_at is not None:
            success.add_metric([feed.url], feed.last_success_at.timestamp())
            since.add_metric([feed.url], max((now - feed.last_success_at).total_seconds(), 0))
        else:
            since.add_metric([feed.url], math.inf)
        failed.add_metric([feed.url], 1 if feed.failing else 0)
    yield from (success, since, failed)


def make_registry(
    sessions: sessionmaker[Session], clock: Callable[[], datetime]
) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one) holding the database metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(sessions, clock))
    return registry
