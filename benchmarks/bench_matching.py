"""Benchmark: ProfileIndex against a naive per-profile scan, on realistic generated data.

Run from the repository root:
    .venv/bin/python -m benchmarks.bench_matching [--profiles N --papers M]
Prints a table and writes it as Markdown to benchmarks/results/matching.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

from benchmarks.vocabulary import make_papers, make_profiles
from digest.matching import ProfileIndex, make_document, match, parse_profile

RESULTS = Path(__file__).parent / "results" / "matching.md"


def main() -> None:
    """Generate data, time both ways, print and save the table."""
    args = _arguments()
    rng = random.Random(args.seed)
    papers = make_papers(args.papers, rng)
    profiles = [parse_profile(text) for text in make_profiles(args.profiles, rng)]

    started = time.perf_counter()
    docs = [make_document(p["title"], p["abstract"], p["authors"], p["categories"]) for p in papers]
    prepare = time.perf_counter() - started

    started, cpu = time.perf_counter(), time.process_time()
    index = ProfileIndex()
    for key, profile in enumerate(profiles):
        index.add(key, profile)
    build, build_cpu = time.perf_counter() - started, time.process_time() - cpu

    started, cpu = time.perf_counter(), time.process_time()
    results = index.match_all(docs)
    indexed, indexed_cpu = time.perf_counter() - started, time.process_time() - cpu
    matches = sum(len(v) for v in results.values())

    # The naive scan, on profiles spread over the whole list, must agree with the index.
    sample = max(1, min(len(profiles), args.naive_profiles))
    keys = range(0, len(profiles), len(profiles) // sample)[:sample]
    started = time.perf_counter()
    for key in keys:
        hits = [
            (d, m) for d, doc in enumerate(docs) if (m := match(profiles[key], doc)) is not None
        ]
        assert hits == results.get(key, []), f"index and scan disagree on profile {key}"
    naive_sample = time.perf_counter() - started
    naive = naive_sample * len(profiles) / sample

    pairs = len(profiles) * len(docs)
    rows = [
        ("ProfileIndex (build + match)", build + indexed, pairs / (build + indexed), ""),
        ("ProfileIndex (match only)", indexed, pairs / indexed, ""),
        (
            "naive scan (measured)"
            if sample == len(profiles)
            else f"naive scan ({sample} profiles measured, extrapolated)",
            naive,
            pairs / naive,
            "",
        ),
    ]
    table = _table(len(profiles), len(docs), rows, naive)
    notes = (
        f"\n{matches:,} matches ({matches / pairs:.3%} of pairs); papers prepared once in "
        f"{prepare:.2f} s; naive and index agree on the {sample} profiles scanned.\n"
        f"CPU time (the seconds above are wall-clock): build {build_cpu:.2f} s, "
        f"match {indexed_cpu:.2f} s; load average at the end {_load()}.\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.\n"
    )
    print(table + notes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        "# Matching benchmark\n\n`.venv/bin/python -m benchmarks.bench_matching "
        f"--profiles {args.profiles} --papers {args.papers}`\n\n" + table + notes
    )


def _table(
    profiles: int, papers: int, rows: list[tuple[str, float, float, str]], naive: float
) -> str:
    """The Markdown table."""
    lines = [
        "| method | profiles | papers | seconds | profile-paper pairs/s | speed-up vs naive |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, seconds, rate, _ in rows:
        lines.append(
            f"| {name} | {profiles:,} | {papers:,} | {seconds:.2f} | {rate:,.0f} | "
            f"{naive / seconds:,.0f}x |"
        )
    return "\n".join(lines) + "\n"


def _load() -> str:
    """The 1-minute load average, to tell a busy machine from a slow program."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def _arguments() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument(
        "--naive-profiles",
        type=int,
        default=200,
        help="profiles scanned naively; the rest is extrapolated",
    )
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    main()
