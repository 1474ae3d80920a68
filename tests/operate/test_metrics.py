"""/metrics' figures after a real day of sends, parsed as Prometheus parses them."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from ops_support import FEEDS, day_of_sends
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from digest.models import Source
from digest.operate.metrics import make_registry


def scrape(sessions, clock) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, keyed by (name, sorted labels)."""
    text = generate_latest(make_registry(sessions, clock)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def sent_day(smtp_services, smtp_server, clock, feeds_dir):
    day_of_sends(smtp_services, smtp_server, clock, feeds_dir)
    return smtp_services


def test_metrics_after_a_day_of_sends(sent_day, clock, feeds_dir):
    clock.advance(hours=2)
    samples = scrape(sent_day.sessions, clock)
    assert samples[("digest_database_up", ())] == 1
    assert samples[("digest_digests_composed_total", ())] == 5
    state = lambda name, value: ((name, (("state", value),)))  # noqa: E731
    assert samples[state("digest_outbox_messages", "sent")] == 3
    assert samples[state("digest_outbox_messages", "deferred")] == 1
    assert samples[state("digest_outbox_messages", "failed")] == 1
    assert samples[state("digest_subscribers", "confirmed")] == 5
    assert samples[state("digest_subscribers", "pending")] == 1
    assert samples[("digest_outbox_depth", ())] == 1
    assert samples[("digest_outbox_oldest_message_age_seconds", ())] == 2 * 3600
    for name in FEEDS:
        source = (("source", str((feeds_dir / name).resolve())),)
        assert samples[("digest_papers", source)] > 0
        assert samples[("digest_feed_seconds_since_success", source)] == 3 * 3600
        assert samples[("digest_feed_last_fetch_failed", source)] == 0
        assert samples[("digest_feed_last_success_timestamp_seconds", source)] == (
            clock.now - timedelta(hours=3)).timestamp()


def test_a_failing_feed_and_one_that_never_worked(sessions, clock):
    with sessions.begin() as session:
        session.add(Source(url="https://a.example/feed", last_fetched_at=clock.now,
                           last_success_at=clock.now - timedelta(hours=30), last_error="HTTP 503"))
        session.add(Source(url="https://b.example/feed", last_fetched_at=clock.now,
                           last_error="no such host"))
    samples = scrape(sessions, clock)
    a, b = (("source", "https://a.example/feed"),), (("source", "https://b.example/feed"),)
    assert samples[("digest_feed_last_fetch_failed", a)] == 1
    assert samples[("digest_feed_seconds_since_success", a)] == 30 * 3600
    assert math.isinf(samples[("digest_feed_seconds_since_success", b)])
    assert ("digest_feed_last_success_timestamp_seconds", b) not in samples
    assert samples[("digest_outbox_oldest_message_age_seconds", ())] == 0


def test_a_scrape_without_a_database_says_so(tmp_path, clock):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'nothing.db'}")
    samples = scrape(sessionmaker(engine), clock)
    assert samples == {("digest_database_up", ()): 0}
