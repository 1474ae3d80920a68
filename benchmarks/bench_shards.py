"""Benchmark: composing shared by 1, 2, 4 processes on PostgreSQL (`digest send --shard i/n`).

The same fresh database each time (papers stored, subscribers imported, none composed yet);
then n processes each compose their part (subscribers by id modulo n) at once, holding the
planning lock shared. Wall time from the first start to the last finish, and a check that
every due subscriber got exactly one digest and one queued email, none twice.

    .venv/bin/python -m benchmarks.bench_shards --subscribers 10000 --processes 1 2 4
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import bench_e2e, datagen
from benchmarks.bench_smtp import SmtpSink
from benchmarks.datagen import Row


def _compose_part(url: str, instance: str, now_iso: str, index: int, count: int) -> int:
    """One sharer: `pipeline.plan` with its shard; the digests it composed."""
    from digest import pipeline
    from digest.compose.digests import Shard
    from digest.services import build_services

    services = build_services(datagen.bench_settings(url, Path(instance)))
    try:
        report = pipeline.plan(
            services, now=datetime.fromisoformat(now_iso), shard=Shard(index, count)
        )
        assert report is not None
        return report.composed
    finally:
        services.close()


def _reset(url: str) -> None:
    """Forget every composed digest: subscribers back to never composed, outbox empty."""
    from sqlalchemy import delete, update

    from digest.db import make_engine, make_session_factory
    from digest.models import Digest, OutboxMessage, Subscriber

    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        session.execute(delete(OutboxMessage))
        session.execute(delete(Digest))
        session.execute(update(Subscriber).values(next_digest_at=None, last_digest_at=None))
    engine.dispose()


def _check(url: str) -> tuple[int, int, int]:
    """(digests, subscribers with more than one, outbox rows)."""
    from sqlalchemy import func, select

    from digest.db import make_engine, make_session_factory
    from digest.models import Digest, OutboxMessage

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        per = select(Digest.subscriber_id, func.count().label("n")).group_by(Digest.subscriber_id)
        counts = per.subquery()
        twice = session.scalar(select(func.count()).select_from(counts).where(counts.c.n > 1))
        digests = session.scalar(select(func.count()).select_from(Digest))
        queued = session.scalar(select(func.count()).select_from(OutboxMessage))
    engine.dispose()
    return int(digests or 0), int(twice or 0), int(queued or 0)


def measure(
    url: str, subscribers: int, papers: int, processes: list[int], workload: str
) -> list[dict[str, Any]]:
    """Compose with each number of sharers in turn; one result each."""
    results = []
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, SmtpSink():
        # Papers and subscribers once (bench_e2e's own stages), composing left to the sharers.
        first = bench_e2e.run_scenario(
            url, subscribers, papers, workload=workload, stages=("papers", "subscribers")
        )
        assert first["subscribers"]["imported"] == subscribers
        now = datagen.bench_now()
        for count in processes:
            _reset(url)
            started = time.perf_counter()
            with spawn.Pool(count) as pool:
                parts = pool.starmap(
                    _compose_part, [(url, tmp, now.isoformat(), i, count) for i in range(count)]
                )
            seconds = time.perf_counter() - started
            digests, twice, queued = _check(url)
            results.append(
                {
                    "processes": count,
                    "seconds": seconds,
                    "composed": sum(parts),
                    "parts": parts,
                    "digests": digests,
                    "twice": twice,
                    "queued": queued,
                }
            )
            print(f"  {results[-1]}", flush=True)
    return results


def run(
    subscribers: int,
    papers: int = 2000,
    processes: list[int] | None = None,
    workload: str = "narrow",
) -> list[Row]:
    """The table rows (skipped without PostgreSQL)."""
    url = datagen.postgres_url()
    if url is None:
        return [Row("shared composing", "PostgreSQL", "skipped: no PostgreSQL")]
    print(f"shared composing: PostgreSQL, {subscribers:,} x {papers:,}", flush=True)
    results = measure(url, subscribers, papers, processes or [1, 2, 4], workload)
    base = results[0]["seconds"]
    rows = []
    for r in results:
        once = r["twice"] == 0 and r["digests"] == r["queued"] == r["composed"]
        rows.append(
            Row(
                "shared composing",
                f"PostgreSQL, {subscribers:,} {workload} subscribers x {papers:,} papers, "
                f"{r['processes']} `--shard` process(es)",
                f"{r['seconds']:,.1f} s, {r['composed'] / r['seconds']:,.0f} digests/s "
                f"({base / r['seconds']:.2f}x one process); parts {r['parts']}; "
                + ("each digest once" if once else f"**{r['twice']} twice**"),
                "grows with processes, exactly once",
                datagen.verdict(once and (r["processes"] == 1 or r["seconds"] < base)),
            )
        )
    return rows


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workload", choices=datagen.WORKLOADS, default="narrow")
    args = parser.parse_args()
    print(datagen.table(run(args.subscribers, args.papers, args.processes, args.workload)))


if __name__ == "__main__":
    main()
