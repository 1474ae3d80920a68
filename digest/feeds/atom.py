"""Atom: arXiv API answers (legacy and current), arXiv's Atom daily feed, any Atom feed."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from digest.feeds.common import (
    ANNOUNCE,
    FeedError,
    PaperIn,
    arxiv_categories,
    build_paper,
    first_arxiv_id,
    parse_date,
)
from digest.feeds.text import (
    html_paragraphs,
    one_line,
    plain_text,
    split_authors,
    title_text,
)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


def parse_atom(root: Element) -> tuple[str, list[PaperIn]]:
    """Every <entry> of an Atom feed; an arXiv API error entry raises FeedError instead."""
    error = arxiv_api_error(root)
    if error is not None:
        raise FeedError(f'the arXiv API answered with an error: "{error}"')
    feed_id = root.findtext(f"{ATOM}id") or ""
    entries = root.findall(f"{ATOM}entry")
    if "arxiv.org/api" in feed_id or root.find(f"{OPENSEARCH}totalResults") is not None:
        kind = "arxiv-api"
    elif any(entry.find(f"{ARXIV}announce_type") is not None for entry in entries):
        kind = "arxiv-atom"
    else:
        kind = "atom"
    papers = [_entry(entry, daily_feed=kind == "arxiv-atom") for entry in entries]
    return kind, [paper for paper in papers if paper is not None]


def arxiv_api_error(root: Element) -> str | None:
    """The message of the arXiv API's error entry (id …/api/errors#…), if the feed is one."""
    for entry in root.findall(f"{ATOM}entry"):
        if "arxiv.org/api/errors" in (entry.findtext(f"{ATOM}id") or ""):
            return one_line(entry.findtext(f"{ATOM}summary")) or "unknown error"
    return None


def _entry(entry: Element, *, daily_feed: bool) -> PaperIn | None:
    entry_id = (entry.findtext(f"{ATOM}id") or "").strip() or None
    link = _alternate_link(entry)
    summary = entry.find(f"{ATOM}summary")
    if summary is None:
        summary = entry.find(f"{ATOM}content")
    abstract = _text(summary)
    announce = ANNOUNCE.match(abstract)
    announce_type = (entry.findtext(f"{ARXIV}announce_type") or "").strip() or None
    if announce:
        abstract = abstract[announce.end() :]
        announce_type = announce_type or announce["type"]
    found = first_arxiv_id(entry_id, announce["id"] if announce else None, link)
    return build_paper(
        found=found,
        fallback_keys=(link, entry_id),
        link=link,
        title=title_text(_text(entry.find(f"{ATOM}title"))),
        abstract=abstract,
        authors=_authors(entry),
        categories=_categories(entry),
        published=parse_date(entry.findtext(f"{ATOM}published")),
        # arXiv's daily Atom feed stamps every entry with the feed's build time: not a revision.
        updated=None if daily_feed else parse_date(entry.findtext(f"{ATOM}updated")),
        announce_type=announce_type,
    )


def _text(element: Element | None) -> str:
    """An Atom text construct (type text, html or xhtml) as plain text with paragraphs."""
    if element is None:
        return ""
    kind = element.get("type", "text")
    if kind == "xhtml":
        return one_line("".join(element.itertext()))
    if kind == "html":
        return "\n\n".join(html_paragraphs(element.text or ""))
    return plain_text(element.text)


def _alternate_link(entry: Element) -> str | None:
    """The entry's page: the rel=alternate link (or a link without rel)."""
    for link in entry.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def _authors(entry: Element) -> tuple[str, ...]:
    names = [one_line(author.findtext(f"{ATOM}name")) for author in entry.findall(f"{ATOM}author")]
    for creator in entry.findall(f"{DC}creator"):
        names.extend(split_authors(creator.text))
    return tuple(name for name in names if name)


def _categories(entry: Element) -> tuple[str, ...]:
    """arXiv categories, the primary one first."""
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms.extend(category.get("term", "") for category in entry.findall(f"{ATOM}category"))
    return arxiv_categories(terms)
