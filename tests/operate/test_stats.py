"""The dashboard's figures, read from what the real pipeline and a month of rows left behind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from ops_support import FEEDS, day_of_sends, month_of_history

from digest.models import OutboxMessage, Subscriber
from digest.operate import stats


@pytest.fixture
def sent_day(smtp_services, smtp_server, clock, feeds_dir):
    day_of_sends(smtp_services, smtp_server, clock, feeds_dir)
    return smtp_services


def test_a_day_of_sends_shows_sent_deferred_and_failed_today(sent_day, clock):
    with sent_day.sessions() as session:
        messages = stats.messages_per_day(session, clock.now, days=7)
    assert messages.days[-1] == date(2026, 4, 27) and len(messages.days) == 7
    assert {name: values[-1] for name, values in messages.series.items()} == {
        "sent": 3, "deferred": 1, "failed": 1,
    }
    assert all(sum(values[:-1]) == 0 for values in messages.series.values())


def test_a_day_of_sends_shows_the_queue_and_its_oldest_message(sent_day, clock):
    with sent_day.sessions() as session:
        queue = stats.outbox_queue(session)
    assert queue.by_state["sent"] == 3 and queue.by_state["failed"] == 1
    assert queue.by_state["deferred"] == 1 and queue.waiting == 1
    assert queue.oldest_age(clock.now + timedelta(hours=2)) == timedelta(hours=2)


def test_papers_per_source_per_day_counts_each_feeds_papers(sent_day, clock, feeds_dir):
    with sent_day.sessions() as session:
        papers = stats.papers_per_source_per_day(session, clock.now, days=3)
        totals = stats.papers_by_source(session)
    names = {str((feeds_dir / name).resolve()) for name in FEEDS}
    assert set(papers.series) == names == set(totals)
    for name in names:
        assert papers.series[name][-1] == totals[name] > 0  # all first seen today
        assert papers.series[name][:-1] == [0, 0]


def test_feed_health_names_each_source_and_when_it_worked(sent_day, clock):
    with sent_day.sessions() as session:
        feeds = stats.feed_health(session)
    assert len(feeds) == 2
    assert all(f.last_success_at == clock.now - timedelta(hours=1) and not f.failing for f in feeds)


def test_subscribers_over_time_follow_each_state_change(sessions):
    now = datetime(2026, 4, 27, 12, 0, tzinfo=UTC)
    day = timedelta(days=1)
    rows = [  # (created, confirmed, unsubscribed, suspended)
        (now - 10 * day, now - 10 * day, None, None),      # confirmed all along
        (now - 3 * day, None, None, None),                 # pending since 3 days ago
        (now - 4 * day, now - 4 * day, now - day, None),   # confirmed, left yesterday
        (now - 20 * day, now - 19 * day, None, now - 2 * day),  # suspended two days ago
    ]
    with sessions.begin() as session:
        for i, (created, confirmed, unsubscribed, suspended) in enumerate(rows):
            session.add(Subscriber(email=f"s{i}@example.org", token_nonce="n", created_at=created,
                                   confirmed_at=confirmed, unsubscribed_at=unsubscribed,
                                   suspended_at=suspended))
    with sessions() as session:
        series = stats.subscribers_over_time(session, now, days=6).series
    assert series == {
        "pending":      [0, 0, 1, 1, 1, 1],
        "confirmed":    [2, 3, 3, 2, 1, 1],
        "suspended":    [0, 0, 0, 1, 1, 1],
        "unsubscribed": [0, 0, 0, 0, 1, 1],
    }


def test_top_keywords_count_confirmed_subscribers_once_per_term(sessions, clock):
    profiles = [("confirmed", "Robot*\nDiffusion"), ("confirmed", "robot*, robot*"),
                ("confirmed", "robot*"), ("pending", "diffusion"), ("confirmed", "")]
    with sessions.begin() as session:
        for i, (status, keywords) in enumerate(profiles):
            session.add(Subscriber(email=f"k{i}@example.org", status=status, keywords=keywords,
                                   token_nonce="n", created_at=clock.now))
    with sessions() as session:
        assert stats.top_keywords(session) == [("robot*", 3), ("diffusion", 1)]


def test_a_month_of_history_adds_up(sessions):
    now = datetime(2026, 4, 27, 12, 0, tzinfo=UTC)
    month_of_history(sessions, now, readers=120)
    with sessions() as session:
        over_time = stats.subscribers_over_time(session, now)
        states = stats.subscribers_by_state(session)
        messages = stats.messages_per_day(session, now)
        sent = session.query(OutboxMessage).filter(OutboxMessage.state == "sent").count()
        papers = stats.papers_per_source_per_day(session, now)
        totals = stats.papers_by_source(session)
    assert {name: values[-1] for name, values in over_time.series.items()} == states
    assert sum(messages.series["sent"]) == sent
    assert {name: sum(values) for name, values in papers.series.items()} == totals
    assert sum(over_time.series["confirmed"][:5]) < sum(over_time.series["confirmed"][-5:])
