"""Benchmark: end to end, N confirmed subscribers x M papers, on SQLite and PostgreSQL.

Each stage runs in a fresh child process, as its command would, so its wall time and peak memory
(RSS high-water mark) are its own: store the day's papers (`digest fetch`), import the subscribers
from CSV (`digest subscribers import --confirmed`), compose, render and queue every digest due
(`digest send`'s planning), and deliver them all to a local aiosmtpd process (`digest deliver`).

    .venv/bin/python -m benchmarks.bench_e2e --subscribers 10000 --papers 2000 [--backend sqlite]
    ... --profile compose   # also write a cProfile report of that stage to benchmarks/results/
    ... --workers 1         # deliver alongside composing, as a deployment with `digest worker` does
    ... --workers 2 --shards 2   # and compose in 2 processes (`digest send --shard i/2`)

Without --workers, delivery starts once composing is done (`digest send` alone). With
--workers N, N worker processes (`digest worker`) deliver each batch as soon as composing
commits it, and the total is the wall time from the start of composing to the last message
handed to the SMTP server. With --shards N (with --workers), N processes compose at once, each
its part of the due subscribers (SPEC §9), as N `digest send --shard i/N` or schedulers would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import datagen
from benchmarks.bench_smtp import SmtpSink
from benchmarks.datagen import Row

RESULTS = Path(__file__).parent / "results"
STAGES = ("papers", "subscribers", "compose", "deliver")
TARGET_SECONDS = 15 * 60
TARGET_MB = 1024


def _stage(
    stage: str,
    url: str,
    instance: str,
    port: int,
    now_iso: str,
    extra: dict[str, Any],
    profile: bool,
) -> dict[str, Any]:
    """One stage, in its own process: what it did, its seconds and this process's peak RSS."""
    from digest.services import build_services

    now = datetime.fromisoformat(now_iso)
    services = build_services(datagen.bench_settings(url, Path(instance), port))
    work = {
        "papers": _store_papers,
        "subscribers": _import,
        "compose": _compose,
        "deliver": _deliver,
    }[stage]
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = work(services, now, extra)
    result["seconds"] = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        _write_profile(profiler, RESULTS / f"profile-{stage}.txt")
    result["peak_mb"] = datagen.peak_rss_mb()
    services.close()
    return result


def _write_profile(profiler: Any, path: Path) -> None:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    path.parent.mkdir(exist_ok=True)
    path.write_text(out.getvalue())


def _store_papers(services: Any, now: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    from digest.papers.store import store_papers

    fetched = now - datagen.FETCHED_BEFORE
    papers = datagen.paper_ins(extra["papers"], random.Random(11), fetched)
    started = time.perf_counter()
    with services.sessions.begin() as session:
        counts = store_papers(session, papers, source="https://rss.arxiv.org/rss/cs", now=fetched)
    return {"new": counts.new, "store_seconds": time.perf_counter() - started}


def _import(services: Any, now: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    from digest.subscribers.roster import import_csv

    with open(extra["csv"], encoding="utf-8") as handle:
        report = import_csv(
            services.sessions,
            services.settings,
            handle,
            confirmed=True,
            now=now - datagen.CONFIRMED_BEFORE,
        )
    return {"imported": report.imported, "rejected": report.rejected}


def _compose(services: Any, now: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import select

    from digest import pipeline
    from digest.compose.digests import Shard
    from digest.models import Digest

    shard = Shard(*extra["shard"]) if extra.get("shard") else None
    # plan() returns None only when it does not wait for the planning lock; this one waits.
    report = pipeline.plan(services, now=now, wait=True, shard=shard)
    if report is None:
        raise RuntimeError("composing did not get the planning lock")
    with services.sessions() as session:
        counts = sorted(session.scalars(select(Digest.paper_count)))
    return {
        "composed": report.composed,
        "empty": report.empty,
        "skipped": report.skipped,
        "papers_per_digest": sum(counts) / len(counts) if counts else 0.0,
        "papers_median": counts[len(counts) // 2] if counts else 0,
        "papers_p90": counts[len(counts) * 9 // 10] if counts else 0,
        "over_half": sum(count > extra["papers"] / 2 for count in counts),
    }


def _deliver(services: Any, now: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    from digest.mail import outbox
    from digest.mail.mailer import make_sender

    sender = make_sender(services.settings)
    try:
        stats = outbox.deliver(services, worker_id="bench-deliver", sender=sender)
    finally:
        sender.close()
    return {"sent": stats.sent, "deferred": stats.deferred, "failed": stats.failed}


def _worker(url: str, instance: str, port: int, composing: Any, results: Any, index: int) -> None:
    """A `digest worker` process: deliver until composing has finished and nothing is due."""
    from sqlalchemy.exc import OperationalError

    from digest.mail import outbox
    from digest.mail.mailer import make_sender
    from digest.services import build_services

    services = build_services(datagen.bench_settings(url, Path(instance), port))
    sender = make_sender(services.settings)
    totals = {"sent": 0, "deferred": 0, "failed": 0}
    try:
        while True:
            # Read before the round: everything composing committed by then is seen by it.
            finished = not composing.is_set()
            try:
                stats = outbox.deliver(services, worker_id=f"bench-worker-{index}", sender=sender)
            except OperationalError:  # SQLite's lock held past the busy timeout: as run_worker
                time.sleep(1)
                continue
            for key in totals:
                totals[key] += getattr(stats, key)
            if not stats.total:
                if finished:
                    break
                time.sleep(0.2)
    finally:
        sender.close()
        services.close()
    results.put({**totals, "peak_mb": datagen.peak_rss_mb()})


def _overlapped(
    url: str, tmp: str, port: int, now: datetime, extra: dict[str, Any], workers: int,
    shards: int = 1,
) -> dict[str, dict[str, Any]]:
    """Compose in `shards` processes while `workers` processes deliver; each side's results."""
    spawn = multiprocessing.get_context("spawn")
    composing, results = spawn.Event(), spawn.Queue()
    composing.set()
    started = time.perf_counter()
    processes = [
        spawn.Process(target=_worker, args=(url, tmp, port, composing, results, index))
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        with ProcessPoolExecutor(shards, mp_context=spawn) as pool:
            parts = [
                pool.submit(
                    _stage, "compose", url, tmp, port, now.isoformat(),
                    {**extra, "shard": (index, shards)} if shards > 1 else extra, False,
                )
                for index in range(shards)
            ]  # fmt: skip
            done = [part.result() for part in parts]
    finally:
        composing.clear()
    compose = dict(done[-1])  # the digest statistics are read over all parts by each
    compose.update(
        composed=sum(part["composed"] for part in done),
        empty=sum(part["empty"] for part in done),
        skipped=sum(part["skipped"] for part in done),
        seconds=max(part["seconds"] for part in done),
        peak_mb=max(part["peak_mb"] for part in done),
        shards=shards,
    )
    reports = [results.get() for _ in processes]
    for process in processes:
        process.join()
    deliver = {
        key: sum(report[key] for report in reports) for key in ("sent", "deferred", "failed")
    }
    deliver["peak_mb"] = max(report["peak_mb"] for report in reports)
    deliver["seconds"] = time.perf_counter() - started
    deliver["workers"] = workers
    return {"compose": compose, "deliver": deliver}


def run_scenario(
    url: str,
    subscribers: int,
    papers: int,
    *,
    profile: tuple[str, ...] = (),
    workers: int = 0,
    workload: str = "narrow",
    stages: tuple[str, ...] = STAGES,
    shards: int = 1,
) -> dict[str, dict[str, Any]]:
    """All four stages on a fresh database at `url`; each stage's result by name.

    With `workers`, delivery runs alongside composing (`_overlapped`) and the deliver stage's
    seconds are the wall time of both together.
    """
    datagen.fresh_database(url)
    now = datagen.bench_now()
    results: dict[str, dict[str, Any]] = {}
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, SmtpSink() as sink:
        csv_path = Path(tmp) / "subscribers.csv"
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            datagen.write_subscriber_csv(handle, subscribers, random.Random(7), now, workload)
        extra = {"papers": papers, "csv": str(csv_path)}
        for stage in stages if not workers else STAGES[:2]:
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                results[stage] = pool.submit(
                    _stage, stage, url, tmp, sink.port, now.isoformat(), extra, stage in profile
                ).result()
            print(f"  {stage}: {results[stage]}", flush=True)
        if workers:
            results.update(_overlapped(url, tmp, sink.port, now, extra, workers, shards))
            for stage in STAGES[2:]:
                print(f"  {stage}: {results[stage]}", flush=True)
        if "deliver" in results:
            results["deliver"]["received"] = sink.count
    return results


def rows_for(
    backend: str,
    subscribers: int,
    papers: int,
    results: dict[str, dict[str, Any]],
    workload: str = "narrow",
) -> list[Row]:
    """The table rows of one scenario."""
    kind = "broad " if workload == "broad" else ""
    name = f"{backend}, {subscribers:,} {kind}subscribers x {papers:,} papers"
    sub, comp, dlv = results["subscribers"], results["compose"], results["deliver"]

    def cost(stage: dict[str, Any]) -> str:
        return f"{stage['seconds']:,.1f} s, peak {stage['peak_mb']:,.0f} MB"

    overlapped = "workers" in dlv
    # Overlapped, the deliver stage's wall time already spans composing.
    send_seconds = dlv["seconds"] if overlapped else comp["seconds"] + dlv["seconds"]
    peak = max(comp["peak_mb"], dlv["peak_mb"])
    per_hour = comp["composed"] / send_seconds * 3600 if send_seconds else 0.0
    big = subscribers >= 100_000
    rows = [
        Row("end to end", f"{name}: store papers", cost(results["papers"])),
        Row(
            "end to end",
            f"{name}: import subscribers (CSV, --confirmed)",
            f"{cost(sub)}; {sub['imported'] / sub['seconds']:,.0f} rows/s, "
            f"{sub['rejected']} rejected",
        ),
        Row(
            "end to end",
            f"{name}: compose + render + queue"
            + (f", {comp['shards']} sharing processes" if comp.get("shards", 1) > 1 else ""),
            f"{cost(comp)}; {comp['composed']:,} digests ({comp['papers_per_digest']:.0f} papers "
            f"each), {comp['empty']:,} empty; {comp['composed'] / comp['seconds']:,.0f}/s",
        ),
        Row(
            "end to end",
            f"{name}: deliver to local SMTP"
            + (f", {dlv['workers']} worker(s) alongside composing" if overlapped else ""),
            f"{cost(dlv)}; {dlv['sent']:,} sent ({dlv['received']:,} received), "
            f"{dlv['sent'] / dlv['seconds']:,.0f}/s",
        ),
        Row(
            "end to end",
            f"{name}: compose → SMTP total" + (" (overlapped)" if overlapped else ""),
            f"{send_seconds / 60:,.1f} min, peak {peak:,.0f} MB; {per_hour:,.0f} digests/hour",
            "100k < 15 min, < 1 GB" if big else "",
            datagen.verdict(send_seconds < TARGET_SECONDS and peak < TARGET_MB) if big else "",
        ),
    ]
    return rows


def run(
    subscribers: int,
    papers: int,
    backends: list[str],
    profile: tuple[str, ...] = (),
    workers: int = 0,
    workload: str = "narrow",
    shards: int = 1,
) -> list[Row]:
    """Every scenario asked for; PostgreSQL is skipped (with a row saying so) when absent."""
    rows: list[Row] = []
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/digest.db" if backend == "SQLite" else datagen.postgres_url()
            if url is None:
                rows.append(
                    Row(
                        "end to end",
                        f"PostgreSQL, {subscribers:,} subscribers",
                        "skipped: no PostgreSQL at DIGEST_BENCH_POSTGRES_URL",
                    )
                )
                continue
            print(f"end to end: {backend}, {subscribers:,} x {papers:,}", flush=True)
            results = run_scenario(
                url, subscribers, papers, profile=profile, workers=workers, workload=workload,
                shards=shards,
            )
            rows += rows_for(backend, subscribers, papers, results, workload)
    return rows


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--profile",
        action="append",
        choices=STAGES,
        default=[],
        help="write a cProfile report of this stage to benchmarks/results/",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="deliver with this many worker processes alongside composing (default: after it)",
    )
    parser.add_argument(
        "--shards", type=int, default=1,
        help="with --workers: compose in this many processes, each its part of the subscribers",
    )  # fmt: skip
    parser.add_argument(
        "--workload", choices=datagen.WORKLOADS, default="narrow",
        help="narrow profiles (~50 of 2,000 papers) or broad ones (~24%% of the day)",
    )  # fmt: skip
    args = parser.parse_args()
    backends = {
        "sqlite": ["SQLite"],
        "postgresql": ["PostgreSQL"],
        "both": ["SQLite", "PostgreSQL"],
    }[args.backend]
    rows = run(
        args.subscribers, args.papers, backends, tuple(args.profile), args.workers, args.workload,
        args.shards,
    )
    print(datagen.table(rows))


if __name__ == "__main__":
    main()
