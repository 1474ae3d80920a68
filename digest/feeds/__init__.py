"""Feeds: read every supported feed format into PaperIn values (fetching lives in feeds.fetch).

The kind is detected from the content: Hugging Face Daily Papers JSON, arXiv RSS 2.0, the old
arXiv RSS 1.0/RDF feed, arXiv API and arXiv Atom-feed answers, and any other RSS 2.0 or Atom feed.
"""

from __future__ import annotations

import json
import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from digest.feeds.atom import ATOM, arxiv_api_error, parse_atom
from digest.feeds.common import FeedError, PaperIn
from digest.feeds.hf import parse_hf
from digest.feeds.rss import RDF, parse_rdf, parse_rss2

__all__ = ["FeedError", "PaperIn", "api_error_message", "parse_feed", "parse_feed_kind"]

# UTF-16 by its byte order mark, or by "<" (XML 1.0 appendix F) or "[" "{" (JSON) without one.
_UTF16 = re.compile(rb"\xff\xfe|\xfe\xff|[<\[{]\x00|\x00[<\[{]")
_HTML_PAGE = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!DOCTYPE\s+html|html[\s>]|head[\s>]|body[\s>])",
    re.IGNORECASE | re.DOTALL,
)


def parse_feed(content: bytes, source: str) -> list[PaperIn]:
    """The papers in a feed of any supported kind; raises FeedError naming what is wrong."""
    return parse_feed_kind(content, source)[1]


def parse_feed_kind(content: bytes, source: str) -> tuple[str, list[PaperIn]]:
    """(kind, papers): hf-json, arxiv-rss, arxiv-rdf, arxiv-api, arxiv-atom, rss, rdf or atom."""
    body = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _UTF16.match(content):
        # Sniff the kind from the start as UTF-8, but give the parsers the document as it came.
        codec = "utf-16-be" if content[:1] in (b"\xfe", b"\x00") else "utf-16-le"
        body = content[:4096].decode(codec, "ignore").lstrip("\ufeff \t\r\n").encode()
        content = content if body else b""
    else:
        content = body
    if not body:
        raise FeedError("not a feed: the response is empty")
    if body[:1] in (b"[", b"{"):
        return parse_hf(_json(content))
    if _HTML_PAGE.match(body):
        raise FeedError("not a feed: the response is an HTML page")
    if not body.startswith(b"<"):
        raise FeedError("not a feed: the response is neither XML nor JSON")
    root = _xml(content)
    if root.tag == "rss":
        return parse_rss2(root)
    if root.tag == f"{ATOM}feed":
        return parse_atom(root)
    if root.tag == f"{RDF}RDF":
        return parse_rdf(root)
    if root.tag.rpartition("}")[2].lower() == "html":
        raise FeedError("not a feed: the response is an HTML page")
    raise FeedError(
        f"not a feed: the XML document is <{root.tag}>, not RSS (<rss>, <rdf:RDF>) or Atom (<feed>)"
    )


def api_error_message(content: bytes) -> str | None:
    """The arXiv API's own error message in an error answer's body (HTTP 400), if there is one."""
    try:
        root = _xml(content.lstrip())
    except FeedError:
        return None
    return arxiv_api_error(root) if root.tag == f"{ATOM}feed" else None


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise FeedError(f"malformed JSON{where}: {reason}") from None


def _xml(body: bytes) -> Element:
    """Parse strictly: a truncated or broken document is an error, never half a feed.

    defusedxml refuses entity declarations as the parser meets them, whatever the document's
    encoding (a byte search for `<!ENTITY` misses UTF-16), so neither billion laughs nor an
    external entity is ever expanded; a plain DOCTYPE is still read.
    """
    parser = DefusedXMLParser()
    try:
        parser.feed(body)
        return parser.close()
    except DefusedXmlException:
        raise FeedError("the feed declares XML entities, which digest refuses") from None
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(": line ")[0]
        raise FeedError(f"malformed XML at line {line}, column {column}: {reason}") from None
