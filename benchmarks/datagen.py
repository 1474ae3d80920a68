"""Realistic benchmark data: papers, subscribers due now, databases, settings, machine facts.

Built on `benchmarks.vocabulary` (real ML vocabulary, 150-250-word abstracts). Subscribers live in
the timezones research happens in, with send times chosen so that every one of them falls due in
the two hours before `now`, as the cohort of one busy planner run would.
"""

from __future__ import annotations

import csv
import os
import platform
import random
import resource
import socket
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import IO
from zoneinfo import ZoneInfo

from benchmarks.vocabulary import (
    GIVEN,
    SURNAMES,
    make_broad_profiles,
    make_papers,
    make_profiles,
)
from digest.config import Settings, load_settings
from digest.feeds import PaperIn

# Where readers are, weighted roughly like an ML mailing list's audience.
TIMEZONES = {
    "America/Los_Angeles": 14,
    "America/New_York": 14,
    "America/Chicago": 4,
    "America/Toronto": 4,
    "America/Sao_Paulo": 2,
    "Europe/London": 8,
    "Europe/Berlin": 7,
    "Europe/Paris": 5,
    "Europe/Zurich": 3,
    "Europe/Amsterdam": 2,
    "Europe/Madrid": 2,
    "Asia/Shanghai": 12,
    "Asia/Tokyo": 4,
    "Asia/Seoul": 4,
    "Asia/Kolkata": 5,
    "Asia/Singapore": 3,
    "Asia/Jerusalem": 2,
    "Australia/Sydney": 2,
    "UTC": 3,
}
DOMAINS = [
    "mit.edu",
    "stanford.edu",
    "berkeley.edu",
    "cmu.edu",
    "ox.ac.uk",
    "cam.ac.uk",
    "ethz.ch",
    "mpg.de",
    "tsinghua.edu.cn",
    "u-tokyo.ac.jp",
    "kaist.ac.kr",
    "iisc.ac.in",
    "gmail.com",
    "example.org",
    "deepmind.com",
    "inria.fr",
]
BENCH_DATABASE = "digest_bench"
DEFAULT_POSTGRES = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
CONFIRMED_BEFORE = timedelta(hours=2)  # subscribers confirmed this long before `now`
FETCHED_BEFORE = timedelta(hours=3)  # the day's papers were first seen this long before `now`


def paper_ins(n: int, rng: random.Random, now: datetime) -> list[PaperIn]:
    """`n` papers as a feed would deliver them, with arXiv ids, links and a few code links."""
    papers = []
    for i, values in enumerate(make_papers(n, rng, now)):
        arxiv_id = f"2501.{10000 + i:05d}"
        papers.append(
            PaperIn(
                key=arxiv_id,
                arxiv_id=arxiv_id,
                version=1,
                title=values["title"],
                abstract=values["abstract"],
                authors=tuple(values["authors"]),
                categories=tuple(values["categories"]),
                url=f"https://arxiv.org/abs/{arxiv_id}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                code_url=f"https://github.com/lab{i % 97}/repo{i}" if rng.random() < 0.25 else None,
                project_url=None,
                upvotes=values["upvotes"],
                published_at=values["published_at"],
                updated_at=values["published_at"],
                announce_type="new",
            )
        )
    return papers


def stored_papers(n: int, rng: random.Random, now: datetime) -> list[SimpleNamespace]:
    """`n` papers shaped like stored rows (what `render.entry_for` reads), ids from 1."""
    return [
        SimpleNamespace(
            id=i,
            title=p.title,
            abstract=p.abstract,
            authors=list(p.authors),
            categories=list(p.categories),
            url=p.url,
            pdf_url=p.pdf_url,
            code_url=p.code_url,
            upvotes=p.upvotes,
            published_at=p.published_at,
            arxiv_id=p.arxiv_id,
        )
        for i, p in enumerate(paper_ins(n, rng, now), start=1)
    ]


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


# narrow: ~50 of 2,000 papers matched each; broad: ~24% of them (make_broad_profiles)
WORKLOADS = ("narrow", "broad")


def subscriber_rows(
    n: int, rng: random.Random, now: datetime, workload: str = "narrow"
) -> Iterator[dict[str, str]]:
    """CSV rows of `n` subscribers, every one due within two hours before `now`: narrow
    profiles of ~10 specific terms, or broad ones of 3-12 common terms."""
    zones = list(TIMEZONES)
    weights = list(TIMEZONES.values())
    texts = make_broad_profiles(n, rng) if workload == "broad" else make_profiles(n, rng)
    for i, keywords in enumerate(texts):
        zone = ZoneInfo(rng.choices(zones, weights)[0])
        # A send time that fell between CONFIRMED_BEFORE and now, in the reader's own clock.
        local = (now - timedelta(minutes=rng.randint(1, 110))).astimezone(zone)
        weekly = rng.random() < 0.2
        name = f"{_ascii(rng.choice(GIVEN))}.{_ascii(rng.choice(SURNAMES))}"
        email = f"{name}.{i}@{rng.choice(DOMAINS)}"
        yield {
            "email": email.replace("-", ""),
            "keywords": keywords,
            "frequency": "weekly" if weekly else "daily",
            "timezone": str(zone.key),
            "send_time": f"{local.hour:02d}:{local.minute:02d}",
            "weekday": str(local.weekday()) if weekly else "",
        }


def write_subscriber_csv(
    handle: IO[str], n: int, rng: random.Random, now: datetime, workload: str = "narrow"
) -> None:
    """The rows of `subscriber_rows` as a `digest subscribers import` CSV file."""
    writer = csv.DictWriter(
        handle, ["email", "keywords", "frequency", "timezone", "send_time", "weekday"]
    )
    writer.writeheader()
    writer.writerows(subscriber_rows(n, rng, now, workload))


def bench_now() -> datetime:
    """The benchmark's `now`: the current minute, in UTC."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def bench_settings(database_url: str, instance: Path, smtp_port: int | None = None) -> Settings:
    """Settings of a production-like instance sending to the local SMTP sink."""
    env = {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_SECRET_KEY": "benchmark-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_MAIL_FROM": "Paper Digest <digest@example.org>",
    }
    if smtp_port is not None:
        env["DIGEST_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}?timeout=60"
    return load_settings(env, instance_path=instance)


def fresh_database(url: str) -> None:
    """Empty the database at `url` (every table dropped) and migrate it to head."""
    from sqlalchemy import text

    from digest.db import make_engine, upgrade

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def postgres_url() -> str | None:
    """The benchmark's own PostgreSQL database (created if missing), or None when unreachable.

    DIGEST_BENCH_POSTGRES_URL overrides the default `digest_bench` on 127.0.0.1; never `test`.
    """
    url = os.environ.get("DIGEST_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.database == "test":
            raise SystemExit("the benchmarks never use the database named `test`")
        admin = parsed.set(drivername="postgresql", database="postgres")
        conninfo = admin.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{parsed.database}"')
    except Exception:  # no driver, no server, no permission: all mean "absent"
        return None
    return url


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    benchmark: str
    scenario: str
    result: str
    target: str = ""
    verdict: str = ""  # "met", "missed", or "" when the row has no target


def table(rows: list[Row]) -> str:
    """The rows as one Markdown table."""
    lines = ["| benchmark | scenario | result | target | |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.benchmark} | {r.scenario} | {r.result} | {r.target} | {r.verdict} |" for r in rows
    ]
    return "\n".join(lines) + "\n"


def verdict(ok: bool) -> str:
    """The table's mark for a target."""
    return "met" if ok else "**missed**"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark, in MB.

    VmHWM, because Linux carries getrusage's ru_maxrss across fork and exec: a child spawned by
    a big parent would report the parent's size. getrusage where /proc is missing.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Machine:
    """What the numbers were measured on."""

    cpu: str
    cores: int
    ram_gb: float
    python: str
    date: str

    def line(self) -> str:
        """One Markdown line naming the machine."""
        return (
            f"Machine: {self.cpu}, {self.cores} cores, {self.ram_gb:.0f} GB RAM; "
            f"Python {self.python}; {self.date}."
        )


def machine() -> Machine:
    """CPU model, cores and RAM from /proc, Python version and today's date."""
    cpu = platform.processor() or platform.machine()
    ram = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 1,
        ram_gb=ram,
        python=platform.python_version(),
        date=datetime.now(UTC).date().isoformat(),
    )
