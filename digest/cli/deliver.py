"""CLI commands: `digest deliver` (send what is due, then exit) and `digest worker` (keep at it)."""

from __future__ import annotations

import logging
import os
import socket
import threading

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from digest.cli import LazyServices, main, pass_services
from digest.mail.outbox import deliver, run_worker
from digest.models import OutboxMessage
from digest.services import Services
from digest.signals import stop_on_signals


def default_worker_id() -> str:
    """host:pid, unique among running workers."""
    return f"{socket.gethostname()}:{os.getpid()}"


def check_outbox(services: Services) -> None:
    """Fail with one sentence when the database is unreachable or not migrated."""
    try:
        with services.sessions() as session:
            session.execute(select(OutboxMessage.id).limit(1))
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"cannot use the outbox in DIGEST_DATABASE_URL ({exc.orig}); "
            "is the database up, and has `digest db upgrade` been run?"
        ) from exc


@main.command("deliver")
@click.option("--retry-now", is_flag=True, help="Also retry deferred mail that is not yet due.")
@pass_services
def deliver_command(lazy: LazyServices, retry_now: bool) -> None:
    """Deliver the queued mail that is due, then exit."""
    services = lazy.get()
    check_outbox(services)
    from digest.pipeline import SendSummary

    stats = deliver(services, worker_id=f"deliver@{default_worker_id()}", retry_now=retry_now)
    summary = SendSummary(sent=stats.sent, deferred=stats.deferred, failed=stats.failed)
    click.echo(summary.line())  # the same summary line as `digest send`; nothing is composed here
    if not summary.ok:
        raise SystemExit(1)


@main.command("worker")
@click.option("--id", "worker_id", default=None, help="Name in logs and claims (default host:pid).")
@click.option("--idle-sleep", default=2.0, show_default=True, help="Seconds between empty polls.")
@pass_services
def worker_command(lazy: LazyServices, worker_id: str | None, idle_sleep: float) -> None:
    """Deliver queued mail until stopped (SIGTERM or Ctrl-C stops after the message in flight)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    services = lazy.get()
    check_outbox(services)
    name = worker_id or default_worker_id()
    log = logging.getLogger("digest.worker")
    if services.engine.dialect.name == "sqlite":
        log.warning("SQLite: run only one worker at a time; use PostgreSQL for several workers")
    stop = threading.Event()
    with stop_on_signals(stop, log, "%s received; stopping after the message in flight"):
        run_worker(services, worker_id=name, stop=stop, idle_sleep=idle_sleep)
