"""Matching many profiles against many papers at once, through an inverted index of atoms.

Every distinct atom (what a term part searches for) is stored once, whatever number of profiles
use it. For each paper, the index walks the paper's words once and looks up the joined word runs
that start at each word (normalised, and as written) in hash tables of atom keys, growing a run
only while it is still the beginning of some key. That finds, exactly, every atom the paper holds
and where (title, abstract, authors, categories). Posting lists then lead from those atoms to the
profiles that use them: plain terms (and plain exclusions) are answered from the postings alone,
AND terms are evaluated for the profiles the postings bring up. Results are those of calling
`match` for every profile and paper (the tests check it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

from digest.matching.language import Atom, Profile
from digest.matching.matcher import OTHER, SCOPE_MASK, TITLE, Match, author_found
from digest.matching.text import Document, Field, preimages

_ANCHOR = 4  # characters of a prefix used to look it up
_CompiledTerm = tuple[bool, str, tuple[tuple[int, int], ...]]  # negative, text, (atom id, mask)


class ProfileIndex:
    """Many profiles, matched against a batch of papers in one pass per paper."""

    def __init__(self) -> None:
        self._keys: list[Hashable] = []
        self._terms: list[tuple[_CompiledTerm, ...]] = []
        self._extra: list[tuple[tuple[int, bool, tuple[tuple[int, int], ...]], ...]] = []
        self._atom_ids: dict[Atom, int] = {}
        self._postings: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        self._anchors: dict[int, list[int]] = defaultdict(list)
        self._excludes: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self._phrase: dict[str, list[int]] = defaultdict(list)
        self._raw: dict[str, list[int]] = defaultdict(list)
        self._grow: set[str] = set()
        self._prefix: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self._prefix_lengths: set[int] = set()
        self._category: dict[str, list[int]] = defaultdict(list)
        self._category_groups: dict[str, list[int]] = defaultdict(list)
        self._author: dict[str, list[tuple[Atom, int]]] = defaultdict(list)
        self._author_prefix: dict[str, list[tuple[Atom, int]]] = defaultdict(list)
        self._author_lengths: set[int] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable, profile: Profile) -> None:
        """Index a profile under `key` (any hashable, e.g. a subscriber id)."""
        p = len(self._keys)
        self._keys.append(key)
        terms = tuple(
            (
                t.negative,
                t.text,
                tuple((self._atom_id(part.atom), SCOPE_MASK[part.scope]) for part in t.parts),
            )
            for t in profile.terms
        )
        self._terms.append(terms)
        # AND terms are checked per candidate; plain terms and exclusions come from postings.
        self._extra.append(
            tuple((t, neg, parts) for t, (neg, _, parts) in enumerate(terms) if len(parts) > 1)
        )
        for t, (negative, _, parts) in enumerate(terms):
            if negative:
                if len(parts) == 1:
                    self._excludes[parts[0][0]].append((p, parts[0][1]))
                continue
            if len(parts) == 1:
                self._postings[parts[0][0]].append((p, t, parts[0][1]))
            else:
                self._anchors[parts[0][0]].append(p)

    def match_all(self, docs: Sequence[Document]) -> dict[Hashable, list[tuple[int, Match]]]:
        """For every profile that matches some paper: [(paper index, Match)], in paper order."""
        per_profile: dict[int, list[tuple[int, Match]]] = {}
        for d, doc in enumerate(docs):
            self._match_doc(d, doc, per_profile)
        return {self._keys[p]: hits for p, hits in per_profile.items()}

    def _atom_id(self, atom: Atom) -> int:
        """The id of an atom, registering its lookup keys the first time it is seen."""
        aid = self._atom_ids.get(atom)
        if aid is not None:
            return aid
        aid = self._atom_ids[atom] = len(self._atom_ids)
        if atom.kind == "phrase":
            for key in atom.keys:
                self._phrase[key].append(aid)
                self._add_prefixes(key)
                for raw in preimages(key):
                    self._raw[raw].append(aid)
                    self._add_prefixes(raw)
        elif atom.kind == "prefix":
            for key in atom.keys:
                self._prefix[key[:_ANCHOR]].append((key, aid))
                self._prefix_lengths.add(min(len(key), _ANCHOR))
        elif atom.kind == "category":
            table = self._category_groups if atom.prefix else self._category
            table[atom.keys[0]].append(aid)
        elif atom.words:
            self._author[atom.words[0]].append((atom, aid))
        else:
            self._author_prefix[atom.raw_last[:_ANCHOR]].append((atom, aid))
            self._author_lengths.add(min(len(atom.raw_last), _ANCHOR))
        return aid

    def _add_prefixes(self, key: str) -> None:
        """Remember every proper prefix of `key`, so word runs grow only toward some key."""
        for n in range(1, len(key)):
            self._grow.add(key[:n])

    def _match_doc(self, d: int, doc: Document, out: dict[int, list[tuple[int, Match]]]) -> None:
        """Append (d, Match) to `out[profile]` for every profile paper `d` matches."""
        found: dict[int, int] = {}
        self._scan(doc.title, TITLE, found)
        self._scan(doc.abstract, 2, found)
        self._scan_other(doc, found)
        hits: dict[int, list[int]] = {}
        titled: set[int] = set()
        excluded = {
            p
            for aid, flags in found.items()
            for p, mask in self._excludes.get(aid, ())
            if flags & mask
        }
        for aid, flags in found.items():
            for p, t, mask in self._postings.get(aid, ()):
                if flags & mask:
                    hits.setdefault(p, []).append(t)
                    if flags & mask & TITLE:
                        titled.add(p)
            for p in self._anchors.get(aid, ()):
                hits.setdefault(p, [])
        extras, all_terms = self._extra, self._terms
        for p, ts in hits.items():
            if p in excluded:
                continue
            in_title = p in titled
            for t, negative, parts in extras[p]:
                flags = _term_flags(parts, found)
                if flags and negative:
                    break
                if flags:
                    ts.append(t)
                    in_title = in_title or flags == 2
            else:
                if ts:
                    ts.sort()
                    terms = all_terms[p]
                    m = Match(tuple(terms[t][1] for t in ts), in_title)
                    if p in out:
                        out[p].append((d, m))
                    else:
                        out[p] = [(d, m)]

    def _scan(self, field: Field, bit: int, found: dict[int, int]) -> None:
        """Mark the phrase and prefix atoms that occur in one field."""
        phrase, raw, grow = self._phrase, self._raw, self._grow
        norm, words = field.norm, field.raw
        n = len(norm)
        for i in range(n):
            run, j = norm[i], i + 1
            while True:
                for aid in phrase.get(run, ()):
                    found[aid] = found.get(aid, 0) | bit
                if j >= n or run not in grow:
                    break
                run += norm[j]
                j += 1
            run, j = words[i], i + 1
            while j < n and run in grow:
                run += words[j]
                j += 1
                for aid in raw.get(run, ()):
                    found[aid] = found.get(aid, 0) | bit
        if self._prefix:
            self._scan_prefixes(field, bit, found)

    def _scan_prefixes(self, field: Field, bit: int, found: dict[int, int]) -> None:
        """Mark the prefix atoms that start at some word of the field."""
        table, lengths = self._prefix, self._prefix_lengths
        for joined in (field.norm_joined, field.raw_joined):
            text = joined.text
            for o in joined.start_list:
                for n in lengths:
                    for key, aid in table.get(text[o : o + n], ()):
                        if text.startswith(key, o):
                            found[aid] = found.get(aid, 0) | bit

    def _scan_other(self, doc: Document, found: dict[int, int]) -> None:
        """Mark the category and author atoms the paper satisfies."""
        for category in doc.categories:
            for aid in self._category.get(category, ()):
                found[aid] = OTHER
            for group, aids in self._category_groups.items():
                if category.startswith(group):
                    for aid in aids:
                        found[aid] = OTHER
        for name in doc.authors:
            candidates = [c for w in name.norm_set for c in self._author.get(w, ())]
            for word in name.raw + name.norm:
                for n in self._author_lengths:
                    candidates.extend(self._author_prefix.get(word[:n], ()))
            for atom, aid in candidates:
                if aid not in found and author_found(atom, name):
                    found[aid] = OTHER


def _term_flags(parts: tuple[tuple[int, int], ...], found: dict[int, int]) -> int:
    """0 when a part is missing, 2 when every part is found and one in the title, else 1."""
    in_title = False
    for aid, mask in parts:
        flags = found.get(aid, 0) & mask
        if not flags:
            return 0
        in_title = in_title or bool(flags & TITLE)
    return 2 if in_title else 1
