"""APScheduler 3 jobs: fetch the feeds, plan due digests, deliver the outbox, recover and purge.

`digest scheduler` runs them in the foreground until a signal (`run_scheduler`); `digest serve`
runs that command as its child process (`SchedulerProcess`), woken through a pipe when a page
queues mail. Never start one inside `create_app()`: every gunicorn worker would then run every
job.

Several `digest scheduler` processes may run against PostgreSQL for availability: the fetch and
plan jobs take a session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection,
so only one process fetches or plans at a time and the others skip that round; storing papers
and planning never overlap (locks.py). Delivery needs no lock (outbox rows are claimed with
FOR UPDATE SKIP LOCKED). On SQLite run one scheduler process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

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
WAKE_AFTER_SECONDS = 0.25  # Delivery.wake: how long a burst of page mail may gather
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


class Delivery:
    """The delivery job of one scheduler, and `wake()` for pages whose mail should go soon.

    `wake()` runs the job WAKE_AFTER_SECONDS from now, so that the confirmations of a burst of
    sign-ups go out in one run over one SMTP connection rather than one run each (at 100
    sign-ups a second, a run per message cost the web process a third of its time). While a run
    is in hand a wake only asks it to go round once more: a run stops when it finds the queue
    empty, and mail queued just after its last look would otherwise wait for the next tick.
    Waking APScheduler then would only make it log "maximum number of running instances
    reached", once per sign-up.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.scheduler: BaseScheduler | None = None
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._woken_for: datetime | None = None  # the run a wake has already asked for

    def __call__(self) -> None:
        with self._lock:
            self._running = True
            self._again = False
            self._woken_for = None
        try:
            while True:
                deliver_job(self.services)
                with self._lock:
                    if not self._again:
                        return
                    self._again = False
                time.sleep(WAKE_AFTER_SECONDS)  # let the burst that woke us gather
        finally:
            with self._lock:
                self._running = False

    def wake(self) -> None:
        """Deliver what was just queued, within about WAKE_AFTER_SECONDS."""
        now = utcnow()
        with self._lock:
            if self._running:
                self._again = True
                return
            if self._woken_for is not None and self._woken_for > now:
                return  # a run is coming; asking again would only push it back
            self._woken_for = now + timedelta(seconds=WAKE_AFTER_SECONDS)
            due = self._woken_for
        if self.scheduler is not None:
            self.scheduler.modify_job("deliver", next_run_time=due)


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


def add_jobs(
    scheduler: BaseScheduler, services: Services, delivery: Delivery | None = None
) -> BaseScheduler:
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
    delivery = delivery or Delivery(services)
    delivery.scheduler = scheduler
    scheduler.add_job(
        delivery,
        IntervalTrigger(seconds=DELIVER_EVERY_SECONDS, timezone=UTC),
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


def start_scheduler(
    services: Services, delivery: Delivery | None = None
) -> BackgroundScheduler:
    """Start the jobs in background threads (for `digest serve`); the caller shuts it down."""
    scheduler = BackgroundScheduler(timezone=UTC)
    add_jobs(scheduler, services, delivery)
    scheduler.start()
    return scheduler


def run_scheduler(services: Services, wake_from: BinaryIO | None = None) -> None:
    """Run the jobs in this process until SIGTERM or SIGINT, then stop cleanly.

    The signal only sets an event (from a thread: see signals.py); the shutdown happens here in
    the main thread. (Calling `shutdown(wait=True)` from inside a handler can deadlock: the
    interrupted main thread may hold a scheduler lock that a finishing job thread needs.) That
    is why this runs a BackgroundScheduler and waits, rather than a BlockingScheduler.

    With `wake_from` (the pipe from `digest serve`, see SchedulerProcess) every byte read wakes
    the delivery job, and the end of the stream, the parent gone, stops the scheduler.
    """
    stop_requested = threading.Event()
    delivery = Delivery(services)
    with stop_on_signals(stop_requested, logger, "%s received, stopping the scheduler"):
        scheduler = start_scheduler(services, delivery)
        if wake_from is None:
            logger.info("scheduler started; stop with Ctrl-C or SIGTERM")
        else:
            threading.Thread(
                target=_read_wakes, args=(wake_from, delivery, stop_requested),
                name="wake-reader", daemon=True,
            ).start()  # fmt: skip
            logger.info("scheduler started beside digest serve (pid %d)", os.getppid())
        # Wake every second rather than wait untimed: a process-directed signal may be taken by
        # one of the scheduler's threads, and an untimed lock wait in the main thread is then
        # never interrupted, so the Python handler (which runs in the main thread) never ran.
        while not stop_requested.wait(timeout=1.0):
            pass
        # wait=True: the job in hand (a delivery mid-batch) finishes rather than being cut off.
        scheduler.shutdown(wait=True)
        logger.info("scheduler stopped")


def _read_wakes(stream: BinaryIO, delivery: Delivery, stop: threading.Event) -> None:
    """Wake delivery for every chunk read; stop the scheduler at the end of the stream."""
    read = getattr(stream, "read1", stream.read)
    try:
        while read(4096):
            delivery.wake()
    except (OSError, ValueError):
        pass  # the pipe broke: as good as closed
    if not stop.is_set():
        logger.info("digest serve has gone; stopping the scheduler")
        stop.set()


class SchedulerProcess:
    """`digest serve`'s scheduler, run as a child process (`digest scheduler --wake-on-stdin`).

    The scheduler's jobs deliver the mail the pages queue (a confirmation per sign-up) and
    compose digests; in the web process they would take turns with the pages under one GIL (a
    third of its time went to delivering confirmations at 100 sign-ups a second). As a child it
    runs on another core. `wake()` writes a byte to its standard input, so mail queued by a page
    goes out within a fraction of a second; closing that pipe stops it, and it stops by itself
    when this process dies, even by SIGKILL (the pipe closes). A child that exits on its own is
    logged and started again after RESTART_AFTER_SECONDS. It has its own session, so Ctrl-C in
    a terminal reaches only `digest serve`, which then stops it.
    """

    RESTART_AFTER_SECONDS = 5.0
    STOP_WAIT_SECONDS = 60.0

    def __init__(self, command: list[str] | None = None) -> None:
        # `digest` as this interpreter runs it, wherever the console script was installed.
        self.command = command or [
            sys.executable, "-c", "from digest.cli import main; main()",
            "scheduler", "--wake-on-stdin",
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._woken_at = -1e9  # time.monotonic() of the last byte written

    def start(self) -> SchedulerProcess:
        """Start the child and a thread that starts it again if it exits on its own."""
        self._spawn()
        threading.Thread(target=self._watch, name="scheduler-watch", daemon=True).start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return  # stop() came first: no child it would not see
            # The command is this interpreter and a fixed argument list, never user input.
            process = subprocess.Popen(  # noqa: S603
                self.command, stdin=subprocess.PIPE, start_new_session=True
            )
            assert process.stdin is not None
            os.set_blocking(process.stdin.fileno(), False)  # a wake never blocks a page
            self._process = process

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            logger.error(
                "the scheduler process exited with code %s; starting it again in %.0f s",
                code, self.RESTART_AFTER_SECONDS,
            )  # fmt: skip
            if self._stopping.wait(self.RESTART_AFTER_SECONDS):
                return
            try:
                self._spawn()
            except OSError:  # tried again after the next wait (the old process is gone)
                logger.exception("could not start the scheduler process")

    def wake(self) -> None:
        """Have the child deliver what was just queued (one byte per WAKE_AFTER_SECONDS is
        enough: the child gathers what is queued meanwhile into the same run)."""
        moment = time.monotonic()
        with self._lock:
            if moment - self._woken_at < WAKE_AFTER_SECONDS / 2:
                return
            self._woken_at = moment
            process = self._process
            if process is None or process.stdin is None or process.poll() is not None:
                return  # not running: the watcher restarts it, and it delivers at start
            # A full pipe has wakes enough; a broken one means the child is being restarted.
            with contextlib.suppress(BlockingIOError, BrokenPipeError, ValueError):
                os.write(process.stdin.fileno(), b"w")

    def stop(self) -> None:
        """Close the pipe (the child finishes the job in hand and stops); SIGKILL after a minute."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(self.STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.error("the scheduler process did not stop within a minute; killing it")
            process.kill()
            process.wait()
