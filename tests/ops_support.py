"""Data for the dashboard and metrics tests: a real day of sends, and a month of history rows.

`day_of_sends` runs the real pipeline — fetch the feed samples, compose, deliver to aiosmtpd with
one address refused (5xx) and one deferred (4xx). `month_of_history` writes rows directly, as a
month of running would have left them, for the charts and the screenshots.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from digest import pipeline
from digest.models import OutboxMessage, Paper, Source, Subscriber

FEEDS = ["arxiv-rss-cs.AI-2026-04-27-excerpt.xml", "arxiv-rss-cs.CL-2026-04-27-excerpt.xml"]
READERS = {
    "ada": "agent*\nlanguage model*",
    "bo": "language model*, reasoning",
    "cem": "agent*",
    "dia": "reasoning\n-survey",
    "eve": "agent*, memory",
}
REFUSED, DEFERRED = "dia@example.org", "eve@example.org"


def day_of_sends(services, smtp_server, clock, feeds_dir) -> None:
    """Five readers, two feeds fetched, one send at 07:00: 3 sent, 1 failed, 1 deferred."""
    with services.sessions.begin() as session:
        for name, keywords in READERS.items():
            session.add(Subscriber(
                email=f"{name}@example.org", status="confirmed", keywords=keywords,
                timezone="UTC", send_time="07:00", token_nonce="n",
                created_at=clock.now - timedelta(days=2),
                confirmed_at=clock.now - timedelta(days=2),
            ))
        session.add(Subscriber(email="pending@example.org", status="pending", keywords="agent*",
                               token_nonce="n", created_at=clock.now - timedelta(hours=3)))
    results = pipeline.fetch(services, now=clock.now - timedelta(hours=1),
                             sources=[str(feeds_dir / name) for name in FEEDS])
    assert all(result.error is None for result in results), results
    smtp_server.fail("RCPT", "550 5.1.1 no such user", recipient=REFUSED, times=None)
    smtp_server.fail("RCPT", "451 4.3.0 mailbox busy", recipient=DEFERRED, times=None)
    summary = pipeline.send(services, clock=clock, force=True, wait_for_others=0)
    assert summary.line() == "sent 3, empty 0, deferred 1, failed 1", summary.line()


SOURCES = {
    "https://rss.arxiv.org/rss/cs.AI": 40,
    "https://rss.arxiv.org/rss/cs.CL": 30,
    "https://huggingface.co/api/daily_papers": 12,
}
TERMS = ["reinforcement learning", "robot*", "diffusion", "language model*", "agent*",
         "graph neural network*", "-survey", "retrieval", "category:cs.RO", "title:benchmark"]


def month_of_history(sessions: sessionmaker[Session], now: datetime, readers: int = 300) -> None:
    """30 days of subscribers, papers and mail, with a growing list and one failing feed."""
    rng = random.Random(7)
    with sessions.begin() as session:
        _subscribers(session, now, readers, rng)
        _papers(session, now, rng)
        for day in range(30, 0, -1):
            _mail_of_a_day(session, now - timedelta(days=day - 1), day, rng)
        session.add(Source(url="https://rss.arxiv.org/rss/cs.AI", last_fetched_at=now,
                           last_success_at=now - timedelta(hours=2)))
        session.add(Source(url="https://rss.arxiv.org/rss/cs.CL", last_fetched_at=now,
                           last_success_at=now - timedelta(hours=2)))
        session.add(Source(
            url="https://huggingface.co/api/daily_papers", last_fetched_at=now,
            last_success_at=now - timedelta(days=2, hours=3),
            last_error="HTTP 503 from huggingface.co: Service Unavailable (tried twice)",
        ))


def _subscribers(session: Session, now: datetime, readers: int, rng: random.Random) -> None:
    for i in range(readers):
        created = now - timedelta(days=rng.triangular(0, 40, 40), hours=rng.random() * 24)
        row = Subscriber(email=f"reader{i}@example.org", token_nonce="n", created_at=created,
                         keywords="\n".join(rng.sample(TERMS, rng.randint(1, 4))))
        roll = rng.random()
        if roll > 0.08:
            row.status, row.confirmed_at = "confirmed", created + timedelta(minutes=20)
        left = created + timedelta(days=rng.random() * 5)
        if left < now and roll > 0.92:
            row.status, row.unsubscribed_at = "unsubscribed", left
        elif left < now and 0.90 < roll <= 0.92:
            row.status, row.suspended_at = "suspended", left
        session.add(row)


def _papers(session: Session, now: datetime, rng: random.Random) -> None:
    for day in range(30):
        seen = now - timedelta(days=day, hours=rng.random() * 3)
        if seen.weekday() >= 5:  # arXiv announces nothing at weekends
            continue
        for source, mean in SOURCES.items():
            for n in range(max(0, int(rng.gauss(mean, mean / 4)))):
                also = ["https://huggingface.co/api/daily_papers"] if n % 9 == 0 else []
                session.add(Paper(key=f"{source}/{day}/{n}", title=f"Paper {n}", abstract="",
                                  sources=sorted({source, *also}), first_seen_at=seen,
                                  last_seen_at=seen, last_changed_at=seen))


def _mail_of_a_day(session: Session, day: datetime, index: int, rng: random.Random) -> None:
    at = day.replace(hour=7, minute=0, second=0, microsecond=0)
    count = 120 + (30 - index) * 5
    for n in range(count):
        roll = rng.random()
        row = OutboxMessage(kind="digest", dedupe_key=f"h/{index}/{n}", to_addr=f"r{n}@example.org",
                            state="sent", attempts=1, next_attempt_at=at, first_attempt_at=at,
                            claimed_at=at, created_at=at, sent_at=at + timedelta(seconds=n))
        if roll < 0.03:
            row.state, row.sent_at, row.last_error = "failed", None, "550 5.1.1 no such user"
        elif roll < 0.08:
            row.attempts, row.sent_at = 2, at + timedelta(minutes=30)
        session.add(row)
