"""Matching many profiles against a batch of papers at once, with bitsets over the papers.

The papers of a batch are numbered, and a set of papers is a Python int used as a bitset. Every
distinct atom (what a term part searches for) is evaluated once per batch, whatever number of
profiles use it: phrases by one walk over each paper's words that looks up the word runs starting
at each word in a table of phrase keys; prefixes, authors and categories through posting lists of
the batch's words, author names and categories, the candidates they leave being checked with
`matcher`'s own functions. Atoms combine into term bitsets (AND of parts, title flag) exactly as
`matcher.term_flags` does, and terms into each profile's result: positive terms OR-ed, negative
ones removed, then each hit paper's matched terms read off. Results are those of calling `match`
for every profile and paper (the tests check it).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

from digest.matching.language import Atom, Profile
from digest.matching.matcher import Match, author_found, category_found, found
from digest.matching.text import Document, Field, preimages

_Parts = tuple[tuple[int, str], ...]  # (atom id, scope) for each part of a term
_Shape = tuple[tuple[tuple[int, str], ...], tuple[int, ...]]  # ((term id, text) +ves, -ve ids)
_Entries = list[tuple[int, Match]]
_ONE = re.compile("1")


class ProfileIndex:
    """Many profiles, matched against a batch of papers one distinct term at a time."""

    def __init__(self) -> None:
        self._keys: list[Hashable] = []
        self._shape_of: list[int] = []  # profile -> shape (profiles alike share one)
        self._shapes: dict[_Shape, int] = {}
        self._term_ids: dict[tuple, int] = {}  # a term's parts, as plain values -> term id
        self._term_parts: list[_Parts] = []
        self._atoms: dict[Atom, int] = {}
        self._phrase: dict[str, list[int]] = defaultdict(list)
        self._raw: dict[str, list[int]] = defaultdict(list)
        self._grow: set[str] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable, profile: Profile) -> None:
        """Index a profile under `key` (any hashable, e.g. a subscriber id)."""
        positives: list[tuple[int, str]] = []
        negatives: list[int] = []
        term_ids = self._term_ids
        for term in profile.terms:
            # Terms are told apart by what they search for, not by how they are written. The
            # key is plain tuples, far cheaper to hash and compare than the dataclasses.
            tkey = tuple([(p.scope, *_atom_key(p.atom)) for p in term.parts])
            tid = term_ids.get(tkey)
            if tid is None:
                tid = term_ids[tkey] = len(self._term_parts)
                self._term_parts.append(
                    tuple((self._atom_id(p.atom), p.scope) for p in term.parts)
                )
            if term.negative:
                negatives.append(tid)
            else:
                positives.append((tid, term.text))
        shape = (tuple(positives), tuple(dict.fromkeys(negatives)))
        self._keys.append(key)
        self._shape_of.append(self._shapes.setdefault(shape, len(self._shapes)))

    def match_all(self, docs: Sequence[Document]) -> dict[Hashable, list[tuple[int, Match]]]:
        """For every profile that matches some paper: [(paper index, Match)], in paper order."""
        title, abstract, other = self._atom_bits(docs)
        any_bits, title_bits = self._term_bits(title, abstract, other, (1 << len(docs)) - 1)
        per_shape = _Combiner(any_bits, title_bits).run(self._shapes)
        out: dict[Hashable, list[tuple[int, Match]]] = {}
        taken = [False] * len(per_shape)
        for key, s in zip(self._keys, self._shape_of, strict=True):
            hits = per_shape[s]
            if hits is not None:
                out[key] = list(hits) if taken[s] else hits
                taken[s] = True
        return out

    def _atom_id(self, atom: Atom) -> int:
        """The id of an atom, registering a phrase's lookup keys the first time it is seen."""
        aid = self._atoms.get(atom)
        if aid is not None:
            return aid
        aid = self._atoms[atom] = len(self._atoms)
        if atom.kind == "phrase":
            for key in atom.keys:
                self._phrase[key].append(aid)
                self._add_prefixes(key)
                for raw in preimages(key):
                    self._raw[raw].append(aid)
                    self._add_prefixes(raw)
        return aid

    def _add_prefixes(self, key: str) -> None:
        """Remember every proper prefix of `key`, so word runs grow only toward some key."""
        for n in range(1, len(key)):
            self._grow.add(key[:n])

    def _atom_bits(self, docs: Sequence[Document]) -> tuple[list[int], list[int], list[int]]:
        """Per atom: papers holding it in the title, in the abstract, in authors/categories."""
        size = len(self._atoms)
        title, abstract, other = [0] * size, [0] * size, [0] * size
        for d, doc in enumerate(docs):
            self._scan(doc.title, 1 << d, title)
            self._scan(doc.abstract, 1 << d, abstract)
        batch = _Batch(docs)
        for atom, aid in self._atoms.items():
            if atom.kind == "prefix":
                title[aid] = batch.prefix(atom, "title")
                abstract[aid] = batch.prefix(atom, "abstract")
            elif atom.kind == "author":
                other[aid] = batch.author(atom)
            elif atom.kind == "category":
                other[aid] = batch.category(atom)
        return title, abstract, other

    def _scan(self, field: Field, bit: int, bits: list[int]) -> None:
        """Add `bit` to every phrase atom that occurs in the field (one walk over its words)."""
        phrase, raw, grow = self._phrase, self._raw, self._grow
        norm, words = field.norm, field.raw
        n = len(norm)
        for i in range(n):
            run, j = norm[i], i + 1
            while True:
                for aid in phrase.get(run, ()):
                    bits[aid] |= bit
                if j >= n or run not in grow:
                    break
                run += norm[j]
                j += 1
            # A single word as written is its normalised form's business, handled above.
            run, j = words[i], i + 1
            while j < n and run in grow:
                run += words[j]
                j += 1
                for aid in raw.get(run, ()):
                    bits[aid] |= bit

    def _term_bits(
        self, title: list[int], abstract: list[int], other: list[int], every: int
    ) -> tuple[list[int], list[int]]:
        """Per term: papers it matches, and papers it matches with a part in the title.

        As `matcher.term_flags`: every part must be found in its scope; the match is in the
        title when some part of scope any or title is found in the title.
        """
        any_bits: list[int] = []
        title_bits: list[int] = []
        for parts in self._term_parts:
            hit, titled = every, 0
            for aid, scope in parts:
                if scope == "any":
                    hit &= title[aid] | abstract[aid]
                    titled |= title[aid]
                elif scope == "title":
                    hit &= title[aid]
                    titled |= title[aid]
                elif scope == "abstract":
                    hit &= abstract[aid]
                else:
                    hit &= other[aid]
            any_bits.append(hit)
            title_bits.append(hit & titled)
        return any_bits, title_bits


class _Batch:
    """Posting lists of one batch of papers: words per field, author names, categories."""

    def __init__(self, docs: Sequence[Document]) -> None:
        self.docs = docs
        self.words: dict[str, _Vocabulary] = {}  # per field, built when a prefix asks
        self.names: list[Field] = []
        self.name_bits: list[int] = []
        self.name_ids: dict[tuple[str, ...], int] = {}
        self.by_word: dict[str, set[int]] = defaultdict(set)  # normalised word -> names
        self.by_form: dict[str, set[int]] = defaultdict(set)  # word as written or normalised
        self.categories: dict[str, int] = defaultdict(int)
        for d, doc in enumerate(docs):
            for name in doc.authors:
                self._add_name(name, 1 << d)
            for category in doc.categories:
                self.categories[category] |= 1 << d
        self.name_words = sorted(self.by_form)

    def _add_name(self, name: Field, bit: int) -> None:
        """Record one author name; names written with the same words are one name."""
        nid = self.name_ids.get(name.raw)
        if nid is None:
            nid = self.name_ids[name.raw] = len(self.names)
            self.names.append(name)
            self.name_bits.append(0)
            for word in name.norm:
                self.by_word[word].add(nid)
            for word in name.raw + name.norm:
                self.by_form[word].add(nid)
        self.name_bits[nid] |= bit

    def prefix(self, atom: Atom, field: str) -> int:
        """Papers whose `field` ("title" or "abstract") holds a prefix atom.

        A word that starts with a key is a match; a key running over several words starts
        with the first of them, so those papers are candidates, checked with `found`.
        """
        vocabulary = self.words.get(field)
        if vocabulary is None:
            vocabulary = self.words[field] = _Vocabulary(getattr(d, field) for d in self.docs)
        hit = candidates = 0
        for key in atom.keys:
            hit |= vocabulary.starting_with(key)
            for n in range(1, len(key)):
                candidates |= vocabulary.bits.get(key[:n], 0)
        docs = self.docs
        for d in _positions(candidates & ~hit):
            if found(atom, getattr(docs[d], field)):
                hit |= 1 << d
        return hit

    def author(self, atom: Atom) -> int:
        """Papers with an author name the author atom is found in (`author_found`)."""
        if atom.words:
            names = set.intersection(*(self.by_word.get(w, set()) for w in atom.words))
        else:
            names = self._names_starting_with(atom.raw_last)
        hit = 0
        for nid in names:
            if author_found(atom, self.names[nid]):
                hit |= self.name_bits[nid]
        return hit

    def _names_starting_with(self, start: str) -> set[int]:
        """The names with a word (as written or normalised) that starts with `start`."""
        words = self.name_words
        names: set[int] = set()
        i = bisect.bisect_left(words, start)
        while i < len(words) and words[i].startswith(start):
            names |= self.by_form[words[i]]
            i += 1
        return names

    def category(self, atom: Atom) -> int:
        """Papers in the category or group (`category_found`, one category at a time)."""
        hit = 0
        for category, bits in self.categories.items():
            if category_found(atom, (category,)):
                hit |= bits
        return hit


class _Vocabulary:
    """The words of one field across a batch, as written and normalised, with their papers."""

    def __init__(self, fields: Iterable[Field]) -> None:
        self.bits: dict[str, int] = defaultdict(int)
        for d, field in enumerate(fields):
            bit = 1 << d
            for word in {*field.raw, *field.norm}:
                self.bits[word] |= bit
        self.sorted = sorted(self.bits)

    def starting_with(self, start: str) -> int:
        """Papers holding a word that starts with `start`."""
        words, hit = self.sorted, 0
        i = bisect.bisect_left(words, start)
        while i < len(words) and words[i].startswith(start):
            hit |= self.bits[words[i]]
            i += 1
        return hit


class _Combiner:
    """Turns term bitsets into each profile shape's [(paper, Match)], papers ascending."""

    def __init__(self, any_bits: list[int], title_bits: list[int]) -> None:
        self.any_bits = any_bits
        self.title_bits = title_bits
        self.matches: dict[tuple[tuple[str, ...], bool], Match] = {}
        self.entries: dict[tuple[int, str], _Entries] = {}

    def run(self, shapes: Iterable[_Shape]) -> list[_Entries | None]:
        """Each shape's entries, or None when it matches no paper."""
        any_bits = self.any_bits
        out: list[_Entries | None] = []
        for positives, negatives in shapes:
            hits = 0
            for t, _ in positives:
                hits |= any_bits[t]
            if hits:
                for t in negatives:
                    hits &= ~any_bits[t]
            out.append(self._entries_of(positives, hits) if hits else None)
        return out

    def _entries_of(self, positives: tuple[tuple[int, str], ...], hits: int) -> _Entries:
        """[(paper, Match)] for the papers in `hits`, from the terms that match each."""
        any_bits = self.any_bits
        live = []
        seen = multi = 0
        for t, text in positives:
            h = any_bits[t] & hits
            if h:
                if seen & h:
                    multi |= seen & h
                seen |= h
                live.append((t, text, h))
        if len(live) == 1 and live[0][2] == any_bits[live[0][0]]:
            return list(self._term_entries(live[0][0], live[0][1]))
        out: _Entries = []
        for t, text, h in live:
            if multi:
                h &= ~multi
            if h == any_bits[t]:
                out += self._term_entries(t, text)
            elif h:
                out += [e for e in self._term_entries(t, text) if h >> e[0] & 1]
        if multi:
            out += self._shared_entries(live, multi)
        out.sort()
        return out

    def _term_entries(self, t: int, text: str) -> _Entries:
        """[(paper, Match((text,), in title))] for every paper term `t` matches (cached)."""
        key = (t, text)
        entries = self.entries.get(key)
        if entries is None:
            titled = self.title_bits[t]
            plain, top = self._match((text,), False), self._match((text,), True)
            entries = [(d, top if titled >> d & 1 else plain) for d in _positions(self.any_bits[t])]
            self.entries[key] = entries
        return entries

    def _shared_entries(self, live: list[tuple[int, str, int]], multi: int) -> _Entries:
        """Entries for the papers that several of the profile's terms match."""
        title_bits = self.title_bits
        out: _Entries = []
        for d in _positions(multi):
            terms = tuple(text for _, text, h in live if h >> d & 1)
            in_title = any(h >> d & 1 and title_bits[t] >> d & 1 for t, _, h in live)
            out.append((d, self._match(terms, in_title)))
        return out

    def _match(self, terms: tuple[str, ...], in_title: bool) -> Match:
        """One shared Match object per distinct result."""
        key = (terms, in_title)
        m = self.matches.get(key)
        if m is None:
            m = self.matches[key] = Match(terms, in_title)
        return m


def _atom_key(atom: Atom) -> tuple:
    """An atom's fields as a plain tuple."""
    return (atom.kind, atom.keys, atom.words, atom.prefix, atom.raw_last)


def _positions(bits: int) -> list[int]:
    """The indexes of the set bits of `bits`, ascending."""
    if bits.bit_count() > 32:
        return [m.start() for m in _ONE.finditer(bin(bits)[:1:-1])]
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out
