"""Paper text prepared for matching: words, the plural normalisation, and joined forms.

Text is split into words at every character that is not a letter or digit and case-folded. Each
word also has a normalised form (the plural rule of SPEC §5). A field keeps both sequences joined
without separators, with the offsets where words start and end, so that a term written with
hyphens, spaces or nothing between its words is found with a plain substring search.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[tuple[str, int, int]]:
    """The words of `text`, case-folded, with their start and end offsets in `text`."""
    return [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    """The case-folded words of `text`."""
    return [m.group().casefold() for m in _WORD.finditer(text)]


def normalise(word: str) -> str:
    """Fold a plural to its singular, exactly as SPEC §5 words the rule."""
    n = len(word)
    if n > 4 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if n > 3 and word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if n > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def preimages(key: str) -> list[str]:
    """Every string that `normalise` turns into `key` (at most four)."""
    candidates = [key, key + "s", key + "es"]
    if key.endswith("y"):
        candidates.append(key[:-1] + "ies")
    return [c for c in candidates if normalise(c) == key]


@dataclass(frozen=True)
class Joined:
    """One sequence of words joined without separators, with word-boundary offsets."""

    text: str
    starts: dict[int, int]  # offset in `text` -> index of the word starting there
    ends: dict[int, int]  # offset in `text` -> index just past the word ending there
    start_list: tuple[int, ...]

    @classmethod
    def of(cls, seq: Sequence[str]) -> Joined:
        """Join `seq` and record where each word starts and ends."""
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        offset = 0
        for i, word in enumerate(seq):
            starts[offset] = i
            offset += len(word)
            ends[offset] = i + 1
        return cls("".join(seq), starts, ends, tuple(starts))

    def word_at(self, offset: int) -> int:
        """Index of the word that holds the character at `offset`."""
        return bisect.bisect_right(self.start_list, offset) - 1


@dataclass(frozen=True)
class Field:
    """One searchable piece of text (a title, an abstract, one author's name)."""

    raw: tuple[str, ...]
    norm: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # each word's offsets in the original text
    raw_joined: Joined
    norm_joined: Joined
    norm_set: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Field:
        """Split `text` into words and prepare both joined forms."""
        toks = tokens(text)
        raw = tuple(t[0] for t in toks)
        norm = tuple(normalise(w) for w in raw)
        spans = tuple((t[1], t[2]) for t in toks)
        return cls(raw, norm, spans, Joined.of(raw), Joined.of(norm), frozenset(norm))


@dataclass(frozen=True)
class Document:
    """A paper's text, prepared once and matched against every profile."""

    title: Field
    abstract: Field
    authors: tuple[Field, ...]
    categories: tuple[str, ...]  # case-folded


def make_document(
    title: str,
    abstract: str,
    authors: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> Document:
    """Prepare a paper's title, abstract, authors and arXiv categories for matching."""
    return Document(
        title=Field.of(title or ""),
        abstract=Field.of(abstract or ""),
        authors=tuple(Field.of(name) for name in authors),
        categories=tuple(dict.fromkeys(c.strip().casefold() for c in categories if c.strip())),
    )
