"""Atom 1.0 (RFC 4287) documents from plain values: the writer behind the personal feed.

Written with xml.etree.ElementTree, which escapes every text and attribute: nothing from a feed
can become markup. Characters XML 1.0 forbids (control characters, lone surrogates) are dropped
first, since ElementTree would write them and make the document unreadable. Namespaces are
written as plain `xmlns` attributes, so the Atom namespace is the default one (no `ns0:`
prefixes) and an entry's XHTML content carries its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

ATOM_NS = "http://www.w3.org/2005/Atom"
XHTML_NS = "http://www.w3.org/1999/xhtml"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Link:
    """An atom:link: where it points and how it relates to its entry or feed."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Entry:
    """One atom:entry: `summary` is a short text, `content` the full one, shown (as XHTML)
    after `reason` and the authors and before the titled `links`."""

    id: str
    title: str
    updated: datetime
    published: datetime
    authors: Sequence[str]
    summary: str
    content: str
    reason: str
    links: Sequence[Link] = ()
    categories: Sequence[str] = ()


@dataclass(frozen=True)
class Feed:
    """One atom:feed; `author` names the feed's author, so every entry has one (RFC 4287 4.1.1)."""

    id: str
    title: str
    subtitle: str
    updated: datetime
    author: str
    links: Sequence[Link]
    entries: Sequence[Entry] = field(default_factory=tuple)


def xml_text(value: str | None) -> str:
    """Text XML 1.0 can hold: characters it forbids are dropped."""
    if not value:
        return ""
    # Printable text (the common case, checked in C) holds no character XML forbids.
    return value if value.isprintable() else _NOT_XML.sub("", value)


def timestamp(value: datetime) -> str:
    """An RFC 3339 date-time in UTC, as Atom wants it: 2026-06-02T07:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(
    parent: ET.Element, tag: str, text: str | None = None, attrib: dict[str, str] | None = None
) -> ET.Element:
    """A child element with cleaned text; `attrib` values must be cleaned (xml_text) already."""
    element = ET.SubElement(parent, tag, attrib or {})
    if text is not None:
        element.text = xml_text(text)
    return element


def _link(parent: ET.Element, link: Link) -> None:
    attrib = {"href": xml_text(link.href), "rel": link.rel}
    if link.type:
        attrib["type"] = link.type
    if link.title:
        attrib["title"] = xml_text(link.title)
    ET.SubElement(parent, "link", attrib)


def _content(parent: ET.Element, entry: Entry) -> None:
    """The entry as a reader shows it: why it is here, authors, abstract, then its links."""
    content = ET.SubElement(parent, "content", type="xhtml")
    div = ET.SubElement(content, "div", xmlns=XHTML_NS)
    _add(ET.SubElement(div, "p"), "em", entry.reason)
    if entry.authors:
        _add(div, "p", ", ".join(entry.authors))
    if entry.content:
        _add(div, "p", entry.content)
    shown = [link for link in entry.links if link.title]
    if shown:
        line = ET.SubElement(div, "p")
        for position, link in enumerate(shown):
            anchor = _add(line, "a", link.title, {"href": xml_text(link.href)})
            if position < len(shown) - 1:
                anchor.tail = " · "


def _entry(parent: ET.Element, entry: Entry) -> None:
    element = ET.SubElement(parent, "entry")
    _add(element, "id", entry.id)
    _add(element, "title", entry.title, {"type": "text"})
    ET.SubElement(element, "updated").text = timestamp(entry.updated)
    ET.SubElement(element, "published").text = timestamp(entry.published)
    for name in entry.authors:
        _add(ET.SubElement(element, "author"), "name", name)
    for link in entry.links:
        _link(element, link)
    for term in entry.categories:
        ET.SubElement(element, "category", term=xml_text(term))
    _add(element, "summary", entry.summary, {"type": "text"})
    _content(element, entry)


def document(feed: Feed) -> bytes:
    """The feed as a UTF-8 Atom document."""
    root = ET.Element("feed", xmlns=ATOM_NS)
    _add(root, "id", feed.id)
    _add(root, "title", feed.title, {"type": "text"})
    _add(root, "subtitle", feed.subtitle, {"type": "text"})
    ET.SubElement(root, "updated").text = timestamp(feed.updated)
    _add(ET.SubElement(root, "author"), "name", feed.author)
    for link in feed.links:
        _link(root, link)
    for entry in feed.entries:
        _entry(root, entry)
    # Serialized to str, then encoded once: ElementTree's byte output encodes each of its
    # tens of thousands of small writes separately, which took most of the time.
    return XML_DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8")
