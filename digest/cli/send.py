"""CLI commands: `digest send` (compose the digests due and deliver them) and `digest scheduler`."""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.exc import OperationalError

from digest.cli import LazyServices, main, pass_services

PROGRESS_FROM = 1000  # runs with fewer subscribers or digests than this stay quiet


def _progress(stage: str, done: int, total: int) -> None:
    """A progress line on stderr, for runs too long to sit through in silence."""
    if total >= PROGRESS_FROM:
        noun = "subscribers" if stage == "composing" else "digests"
        click.echo(f"{stage}: {done} of {total} {noun}", err=True)


@main.command("send")
@click.option(
    "--force", is_flag=True, help="A digest for every confirmed subscriber now, whatever the time."
)
@click.option("--dry-run", is_flag=True, help="Compose and render, but store and send nothing.")
@click.option(
    "--shard",
    metavar="I/N",
    help="Compose only part I of N of the subscribers (0 <= I < N), alongside N-1 other "
    "`digest send --shard` processes (PostgreSQL).",
)
@pass_services
def send(lazy: LazyServices, force: bool, dry_run: bool, shard: str | None) -> None:
    """Compose the digests due now, queue them and deliver them.

    Prints `sent N, empty N, deferred N, failed N` for the digests this run composed, whoever
    delivered them; exits 1 if any was deferred or failed. Paused subscribers get nothing, even
    with --force.
    """
    from digest import pipeline
    from digest.compose.digests import Shard

    try:
        part = Shard.parse(shard) if shard is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from exc
    services = lazy.get()
    try:
        summary = pipeline.send(
            services, force=force, dry_run=dry_run, progress=_progress, shard=part
        )
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot use the database at DIGEST_DATABASE_URL (run `digest db upgrade`?): {exc.orig}"
        ) from exc
    click.echo(summary.line())
    if not summary.ok:
        raise SystemExit(1)


@main.command("scheduler")
@click.option(
    "--wake-on-stdin",
    is_flag=True,
    hidden=True,
    help="Run as `digest serve`'s child: each byte read wakes delivery; end of input stops.",
)
@pass_services
def scheduler(lazy: LazyServices, wake_on_stdin: bool) -> None:
    """Run the scheduler alone (fetch, plan, deliver) until SIGTERM or Ctrl-C.

    For deployments that serve `wsgi:app` with gunicorn. Against PostgreSQL several may run;
    only one fetches or plans at a time. Against SQLite run one.
    """
    from digest.scheduler import run_scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    services = lazy.get()
    if wake_on_stdin:
        run_scheduler(services, wake_from=sys.stdin.buffer)
        return
    if services.engine.dialect.name == "sqlite":
        logging.getLogger("digest.scheduler").warning(
            "SQLite: run only one scheduler (or `digest serve`) at a time; "
            "use PostgreSQL for several"
        )
    run_scheduler(services)
