"""CLI commands: preview — what a keyword profile would bring, shown through the email templates."""

from __future__ import annotations

from datetime import timedelta

import click

from digest.cli import LazyServices, main, pass_services
from digest.db import utcnow


@main.command()
@click.option("--keywords", required=True, help="The keyword profile, as typed in the form.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html"]),
    default="text",
    show_default=True,
    help="Which part of the email to print: text reads well in a terminal, html for a browser.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Look at papers first seen in the last N days.",
)
@pass_services
def preview(lazy: LazyServices, keywords: str, fmt: str, days: int) -> None:
    """Print every stored paper of the last N days that KEYWORDS match, ranked, uncapped.

    The papers are shown as the digest email's text or HTML part would show them (the same
    templates), with a preview footer instead of the subscriber's links. Nothing is sent.
    """
    from digest.mail.render import Renderer, match_papers
    from digest.matching import KeywordError, parse_profile
    from digest.papers.store import papers_first_seen_since

    try:
        profile = parse_profile(keywords)
    except KeywordError as exc:
        raise click.BadParameter(str(exc), param_hint="'--keywords'") from exc
    services = lazy.get()
    now = utcnow()
    with services.sessions() as session:
        papers = papers_first_seen_since(session, now - timedelta(days=days))
        entries = match_papers(papers, profile)
    if not entries:
        click.echo(f"no stored paper of the last {_days(days)} matches these keywords")
        return
    email = Renderer(services.settings).digest(
        entries, total=len(entries), day=now.date(), keywords=keywords, links=None
    )
    click.echo(email.text if fmt == "text" else email.html, nl=False)


def _days(days: int) -> str:
    """'day' or 'N days'."""
    return "day" if days == 1 else f"{days} days"
