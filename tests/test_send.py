"""`digest send` end to end: compose, queue, deliver over real SMTP, and the summary line."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from digest import matching, pipeline
from digest.cli import main
from digest.feeds import parse_feed
from digest.models import Digest, OutboxMessage, Paper, Subscriber
from digest.papers.store import store_papers

FEEDS = [
    "hf-daily-papers-2026-07-31.json",
    "arxiv-rss-cs.AI-2026-04-27-excerpt.xml",
    "arxiv-rss-cs.CL-2026-04-27-excerpt.xml",
    "arxiv-rss-cs.LG-2026-04-27-excerpt.xml",
    "arxiv-rss-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24-excerpt.xml",
    "arxiv-api-atom-2026-08-02-cat-cs.AI-cs.LG-cs.CL-sort-submittedDate.xml",
]

# name: (timezone, frequency, weekday, send_time, keywords). Berlin's 02:30 does not exist on
# 29 March 2026; Sydney's 02:30 happens twice on 5 April; Chatham and Kolkata have odd offsets.
READERS = {
    "ada": ("UTC", "daily", 0, "07:00", "agent*"),
    "bo": ("America/New_York", "daily", 0, "06:00", "memory, retrieval"),
    "cem": ("Europe/Berlin", "daily", 0, "02:30", "memory\nreasoning"),
    "dia": ("Australia/Sydney", "daily", 0, "02:30", "language model*"),
    "eve": ("Pacific/Chatham", "weekly", 6, "03:00", "model*"),
    "fay": ("Asia/Kolkata", "daily", 0, "09:00", "distillation, video, -survey"),
    "gus": ("UTC", "weekly", 2, "07:00", "agent* AND memory"),
}
START = datetime(2026, 3, 26, 0, 0, tzinfo=UTC)
DAYS = 11


def all_papers(feeds_dir):
    papers, seen = [], set()
    for name in FEEDS:
        for paper in parse_feed((feeds_dir / name).read_bytes(), name):
            if paper.key not in seen:
                seen.add(paper.key)
                papers.append(paper)
    return papers


def subscribe(services, name: str, *, confirmed_at: datetime, paused: bool = False) -> int:
    zone, frequency, weekday, send_time, keywords = READERS.get(name, READERS["ada"])
    with services.sessions.begin() as session:
        subscriber = Subscriber(
            email=f"{name}@example.org", status="confirmed", keywords=keywords, timezone=zone,
            frequency=frequency, weekday=weekday, send_time=send_time, token_nonce="n",
            confirmed_at=confirmed_at, created_at=confirmed_at, paused=paused,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        return subscriber.id


def test_eleven_days_across_timezones_and_dst_changes(smtp_services, smtp_server, clock, feeds_dir):
    services = smtp_services
    papers = all_papers(feeds_dir)
    ids = {name: subscribe(services, name, confirmed_at=START) for name in READERS}
    paused = subscribe(services, "hal", confirmed_at=START, paused=True)
    batches = [papers[n::DAYS * 2] for n in range(DAYS * 2)]  # two fetches a day
    clock.now = START
    totals = defaultdict(int)
    for hour in range(DAYS * 24):
        clock.now = START + timedelta(hours=hour, minutes=15)
        if clock.now.hour in (1, 13):
            with services.sessions.begin() as session:
                store_papers(session, batches.pop(0), source="fixtures", now=clock.now)
        summary = pipeline.send(services, clock=clock)
        assert (summary.deferred, summary.failed) == (0, 0)
        totals["sent"] += summary.sent
        totals["empty"] += summary.empty

    with services.sessions() as session:
        stored = {p.id: p for p in session.scalars(select(Paper))}
        digests = list(session.scalars(select(Digest).order_by(Digest.id)))
        subscribers = {s.id: s for s in session.scalars(select(Subscriber))}
        outbox_rows = list(session.scalars(select(OutboxMessage)))
    assert totals["sent"] == len(digests) == len(outbox_rows) == len(smtp_server.messages) > 20
    assert all(row.state == "sent" for row in outbox_rows)
    assert set(smtp_server.message_ids().values()) == {1}
    assert paused not in {digest.subscriber_id for digest in digests}
    assert {digest.subscriber_id for digest in digests} == set(ids.values())

    for name, who in ids.items():
        zone, frequency, weekday, send_time, keywords = READERS[name]
        mine = [digest for digest in digests if digest.subscriber_id == who]
        given = [paper_id for digest in mine for paper_id in digest.paper_id_list]
        assert len(given) == len(set(given)), f"{name} got a paper twice"
        # Every paper matching the profile, first seen between the first window's start and
        # the last digest's end, reached the reader exactly once.
        profile = matching.parse_profile(keywords)
        first_start = mine[0].window_start
        owed = {
            paper.id
            for paper in stored.values()
            if first_start < paper.first_seen_at <= subscribers[who].last_digest_at
            and matching.match(
                profile,
                matching.make_document(
                    paper.title, paper.abstract, paper.authors, paper.categories
                ),
            )
        }
        assert set(given) == owed, name
        # One digest per local day (or week, on the weekday), at the send time or when a
        # spring-forward gap ends.
        local = [digest.scheduled_for.astimezone(ZoneInfo(zone)) for digest in mine]
        assert len({moment.date() for moment in local}) == len(local)
        for moment in local:
            if frequency == "weekly":
                assert moment.weekday() == weekday
            expected = send_time if moment.date().isoformat() != "2026-03-29" else "03:00"
            assert moment.strftime("%H:%M") in (send_time, expected), (name, moment)
        assert mine[0].window_start == mine[0].scheduled_for - (
            timedelta(days=7) if frequency == "weekly" else timedelta(days=1)
        )
        for earlier, later in itertools.pairwise(mine):
            assert later.window_start >= earlier.window_end
    berlin = [d for d in digests if d.subscriber_id == ids["cem"]]
    gap_day = [d for d in berlin if d.scheduled_for.date().isoformat() == "2026-03-29"]
    assert [d.scheduled_for for d in gap_day] == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]
    received = defaultdict(int)
    for message in smtp_server.messages:
        received[message.rcpt_tos[0]] += 1
    assert received == {
        f"{name}@example.org": sum(1 for d in digests if d.subscriber_id == who)
        for name, who in ids.items()
        if any(d.subscriber_id == who for d in digests)
    }


# --- the command line ------------------------------------------------------------------------


def due_now(services, name: str, keywords: str) -> int:
    """A subscriber whose digest fell due a minute ago; their window started a day ago."""
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        subscriber = Subscriber(
            email=f"{name}@example.org", status="confirmed", keywords=keywords, token_nonce="n",
            confirmed_at=now - timedelta(days=3), last_digest_at=now - timedelta(days=1),
            next_digest_at=now - timedelta(minutes=1),
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        return subscriber.id


@pytest.fixture
def fresh_papers(services, feeds_dir):
    """The Hugging Face sample, first seen an hour ago."""
    feed = (feeds_dir / FEEDS[0]).read_bytes()
    with services.sessions.begin() as session:
        store_papers(
            session, parse_feed(feed, "hf"), source="hf", now=datetime.now(UTC) - timedelta(hours=1)
        )


def run(cli_env, *args: str, **env: str):
    return CliRunner().invoke(main, ["send", *args], env={**cli_env, **env})


def count(services, model) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_send_over_smtp_prints_the_summary(services, cli_env, smtp_server, fresh_papers):
    due_now(services, "ada", "agent*")
    due_now(services, "bo", "juggling")
    result = run(cli_env, DIGEST_SMTP_URL=smtp_server.url)
    assert result.exit_code == 0, result.output
    assert result.stdout == "sent 1, empty 1, deferred 0, failed 0\n"
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ada@example.org"]]
    message = smtp_server.messages[0].message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Sending again finds nothing due.
    again = run(cli_env, DIGEST_SMTP_URL=smtp_server.url)
    assert again.stdout == "sent 0, empty 0, deferred 0, failed 0\n"
    assert len(smtp_server.messages) == 1


def test_send_without_smtp_writes_eml_files(services, cli_env, instance_path, fresh_papers):
    due_now(services, "ada", "agent*")
    result = run(cli_env)
    assert result.stdout == "sent 1, empty 0, deferred 0, failed 0\n"
    files = list((instance_path / "mail").glob("*.eml"))
    assert len(files) == 1
    assert b"To: ada@example.org" in files[0].read_bytes()


def test_dry_run_stores_and_sends_nothing(services, cli_env, smtp_server, fresh_papers):
    who = due_now(services, "ada", "agent*")
    due_now(services, "bo", "juggling")
    result = run(cli_env, "--dry-run", DIGEST_SMTP_URL=smtp_server.url)
    assert result.stdout == "sent 1, empty 1, deferred 0, failed 0\n"
    assert smtp_server.messages == []
    assert count(services, Digest) == count(services, OutboxMessage) == 0
    with services.sessions() as session:
        assert session.get(Subscriber, who).next_digest_at < datetime.now(UTC)


def test_force_sends_to_every_confirmed_subscriber(services, cli_env, smtp_server, fresh_papers):
    due_now(services, "ada", "agent*")
    with services.sessions.begin() as session:
        later = datetime.now(UTC) + timedelta(hours=5)
        session.add(Subscriber(email="cy@example.org", status="confirmed", keywords="agent*",
                               token_nonce="n", confirmed_at=later - timedelta(days=2),
                               next_digest_at=later))
    result = run(cli_env, "--force", DIGEST_SMTP_URL=smtp_server.url)
    assert result.stdout == "sent 2, empty 0, deferred 0, failed 0\n"
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "ada@example.org", "cy@example.org"
    ]


def test_a_temporary_smtp_failure_is_deferred_and_exits_1(
    services, cli_env, smtp_server, fresh_papers
):
    due_now(services, "ada", "agent*")
    smtp_server.fail("DATA", "451 4.3.0 try again later", times=None)
    result = run(cli_env, DIGEST_SMTP_URL=smtp_server.url)
    assert result.exit_code == 1
    assert result.stdout == "sent 0, empty 0, deferred 1, failed 0\n"


def test_a_permanent_smtp_failure_is_failed_and_exits_1(
    services, cli_env, smtp_server, fresh_papers
):
    due_now(services, "ada", "agent*")
    smtp_server.fail("RCPT", "550 5.1.1 no such user", times=None)
    result = run(cli_env, DIGEST_SMTP_URL=smtp_server.url)
    assert result.exit_code == 1
    assert result.stdout == "sent 0, empty 0, deferred 0, failed 1\n"
