"""The keyword language: parse a profile's text into terms, or name the term that is wrong.

A profile is terms separated by newlines or commas (commas inside quotes are literal). A term is
an optional leading `-` (exclusion) and one or more parts joined by the word `AND`; a part is an
optional field (`title:`, `abstract:`, `author:`, `category:`) and words, possibly quoted,
possibly ending in `*` (prefix). Each part becomes an `Atom`: the thing searched for, shared by
every term and profile that searches for the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from digest.matching.text import normalise, words

MAX_TERMS = 50
MAX_TERM_LENGTH = 100
FIELDS = ("title", "abstract", "author", "category")

AtomKind = Literal["phrase", "prefix", "author", "category"]
Scope = Literal["any", "title", "abstract", "author", "category"]

_FIELD = re.compile(r"([A-Za-z]+):")
_QUOTED = re.compile(r'("[^"]*")')
_AND = re.compile(r"(?<!\S)AND(?!\S)")


class KeywordError(ValueError):
    """A profile that cannot be parsed; `str()` is one sentence naming the offending term."""

    def __init__(self, term: str, message: str) -> None:
        super().__init__(message)
        self.term = term


@dataclass(frozen=True)
class Atom:
    """What one part searches for, independent of where.

    phrase: `keys` are the word-by-word normalised form and the written-together normalised form.
    prefix: `keys` are the prefix with earlier words normalised, and the prefix as written.
    author: `words` are the normalised words that must all be in one author's name;
            `prefix` says the last of them is `raw_last`, a word start.
    category: `keys` is the category, or its group prefix when `prefix` is true.
    """

    kind: AtomKind
    keys: tuple[str, ...]
    words: tuple[str, ...] = ()
    prefix: bool = False
    raw_last: str = ""


@dataclass(frozen=True)
class Part:
    """One side of an AND: an atom and the field it must be found in."""

    scope: Scope
    atom: Atom


@dataclass(frozen=True)
class Term:
    """One term of a profile; `text` is as the user wrote it (trimmed)."""

    text: str
    negative: bool
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Profile:
    """A parsed keyword profile."""

    terms: tuple[Term, ...]

    @property
    def positives(self) -> tuple[Term, ...]:
        """The terms that bring papers in."""
        return tuple(t for t in self.terms if not t.negative)

    @property
    def negatives(self) -> tuple[Term, ...]:
        """The terms that keep papers out."""
        return tuple(t for t in self.terms if t.negative)


def parse_profile(text: str) -> Profile:
    """Parse a profile; raise `KeywordError` naming the first term that is not valid."""
    raw_terms = split_terms(text)
    if len(raw_terms) > MAX_TERMS:
        extra = raw_terms[MAX_TERMS]
        raise KeywordError(
            extra,
            f"The profile has {len(raw_terms)} terms, more than {MAX_TERMS}; "
            f'remove "{_short(extra)}" and the terms after it.',
        )
    return Profile(tuple(parse_term(t) for t in raw_terms))


def split_terms(text: str) -> list[str]:
    """Cut a profile at newlines and at commas outside quotes; drop empty terms."""
    terms: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text + "\n":
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and quoted:
            raise _error(
                "".join(buf).strip(), 'opens a quote that is never closed; add the closing ".'
            )
        if (ch == "," and not quoted) or ch in "\r\n":
            term = "".join(buf).strip()
            if term:
                terms.append(term)
            buf = []
        else:
            buf.append(ch)
    return terms


def parse_term(text: str) -> Term:
    """Parse one trimmed term."""
    if len(text) > MAX_TERM_LENGTH:
        raise _error(text, f"is {len(text)} characters long; keep each term to {MAX_TERM_LENGTH}.")
    if text.count('"') % 2:
        raise _error(text, 'opens a quote that is never closed; add the closing ".')
    negative = text.startswith("-")
    body = text[1:].strip() if negative else text
    if not body:
        raise _error(
            text, "excludes nothing; write what to exclude right after the -, as in -survey."
        )
    pieces = _split_and(body)
    if any(not p.strip() for p in pieces):
        raise _error(text, "has an AND with nothing on one side; put a word on both sides of AND.")
    return Term(text, negative, tuple(_parse_part(text, p.strip()) for p in pieces))


def _split_and(body: str) -> list[str]:
    """Split a term at the word AND outside quotes."""
    pieces = [""]
    for chunk in _QUOTED.split(body):
        if chunk.startswith('"'):
            pieces[-1] += chunk
            continue
        first, *rest = _AND.split(chunk)
        pieces[-1] += first
        pieces.extend(rest)
    return pieces


def _parse_part(term: str, part: str) -> Part:
    """Parse one side of an AND: field, quotes, prefix star, words."""
    scope: Scope = "any"
    field = _FIELD.match(part)
    if field:
        name = field.group(1).lower()
        if name not in FIELDS:
            raise _error(
                term,
                f'uses an unknown field "{field.group(1)}"; '
                "use title:, abstract:, author: or category:.",
            )
        scope = name  # type: ignore[assignment]
        part = part[field.end() :].strip()
        if not part:
            raise _error(term, f'gives the field "{name}:" nothing to search for.')
    if '""' in part.replace(" ", "") or any(not words(q) for q in _QUOTED.findall(part)):
        raise _error(term, "has empty quotes; put words between them or remove them.")
    if scope == "category":
        return Part(scope, _category_atom(term, part))
    unquoted = "".join(c for c in _QUOTED.split(part) if not c.startswith('"'))
    prefix = part.endswith("*") and not part.endswith('"')
    if unquoted.count("*") > (1 if prefix else 0):
        raise _error(term, "has a * that does not end it; a * may only end a term, as in robot*.")
    if prefix and (len(part) < 2 or not part[-2].isalnum()):
        raise _error(
            term, "has a * with no word before it; write the start of a word, as in robot*."
        )
    found = words(part)
    if not found:
        raise _error(term, "has no letters or digits to search for.")
    if scope == "author":
        return Part(scope, _author_atom(found, prefix))
    return Part(scope, _text_atom(found, prefix))


def _text_atom(found: list[str], prefix: bool) -> Atom:
    """The atom for words searched in titles and abstracts."""
    if prefix:
        by_word = "".join(normalise(w) for w in found[:-1]) + found[-1]
        return Atom("prefix", tuple(dict.fromkeys((by_word, "".join(found)))))
    by_word = "".join(normalise(w) for w in found)
    together = normalise("".join(found))
    return Atom("phrase", tuple(dict.fromkeys((by_word, together))))


def _author_atom(found: list[str], prefix: bool) -> Atom:
    """The atom for words that must all be in one author's name."""
    normed = tuple(normalise(w) for w in found)
    if prefix:
        return Atom("author", (), normed[:-1], True, found[-1])
    return Atom("author", (), tuple(sorted(set(normed))))


def _category_atom(term: str, value: str) -> Atom:
    """The atom for an arXiv category, exact or a group such as cs.*."""
    value = value.strip('"').strip().casefold()
    if value == "*" or value.startswith("*"):
        raise _error(
            term, "has a * with no category before it; write a group, as in category:cs.*."
        )
    prefix = value.endswith("*")
    if not value or any(ch.isspace() for ch in value) or value.count("*") > int(prefix):
        raise _error(
            term, "is not an arXiv category; write one as in category:cs.RO or category:cs.*."
        )
    return Atom("category", (value[:-1] if prefix else value,), prefix=prefix)


def _short(term: str) -> str:
    """A term shortened for an error message."""
    return term if len(term) <= 60 else term[:57] + "..."


def _error(term: str, problem: str) -> KeywordError:
    """A `KeywordError` whose message names the term."""
    return KeywordError(term, f'The term "{_short(term)}" {problem}')
