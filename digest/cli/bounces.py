"""CLI command: `digest bounces [FILE|-]` or `--imap URL`: process bounce and complaint messages."""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from digest.cli import LazyServices, main, pass_services
from digest.db import utcnow
from digest.operate.bounces import BounceStats, process
from digest.operate.mailbox import MailboxError, open_mailbox
from digest.services import Services

EX_TEMPFAIL = 75  # sysexits.h

@main.command("bounces")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("--imap", "imap_url", default=None, metavar="URL",
              help="Read (and delete) every message of imaps://user:pass@host/INBOX instead.")
@pass_services
def bounces_command(lazy: LazyServices, source: str, imap_url: str | None) -> None:
    """Process bounces (RFC 3464) and complaints (RFC 5965) sent to DIGEST_BOUNCE_ADDRESS.

    Reads one message from FILE or standard input (an MTA pipe: `|digest bounces`), or every
    message of an IMAP mailbox, deleting each once processed. Prints
    `hard N, soft N, complaints N, ignored N`; exits 1 when the input cannot be read, and 75
    (EX_TEMPFAIL, which makes an MTA retry) when the database cannot be used.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    services = lazy.get()
    if services.settings.bounce_address is None:
        click.echo("warning: DIGEST_BOUNCE_ADDRESS is not set, so no bounce can name its "
                   "message; every one is ignored", err=True)
    stats = BounceStats()
    try:
        if imap_url is not None:
            _from_imap(services, imap_url, stats)
        else:
            stats.count(_one(services, _read(source)))
    except (OperationalError, ProgrammingError) as exc:
        click.echo(f"Error: the database is not ready ({exc.orig}); is it up, and has "
                   "`digest db upgrade` been run?", err=True)
        # EX_TEMPFAIL: an MTA running `|digest bounces` keeps the message and tries again later.
        raise SystemExit(EX_TEMPFAIL) from exc
    except MailboxError as exc:
        click.echo(stats.line())
        raise click.ClickException(str(exc)) from exc
    click.echo(stats.line())


def _read(source: str) -> bytes:
    """The message bytes of FILE, or of standard input for '-'."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc.strerror}") from exc


def _one(services: Services, raw: bytes) -> str:
    """Process one message in its own transaction."""
    try:
        with services.sessions.begin() as session:
            return process(session, services.settings, raw, now=utcnow())
    except IntegrityError:
        return "ignored"  # the same report, processed at this moment by another process


def _from_imap(services: Services, url: str, stats: BounceStats) -> None:
    """Process each message of the mailbox, deleting it once its outcome is committed."""
    with open_mailbox(url) as mailbox:
        for uid, raw in mailbox.messages():
            stats.count(_one(services, raw))
            mailbox.delete(uid)
