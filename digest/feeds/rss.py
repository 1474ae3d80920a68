"""RSS 2.0 (arXiv's daily feed, third-party HF feeds, any blog) and RSS 1.0/RDF (old arXiv)."""

from __future__ import annotations

import re
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
    looks_like_html,
    plain_text,
    split_authors,
    title_text,
)

ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"

# "Title. (arXiv:1703.10593v5 [cs.CV] UPDATED)" in the old RDF feed.
_RDF_SUFFIX = re.compile(
    r"\s*\(arXiv:(?P<id>[^\s\[\]()]+)\s*\[(?P<category>[^\]]+)\](?P<updated>\s*UPDATED)?\)\s*$"
)
# (UPDATED in the title, primary category outside the feed's own) → announce type.
_RDF_ANNOUNCE_TYPES = {
    (False, False): "new",
    (False, True): "cross",
    (True, False): "replace",
    (True, True): "replace-cross",
}
_LABEL = re.compile(r"^(?P<label>Authors?|Upvotes|Summary|Abstract)\s*:\s*(?P<value>.*)$", re.I)
_LABELS = {
    "author": "authors",
    "authors": "authors",
    "upvotes": "upvotes",
    "summary": "summary",
    "abstract": "summary",
}
_FEED_CATEGORIES = re.compile(r"^(?P<cats>.+?) updates on arXiv\.org", re.IGNORECASE)


def parse_rss2(root: Element) -> tuple[str, list[PaperIn]]:
    """Every <item> of an RSS 2.0 channel; the kind is "arxiv-rss" for arXiv's own feed."""
    channel = root.find("channel")
    if channel is None:
        raise FeedError("not a feed: the RSS document has no <channel> element")
    items = channel.findall("item")
    papers = [paper for paper in map(_rss2_item, items) if paper is not None]
    from_arxiv = "arxiv.org" in (channel.findtext("link") or "") or any(
        item.find(f"{ARXIV}announce_type") is not None for item in items
    )
    return ("arxiv-rss" if from_arxiv else "rss"), papers


def _rss2_item(item: Element) -> PaperIn | None:
    link = (item.findtext("link") or "").strip() or None
    guid = (item.findtext("guid") or "").strip() or None
    description = item.findtext("description") or item.findtext(f"{CONTENT}encoded") or ""
    announce = ANNOUNCE.match(description)
    announce_type = (item.findtext(f"{ARXIV}announce_type") or "").strip() or None
    if announce:
        description = description[announce.end() :]
        announce_type = announce_type or announce["type"]
    found = first_arxiv_id(guid, announce["id"] if announce else None, link)
    # arXiv's own feed and Takara's CDATA carry plain text (with bare & and <), never HTML.
    is_html = False if (announce_type or (found and not looks_like_html(description))) else None
    abstract, labelled = _description(description, is_html)
    authors = _creators(item) or split_authors(labelled.get("authors"))
    return build_paper(
        found=found,
        fallback_keys=(link, guid),
        link=link,
        title=title_text(item.findtext("title"), is_html=is_html),
        abstract=abstract,
        authors=authors,
        categories=arxiv_categories([c.text or "" for c in item.findall("category")]),
        upvotes=_int(labelled.get("upvotes")),
        published=parse_date(item.findtext("pubDate") or item.findtext(f"{DC}date")),
        announce_type=announce_type,
    )


def _description(raw: str, is_html: bool | None) -> tuple[str, dict[str, str]]:
    """The abstract, plus "Authors:"/"Upvotes:"/"Summary:" paragraphs scraped from HTML."""
    if is_html is False or (is_html is None and not looks_like_html(raw)):
        return plain_text(raw), {}
    labelled: dict[str, str] = {}
    rest: list[str] = []
    for paragraph in html_paragraphs(raw):
        found = _LABEL.match(paragraph)
        if found:
            labelled[_LABELS[found["label"].lower()]] = found["value"]
        else:
            rest.append(paragraph)
    return labelled.get("summary") or "\n\n".join(rest), labelled


def _creators(item: Element) -> tuple[str, ...]:
    """Authors from one or more dc:creator elements, each possibly a comma-separated list."""
    names: list[str] = []
    for creator in item.findall(f"{DC}creator"):
        text = creator.text or ""
        if looks_like_html(text):  # the old RDF feed: escaped <a href=…>Name</a> anchors
            text = " ".join(html_paragraphs(text))
        names.extend(split_authors(text))
    return tuple(names)


def parse_rdf(root: Element) -> tuple[str, list[PaperIn]]:
    """Every item of an RSS 1.0 (RDF) feed, as arXiv published them before 2024."""
    channel = root.find(f"{RSS1}channel")
    channel_title = channel.findtext(f"{RSS1}title") if channel is not None else None
    channel_date = channel.findtext(f"{DC}date") if channel is not None else None
    feed_cats = _FEED_CATEGORIES.match(channel_title or "")
    own = {c.strip() for c in feed_cats["cats"].split(",")} if feed_cats else set()
    papers = [_rdf_item(item, own, channel_date) for item in root.findall(f"{RSS1}item")]
    kind = "arxiv-rdf" if feed_cats else "rdf"
    return kind, [paper for paper in papers if paper is not None]


def _rdf_item(item: Element, own: set[str], channel_date: str | None) -> PaperIn | None:
    title = title_text(item.findtext(f"{RSS1}title"))
    link = (item.findtext(f"{RSS1}link") or "").strip() or item.get(f"{RDF}about")
    suffix = _RDF_SUFFIX.search(title)
    categories: tuple[str, ...] = ()
    announce_type = None
    found = first_arxiv_id(link)
    if suffix:
        title = _drop_final_period(title[: suffix.start()])
        found = first_arxiv_id(f"arXiv:{suffix['id']}", link)
        categories = arxiv_categories([suffix["category"]])
        foreign = bool(own) and not {suffix["category"], suffix["category"].split(".")[0]} & own
        announce_type = _RDF_ANNOUNCE_TYPES[bool(suffix["updated"]), foreign]
    return build_paper(
        found=found,
        fallback_keys=(link,),
        link=link,
        title=title,
        abstract=plain_text(item.findtext(f"{RSS1}description"), is_html=None),
        authors=_creators(item),
        categories=categories,
        upvotes=None,
        published=parse_date(item.findtext(f"{DC}date") or channel_date),
        announce_type=announce_type,
    )


def _drop_final_period(title: str) -> str:
    """The old feed added ". " before its suffix; an ellipsis or "et al." stays."""
    title = title.rstrip()
    if title.endswith(".") and not title.endswith("..") and not title.endswith(" al."):
        return title[:-1]
    return title


def _int(value: str | None) -> int | None:
    """A whole number scraped from text ("52", "1,204"), or None."""
    digits = (value or "").replace(",", "").strip()
    return int(digits) if digits.isdigit() else None
