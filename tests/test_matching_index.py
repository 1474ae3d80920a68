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
        ["Chelsea Finn"],
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
