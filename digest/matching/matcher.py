"""Matching one profile against one paper, the digest order, and highlighting matched words.

A phrase is found where some consecutive words of one field, each normalised and joined, or
joined as written and then normalised as one word, give one of the term's two keys (see
`language._text_atom`): that is how `pre-training`, `pre training` and `pretraining` meet,
plurals included. A prefix is found where the field's words from some word on, joined
(normalised or as written), start with one of the prefix keys.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from digest.matching.language import Atom, Part, Profile, Term
from digest.matching.text import Document, Field, Joined, preimages

TITLE, ABSTRACT, OTHER = 1, 2, 4
SCOPE_MASK = {
    "any": TITLE | ABSTRACT,
    "title": TITLE,
    "abstract": ABSTRACT,
    "author": OTHER,
    "category": OTHER,
}


@dataclass(frozen=True)
class Match:
    """Why a paper matched: matched positive terms in profile order, and any in the title"""

    terms: tuple[str, ...]
    in_title: bool


def match(profile: Profile, doc: Document) -> Match | None:
    """The paper's match, or None when no positive term or some negative term matches it."""
    matched: list[str] = []
    in_title = False
    for term in profile.terms:
        if term.negative:
            continue
        found = term_flags(term, doc)
        if found:
            matched.append(term.text)
            in_title = in_title or found == 2
    if not matched:
        return None
    if any(term_flags(term, doc) for term in profile.negatives):
        return None
    return Match(tuple(matched), in_title)


def term_flags(term: Term, doc: Document) -> int:
    """0 when the term does not match, 2 when it matches with a part in the title, else 1."""
    in_title = False
    for part in term.parts:
        flags = part_flags(part, doc)
        if not flags & SCOPE_MASK[part.scope]:
            return 0
        in_title = in_title or bool(flags & TITLE and part.scope in ("any", "title"))
    return 2 if in_title else 1


def part_flags(part: Part, doc: Document) -> int:
    """Where the part's atom is found: TITLE and/or ABSTRACT, or OTHER (authors, categories)."""
    atom = part.atom
    if atom.kind == "category":
        return OTHER if category_found(atom, doc.categories) else 0
    if atom.kind == "author":
        return OTHER if any(author_found(atom, name) for name in doc.authors) else 0
    flags = 0
    if part.scope in ("any", "title") and found(atom, doc.title):
        flags |= TITLE
    if part.scope in ("any", "abstract") and found(atom, doc.abstract):
        flags |= ABSTRACT
    return flags


def found(atom: Atom, field: Field) -> bool:
    """Whether a phrase or prefix atom occurs in the field."""
    return next(spans(atom, field), None) is not None


def spans(atom: Atom, field: Field) -> Iterator[tuple[int, int]]:
    """Word ranges [i, j) of the field where a phrase or prefix atom occurs."""
    if atom.kind == "prefix":
        for key in atom.keys:
            for joined in (field.norm_joined, field.raw_joined):
                offsets, last = joined.offsets, len(key) - 1
                for pos in _occurrences(key, joined.text):
                    i = bisect_left(offsets, pos)
                    if offsets[i] == pos:  # pos is inside the text, so i is a word's index
                        yield i, bisect_right(offsets, pos + last)
        return
    for key in atom.keys:
        yield from _aligned(key, field.norm_joined)
        for raw in preimages(key):
            yield from _aligned(raw, field.raw_joined)


def _aligned(key: str, joined: Joined) -> Iterator[tuple[int, int]]:
    """Occurrences of `key` that start and end at word boundaries, as word ranges."""
    offsets, size = joined.offsets, len(key)
    for pos in _occurrences(key, joined.text):
        i = bisect_left(offsets, pos)
        if offsets[i] == pos:  # a word starts here; does one end where the key ends?
            j = bisect_left(offsets, pos + size, i)
            if offsets[j] == pos + size:
                yield i, j


def _occurrences(key: str, text: str) -> Iterator[int]:
    """Every offset where `key` occurs in `text`, overlapping ones included."""
    pos = text.find(key)
    while pos >= 0:
        yield pos
        pos = text.find(key, pos + 1)


def author_found(atom: Atom, name: Field) -> bool:
    """Whether every word of an author atom is a word of this one author's name."""
    if not all(w in name.norm for w in atom.words):  # a name has a few words
        return False
    if not atom.prefix:
        return True
    last = atom.raw_last
    return any(
        r.startswith(last) or n.startswith(last) for r, n in zip(name.raw, name.norm, strict=True)
    )


def category_found(atom: Atom, categories: tuple[str, ...]) -> bool:
    """Whether the paper is in the category, or in the group for `cs.*`."""
    key = atom.keys[0]
    if atom.prefix:
        return any(c.startswith(key) for c in categories)
    return key in categories


def rank_key(match: Match, upvotes: int | None, published_at: datetime | None) -> tuple:
    """Digest order: title matches, more terms, more upvotes, newest; ties keep input order."""
    newest = -published_at.timestamp() if published_at is not None else 0.0
    return (not match.in_title, -len(match.terms), -(upvotes or 0), published_at is None, newest)


def highlight(
    text: str, profile: Profile, field: Literal["title", "abstract"]
) -> list[tuple[str, bool]]:
    """Cut `text` into segments, marking with True where a positive term's words match."""
    prepared = _prepared(text)
    marked: list[tuple[int, int]] = []
    for term in profile.positives:
        for part in term.parts:
            if part.atom.kind in ("phrase", "prefix") and part.scope in ("any", field):
                marked.extend(
                    prepared.char_range(i, j)
                    for i, j in spans(part.atom, prepared)
                )
    return _segments(text, marked)


@lru_cache(maxsize=4096)
def _prepared(text: str) -> Field:
    """A field's words, prepared once per text: a day's digests highlight the same papers over
    and over, for every subscriber whose terms matched them (Field is immutable)."""
    return Field.of(text)


def _segments(text: str, marked: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """Merge overlapping character ranges and cut the text at their edges."""
    segments: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in sorted(marked):
        if end <= cursor:
            continue
        start = max(start, cursor)
        if start > cursor:
            segments.append((text[cursor:start], False))
        if segments and segments[-1][1] and start == cursor:
            segments[-1] = (segments[-1][0] + text[start:end], True)
        else:
            segments.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        segments.append((text[cursor:], False))
    return segments
