"""The `digest` command: one group, with each command family in its own module."""

from __future__ import annotations

import click

from digest.config import ConfigError, load_settings
from digest.services import Services, build_services


class LazyServices:
    """Builds Settings and Services on first use, so `digest --help` needs no valid config."""

    def __init__(self) -> None:
        self._services: Services | None = None

    def get(self) -> Services:
        if self._services is None:
            try:
                settings = load_settings()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from exc
            self._services = build_services(settings)
        return self._services


pass_services = click.make_pass_decorator(LazyServices, ensure=True)


@click.group()
@click.version_option(package_name="digest")
def main() -> None:
    """digest: emails researchers the new papers that match their interests."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_services
def db_upgrade(lazy: LazyServices, revision: str) -> None:
    """Apply migrations; safe to run again."""
    from sqlalchemy.exc import OperationalError

    from digest.db import upgrade

    services = lazy.get()
    try:
        upgrade(services.settings.database_url, revision)
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the database at DIGEST_DATABASE_URL: {exc.orig}"
        ) from exc
    click.echo("database is up to date")


def _register() -> None:
    """Attach the command modules; each adds its commands to `main`."""
    from digest.cli import (  # noqa: F401
        admin,
        bounces,
        deliver,
        doctor,
        fetch,
        preview,
        send,
        subscribers,
        web,
    )


_register()
