"""Run every benchmark and write one Markdown table to benchmarks/results/RESULTS.md.

    .venv/bin/python -m benchmarks.run            # the full run (tens of minutes on 2 cores)
    .venv/bin/python -m benchmarks.run --quick    # small sizes, about a minute

PostgreSQL rows use DIGEST_BENCH_POSTGRES_URL (default: database `digest_bench` on 127.0.0.1,
created when missing) and are skipped with a note when it cannot be reached.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import (
    bench_broad,
    bench_e2e,
    bench_feed,
    bench_render,
    bench_shards,
    bench_smtp,
    bench_web,
    bench_workers,
    datagen,
)
from benchmarks.datagen import Row

RESULTS = Path(__file__).parent / "results" / "RESULTS.md"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs."""

    profiles: int
    papers: int
    digests: int
    messages: int
    e2e: tuple[int, ...]
    e2e_papers: int
    queued: int
    broad: int  # broad-profile subscribers composed beside the naive scan
    signups: tuple[int, int]  # subscriptions, concurrent clients
    shards: int  # subscribers composed by 1, 2, 4 sharing processes


FULL = Sizes(profiles=100_000, papers=2_000, digests=2_000, messages=2_000, e2e=(10_000,),
             e2e_papers=2_000, queued=3_000, broad=20_000, signups=(500, 50), shards=10_000)
QUICK = Sizes(profiles=5_000, papers=200, digests=300, messages=300, e2e=(1_000,),
              e2e_papers=200, queued=500, broad=500, signups=(50, 10), shards=500)


def matching_rows(profiles: int, papers: int) -> list[Row]:
    """Run benchmarks.bench_matching (its own command line) and turn its table into rows."""
    command = [sys.executable, "-m", "benchmarks.bench_matching",
               "--profiles", str(profiles), "--papers", str(papers)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("method", "") or cells[0].startswith("---"):
            continue
        name, _, _, seconds, rate, speedup = cells
        met = ""
        if "match only" in name:
            fast = float(seconds) < 10 and float(speedup.rstrip("x\u00d7").replace(",", "")) >= 100
            met = datagen.verdict(fast) if profiles >= 100_000 else ""
        rows.append(Row("matching", f"{name}, {profiles:,} profiles x {papers:,} papers",
                        f"{float(seconds):,.2f} s, {rate} pairs/s, {speedup} vs naive",
                        "< 10 s, ≥ 100x naive" if "match only" in name else "", met))
    return rows


def extrapolated(rows: list[Row], measured: int, target: int) -> list[Row]:
    """A 100k row scaled linearly from the largest measured run (batches are constant-size)."""
    total = [r for r in rows if r.scenario.endswith("compose → SMTP total")
             and f"{measured:,} subscribers" in r.scenario]
    notes = []
    for row in total:
        minutes = float(row.result.split(" min")[0].replace(",", ""))
        peak = row.result.split("peak ")[1].split(" MB")[0]
        scale = target / measured
        estimate = minutes * scale
        backend = row.scenario.split(",")[0]
        notes.append(Row(
            "end to end", f"{backend}, {target:,} subscribers: compose → SMTP, extrapolated "
            f"x{scale:.0f} from {measured:,}",
            f"≈ {estimate:,.0f} min (linear); peak memory bounded by batch and cache sizes, "
            f"{peak} MB measured", "< 15 min, < 1 GB", datagen.verdict(estimate < 15),
        ))
    return notes


def main() -> None:
    """Run everything, print the table and write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--e2e", type=int, nargs="+", help="end-to-end subscriber counts")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    e2e_sizes = tuple(args.e2e) if args.e2e else sizes.e2e
    started = time.monotonic()
    rows: list[Row] = []
    steps = [
        ("matching", lambda: matching_rows(sizes.profiles, sizes.papers)),
        ("rendering", lambda: bench_render.run(sizes.digests, sizes.papers)),
        ("SMTP", lambda: bench_smtp.run(sizes.messages)),
        ("end to end", lambda: [row for n in e2e_sizes for row in bench_e2e.run(
            n, sizes.e2e_papers, ["SQLite", "PostgreSQL"])]),
        ("workers", lambda: bench_workers.run(sizes.queued)),
        ("feed", lambda: bench_feed.run(seconds=1.0 if args.quick else 3.0)),
        ("broad profiles", lambda: bench_broad.run(sizes.broad, sizes.e2e_papers)),
        ("shared composing", lambda: bench_shards.run(sizes.shards, sizes.e2e_papers)),
        ("web", lambda: bench_web.run(*sizes.signups)),
    ]
    for name, step in steps:
        print(f"== {name}", flush=True)
        new = step()
        print(datagen.table(new), flush=True)
        rows += new
    if not args.quick and max(e2e_sizes) < 100_000:
        rows += extrapolated(rows, max(e2e_sizes), 100_000)
    minutes = (time.monotonic() - started) / 60
    command = ".venv/bin/python -m benchmarks.run" + (" --quick" if args.quick else "")
    report = (f"# digest benchmarks\n\n`{command}` ({minutes:.0f} min)\n\n"
              f"{datagen.machine().line()}\n\n{datagen.table(rows)}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(report)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
