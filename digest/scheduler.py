"""APScheduler 3 jobs: fetch the feeds, plan due digests, deliver the outbox, recover and purge.

`digest serve` embeds a BackgroundScheduler (`start_scheduler`); `digest scheduler` runs the
same alone in the foreground until a signal (`run_scheduler`). Never start one inside
`create_app()`: every gunicorn worker would then run every job.

Several `digest scheduler` processes may run against PostgreSQL for availability: the fetch and
plan jobs take a session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection,
so only one process fetches or plans at a time and the others skip that round; storing papers
and planning never overlap (locks.py). Delivery needs no lock (outbox rows are claimed with
FOR UPDATE SKIP LOCKED). On SQLite run one scheduler process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest import pipeline
from digest.db import utcnow
from digest.mail import outbox
from digest.papers.locks import exclusive
from digest.services import Services
from digest.signals import stop_on_signals

logger = logging.getLogger(__name__)

PLAN_EVERY_MINUTES = 5
DELIVER_EVERY_SECONDS = 30
HOUSEKEEPING_EVERY_MINUTES = 1


def fetch_job(services: Services) -> None:
    """Ingest the configured feeds, unless another scheduler is doing it.

    Storing papers and planning digests keep out of each other's way by themselves (locks.py).
    """
    with exclusive(services.engine, "fetch") as mine:
        if mine:
            pipeline.fetch(services)


def plan_job(services: Services) -> None:
    """Compose and queue the digests due now, unless papers are being stored or another
    planner is running (this round is then skipped; the next comes in PLAN_EVERY_MINUTES)."""
    report = pipeline.plan(services, wait=False)
    if report is not None and (report.composed or report.empty or report.skipped):
        logger.info(
            "planned: %d queued, %d empty, %d skipped",
            report.composed,
            report.empty,
            report.skipped,
        )


def deliver_job(services: Services) -> None:
    """Deliver the queued mail that is due."""
    outbox.deliver(services, worker_id=f"scheduler:{socket.gethostname()}:{os.getpid()}")


def housekeeping_job(services: Services) -> None:
    """Put messages claimed by a killed worker back in the queue once their claim has lapsed."""
    with services.sessions.begin() as session:
        outbox.recover_stale_claims(session, now=utcnow())


def purge_job(services: Services) -> None:
    """Drop the bodies of long-sent messages and old transactional rows (outbox.py says which)."""
    with services.sessions.begin() as session:
        bodies, rows = outbox.purge_old_messages(session, now=utcnow())
    if bodies or rows:
        logger.info("purged %d message bodies and %d old outbox rows", bodies, rows)


def add_jobs(scheduler: BaseScheduler, services: Services) -> BaseScheduler:
    """Register the five jobs. Every job has coalesce=True and max_instances=1 on purpose."""
    # coalesce: after a pause (laptop asleep, process stopped) several missed runs become one;
    # running each of them in a row would only repeat the same work. max_instances=1: a slow run
    # (a hanging feed, a big planning round) must never overlap the next one in this process.
    common = {"coalesce": True, "max_instances": 1, "replace_existing": True}
    scheduler.add_job(
        fetch_job,
        CronTrigger.from_crontab(services.settings.fetch_cron, timezone=UTC),
        args=[services],
        id="fetch",
        # A fetch up to an hour late still gets the day's papers before the next cron run.
        misfire_grace_time=3600,
        **common,
    )
    scheduler.add_job(
        plan_job,
        IntervalTrigger(minutes=PLAN_EVERY_MINUTES, timezone=UTC),
        args=[services],
        id="plan",
        next_run_time=utcnow(),  # catch up at start-up on digests that fell due while stopped
        # A late round is as good as an on-time one (due digests wait for it), so never drop one.
        misfire_grace_time=None,
        **common,
    )
    scheduler.add_job(
        deliver_job,
        IntervalTrigger(seconds=DELIVER_EVERY_SECONDS, timezone=UTC),
        args=[services],
        id="deliver",
        next_run_time=utcnow(),
        misfire_grace_time=None,
        **common,
    )
    scheduler.add_job(
        housekeeping_job,
        IntervalTrigger(minutes=HOUSEKEEPING_EVERY_MINUTES, timezone=UTC),
        args=[services],
        id="housekeeping",
        misfire_grace_time=None,
        **common,
    )
    scheduler.add_job(
        purge_job,
        IntervalTrigger(hours=24, timezone=UTC),
        args=[services],
        id="purge",
        misfire_grace_time=None,
        **common,
    )
    return scheduler


def start_scheduler(services: Services) -> BackgroundScheduler:
    """Start the jobs in background threads (for `digest serve`); the caller shuts it down."""
    scheduler = BackgroundScheduler(timezone=UTC)
    add_jobs(scheduler, services)
    scheduler.start()
    return scheduler


def run_scheduler(services: Services) -> None:
    """Run the jobs in this process until SIGTERM or SIGINT, then stop cleanly.

    The signal only sets an event (from a thread: see signals.py); the shutdown happens here in
    the main thread. (Calling `shutdown(wait=True)` from inside a handler can deadlock: the
    interrupted main thread may hold a scheduler lock that a finishing job thread needs.) That
    is why this runs a BackgroundScheduler and waits, rather than a BlockingScheduler.
    """
    stop_requested = threading.Event()
    with stop_on_signals(stop_requested, logger, "%s received, stopping the scheduler"):
        scheduler = start_scheduler(services)
        logger.info("scheduler started; stop with Ctrl-C or SIGTERM")
        # Wake every second rather than wait untimed: a process-directed signal may be taken by
        # one of the scheduler's threads, and an untimed lock wait in the main thread is then
        # never interrupted, so the Python handler (which runs in the main thread) never ran.
        while not stop_requested.wait(timeout=1.0):
            pass
        # wait=True: the job in hand (a delivery mid-batch) finishes rather than being cut off.
        scheduler.shutdown(wait=True)
        logger.info("scheduler stopped")
