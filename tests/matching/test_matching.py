"""The keyword language of SPEC §5, rule by rule, with the spec's own examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.matching import (
    KeywordError,
    Match,
    highlight,
    make_document,
    match,
    normalise,
    parse_profile,
    rank_key,
)


def matches(profile: str, title: str = "", abstract: str = "", authors=(), categories=()) -> bool:
    return (
        match(parse_profile(profile), make_document(title, abstract, authors, categories))
        is not None
    )


def test_words_split_at_every_non_letter_or_digit_and_ignore_case():
    assert matches("reinforcement learning", "Reinforcement-Learning for robots")
    assert matches("reinforcement learning", abstract="via REINFORCEMENT/learning.")
    assert matches("GPT 4", "GPT-4 technical report")
    assert not matches("reinforcement learning", "learning reinforcement")


def test_short_terms_match_whole_words_only():
    assert not matches("RL", "A URL shortener")
    assert matches("RL", "Offline RL-based control")
    assert not matches("robot", "Robotic arms")


def test_phrases_match_within_title_or_within_abstract_not_across():
    assert matches("language models", abstract="large language models are")
    assert not matches("diffusion policy", title="Learning diffusion", abstract="policy search")
    assert not matches("large language", "large", "language")


@pytest.mark.parametrize("term", ["pre-training", "pre training", "pretraining", "Pre-Training"])
@pytest.mark.parametrize(
    "text", ["Pre-training at scale", "pre training at scale", "Pretraining at scale"]
)
def test_hyphen_space_or_nothing_between_words_are_the_same(term, text):
    assert matches(term, text)


def test_written_together_forms_respect_word_edges():
    assert matches("data set", "New datasets for robots")
    assert matches("k-NN", "kNNs revisited")
    assert matches("robots learning", "robotslearning")
    assert not matches("pretraining", "pre-trainingx")
    assert not matches("pre training", "spretraining")


@pytest.mark.parametrize(
    ("word", "normal"),
    [
        ("policies", "policy"),
        ("robots", "robot"),
        ("llms", "llm"),
        ("analysis", "analysis"),
        ("classes", "class"),
        ("boxes", "box"),
        ("quizzes", "quizz"),
        ("churches", "church"),
        ("wishes", "wish"),
        ("class", "class"),
        ("status", "status"),
        ("ties", "tie"),
        ("dies", "die"),
        ("species", "specy"),
        ("movies", "movy"),
        ("zombies", "zomby"),
        ("gaies", "gaie"),
        ("bus", "bus"),
        ("gas", "gas"),
        ("lies", "lie"),
        ("1980s", "1980"),
        ("analyses", "analyse"),
        ("cats", "cat"),
        ("its", "its"),
        ("sses", "ss"),
    ],
)
def test_plural_normalisation_is_exactly_the_spec_rule(word, normal):
    assert normalise(word) == normal


def test_plurals_match_both_ways():
    assert matches("policy", "Learning policies")
    assert matches("policies", "a policy")
    assert matches("robot", "Robots everywhere")
    assert matches("LLM", "LLMs as judges")
    assert matches("analysis", "An analysis")
    assert not matches("analysis", "Two analyses")


def test_prefix_matches_any_word_starting_with_it():
    for title in ("robots", "robotic arm", "Robotics"):
        assert matches("robot*", title)
    assert not matches("robot*", "microrobots")
    assert matches("polic*", "policies")
    assert matches("title:reinforce*", "Reinforcement learning")
    assert not matches("title:reinforce*", abstract="Reinforcement learning")


def test_quotes_keep_commas_and_and_literal():
    profile = parse_profile('"search and rescue, robots", "R AND D"')
    assert [t.text for t in profile.terms] == ['"search and rescue, robots"', '"R AND D"']
    assert matches('"search and rescue, robots"', "Search and rescue robots")
    assert not matches('"search and rescue, robots"', "search robots")
    assert matches('"R AND D"', "R and D budgets")
    assert not matches('"R AND D"', "R budgets", "D")


def test_and_needs_every_part_anywhere_in_title_or_abstract():
    assert matches("diffusion AND driving", "Diffusion planners", "for autonomous driving")
    assert not matches("diffusion AND driving", "Diffusion planners", "for robots")
    assert matches("search and rescue", "Search and rescue")  # lower-case and is a word


def test_exclusion_removes_every_paper_it_matches():
    assert not matches("robot, -survey", "Robot learning: a survey")
    assert matches("robot, -survey", "Robot learning")
    assert not matches("-survey", "Robot learning")  # only negative terms: nothing matches
    assert not matches("robot, -title:benchmark", "A robot benchmark")
    assert matches("robot, -title:benchmark", "A robot", "a benchmark")


def test_title_and_abstract_fields_restrict_where_to_look():
    assert matches("title:juggling", "Juggling robots")
    assert not matches("title:juggling", "Robots", "juggling")
    assert matches("abstract:juggling", "Robots", "juggling")
    assert not matches("abstract:juggling", "Juggling robots")


def test_author_field_matches_words_within_one_authors_name():
    authors = ["Sergey Levine", "Chelsea Finn"]
    assert matches("author:levine", "x", authors=authors)
    assert matches("author:Sergey Levine", "x", authors=authors)
    assert matches("author:levine sergey", "x", authors=["Levine, Sergey"])
    assert not matches("author:sergey finn", "x", authors=authors)
    assert not matches("author:levine", "Levine", "levine")


def test_category_field_is_exact_and_case_insensitive_or_a_group():
    assert matches("category:cs.RO", "x", categories=["cs.RO"])
    assert matches("category:CS.ro", "x", categories=["cs.RO"])
    assert not matches("category:cs.RO", "x", categories=["cs.ROx", "cs.LG"])
    assert matches("category:cs.*", "x", categories=["cs.LG"])
    assert not matches("category:cs.*", "x", categories=["math.OC"])


def test_fields_combine_with_and_and_exclusion():
    cats = ["cs.RO"]
    assert matches("title:grasping AND category:cs.RO", "Grasping", categories=cats)
    assert not matches("title:grasping AND category:cs.RO", "Grasping", categories=["cs.CV"])
    assert not matches("grasping, -category:cs.RO", "Grasping", categories=cats)
    assert not matches("grasping, -author:levine", "Grasping", authors=["S. Levine"])


def test_terms_are_separated_by_newlines_or_commas_and_blank_ones_ignored():
    profile = parse_profile("robot, policy\n\n  diffusion ,\r\n")
    assert [t.text for t in profile.terms] == ["robot", "policy", "diffusion"]
    assert parse_profile("").terms == ()


@pytest.mark.parametrize(
    ("text", "term", "says"),
    [
        ('""', '""', "empty quotes"),
        ('robot, "open', '"open', "never closed"),
        ("robot AND", "robot AND", "AND"),
        ("AND robot", "AND robot", "AND"),
        ("-", "-", "excludes nothing"),
        ("foo:x", "foo:x", 'unknown field "foo"'),
        ("--", "--", "no letters or digits"),
        ("*", "*", "*"),
        ("ro*bot", "ro*bot", "*"),
        ("title:", "title:", "nothing to search"),
        ("category:*", "category:*", "*"),
        ("x" * 101, "x" * 101, "101 characters"),
    ],
)
def test_syntax_errors_name_the_term(text, term, says):
    with pytest.raises(KeywordError) as caught:
        parse_profile(text)
    assert caught.value.term == term
    assert says in str(caught.value)
    assert str(caught.value).startswith(f'The term "{term[:57]}')


def test_at_most_50_terms_of_at_most_100_characters():
    assert len(parse_profile(",".join(f"t{i}" for i in range(50))).terms) == 50
    with pytest.raises(KeywordError) as caught:
        parse_profile(",".join(f"t{i}" for i in range(51)))
    assert caught.value.term == "t50"
    assert parse_profile("x" * 100).terms[0].text == "x" * 100


def test_match_lists_matched_positive_terms_in_profile_order():
    doc = make_document("Diffusion for driving", "with robots")
    found = match(parse_profile("robot\njuggling\ndiffusion"), doc)
    assert found == Match(("robot", "diffusion"), True)
    assert match(parse_profile("robot"), doc) == Match(("robot",), False)


def test_rank_order_title_then_terms_then_upvotes_then_newest():
    old, new = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    rows = [
        ("abstract, many terms", Match(("a", "b", "c"), False), 100, new),
        ("title, one term, old", Match(("a",), True), 5, old),
        ("title, one term, new", Match(("a",), True), 5, new),
        ("title, two terms", Match(("a", "b"), True), None, None),
        ("title, one term, upvoted", Match(("a",), True), 6, None),
        ("title, one term, undated", Match(("a",), True), None, None),
        ("title, one term, undated 0", Match(("a",), True), 0, None),
    ]
    ordered = sorted(rows, key=lambda r: rank_key(r[1], r[2], r[3]))
    assert [r[0] for r in ordered] == [
        "title, two terms",
        "title, one term, upvoted",
        "title, one term, new",
        "title, one term, old",
        "title, one term, undated",
        "title, one term, undated 0",
        "abstract, many terms",
    ]


def test_highlight_marks_matched_words_and_gives_back_the_text():
    profile = parse_profile("pretraining, robot*, RL, title:juggling, abstract:policy, -survey")
    text = "Pre-Training Robotic URL/RL agents: a survey of juggling policies"
    title = highlight(text, profile, "title")
    assert "".join(s for s, _ in title) == text
    assert [s for s, on in title if on] == ["Pre-Training", "Robotic", "RL", "juggling"]
    abstract = highlight(text, profile, "abstract")
    assert [s for s, on in abstract if on] == ["Pre-Training", "Robotic", "RL", "policies"]
    assert highlight("", profile, "title") == []
