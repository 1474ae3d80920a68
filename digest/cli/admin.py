"""CLI command: `digest admin password`, which sets the dashboard's password (SPEC §12)."""

from __future__ import annotations

import getpass
import sys

import click

from digest.cli import LazyServices, main, pass_services


@main.group()
def admin() -> None:
    """The operator's dashboard at /admin."""


@admin.command("password")
@pass_services
def admin_password(lazy: LazyServices) -> None:
    """Set the dashboard's password: typed twice at a terminal, else one line of standard input.

    Setting a new password logs every open dashboard session out.
    """
    from digest.db import utcnow
    from digest.operate.password import check_strength, set_password

    password = _read_password()
    try:
        check_strength(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    services = lazy.get()
    with services.sessions.begin() as session:
        set_password(session, password, now=utcnow())
    click.echo("dashboard password set; open /admin to log in")


def _is_terminal() -> bool:
    """True when standard input is a terminal (someone typing), not a pipe or file."""
    return sys.stdin.isatty()


def _read_password() -> str:
    """The new password: from the terminal without echo (twice, to catch typos), or a pipe."""
    if _is_terminal():
        first = getpass.getpass("New dashboard password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise click.ClickException("The two passwords differ; nothing was changed.")
        return first
    # A pipe or file (`digest admin password < file`, a secrets manager): its first line.
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")
