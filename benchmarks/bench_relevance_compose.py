"""Benchmark: what relevance costs. Embedding a day of papers, and composing with relevance on
against DIGEST_RELEVANCE=off, on the same database, each run in its own process (SQLite).

A fraction of the subscribers (--rated) have rated --ratings papers of an earlier day (both
signs); the rest liked and rated nothing, as most readers will. Composing is `digest send
--dry-run`'s: every due digest matched, arranged, rendered and built, then rolled back, so the
two runs compose exactly the same digests.

    .venv/bin/python -m benchmarks.bench_relevance_compose --subscribers 10000 --papers 2000
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks import datagen


def _services(url: str, instance: str, relevance: bool) -> Any:
    from digest.services import build_services

    settings = datagen.bench_settings(url, Path(instance))
    return build_services(dataclasses.replace(settings, relevance=relevance))


def prepare(url: str, instance: str, now: datetime, args: argparse.Namespace) -> dict[str, Any]:
    """Papers (today's and an earlier day's), subscribers, ratings; embed every paper."""
    from sqlalchemy import insert, select

    from digest.models import Paper, Rating, Subscriber
    from digest.papers.store import store_papers
    from digest.relevance import embeddings, model
    from digest.subscribers.roster import import_csv

    services = _services(url, instance, True)
    rng = random.Random(5)
    fetched = now - datagen.FETCHED_BEFORE
    earlier = datagen.paper_ins(200, rng, fetched - timedelta(days=3))
    earlier = [dataclasses.replace(p, key="old-" + p.key, arxiv_id=None) for p in earlier]
    with services.sessions.begin() as session:
        store_papers(session, earlier, source="earlier", now=fetched - timedelta(days=3))
        store_papers(
            session, datagen.paper_ins(args.papers, rng, fetched), source="day", now=fetched
        )
    csv_path = Path(instance) / "subscribers.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        datagen.write_subscriber_csv(handle, args.subscribers, random.Random(7), now)
    with open(csv_path, encoding="utf-8") as handle:
        import_csv(services.sessions, services.settings, handle, confirmed=True,
                   now=now - datagen.CONFIRMED_BEFORE)  # fmt: skip
    started = time.perf_counter()
    with services.sessions.begin() as session:
        embedded = embeddings.embed_missing(session, model.embedder())
    embed_seconds = time.perf_counter() - started
    with services.sessions.begin() as session:
        old = list(session.scalars(select(Paper.id).where(Paper.key.like("old-%"))))
        ids = list(session.scalars(select(Subscriber.id)))
        raters = rng.sample(ids, int(len(ids) * args.rated))
        rows = [
            {
                "subscriber_id": sid,
                "paper_id": pid,
                "value": rng.choice((1, 1, -1)),
                "created_at": now,
            }
            for sid in raters
            for pid in rng.sample(old, args.ratings)
        ]
        if rows:
            session.execute(insert(Rating), rows)
    services.close()
    return {"embedded": embedded, "embed_seconds": embed_seconds, "raters": len(raters)}


def compose(url: str, instance: str, now_iso: str, relevance: bool) -> dict[str, Any]:
    """One dry-run composing pass in this process: seconds, digests, peak RSS."""
    from digest.compose.digests import compose_due

    services = _services(url, instance, relevance)
    started = time.perf_counter()
    report = compose_due(services, now=datetime.fromisoformat(now_iso), dry_run=True)
    seconds = time.perf_counter() - started
    services.close()
    return {"seconds": seconds, "composed": report.composed, "peak_mb": datagen.peak_rss_mb()}


def main() -> None:
    """Prepare once, then compose off / on / off / on, each in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--rated", type=float, default=0.1, help="fraction with ratings")
    parser.add_argument("--ratings", type=int, default=10)
    args = parser.parse_args()
    now = datagen.bench_now()
    spawn = get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/digest.db"
        datagen.fresh_database(url)
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            prepared = pool.submit(prepare, url, tmp, now, args).result()
        print(
            f"embedded {prepared['embedded']} papers in {prepared['embed_seconds']:.1f} s; "
            f"{prepared['raters']} of {args.subscribers} subscribers rated {args.ratings} papers"
        )
        runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for relevance in (False, True, False, True):
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                result = pool.submit(compose, url, tmp, now.isoformat(), relevance).result()
            runs[relevance].append(result)
            print(f"relevance {'on ' if relevance else 'off'}: {result['seconds']:.1f} s, "
                  f"{result['composed']} digests, peak {result['peak_mb']:.0f} MB")  # fmt: skip
        off = min(r["seconds"] for r in runs[False])
        on = min(r["seconds"] for r in runs[True])
        print(f"on / off = {on / off:.2f} (target <= 1.30)")


if __name__ == "__main__":
    main()
