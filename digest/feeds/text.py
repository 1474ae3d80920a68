"""Feed text to plain text: hard wraps joined, paragraphs kept, HTML stripped, entities decoded."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|a|b|i|em|strong|img|ul|ol|li|h[1-6]|table|tr|td|sup|sub|code|pre|"
    r"blockquote|hr|figure|font)\b[^<>]*>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# A newline followed by indentation (arXiv's "\n  ") or by a blank line starts a paragraph.
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]+|[ \t]*\n\s*)")


def looks_like_html(text: str) -> bool:
    """True when the text carries common HTML tags (generic feeds mix plain text and HTML)."""
    return _HTML_TAG.search(text) is not None


def decode_entities(text: str) -> str:
    """Decode `&amp;`-style entities that end in `;`, leaving a bare `&` (as in R&D) alone."""
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def one_line(text: str | None) -> str:
    """Whitespace (hard wraps included) collapsed into single spaces."""
    return " ".join((text or "").split())


def unwrap(text: str | None) -> str:
    """Plain text with hard wraps joined; paragraphs separated by one blank line."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = (one_line(part) for part in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, one paragraph per block element."""

    BLOCKS = frozenset({
        "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
        "blockquote", "pre", "hr",
    })  # fmt: skip
    SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.close_paragraph()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BLOCKS:
            self.close_paragraph()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._current.append(data)

    def close_paragraph(self) -> None:
        text = one_line("".join(self._current))
        if text:
            self.paragraphs.append(text)
        self._current = []


def html_paragraphs(fragment: str) -> list[str]:
    """The paragraphs of plain text in an HTML fragment, entities decoded, tags dropped."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    extractor.close_paragraph()
    return extractor.paragraphs


def plain_text(raw: str | None, *, is_html: bool | None = False) -> str:
    """Abstract-style text: HTML turned into paragraphs, or plain text unwrapped and decoded.

    `is_html=None` guesses from the content, for generic feeds that may carry either.
    """
    raw = raw or ""
    if is_html is None:
        is_html = looks_like_html(raw)
    if is_html:
        return "\n\n".join(html_paragraphs(raw))
    return unwrap(decode_entities(raw))


def title_text(raw: str | None, *, is_html: bool | None = False) -> str:
    """A title on one line, as plain text."""
    return one_line(plain_text(raw, is_html=is_html))


def split_authors(raw: str | None) -> tuple[str, ...]:
    """Comma-separated names (arXiv's dc:creator) as a tuple, extra spaces dropped."""
    names = (one_line(part) for part in (raw or "").split(","))
    return tuple(name for name in names if name)
