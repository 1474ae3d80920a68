"""Property tests: `match` agrees with the brute-force reference, and `ProfileIndex` with `match`.

The generators draw from a small vocabulary full of traps (plurals, written-together forms,
short words inside longer ones, case changes, hyphens) so that near misses are common.
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from matching_reference import RefPart, RefTerm, ref_match

from digest.matching import ProfileIndex, make_document, match, parse_profile

VOCAB = [
    "pre",
    "training",
    "trainings",
    "pretraining",
    "robot",
    "robots",
    "robotic",
    "robotics",
    "policy",
    "policies",
    "rl",
    "url",
    "llm",
    "llms",
    "data",
    "set",
    "sets",
    "dataset",
    "datasets",
    "analysis",
    "analyses",
    "box",
    "boxes",
    "class",
    "classes",
    "k",
    "nn",
    "nns",
    "knn",
    "gpt",
    "4",
    "4s",
    "ies",
    "x",
    "xies",
    "learning",
    "reinforcement",
    "diffusion",
    "driving",
    "survey",
    "surveys",
    "and",
    "bus",
    "buses",
    "status",
    "é",
    "café",
    "cafés",
]
TRAPS = [
    "k",
    "nn",
    "nns",
    "knn",
    "knns",
    "pre",
    "training",
    "trainings",
    "robot",
    "robots",
    "x",
    "ies",
    "xies",
    "policy",
    "policies",
    "gpt",
    "4s",
    "4",
    "gpt4s",
]
NAMES = ["sergey", "levine", "chelsea", "finn", "jean", "paul", "li", "lee", "lees"]
NAMES += ["jeffries", "jeffry"]  # a name whose normalised form is no prefix of it as written
CATEGORIES = ["cs.RO", "cs.LG", "cs.CV", "math.OC", "stat.ML", "cs.ROx"]
SEPARATORS = [" ", " ", " ", "-", "", ", ", ". ", "/", " (", ") "]

case = st.sampled_from([str.lower, str.upper, str.title])


@st.composite
def run_of_words(
    draw, vocab=VOCAB, min_size=1, max_size=3, separators=(" ", "-", ""), quoted=False
):
    """Words from the vocabulary joined by hyphens, spaces or nothing, in some case."""
    ws = draw(st.lists(st.sampled_from(vocab), min_size=min_size, max_size=max_size))
    ws = [draw(case)(w) for w in ws]
    if not quoted:  # outside quotes, an upper-case AND would join parts
        ws = [w if w != "AND" else "And" for w in ws]
    out = ws[0]
    for w in ws[1:]:
        out += draw(st.sampled_from(separators)) + w
    return out


@st.composite
def text_part(draw, vocab=VOCAB):
    """(text as written in the profile, RefPart) for a title/abstract part."""
    scope = draw(st.sampled_from(["any", "any", "any", "title", "abstract"]))
    field = "" if scope == "any" else scope + ":"
    kind = draw(st.sampled_from(["plain", "plain", "prefix", "quoted"]))
    words_text = draw(run_of_words(vocab=vocab))
    if kind == "prefix":
        cut = draw(st.integers(1, len(words_text)))
        words_text = words_text[:cut]
        if not words_text[-1].isalnum():
            words_text = words_text.rstrip(" -,./()")
        if not words_text or not words_text[-1].isalnum():
            words_text = "robot"
        return field + words_text + "*", RefPart(scope, words_text, prefix=True)
    if kind == "quoted":
        words_text = draw(run_of_words(separators=(" ", ", ", " AND ", "-"), quoted=True))
        return f'{field}"{words_text}"', RefPart(scope, words_text)
    return field + words_text, RefPart(scope, words_text)


@st.composite
def other_part(draw):
    """(text, RefPart) for an author: or category: part."""
    if draw(st.booleans()):
        value = draw(st.sampled_from(["cs.RO", "CS.ro", "cs.*", "math.*", "stat.ML", "cs.RO*"]))
        return "category:" + value, RefPart("category", value)
    words_text = draw(run_of_words(vocab=NAMES, max_size=2, separators=(" ", "-")))
    if draw(st.booleans()):  # a word start: the whole last word or up to two letters less
        for _ in range(draw(st.integers(0, 2))):
            if len(words_text) > 1 and words_text[-2].isalnum():
                words_text = words_text[:-1]
        return "author:" + words_text + "*", RefPart("author", words_text, prefix=True)
    return "author:" + words_text, RefPart("author", words_text)


@st.composite
def term(draw, vocab=VOCAB):
    """(term text, RefTerm): optional exclusion, one to three parts joined by AND."""
    part = st.one_of(text_part(vocab), text_part(vocab), other_part())
    parts = draw(st.lists(part, min_size=1, max_size=3))
    negative = draw(st.integers(0, 3)) == 0
    text = ("-" if negative else "") + " AND ".join(p[0] for p in parts)
    assume(len(text) <= 100)  # longer terms are a syntax error, tested elsewhere
    return text, RefTerm(negative, [p[1] for p in parts])


def profiles(vocab=VOCAB):
    """A list of (term text, RefTerm)."""
    return st.lists(term(vocab), min_size=1, max_size=5)


@st.composite
def paper(draw, vocab=VOCAB):
    """A paper dict with a short title and abstract full of near misses."""
    return {
        "title": draw(run_of_words(vocab=vocab, max_size=6, separators=SEPARATORS)),
        "abstract": draw(run_of_words(vocab=vocab, max_size=14, separators=SEPARATORS)),
        "authors": [
            draw(run_of_words(vocab=NAMES, max_size=3, separators=(" ", "-", ", ")))
            for _ in range(draw(st.integers(0, 3)))
        ],
        "categories": draw(st.lists(st.sampled_from(CATEGORIES), max_size=3)),
    }


def _doc(p: dict):
    return make_document(p["title"], p["abstract"], p["authors"], p["categories"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([VOCAB, TRAPS]).flatmap(lambda v: st.tuples(profiles(v), paper(v))))
def test_match_agrees_with_reference(case_):
    terms, p = case_
    profile = parse_profile("\n".join(text for text, _ in terms))
    got = match(profile, _doc(p))
    expected = ref_match(terms, p)
    assert (None if got is None else (got.terms, got.in_title)) == expected


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([VOCAB, TRAPS]).flatmap(
        lambda v: st.tuples(
            st.lists(profiles(v), min_size=1, max_size=8),
            st.lists(paper(v), min_size=1, max_size=6),
        )
    )
)
def test_index_agrees_with_matching_each_profile(case_):
    all_terms, papers = case_
    parsed = [parse_profile(", ".join(text for text, _ in terms)) for terms in all_terms]
    docs = [_doc(p) for p in papers]
    index = ProfileIndex()
    for key, profile in enumerate(parsed):
        index.add(key, profile)
    expected = {}
    for key, profile in enumerate(parsed):
        hits = [(d, m) for d, doc in enumerate(docs) if (m := match(profile, doc)) is not None]
        if hits:
            expected[key] = hits
    assert index.match_all(docs) == expected


@st.composite
def profiles_sharing_terms(draw, vocab=VOCAB):
    """Profiles drawn from one small pool of terms: shared, repeated and identical profiles."""
    pool = draw(st.lists(term(vocab), min_size=1, max_size=8))
    made = draw(st.lists(st.lists(st.sampled_from(pool), min_size=1, max_size=6), max_size=8))
    return made + draw(st.lists(st.sampled_from(made), max_size=2)) if made else [[pool[0]]]


@st.composite
def wide_batch(draw, vocab=VOCAB):
    """A few papers repeated into a batch of 65 to 200, so paper sets span many machine words."""
    base = draw(st.lists(paper(vocab), min_size=1, max_size=5))
    picks = draw(st.lists(st.integers(0, len(base) - 1), min_size=65, max_size=200))
    return base, picks


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([VOCAB, TRAPS]).flatmap(
        lambda v: st.tuples(profiles_sharing_terms(v), wide_batch(v))
    )
)
def test_index_agrees_with_match_on_wide_batches_of_shared_terms(case_):
    all_terms, (base, picks) = case_
    parsed = [parse_profile("\n".join(text for text, _ in terms)) for terms in all_terms]
    base_docs = [_doc(p) for p in base]
    index = ProfileIndex()
    for key, profile in enumerate(parsed):
        index.add(key, profile)
    expected = {}
    for key, profile in enumerate(parsed):
        per_base = [match(profile, doc) for doc in base_docs]
        hits = [(d, per_base[b]) for d, b in enumerate(picks) if per_base[b] is not None]
        if hits:
            expected[key] = hits
    assert index.match_all([base_docs[b] for b in picks]) == expected
