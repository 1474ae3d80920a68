"""CLI commands: preview — what a keyword profile would bring, shown through the email templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
@click.option("--like", "likes", multiple=True, metavar="ID", help="An arXiv id you like (§10).")
@click.option(
    "--dislike", "dislikes", multiple=True, metavar="ID", help="An arXiv id you'd rate down."
)
@pass_services
def preview(
    lazy: LazyServices,
    keywords: str,
    fmt: str,
    days: int,
    likes: tuple[str, ...] = (),
    dislikes: tuple[str, ...] = (),
) -> None:
    """Print every stored paper of the last N days that KEYWORDS match, ranked, uncapped.

    The papers are shown as the digest email's text or HTML part would show them (the same
    templates), with a preview footer instead of the subscriber's links. Nothing is sent.
    """
    from digest.compose.digests import digest_parts
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
        parts = None
        if (likes or dislikes) and services.settings.relevance and entries:
            parts = _parts(session, papers, entries, profile, likes, dislikes)
    if not entries:
        click.echo(f"no stored paper of the last {_days(days)} matches these keywords")
        return
    email = Renderer(services.settings).digest(
        entries, total=len(parts.ordered()) if parts else len(entries), day=now.date(),
        keywords=keywords, links=None,
        parts=digest_parts(parts, profile, len(entries), None) if parts else None,
    )  # fmt: skip
    click.echo(email.text if fmt == "text" else email.html, nl=False)


def _parts(session: Any, papers: Any, entries: Any, profile: Any, likes: Any, dislikes: Any) -> Any:
    """The digest's §10 parts for a reader who liked `likes` and rated down `dislikes`."""
    from sqlalchemy import select

    from digest import matching
    from digest.models import Paper
    from digest.relevance import model, score
    from digest.relevance.arrange import ReaderState, Relevance
    from digest.subscribers.validation import clean_paper_ids

    try:
        liked_ids, disliked_ids = (
            clean_paper_ids(", ".join(likes)),
            clean_paper_ids(", ".join(dislikes)),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--like' / '--dislike'") from exc
    named = {
        p.arxiv_id: p
        for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(liked_ids + disliked_ids)))
    }
    for arxiv_id in liked_ids + disliked_ids:
        if arxiv_id not in named:
            raise click.BadParameter(
                f"{arxiv_id} is not a stored paper", param_hint="'--like' / '--dislike'"
            )
    embedder = model.embedder()
    relevance = Relevance(enabled=True, model=embedder.name)
    every = {p.id: p for p in [*papers, *named.values()]}
    vectors = embedder.embed([model.paper_text(p.title, p.abstract) for p in every.values()])
    relevance.remember(dict(zip(every, vectors, strict=True)))  # preview: nothing is stored
    liked = [named[a] for a in liked_ids]
    disliked = [named[a] for a in disliked_ids]
    reader = score.Reader(
        tuple(p.id for p in liked), relevance.matrix(session, liked),
        tuple(p.id for p in disliked), relevance.matrix(session, disliked),
    )  # fmt: skip
    by_id = {p.id: p for p in papers}
    matched = [(by_id[e.paper_id], matching.Match(e.matched_terms, e.in_title)) for e in entries]
    state = ReaderState(reader, {p.id: p.title for p in liked})
    window = relevance.window(session, {p.id: (p, None) for p in papers}, ANY_START, utcnow())
    return relevance.arrange(session, state, matched, window, profile)


ANY_START = datetime(1970, 1, 1, tzinfo=UTC)


def _days(days: int) -> str:
    """'day' or 'N days'."""
    return "day" if days == 1 else f"{days} days"
