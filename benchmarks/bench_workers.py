"""Benchmark: 1, 2 and 4 delivery worker processes sharing one PostgreSQL outbox.

N realistic digest messages are queued, then k processes each run `outbox.deliver` (what
`digest worker` and `digest deliver` run) against the local aiosmtpd sink until the queue is
empty. Every message must arrive exactly once; throughput should grow with k. Skipped on SQLite,
which serves one worker at a time.

    .venv/bin/python -m benchmarks.bench_workers [--messages 5000 --workers 1 2 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import datagen
from benchmarks.bench_smtp import SmtpSink, digest_messages
from benchmarks.datagen import Row


def queue_messages(url: str, count: int) -> None:
    """Empty the outbox and subscribers, then queue `count` digests to `count` subscribers."""
    from sqlalchemy import delete, insert

    from digest.db import make_engine, make_session_factory
    from digest.models import Digest, OutboxMessage, Subscriber

    bodies = digest_messages(min(count, 50))
    now = datagen.bench_now()
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        for model in (OutboxMessage, Digest, Subscriber):
            session.execute(delete(model))
        for start in range(0, count, 1000):
            ids = range(start + 1, min(count, start + 1000) + 1)
            session.execute(
                insert(Subscriber),
                [
                    {
                        "id": i,
                        "email": f"reader{i}@example.org",
                        "status": "confirmed",
                        "keywords": "diffusion",
                        "token_nonce": f"{i:032x}",
                        "created_at": now,
                        "confirmed_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(OutboxMessage),
                [
                    {
                        "kind": "digest",
                        "dedupe_key": f"bench:{i}",
                        "subscriber_id": i,
                        "to_addr": f"reader{i}@example.org",
                        "subject": "Your digest",
                        "message": bodies[i % len(bodies)][1],
                        "state": "queued",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
    engine.dispose()


def _worker(url: str, instance: str, port: int, name: str, barrier: Any, results: Any) -> None:
    """One delivery process: wait for the others, deliver until nothing is due, report."""
    from digest.mail import outbox
    from digest.mail.mailer import make_sender
    from digest.services import build_services

    services = build_services(datagen.bench_settings(url, Path(instance), port))
    sender = make_sender(services.settings)
    barrier.wait()
    stats = outbox.deliver(services, worker_id=name, sender=sender)
    sender.close()
    services.close()
    results.put((name, stats.sent, stats.deferred + stats.failed))


def deliver_with(url: str, workers: int, sink: SmtpSink, instance: str) -> tuple[float, int, int]:
    """Seconds for `workers` processes to empty the queue, messages sent, and problems."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_worker, args=(url, instance, sink.port, f"bench-{i}", barrier, results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    outcomes = [results.get(timeout=3600) for _ in processes]
    seconds = time.perf_counter() - started
    for process in processes:
        process.join()
    return seconds, sum(o[1] for o in outcomes), sum(o[2] for o in outcomes)


def sent_once(url: str, count: int) -> bool:
    """Whether every queued message is recorded sent, and attempted exactly once."""
    from sqlalchemy import func, select

    from digest.db import make_engine
    from digest.models import OutboxMessage

    engine = make_engine(url)
    with engine.connect() as conn:
        sent, attempts = conn.execute(
            select(func.count(), func.sum(OutboxMessage.attempts)).where(
                OutboxMessage.state == "sent"
            )
        ).one()
    engine.dispose()
    return sent == count and attempts == count


def run(
    messages: int = 5000,
    workers: tuple[int, ...] = (1, 2, 4),
    url: str | None = None,
    fresh: bool = True,
) -> list[Row]:
    """Deliver `messages` queued digests with each number of workers; one row each."""
    url = url or datagen.postgres_url()
    if url is None or not url.startswith("postgresql"):
        return [
            Row(
                "workers",
                "PostgreSQL delivery workers",
                "skipped: no PostgreSQL (set DIGEST_BENCH_POSTGRES_URL)",
            )
        ]
    if fresh:
        datagen.fresh_database(url)
    rows, base = [], 0.0
    with tempfile.TemporaryDirectory() as tmp, SmtpSink() as sink:
        for k in workers:
            queue_messages(url, messages)
            before = sink.count
            seconds, sent, problems = deliver_with(url, k, sink, tmp)
            received = sink.count - before
            once = sent_once(url, messages) and received == sent == messages and not problems
            rate = messages / seconds
            base = base or rate
            rows.append(
                Row(
                    "workers",
                    f"PostgreSQL, {k} worker process{'es' if k > 1 else ''}, "
                    f"{messages:,} queued digests",
                    f"{rate:,.0f} msg/s ({seconds:.1f} s, {rate / base:.2f}x one worker); "
                    f"{received:,} received, {'each exactly once' if once else 'NOT exactly once'}",
                    "grows with workers; exactly once",
                    datagen.verdict(once and rate >= base * 0.98),
                )
            )
    return rows


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print(datagen.table(run(args.messages, tuple(args.workers))))


if __name__ == "__main__":
    main()
