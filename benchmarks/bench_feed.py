"""Benchmark: requests per second of GET /feed/<token> with 30 days of digests, beside GET /.

One reader's feed holds 30 daily digests of 25 papers (750 entries, ~2 MB of Atom); 99 other
readers have the same history, so the ledger has 75,000 rows to look past. Requests go through
the Flask test client in one thread, after a warm-up: the full feed, a reader's conditional GET
(If-None-Match, answered 304), and the subscribe page for comparison; rates are counted by the
process's CPU time (and by the wall clock, which a busy machine slows).

    .venv/bin/python -m benchmarks.bench_feed [--days 30 --papers-per-digest 25 --seconds 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from benchmarks import datagen
from benchmarks.datagen import Row
from digest.db import upgrade
from digest.models import Digest, Paper, Subscriber, pack_ids
from digest.papers.store import store_papers
from digest.services import build_services
from digest.subscribers.feed import MAX_ENTRIES
from digest.tokens import Tokens
from digest.web import create_app

READERS = 100


def _fill(services: Any, days: int, per_digest: int) -> Subscriber:
    """Papers, READERS subscribers with a digest a day for `days` days; the first reader."""
    now = datagen.bench_now()
    rng = random.Random(11)
    with services.sessions.begin() as session:
        store_papers(session, datagen.paper_ins(days * per_digest, rng, now), source="b", now=now)
        paper_ids = list(session.scalars(select(Paper.id).order_by(Paper.id)))
        session.execute(insert(Subscriber), [
            {"email": f"reader{i}@example.org", "status": "confirmed", "keywords": "robot*",
             "token_nonce": f"nonce{i}", "created_at": now - timedelta(days=days + 1),
             "confirmed_at": now - timedelta(days=days + 1)}
            for i in range(READERS)
        ])  # fmt: skip
        readers = list(session.scalars(select(Subscriber).order_by(Subscriber.id)))
        for reader in readers:
            for day in range(days):
                at = now - timedelta(days=day)
                start = day * per_digest
                session.add(Digest(subscriber_id=reader.id, scheduled_for=at, created_at=at,
                                   window_start=at - timedelta(days=1), window_end=at,
                                   paper_count=per_digest, keywords=reader.keywords,
                                   paper_ids=pack_ids(paper_ids[start : start + per_digest])))
        session.expunge(readers[0])
        return readers[0]


def _rate(get: Any, seconds: float) -> tuple[float, float, int]:
    """Requests per second of `get()` over about `seconds` of CPU time, by CPU time and by the
    wall clock, and the body size of the last. CPU time is this process's alone (the test
    client serves in-process), so it holds on a machine busy with other work; wall time
    does not."""
    get()  # warm-up: templates compiled, caches filled
    done, size = 0, 0
    cpu, wall = time.process_time(), time.perf_counter()
    while (used := time.process_time() - cpu) < seconds or done < 3:
        size = len(get().get_data())
        done += 1
    return done / used, done / (time.perf_counter() - wall), size


def run(days: int = 30, per_digest: int = 25, seconds: float = 3.0) -> list[Row]:
    """Serve the feed, its conditional GET and the subscribe page; one row each."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        services = build_services(datagen.bench_settings(url, Path(tmp)))
        try:
            reader = _fill(services, days, per_digest)
            client = create_app(services=services).test_client()
            path = f"/feed/{Tokens(services.settings.secret_key).make('feed', reader)}"
            full = client.get(path)
            assert full.status_code == 200
            assert full.get_data().count(b"<entry>") == min(days * per_digest, MAX_ENTRIES)
            etag = full.headers["ETag"]
            feed = _rate(lambda: client.get(path), seconds)
            cached = _rate(lambda: client.get(path, headers={"If-None-Match": etag}), seconds)
            assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
            page = _rate(lambda: client.get("/"), seconds)
        finally:
            services.close()
    scenario = f"SQLite, {days} daily digests x {per_digest} papers ({days * per_digest} entries)"

    def result(rate: tuple[float, float, int]) -> str:
        return f"{rate[0]:,.0f} requests/s per core ({rate[1]:,.0f}/s by the wall clock)"

    return [
        Row("feed", f"GET /feed/<token>, {scenario}, {feed[2] / 1024:,.0f} KB, one core",
            result(feed)),
        Row("feed", "the same with If-None-Match (a feed reader's poll): 304", result(cached)),
        Row("feed", "GET / (the subscribe page), same run", result(page), "", "baseline"),
    ]  # fmt: skip


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--papers-per-digest", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(datagen.table(run(args.days, args.papers_per_digest, args.seconds)))


if __name__ == "__main__":
    main()
