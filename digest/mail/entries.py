"""Digest entries: a matched paper as the digest shows it, in plain values.

An entry is the paper's text cleaned to one line, its title and abstract trimmed at a word
boundary, and the terms it matched marked as highlighted segments. It depends only on the paper
and the terms that matched it, never on the reader, so `entry_for` memoizes it: composing 100,000
digests highlights each (paper, matched terms) once, however many subscribers share it.
Rendering the entries into an email is render.py's job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from digest import matching
from digest.matching.matcher import spans
from digest.matching.text import Field

Segments = tuple[tuple[str, bool], ...]

ABSTRACT_MAX_CHARS = 400
ABSTRACT_MAX_WORDS = 60
TITLE_MAX_CHARS = 300
ENTRY_CACHE_SIZE = 20_000
FIELD_CACHE_SIZE = 256
ELLIPSIS = "…"
_DANGLING = " ,;:-([\u2013\u2014"  # not left before the ellipsis (with en and em dashes)


@dataclass(frozen=True)
class DigestEntry:
    """One paper as a digest shows it: plain values, abstract already trimmed."""

    paper_id: int
    title: str
    url: str | None
    pdf_url: str | None
    code_url: str | None
    authors: tuple[str, ...]
    abstract: str
    upvotes: int | None
    published_at: datetime | None
    matched_terms: tuple[str, ...]
    in_title: bool
    title_segments: Segments
    abstract_segments: Segments


class PaperLike(Protocol):
    """What entry_for reads from a paper (models.Paper has it all)."""

    id: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    url: str | None
    pdf_url: str | None
    code_url: str | None
    upvotes: int | None
    published_at: datetime | None
    arxiv_id: str | None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Feed text as one line: control characters dropped, runs of whitespace made one space."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def safe_url(value: str | None) -> str | None:
    """An http(s) URL from a feed, or None: a `javascript:` link must never reach an href."""
    value = (value or "").strip()
    return value if value.lower().startswith(("https://", "http://")) and " " not in value else None


@dataclass(frozen=True)
class PaperValues:
    """The values of a paper an entry is made of: hashable, so entries can be memoized."""

    id: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    url: str | None
    pdf_url: str | None
    code_url: str | None
    upvotes: int | None
    published_at: datetime | None
    arxiv_id: str | None


def entry_for(paper: PaperLike, match: matching.Match, profile: matching.Profile) -> DigestEntry:
    """The digest entry of a matched paper: cleaned text, trimmed abstract, highlighted terms.

    Only the terms that matched the paper are highlighted, so an entry depends on the paper and
    its match alone, and is memoized on them. What depends on the paper alone (its cleaned,
    word-split text, where it is trimmed) and each term's marks in it are computed once per
    paper and term, however many combinations of terms readers' profiles match it with.
    """
    return entry_of(paper_values(paper), match, profile)


def paper_values(paper: PaperLike) -> PaperValues:
    """The values of `paper` an entry is made of (a caller making many entries of one paper,
    as composing does, keeps these instead of reading the paper again each time)."""
    return PaperValues(
        id=paper.id,
        title=paper.title,
        abstract=paper.abstract or "",
        authors=tuple(paper.authors or ()),
        url=paper.url,
        pdf_url=paper.pdf_url,
        code_url=paper.code_url,
        upvotes=paper.upvotes,
        published_at=paper.published_at,
        arxiv_id=paper.arxiv_id,
    )


def entry_of(values: PaperValues, match: matching.Match, profile: matching.Profile) -> DigestEntry:
    """entry_for, from the paper's values."""
    terms = tuple(term for term in profile.positives if term.text in match.terms)
    return _entry(values, match, terms)


@dataclass
class _PaperText:
    """A paper's cleaned text, prepared for highlighting, and the marks each term makes in it."""

    title: str
    abstract: str
    cuts: dict[str, int | None]
    marks: dict[tuple[matching.Term, str], list[tuple[int, int]]]


@lru_cache(maxsize=ENTRY_CACHE_SIZE)
def _paper_text(paper: PaperValues) -> _PaperText:
    title, abstract = clean_text(paper.title), clean_text(paper.abstract)
    return _PaperText(
        title=title,
        abstract=abstract,
        cuts={
            "title": _cut_point(title, TITLE_MAX_CHARS, 10**4),
            "abstract": _cut_point(abstract, ABSTRACT_MAX_CHARS, ABSTRACT_MAX_WORDS),
        },
        marks={},
    )


@lru_cache(maxsize=FIELD_CACHE_SIZE)
def _field(text: str) -> Field:
    """A text's words, prepared for finding a term's marks. Kept only for a few papers: a
    prepared abstract is some 20 KB, and each term's marks are kept once found (`_marks`)."""
    return Field.of(text)


def _marks(text: _PaperText, term: matching.Term, field: str) -> list[tuple[int, int]]:
    """The character ranges `term` marks in one field (as matching.highlight marks them)."""
    key = (term, field)
    found = text.marks.get(key)
    if found is None:
        prepared = _field(text.title if field == "title" else text.abstract)
        found = [
            prepared.char_range(i, j)
            for part in term.parts
            if part.atom.kind in ("phrase", "prefix") and part.scope in ("any", field)
            for i, j in spans(part.atom, prepared)
        ]
        text.marks[key] = found
    return found


def _highlighted(
    text: _PaperText, terms: tuple[matching.Term, ...], field: str
) -> list[tuple[str, bool]]:
    """The field cut into segments, True where one of `terms` marks it (matching.highlight)."""
    value = text.title if field == "title" else text.abstract
    marked = sorted(mark for term in terms for mark in _marks(text, term, field))
    segments: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in marked:
        if end <= cursor:
            continue
        start = max(start, cursor)
        if start > cursor:
            segments.append((value[cursor:start], False))
        if segments and segments[-1][1] and start == cursor:
            segments[-1] = (segments[-1][0] + value[start:end], True)
        else:
            segments.append((value[start:end], True))
        cursor = end
    if cursor < len(value):
        segments.append((value[cursor:], False))
    return segments


@lru_cache(maxsize=ENTRY_CACHE_SIZE)
def _entry(
    paper: PaperValues, match: matching.Match, terms: tuple[matching.Term, ...]
) -> DigestEntry:
    """entry_for's work, memoized (everything it reads is in its hashable arguments)."""
    text = _paper_text(paper)
    title_segments = _trimmed(_highlighted(text, terms, "title"), text.cuts["title"])
    abstract_segments = _trimmed(_highlighted(text, terms, "abstract"), text.cuts["abstract"])
    arxiv_page = f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else None
    return DigestEntry(
        paper_id=paper.id,
        title="".join(text for text, _ in title_segments),
        url=safe_url(paper.url) or arxiv_page,
        pdf_url=safe_url(paper.pdf_url),
        code_url=safe_url(paper.code_url),
        authors=tuple(name for name in map(clean_text, paper.authors) if name),
        abstract="".join(text for text, _ in abstract_segments),
        upvotes=paper.upvotes,
        published_at=paper.published_at,
        matched_terms=tuple(match.terms),
        in_title=match.in_title,
        title_segments=title_segments,
        abstract_segments=abstract_segments,
    )


def trim_segments(segments: Sequence[tuple[str, bool]], max_chars: int, max_words: int) -> Segments:
    """Cut highlighted text at a word boundary within both limits, ending it with '…'."""
    text = "".join(part for part, _ in segments)
    return _trimmed(segments, _cut_point(text, max_chars, max_words))


def _trimmed(segments: Sequence[tuple[str, bool]], cut: int | None) -> Segments:
    """The segments cut at `cut` (None: whole), ending with '…' when cut."""
    kept: list[tuple[str, bool]] = []
    position = 0
    for part, hit in segments:
        if cut is not None:
            part = part[: max(0, cut - position)]
        position += len(part)
        if part:
            kept.append((part, hit))
    if cut is not None:
        while kept and not kept[-1][0].rstrip(_DANGLING):
            kept.pop()
        if kept:
            kept[-1] = (kept[-1][0].rstrip(_DANGLING), kept[-1][1])
        kept.append((ELLIPSIS, False))
    return _merged(kept)


def _cut_point(text: str, max_chars: int, max_words: int) -> int | None:
    """Where to cut `text` (None when it fits): the last word boundary within both limits."""
    words = list(re.finditer(r"\S+", text))
    if len(text) <= max_chars and len(words) <= max_words:
        return None
    limit = min(max_chars, words[max_words - 1].end() if len(words) > max_words else len(text))
    boundary = text.rfind(" ", 0, limit + 1)
    return boundary if boundary > 0 else limit


def _merged(segments: Sequence[tuple[str, bool]]) -> Segments:
    """Adjacent segments with the same flag joined, empty ones dropped.

    Spaces between two highlights are highlighted too: one mark reads better than a run of
    marks, and keeps a heavily matched abstract small.
    """
    segments = [pair for pair in segments if pair[0]]
    out: list[tuple[str, bool]] = []
    for i, (part, hit) in enumerate(segments):
        if not hit and not part.strip() and 0 < i < len(segments) - 1:
            hit = segments[i - 1][1] and segments[i + 1][1]
        if out and out[-1][1] == hit:
            out[-1] = (out[-1][0] + part, hit)
        else:
            out.append((part, hit))
    return tuple(out)


def rank_entries(entries: Sequence[DigestEntry]) -> list[DigestEntry]:
    """Entries in digest order (matching.rank_key: title matches, more terms, upvotes, newest)."""

    def key(entry: DigestEntry) -> tuple[Any, ...]:  # sorted() is stable: ties keep input order
        match = matching.Match(terms=entry.matched_terms, in_title=entry.in_title)
        return matching.rank_key(match, entry.upvotes, entry.published_at)

    return sorted(entries, key=key)


def match_papers(papers: Sequence[PaperLike], profile: matching.Profile) -> list[DigestEntry]:
    """Every paper the profile matches, as ranked entries (preview and the digest web page)."""
    entries = []
    for paper in papers:
        document = matching.make_document(
            paper.title, paper.abstract, paper.authors, paper.categories
        )
        found = matching.match(profile, document)
        if found is not None:
            entries.append(entry_for(paper, found, profile))
    return rank_entries(entries)
