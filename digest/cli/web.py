"""CLI command: `digest serve`, the web app and the scheduler in one process (the default)."""

from __future__ import annotations

import signal
from types import FrameType

import click
from apscheduler.schedulers.base import BaseScheduler

from digest.cli import LazyServices, main, pass_services


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@pass_services
def serve(lazy: LazyServices, host: str, port: int, threads: int) -> None:
    """Serve the web pages with waitress and run the scheduler (fetch, plan, deliver)."""
    from sqlalchemy.exc import OperationalError
    from waitress import create_server

    from digest.db import upgrade
    from digest.scheduler import start_scheduler
    from digest.web import create_app

    services = lazy.get()
    try:
        upgrade(services.settings.database_url)  # a fresh machine needs no separate setup step
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the database at DIGEST_DATABASE_URL: {exc.orig}"
        ) from exc
    app = create_app(services=services)
    server = create_server(app, host=host, port=port, threads=threads)
    scheduler = start_scheduler(services)
    # Mail queued by a page goes out at once rather than at the delivery job's next tick.
    app.extensions["digest"].mail_queued = lambda: _wake(scheduler, "deliver")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    click.echo(f"serving on http://{host}:{server.effective_port} (Ctrl-C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        # wait=True: a delivery in hand finishes rather than being cut off mid-message.
        scheduler.shutdown(wait=True)
        services.close()


def _wake(scheduler: BaseScheduler, job_id: str) -> None:
    """Run a scheduler job now (if it is running already, its next tick comes soon enough)."""
    from digest.db import utcnow

    scheduler.modify_job(job_id, next_run_time=utcnow())


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM stops the server the way Ctrl-C does."""
    raise KeyboardInterrupt
