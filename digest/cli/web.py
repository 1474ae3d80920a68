"""CLI command: `digest serve`, the web app and, in a child process, the scheduler (the default)."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

import click

from digest.cli import LazyServices, main, pass_services

# Above the app's 64 KB MAX_CONTENT_LENGTH (which answers with the site's own 413 page).
MAX_BODY_BYTES = 1024 * 1024
SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--trusted-proxy",
    default="127.0.0.1",
    show_default=True,
    help="With DIGEST_PROXY_HOPS: the address the reverse proxy connects from ('*': any peer).",
)
@pass_services
def serve(lazy: LazyServices, host: str, port: int, threads: int, trusted_proxy: str) -> None:
    """Serve the web pages with waitress and run the scheduler (fetch, plan, deliver) beside."""
    from sqlalchemy.exc import OperationalError
    from waitress import create_server

    from digest.db import upgrade
    from digest.scheduler import SchedulerProcess
    from digest.web import create_app

    services = lazy.get()
    # Hand the GIL on every millisecond rather than every 5: a thread back from SQLite or a
    # socket then waits less for a thread rendering a page (measured: 100 -> 130 sign-ups/s
    # with 8 threads, SWITCH_INTERVAL's note in the README).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        upgrade(services.settings.database_url)  # a fresh machine needs no separate setup step
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the database at DIGEST_DATABASE_URL: {exc.orig}"
        ) from exc
    app = create_app(services=services, proxy_fix=False)  # waitress applies the hops
    options = waitress_options(services.settings.proxy_hops, trusted_proxy)
    # SIGTERM is caught before the child starts and the port opens: one sent during start-up
    # (a supervisor, a test that saw the port) still stops the child before serve exits.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    scheduler: SchedulerProcess | None = None
    server = None
    try:
        # Its own process (SchedulerProcess says why); the web process keeps a core for pages.
        scheduler = SchedulerProcess().start()
        # Mail queued by a page goes out at once rather than at the delivery job's next tick.
        app.extensions["digest"].mail_queued = scheduler.wake
        server = create_server(app, host=host, port=port, threads=threads, **options)
        click.echo(f"serving on http://{host}:{server.effective_port} (Ctrl-C to stop)")
        server.run()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.close()
        if scheduler is not None:
            # The child finishes a delivery in hand rather than being cut off mid-message.
            scheduler.stop()
        services.close()


def waitress_options(proxy_hops: int, trusted_proxy: str) -> dict[str, Any]:
    """waitress's own limits and proxy trust.

    waitress removes X-Forwarded-* headers from peers it does not trust before the app sees
    them, so DIGEST_PROXY_HOPS must be applied here: it trusts them from `trusted_proxy` only
    (127.0.0.1, a proxy on this machine, by default), and takes the client address from the
    hops-th entry from the right of X-Forwarded-For, as ProxyFix would. Bodies larger than
    MAX_BODY_BYTES are refused with 413 before being read (waitress would buffer 1 GB to disk
    before the app's own 64 KB limit answered).
    """
    options: dict[str, Any] = {"max_request_body_size": MAX_BODY_BYTES}
    if proxy_hops:
        options.update(
            trusted_proxy=trusted_proxy,
            trusted_proxy_count=proxy_hops,
            trusted_proxy_headers="x-forwarded-for x-forwarded-proto x-forwarded-host",
            clear_untrusted_proxy_headers=True,
        )
    return options


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM stops the server the way Ctrl-C does."""
    raise KeyboardInterrupt
