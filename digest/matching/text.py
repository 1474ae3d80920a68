"""Paper text prepared for matching: words, the plural normalisation, and joined forms.

Text is split into words at every character that is not a letter or digit and case-folded. Each
word also has a normalised form (the plural rule of SPEC §5). A field joins both sequences
without separators, with the offsets where words start and end, so that a term written with
hyphens, spaces or nothing between its words is found with a plain substring search. A day's
papers stay prepared for a whole compose run, so a field is kept small (see `Field`).
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from sys import intern

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


@dataclass(frozen=True, slots=True)
class Joined:
    """One sequence of words joined without separators, with word-boundary offsets.

    `offsets[i]` is where word i starts and `offsets[-1]` is the length of `text`, so word i is
    `text[offsets[i]:offsets[i + 1]]`. The offsets are strictly increasing (no word is empty): a
    boundary is found by binary search, and they cost four bytes each.
    """

    text: str
    offsets: array[int]

    @classmethod
    def of(cls, seq: Sequence[str]) -> Joined:
        """Join `seq` and record where each word starts, and where the last one ends."""
        offsets = array("I", [0])
        offset = 0
        for word in seq:
            offset += len(word)
            offsets.append(offset)
        return cls("".join(seq), offsets)

    def word_at(self, offset: int) -> int:
        """Index of the word that holds the character at `offset`."""
        return bisect.bisect_right(self.offsets, offset) - 1


class Field:
    """One searchable piece of text (a title, an abstract, one author's name).

    A day's papers stay prepared for the whole compose run, so a field keeps only what matching
    reads on every paper: its words as written and normalised (interned, so papers share them;
    `norm` is `raw` itself when no word is a plural). The joined forms are built the first time
    a phrase or prefix is looked for (never, for an author's name), and the words' offsets in the
    text only when a highlight asks for them. Treat a field as immutable.
    """

    __slots__ = ("_bounds", "_norm_joined", "_raw_joined", "norm", "raw", "text")

    text: str
    raw: tuple[str, ...]
    norm: tuple[str, ...]

    def __init__(self, text: str, raw: tuple[str, ...], norm: tuple[str, ...]) -> None:
        self.text = text
        self.raw = raw
        self.norm = norm
        self._raw_joined: Joined | None = None
        self._norm_joined: Joined | None = None
        self._bounds: array[int] | None = None

    @classmethod
    def of(cls, text: str) -> Field:
        """Split `text` into words and normalise them."""
        raw = tuple([intern(m.group().casefold()) for m in _WORD.finditer(text)])
        norm = tuple([intern(normalise(w)) for w in raw])
        return cls(text, raw, raw if norm == raw else norm)

    @property
    def raw_joined(self) -> Joined:
        """The words as written, joined."""
        joined = self._raw_joined
        if joined is None:
            joined = self._raw_joined = Joined.of(self.raw)
        return joined

    @property
    def norm_joined(self) -> Joined:
        """The normalised words, joined (the same object as `raw_joined` when they agree)."""
        joined = self._norm_joined
        if joined is None:
            joined = self.raw_joined if self.norm is self.raw else Joined.of(self.norm)
            self._norm_joined = joined
        return joined

    def char_range(self, i: int, j: int) -> tuple[int, int]:
        """Where words [i, j) lie in `text`: the first one's start, the last one's end."""
        bounds = self._bounds
        if bounds is None:  # each word's start and end, in one flat array
            bounds = self._bounds = array("I")
            for m in _WORD.finditer(self.text):
                bounds.extend(m.span())
        return bounds[2 * i], bounds[2 * j - 1]

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """Each word's (start, end) offsets in `text` (`char_range` finds one range cheaply)."""
        return tuple(self.char_range(i, i + 1) for i in range(len(self.raw)))

    @property
    def norm_set(self) -> frozenset[str]:
        """The distinct normalised words."""
        return frozenset(self.norm)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Field.of({self.text!r})"


@dataclass(frozen=True, slots=True)
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
        categories=tuple(
            dict.fromkeys(intern(c.strip().casefold()) for c in categories if c.strip())
        ),
    )
