"""Prepared paper text stays small: a day's documents live for a whole compose run (issue 10)."""

from __future__ import annotations

import gc
import random
import sys

from benchmarks.vocabulary import make_papers
from digest.matching import make_document
from digest.matching.text import words


def reachable(root: object, skip: set[int]) -> list[object]:
    """Every object `root` holds, directly or not, but classes and the objects in `skip`."""
    seen, stack, out = set(skip), [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        out.append(obj)
        stack.extend(gc.get_referents(obj))
    return out


def test_a_prepared_paper_holds_no_per_word_tables_and_under_30_kb() -> None:
    paper = make_papers(1, random.Random(5))[0]
    assert len(words(paper["abstract"])) >= 150
    doc = make_document(paper["title"], paper["abstract"], paper["authors"], paper["categories"])
    for field in (doc.title, doc.abstract):  # what matching builds when it looks for a phrase
        assert field.norm_joined.text and field.raw_joined.text
    # The paper's own strings are the caller's; every word string counts, as if none were shared.
    inputs = {id(paper["title"]), id(paper["abstract"]), *map(id, paper["authors"])}
    held = reachable(doc, inputs)
    assert not [o for o in held if isinstance(o, dict | set | frozenset)]
    assert sum(sys.getsizeof(o) for o in held) < 30 * 1024


def test_papers_share_their_word_strings() -> None:
    one = make_document("Graph networks", "Sparse graph networks")
    two = make_document("Graph kernels", "")
    assert one.title.raw[0] is two.title.raw[0] is one.abstract.raw[1]
    assert one.title.norm[1] is one.abstract.norm[2]  # "network", normalised once for both
