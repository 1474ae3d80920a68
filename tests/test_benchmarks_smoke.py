"""The benchmarks still run: each one on tiny sizes, checking what it did, never how fast."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import postgres_url, require

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
from benchmarks.run import extrapolated


def test_generated_subscribers_are_all_due_within_two_hours(settings) -> None:
    """Every generated row is valid for the subscribe form, and its send time just passed."""
    import random

    from digest.compose.schedule import Schedule
    from digest.subscribers.subscriptions import validate_subscription

    now = datagen.bench_now()
    for row in datagen.subscriber_rows(50, random.Random(1), now):
        request = validate_subscription(row, settings)
        prefs = request.preferences
        schedule = Schedule.of(prefs.frequency, prefs.send_time, prefs.timezone, prefs.weekday)
        due = schedule.next_after(now - datagen.CONFIRMED_BEFORE)
        assert now - datagen.CONFIRMED_BEFORE < due <= now


def test_render_benchmark_renders_real_digests() -> None:
    rows = bench_render.run(digests=5, papers=40)
    assert len(rows) == 4
    assert all("/s" in row.result for row in rows)


def test_feed_benchmark_serves_the_whole_feed_and_its_304() -> None:
    rows = bench_feed.run(days=2, per_digest=3, seconds=0.05)  # it asserts the feed's entries
    assert [row.benchmark for row in rows] == ["feed"] * 3
    assert all("requests/s" in row.result for row in rows)


def test_smtp_benchmark_delivers_every_message_both_ways() -> None:
    rows = bench_smtp.run(messages=4)  # it raises unless the server counted every message
    assert [row.benchmark for row in rows] == ["SMTP delivery", "SMTP delivery"]


@pytest.mark.parametrize(("workers", "shards"), [(0, 1), (1, 1), (1, 2)])
def test_end_to_end_benchmark_sends_every_composed_digest(
    tmp_path: Path, workers: int, shards: int
) -> None:
    """After composing (`digest send` alone), or alongside it by a worker process; composing in
    one process or shared by two."""
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    results = bench_e2e.run_scenario(url, 20, 30, workers=workers, shards=shards)
    composed = results["compose"]["composed"]
    assert results["subscribers"]["imported"] == 20
    assert composed + results["compose"]["empty"] == 20
    assert composed > 0
    assert results["deliver"]["sent"] == results["deliver"]["received"] == composed
    rows = bench_e2e.rows_for("SQLite", 20, 30, results)
    assert "compose → SMTP total" in rows[-1].scenario
    assert ("(overlapped)" in rows[-1].scenario) == bool(workers)


def test_workers_benchmark_sends_each_message_once(database_url: str, sessions) -> None:
    if not database_url.startswith("postgresql"):
        if postgres_url() is None:
            require("postgres", "the workers benchmark needs PostgreSQL")
        pytest.skip("runs in the PostgreSQL pass (DIGEST_TEST_DATABASE_URL)")
    rows = bench_workers.run(messages=12, workers=(1, 2), url=database_url, fresh=False)
    assert len(rows) == 2
    assert all("each exactly once" in row.result for row in rows)


def test_workers_benchmark_is_skipped_on_sqlite(tmp_path: Path) -> None:
    rows = bench_workers.run(messages=5, url=f"sqlite:///{tmp_path / 'x.db'}")
    assert "skipped" in rows[0].result


@pytest.mark.parametrize(("minutes", "verdict"), [("1.2", "met"), ("2.0", "**missed**")])
def test_extrapolation_scales_the_measured_total(minutes: str, verdict: str) -> None:
    row = Row("end to end", "SQLite, 10,000 subscribers x 2,000 papers: compose → SMTP total",
              f"{minutes} min, peak 300 MB; 1 digests/hour")
    (estimate,) = extrapolated([row], 10_000, 100_000)
    assert f"≈ {float(minutes) * 10:,.0f} min" in estimate.result
    assert estimate.verdict == verdict


def test_broad_benchmark_composes_beside_the_naive_scan() -> None:
    rows = bench_broad.run(subscribers=30, papers=60, sample=5)
    assert [row.benchmark for row in rows] == ["broad profiles"] * 3
    assert "x the naive scan" in rows[-1].result


def test_broad_profiles_match_about_a_quarter_of_the_day() -> None:
    import random
    import statistics

    from benchmarks.vocabulary import make_broad_profiles, make_papers
    from digest import matching

    papers = make_papers(400, random.Random(7))
    docs = [matching.make_document(p["title"], p["abstract"], p["authors"], p["categories"])
            for p in papers]  # fmt: skip
    counts = [
        sum(matching.match(matching.parse_profile(text), doc) is not None for doc in docs)
        for text in make_broad_profiles(60, random.Random(3))
    ]
    assert 0.15 <= statistics.median(counts) / len(docs) <= 0.32
    assert max(counts) > len(docs) / 2


def test_web_benchmark_subscribes_through_a_real_server() -> None:
    rows = bench_web.run(subscriptions=6, clients=3)
    assert "6 answered 200" in rows[0].result
    assert rows[1].verdict == "met"  # the page is small and gzipped


def test_shards_benchmark_composes_each_digest_once(database_url: str) -> None:
    if postgres_url() is None:
        require("postgres", "the shared composing benchmark needs PostgreSQL")
    rows = bench_shards.run(subscribers=40, papers=30, processes=[1, 2])
    assert all("each digest once" in row.result for row in rows)
