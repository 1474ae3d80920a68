"""ProfileIndex gives exactly what `match` gives for every profile and paper."""

from __future__ import annotations

import pytest

from digest.matching import Match, ProfileIndex, make_document, match, parse_profile

PROFILES = [
    "knn",
    "k-NN",
    "kNNs",
    "GPT-4s",
    "gpt4",
    "pretraining",
    "pre training, -survey",
    "robots learning",
    "robotslearning",
    "policies gradient",
    "x ies",
    "robot*",
    "polic*",
    "policy*",
    "pre t*",
    "diffusion AND driving",
    "title:robot",
    "abstract:robot, -title:URL",
    "author:levine",
    "author:lev*",
    "author:sergey levine",
    "author:jeffry*",
    "category:cs.RO",
    "category:cs.*",
    "RL",
    "-robot",
    '"URL, RL"',
    "LLM",
    "analysis",
    "analyses",
]
PAPERS = [
    ("k nns for robots", "We pre-train RL policies with a URL.", ["Sergey Levine"], ["cs.RO"]),
    (
        "GPT4s and robot-learning",
        "policygradient methods; a survey of xies",
        ["Chelsea Finn", "Tom Jeffries"],
        ["cs.LG"],
    ),
    ("Diffusion", "for autonomous driving with LLMs and an analysis", ["Levine, S."], ["math.OC"]),
    ("Pretrainings", "robotslearning and policy gradients", [], []),
    ("URL RL", "", ["Sergey Brin", "Jane Levine"], ["CS.ro"]),
]


@pytest.fixture()
def docs():
    return [make_document(*p) for p in PAPERS]


def test_index_agrees_with_match_on_tricky_cases(docs):
    index = ProfileIndex()
    for text in PROFILES:
        index.add(text, parse_profile(text))
    expected = {}
    for text in PROFILES:
        profile = parse_profile(text)
        hits = [(d, m) for d, doc in enumerate(docs) if (m := match(profile, doc)) is not None]
        if hits:
            expected[text] = hits
    got = index.match_all(docs)
    assert got == expected
    # and the cases have teeth: written-together, plural and prefix matches are found
    assert [d for d, _ in got["knn"]] == [0]
    assert [d for d, _ in got["GPT-4s"]] == [1]
    assert [d for d, _ in got["pretraining"]] == [3]
    assert [d for d, _ in got["robots learning"]] == [1, 3]
    assert [d for d, _ in got["policy*"]] == [0, 1, 3]
    assert [d for d, _ in got["author:sergey levine"]] == [0]
    assert [d for d, _ in got["author:jeffry*"]] == [1]  # Jeffries, normalised "jeffry"
    assert "-robot" not in got


def test_index_reports_only_profiles_that_matched(docs):
    index = ProfileIndex()
    index.add("a", parse_profile("juggling"))
    index.add("b", parse_profile("robot, -survey"))
    index.add("c", parse_profile("-robot"))
    assert index.match_all(docs) == {
        "b": [(0, Match(("robot",), True))],  # paper 1 says "survey", paper 3 "robotslearning"
    }


def test_index_keeps_profile_order_of_terms_and_title_flag(docs):
    index = ProfileIndex()
    index.add(7, parse_profile("driving\nLLM\nDiffusion"))
    assert index.match_all(docs) == {7: [(2, Match(("driving", "LLM", "Diffusion"), True))]}


def _expected(profiles, docs):
    """What `match` says for every profile (by its text) and paper."""
    expected = {}
    for text in profiles:
        profile = parse_profile(text)
        hits = [(d, m) for d, doc in enumerate(docs) if (m := match(profile, doc)) is not None]
        if hits:
            expected[text] = hits
    return expected


def test_index_agrees_with_match_on_a_batch_wider_than_a_machine_word():
    docs = [make_document(*PAPERS[i % len(PAPERS)]) for i in range(203)]
    index = ProfileIndex()
    for text in PROFILES:
        index.add(text, parse_profile(text))
    got = index.match_all(docs)
    assert got == _expected(PROFILES, docs)
    assert [d for d, _ in got["robot*"]][-3:] == [198, 200, 201]
    assert len(got["category:cs.*"]) == 122  # 3 of every 5 papers, bits far past 64


def test_identical_profiles_each_get_their_own_list(docs):
    index = ProfileIndex()
    index.add("a", parse_profile("robot, -survey"))
    index.add("b", parse_profile("robot, -survey"))
    got = index.match_all(docs)
    assert got["a"] == got["b"] == [(0, Match(("robot",), True))]
    got["a"].clear()
    assert got["b"] == [(0, Match(("robot",), True))]


def test_repeated_and_equivalent_terms_are_each_reported(docs):
    index = ProfileIndex()
    index.add(1, parse_profile("robot\nRobots\n-title:GPT4s\nrobot"))
    assert index.match_all(docs) == {
        1: [(0, Match(("robot", "Robots", "robot"), True))],  # paper 1's title says GPT4s
    }


def test_index_can_match_several_batches_and_grow_between_them(docs):
    index = ProfileIndex()
    index.add("a", parse_profile("driving"))
    first = index.match_all(docs)
    index.add("b", parse_profile("author:lev*"))
    assert index.match_all(docs[:2]) == {"b": [(0, Match(("author:lev*",), False))]}
    assert index.match_all(docs) == {**first, "b": [(0, _lev()), (2, _lev()), (4, _lev())]}


def _lev() -> Match:
    return Match(("author:lev*",), False)
