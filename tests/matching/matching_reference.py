"""A deliberately simple, slow reference for the keyword language, straight from SPEC §5.

It works on the structure the test generators build (not on parsed profiles), and tries every
stretch of words of every field by brute force. `digest.matching` must agree with it.

Rules it encodes (the semantics `digest.matching` documents):
- words are the runs of letters and digits, case-folded; each is normalised by the plural rule;
- a phrase matches a stretch of consecutive words of one field when either of its two forms
  (each word normalised then joined; all words joined then normalised) equals either form of
  the stretch;
- a prefix `w1 .. wn*` matches where the field, from some word on, joined with words normalised
  or as written, starts with `norm(w1)..norm(wn-1) wn` or with `w1..wn`;
- author: every word of the term is a word of one author's name (the last a word start for *);
- category: exact, or a group prefix for `cs.*`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def ref_words(text: str) -> list[str]:
    """Runs of letters and digits, each case-folded."""
    return [w.casefold() for w in re.findall(r"[^\W_]+", text)]


def ref_norm(w: str) -> str:
    """The plural rule, as written in SPEC §5."""
    if len(w) > 4 and w[-3:] == "ies" and w[-4:] not in ("eies", "aies"):
        return w[:-3] + "y"
    if len(w) > 3 and (w[-4:] in ("sses", "ches", "shes") or w[-3:] in ("xes", "zes")):
        return w[:-2]
    if len(w) > 3 and w[-1] == "s" and w[-2:] not in ("ss", "us", "is"):
        return w[:-1]
    return w


def forms(ws: list[str]) -> set[str]:
    """The two written forms of a run of words."""
    return {"".join(ref_norm(w) for w in ws), ref_norm("".join(ws))}


@dataclass
class RefPart:
    """One AND side: scope is any/title/abstract/author/category; text is what the user typed."""

    scope: str
    text: str
    prefix: bool = False


@dataclass
class RefTerm:
    negative: bool
    parts: list[RefPart] = field(default_factory=list)


def phrase_in(text: str, words_text: str) -> bool:
    """Whether the phrase occurs in the field text."""
    ws, xs = ref_words(words_text), ref_words(text)
    wanted = forms(ws)
    return any(forms(xs[i:j]) & wanted for i in range(len(xs)) for j in range(i + 1, len(xs) + 1))


def prefix_in(text: str, words_text: str) -> bool:
    """Whether the prefix term occurs in the field text."""
    ws, xs = ref_words(words_text), ref_words(text)
    starts = {"".join(ref_norm(w) for w in ws[:-1]) + ws[-1], "".join(ws)}
    for i in range(len(xs)):
        rest = ("".join(ref_norm(x) for x in xs[i:]), "".join(xs[i:]))
        if any(r.startswith(s) for r in rest for s in starts):
            return True
    return False


def author_in(name: str, part: RefPart) -> bool:
    """Whether every word of the term is a word of this author's name."""
    ws, xs = ref_words(part.text), ref_words(name)
    normed = {ref_norm(x) for x in xs}
    if not part.prefix:
        return all(ref_norm(w) in normed for w in ws)
    last = ws[-1]
    head_ok = all(ref_norm(w) in normed for w in ws[:-1])
    return head_ok and any(x.startswith(last) or ref_norm(x).startswith(last) for x in xs)


def part_where(part: RefPart, paper: dict) -> set[str]:
    """The places the part is found: 'title', 'abstract', 'other'."""
    if part.scope == "category":
        value = part.text.casefold()
        cats = [c.casefold() for c in paper["categories"]]
        hit = any(c.startswith(value[:-1]) for c in cats) if value.endswith("*") else value in cats
        return {"other"} if hit else set()
    if part.scope == "author":
        return {"other"} if any(author_in(a, part) for a in paper["authors"]) else set()
    test = prefix_in if part.prefix else phrase_in
    places = {"title", "abstract"} if part.scope == "any" else {part.scope}
    return {p for p in places if test(paper[p], part.text)}


def term_result(term: RefTerm, paper: dict) -> tuple[bool, bool]:
    """(matches, some part found in the title)."""
    wheres = [part_where(p, paper) for p in term.parts]
    return all(wheres), any("title" in w for w in wheres)


def ref_match(terms: list[tuple[str, RefTerm]], paper: dict) -> tuple[tuple[str, ...], bool] | None:
    """The matched positive term texts and the in-title flag, or None."""
    matched, in_title = [], False
    for text, term in terms:
        ok, titled = term_result(term, paper)
        if ok and term.negative:
            return None
        if ok:
            matched.append(text)
            in_title = in_title or titled
    return (tuple(matched), in_title) if matched else None
