"""CLI command: `digest fetch [SOURCE …]`, one summary line per source."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from digest.cli import LazyServices, main, pass_services
from digest.papers.ingest import fetch_sources


@main.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@pass_services
def fetch(lazy: LazyServices, sources: tuple[str, ...]) -> None:
    """Ingest the configured feeds (DIGEST_FEEDS), or the given URLs and file paths.

    Prints `SOURCE: N new, N updated, N unchanged` per source, or `SOURCE: failed: reason`;
    a failing source stores nothing and the others still ingest. Exit status 1 if any failed.
    """
    services = lazy.get()
    try:
        results = fetch_sources(services, sources or services.settings.feeds)
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is not ready ({exc.orig}); run `digest db upgrade` first"
        ) from exc
    for result in results:
        click.echo(result.line())
    from digest.pipeline import relevance_step

    relevance_step(services)  # SPEC §10: liked papers looked up, new papers embedded
    if any(result.error for result in results):
        raise SystemExit(1)


@main.group()
def papers() -> None:
    """Stored papers."""


@papers.command("embed")
@pass_services
def papers_embed(lazy: LazyServices) -> None:
    """Compute the embeddings of stored papers that have none (SPEC §10); prints `embedded N`."""
    from digest.relevance import embeddings, model

    services = lazy.get()
    if not services.settings.relevance:
        click.echo("embedded 0 (DIGEST_RELEVANCE=off)")
        return
    with services.sessions.begin() as session:
        count = embeddings.embed_missing(session, model.embedder())
    click.echo(f"embedded {count}")
