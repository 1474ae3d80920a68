"""CLI commands: `digest subscribers import|export|list`, bulk management over CSV."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from digest.cli import LazyServices, main, pass_services

STATUSES = ("pending", "confirmed", "suspended", "unsubscribed")


@main.group()
def subscribers() -> None:
    """Bulk subscriber management (CSV columns: email,keywords,frequency,timezone,send_time)."""


@subscribers.command("import")
@click.argument("csv_file", type=click.File("rb"))
@click.option(
    "--confirmed",
    is_flag=True,
    help="The addresses already opted in: no confirmation emails. Without it, each new "
    "address is sent a confirmation link (double opt-in stays).",
)
@pass_services
def import_(lazy: LazyServices, csv_file: BinaryIO, confirmed: bool) -> None:
    """Import or update subscribers from a CSV file (- for standard input).

    Bad rows are named by line number as they are found and skipped; the good rows are kept.
    On a terminal, progress is shown every 10,000 rows. Exits 1 if any row was rejected.
    Importing the same file again changes nothing.
    """
    from digest.db import utcnow
    from digest.subscribers.roster import CsvFormatError, ImportReport, import_csv, text_stream

    def rejected(line: int, reason: str) -> None:
        click.echo(f"line {line}: {reason}", err=True)

    def progress(report: ImportReport) -> None:
        click.echo(f"{report.rows:,} rows read: {report.summary()}", err=True)

    services = lazy.get()
    on_terminal = sys.stderr.isatty()
    try:
        report = import_csv(
            services.sessions, services.settings, text_stream(csv_file), confirmed=confirmed,
            now=utcnow(), on_rejection=rejected, on_progress=progress if on_terminal else None,
        )
    except CsvFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())
    if report.rejected:
        sys.exit(1)


@subscribers.command("export")
@click.option(
    "--status",
    "statuses",
    type=click.Choice(STATUSES),
    multiple=True,
    help="Only these statuses (repeatable). Default: confirmed and suspended.",
)
@click.option("--all", "everyone", is_flag=True, help="Every subscriber, whatever the status.")
@pass_services
def export(lazy: LazyServices, statuses: tuple[str, ...], everyone: bool) -> None:
    """Write subscribers as CSV to standard output, ready for `digest subscribers import`."""
    from digest.subscribers.roster import export_csv

    chosen = None if everyone else (statuses or ("confirmed", "suspended"))
    export_csv(lazy.get().sessions, sys.stdout, chosen)


@subscribers.command("list")
@click.option("--status", "statuses", type=click.Choice(STATUSES), multiple=True)
@pass_services
def list_(lazy: LazyServices, statuses: tuple[str, ...]) -> None:
    """One line per subscriber: address, status, schedule and number of terms."""
    from digest.subscribers.roster import iter_subscribers, printable

    count = 0
    for sub in iter_subscribers(lazy.get().sessions, statuses or None):
        schedule = f"{sub.frequency} {sub.send_time} {sub.timezone}"
        if sub.paused:
            schedule += " (paused)"
        terms = _term_count(sub.keywords)
        fields = (sub.email, sub.status, schedule, f"{terms} terms")
        click.echo("\t".join(printable(field, one_line=True) for field in fields))
        count += 1
    click.echo(f"{count} subscribers", err=True)


def _term_count(keywords: str) -> int | str:
    """How many terms a stored profile has ("?" if it no longer parses)."""
    from digest.matching import KeywordError, parse_profile

    try:
        return len(parse_profile(keywords).terms)
    except KeywordError:
        return "?"
