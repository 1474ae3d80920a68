"""The Atom writer and the feed's pure parts: text XML can hold, the email's abstract cut,
ids that are stable and reveal nothing."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import feedparser
from hypothesis import given
from hypothesis import strategies as st

from digest.mail.entries import ABSTRACT_MAX_CHARS, ABSTRACT_MAX_WORDS, clean_text, trim_segments
from digest.subscribers import atom_writer as atom
from digest.subscribers.feed import _uuid, reason, short

NOW = datetime(2026, 6, 2, 7, 0, 30, 123456, tzinfo=UTC)


def one_entry(text: str) -> bytes:
    entry = atom.Entry(
        id="urn:uuid:00000000-0000-8000-8000-000000000000", title=text, updated=NOW,
        published=NOW, authors=[text], summary=text, content=text, reason=text,
        links=[atom.Link(href=f"https://example.org/{text}", rel="alternate", title=text)],
        categories=[text],
    )  # fmt: skip
    return atom.document(atom.Feed(id="urn:x", title=text, subtitle=text, updated=NOW,
                                   author="Paper Digest", links=[], entries=[entry]))


def test_characters_xml_forbids_are_dropped_and_markup_stays_text() -> None:
    body = one_entry("a\x00b\x0bc\ufffed\ud800e <b>&amp;</b> \"'")
    root = ET.fromstring(body)  # would raise on any forbidden character
    A = "{http://www.w3.org/2005/Atom}"
    assert root.findtext(f"{A}entry/{A}title") == "abcde <b>&amp;</b> \"'"
    assert not feedparser.parse(body).bozo


@given(st.text())
def test_any_text_makes_a_well_formed_document(text: str) -> None:
    ET.fromstring(one_entry(text))


def test_times_are_rfc3339_in_utc_to_the_second() -> None:
    assert atom.timestamp(NOW) == "2026-06-02T07:00:30Z"


words = st.sampled_from(["a", "robot", "learning,", "x" * 40, "(see", "—", "model;", "RL-"])


@given(st.lists(words, max_size=140))
def test_the_summary_is_cut_exactly_as_the_email_cuts_the_abstract(parts: list[str]) -> None:
    text = clean_text(" ".join(parts))
    email = trim_segments(((text, False),), ABSTRACT_MAX_CHARS, ABSTRACT_MAX_WORDS)
    assert short(text) == "".join(part for part, _ in email)


def test_ids_are_version_8_uuids_stable_per_name_and_secret() -> None:
    first = _uuid("secret", "feed:1:2026-06-01T09:00:00+00:00")
    value = uuid.UUID(first.removeprefix("urn:uuid:"))
    assert (value.version, value.variant) == (8, uuid.RFC_4122)
    assert first == _uuid("secret", "feed:1:2026-06-01T09:00:00+00:00")
    assert first != _uuid("other secret", "feed:1:2026-06-01T09:00:00+00:00")
    assert first != _uuid("secret", "feed:2:2026-06-01T09:00:00+00:00")


def test_the_reason_names_the_matched_terms() -> None:
    assert reason(["robot*", "RL"], True) == "Matched your keywords: robot*, RL (in the title)."
    assert reason(["author:levine"], False) == "Matched your keywords: author:levine."
