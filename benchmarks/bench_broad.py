"""Benchmark: composing for broad profiles (SQLite), beside a naive scan measured in the same run.

Broad profiles are what new readers type: 3-12 common ML terms (`language model*`, `diffusion`,
`benchmark`, ...), so that the median profile matches about a quarter of a 2,000-paper day and
some match more than half (`vocabulary.make_broad_profiles`). Composing (`digest send`'s
planning: match, rank, store, render and queue every digest) runs in a fresh process on a
fresh database, as bench_e2e's stages do. The naive baseline scans every paper for every
subscriber's keywords (`matching.match` per pair, each paper's words prepared once), sorts the
matches and renders 25 titles; it runs on a sample of the subscribers and is extrapolated.

    .venv/bin/python -m benchmarks.bench_broad --subscribers 20000 --papers 2000 [--sample 200]
"""

from __future__ import annotations

import argparse
import html
import multiprocessing
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from benchmarks import bench_e2e, datagen
from benchmarks.datagen import Row

TARGET_SPEEDUP = 10
TARGET_MB = 500
ISSUE_NAIVE_SECONDS = 195  # issue 10's naive script, 20,000 subscribers, the same machine kind


def naive(subscribers: int, papers: int, sample: int) -> dict[str, Any]:
    """The naive scan on `sample` of the subscribers; its time extrapolated to all of them."""
    from digest import matching

    now = datagen.bench_now()
    stock = datagen.paper_ins(papers, random.Random(11), now - datagen.FETCHED_BEFORE)
    rows = list(datagen.subscriber_rows(subscribers, random.Random(7), now, "broad"))
    chosen = random.Random(3).sample(rows, min(sample, len(rows)))
    started = time.perf_counter()
    documents = [
        matching.make_document(p.title, p.abstract, p.authors, p.categories) for p in stock
    ]
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    for row in chosen:
        profile = matching.parse_profile(row["keywords"])
        found = [
            (i, hit)
            for i, document in enumerate(documents)
            if (hit := matching.match(profile, document)) is not None
        ]
        found.sort(
            key=lambda f: matching.rank_key(f[1], stock[f[0]].upvotes, stock[f[0]].published_at)
        )
        "".join(f"<li>{html.escape(stock[i].title)}</li>" for i, _ in found[:25])
    per_subscriber = (time.perf_counter() - started) / len(chosen)
    return {
        "sample": len(chosen),
        "per_subscriber": per_subscriber,
        "seconds": prepared + per_subscriber * subscribers,
        "peak_mb": datagen.peak_rss_mb(),
    }


def run(subscribers: int, papers: int, sample: int = 200) -> list[Row]:
    """Compose for `subscribers` broad profiles on SQLite, and the naive scan beside it."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        scan = pool.submit(naive, subscribers, papers, sample).result()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/digest.db"
        print(f"broad profiles: SQLite, {subscribers:,} x {papers:,}", flush=True)
        results = bench_e2e.run_scenario(
            url, subscribers, papers, workload="broad", stages=("papers", "subscribers", "compose")
        )
    comp = results["compose"]
    speedup = scan["seconds"] / comp["seconds"]
    name = f"SQLite, {subscribers:,} broad subscribers x {papers:,} papers"
    big = subscribers >= 20_000
    return [
        Row(
            "broad profiles",
            f"the workload: papers matched per digest of {papers:,}",
            f"median {comp['papers_median']:,} ({comp['papers_median'] / papers:.0%}), "
            f"mean {comp['papers_per_digest']:,.0f}, p90 {comp['papers_p90']:,}, "
            f"{comp['over_half']:,} of {comp['composed']:,} digests over half",
            "median 20-25%, a tail over half",
            datagen.verdict(
                0.2 <= round(comp["papers_median"] / papers, 2) <= 0.25 and comp["over_half"] > 0
            ),
        ),
        Row(
            "broad profiles",
            f"{name}: naive scan (matching.match per pair, sort, 25 titles; "
            f"{scan['sample']} subscribers measured, extrapolated)",
            f"{scan['seconds']:,.0f} s ({scan['per_subscriber'] * 1000:,.1f} ms a subscriber); "
            f"issue 10's naive script: {ISSUE_NAIVE_SECONDS} s for 20,000",
            "",
            "baseline",
        ),
        Row(
            "broad profiles",
            f"{name}: compose + render + queue (`digest send` planning)",
            f"{comp['seconds']:,.1f} s, peak {comp['peak_mb']:,.0f} MB; "
            f"{comp['composed'] / comp['seconds']:,.0f} digests/s; {speedup:,.1f}x the naive scan"
            + (
                f", {ISSUE_NAIVE_SECONDS * subscribers / 20_000 / comp['seconds']:,.1f}x issue 10's"
                if big
                else ""
            ),
            f"≥ {TARGET_SPEEDUP}x naive, < {TARGET_MB} MB",
            datagen.verdict(speedup >= TARGET_SPEEDUP and comp["peak_mb"] < TARGET_MB)
            if big
            else "",
        ),
    ]


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument(
        "--sample", type=int, default=200, help="subscribers the naive scan measures"
    )
    args = parser.parse_args()
    print(datagen.table(run(args.subscribers, args.papers, args.sample)))


if __name__ == "__main__":
    main()
