"""CLI command: `digest doctor [--dns HOST[:PORT]]`: deliverability and configuration checks."""

from __future__ import annotations

import click

from digest.cli import LazyServices, main, pass_services
from digest.db import utcnow


@main.command("doctor")
@click.option("--dns", "dns_server", default=None, metavar="HOST[:PORT]",
              help="Ask this DNS resolver instead of the system's.")
@pass_services
def doctor_command(lazy: LazyServices, dns_server: str | None) -> None:
    """Check what makes mail arrive: SMTP, DKIM, SPF, DMARC, https links, digest size, feeds.

    One line per check, `ok`, `warn` or `fail` with what to do; exit status 1 if any failed.
    """
    from digest.operate.dnschecks import make_resolver
    from digest.operate.doctor import run_checks

    services = lazy.get()
    try:
        resolver = make_resolver(dns_server)
    except ValueError as exc:
        raise click.BadParameter(f"{dns_server!r} is not an IP address with an optional :PORT",
                                 param_hint="'--dns'") from exc
    checks = run_checks(services.settings, resolver, now=utcnow(),
                        echo=lambda check: click.echo(check.line()))
    if any(check.level == "fail" for check in checks):
        raise SystemExit(1)
