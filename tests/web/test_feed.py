"""GET /feed/<token>: a valid Atom feed of exactly the papers of the reader's digests, answered
304 when the reader's copy is current, and 404 for every token but a live feed token."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import feedparser
import pytest
from sqlalchemy import update
from web_support import add_paper, add_subscriber, make_app, post_form, text_part

from digest import pipeline
from digest.models import Digest, Paper, pack_ids
from digest.subscribers.atom_writer import timestamp
from digest.tokens import Tokens

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
PAGE_LINK = re.compile(r"^Page: (https://arxiv\.org/abs/[\w.]+)", re.M)
DAY_ONE = ["hf-daily-papers-2026-07-31.json"]
DAY_TWO = [
    "arxiv-api-atom-2026-08-02-cat-cs.AI-cs.LG-cs.CL-sort-submittedDate.xml",
    "arxiv-rss-cs.AI-2026-04-27-excerpt.xml",
]
KEYWORDS = "agent*\nlanguage model*"


@pytest.fixture
def tokens(settings) -> Tokens:
    return Tokens(settings.secret_key)


def rfc4287(body: bytes) -> ET.Element:
    """Check what RFC 4287 requires of a feed and its entries; the parsed root."""
    root = ET.fromstring(body)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{name}")) == 1, f"feed needs exactly one atom:{name}"
    assert RFC3339.fullmatch(root.findtext(f"{A}updated") or "")
    feed_author = root.find(f"{A}author/{A}name") is not None
    assert [link.get("rel") for link in root.findall(f"{A}link")].count("self") == 1
    ids = []
    for entry in root.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, f"entry needs exactly one atom:{name}"
        assert RFC3339.fullmatch(entry.findtext(f"{A}updated") or "")
        assert feed_author or entry.find(f"{A}author/{A}name") is not None
        alternate = [link for link in entry.findall(f"{A}link") if link.get("rel") == "alternate"]
        assert entry.find(f"{A}content") is not None or alternate
        for link in entry.findall(f"{A}link"):
            assert link.get("href") and link.get("rel")
        ids.append(entry.findtext(f"{A}id"))
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return root


def parsed(answer) -> feedparser.FeedParserDict:
    """The feed as feedparser reads it; it must parse without complaint."""
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    body = answer.get_data()
    rfc4287(body)
    result = feedparser.parse(body)
    assert not result.bozo, result.get("bozo_exception")
    assert result.version == "atom10"
    return result


def paper_links(result) -> list[str]:
    return [entry.link for entry in result.entries]


def fetch(services, feeds_dir, names, now) -> None:
    results = pipeline.fetch(services, now=now, sources=[str(feeds_dir / n) for n in names])
    assert all(result.error is None for result in results), results


def test_the_feed_holds_exactly_the_papers_of_the_digest_emails_newest_first(
    smtp_services, smtp_server, clock, feeds_dir, tokens
):
    settings = dataclasses.replace(smtp_services.settings, max_papers=200)  # emails show all
    services = dataclasses.replace(smtp_services, settings=settings)
    ada = add_subscriber(services.sessions, clock.now, email="ada@example.org",
                         keywords=KEYWORDS, send_time="08:00")
    bob = add_subscriber(services.sessions, clock.now, email="bob@example.org",
                         keywords=KEYWORDS, send_time="08:00", token_nonce="n2", delivery="feed")
    fetch(services, feeds_dir, DAY_ONE, clock.advance(minutes=10))
    clock.advance(minutes=50)
    assert pipeline.send(services, clock=clock).line() == "sent 2, empty 0, deferred 0, failed 0"
    fetch(services, feeds_dir, DAY_TWO, clock.advance(hours=22))
    clock.advance(hours=2)
    assert pipeline.send(services, clock=clock).line() == "sent 2, empty 0, deferred 0, failed 0"

    emails = [m.message for m in smtp_server.messages]
    assert [m["To"] for m in emails] == ["ada@example.org"] * 2  # none for the feed-only reader
    mailed = [PAGE_LINK.findall(text_part(m)) for m in reversed(emails)]  # newest first
    assert all(mailed) and len(mailed[0]) + len(mailed[1]) > 20
    client = make_app(services, clock).test_client()
    feed_link = re.search(r"^Your feed: \S+(/feed/[\w.-]+)", text_part(emails[0]), re.M)[1]
    assert feed_link == f"/feed/{tokens.make('feed', ada)}"  # the footer's link is the feed
    ada_feed = parsed(client.get(feed_link))
    assert paper_links(ada_feed) == mailed[0] + mailed[1]
    bob_feed = parsed(client.get(f"/feed/{tokens.make('feed', bob)}"))
    assert paper_links(bob_feed) == paper_links(ada_feed)  # what the emails would have held
    assert {e.id for e in bob_feed.entries}.isdisjoint(e.id for e in ada_feed.entries)

    # After 30 days the older digests fall out of the feed, newest first still.
    clock.advance(days=30, hours=-23)
    assert paper_links(parsed(client.get(feed_link))) == mailed[0]


def _digest(services, who, at: datetime, papers: list[Paper]) -> Digest:
    """A stored digest of `papers` (what each matched is derived from the keywords again)."""
    with services.sessions.begin() as session:
        digest = Digest(subscriber_id=who.id, scheduled_for=at, window_start=at - timedelta(1),
                        window_end=at, paper_count=len(papers), keywords=who.keywords,
                        created_at=at, paper_ids=pack_ids([paper.id for paper in papers]))
        session.add(digest)
        return digest


@pytest.fixture
def ada(services, clock):
    return add_subscriber(services.sessions, clock.now, keywords="robot*\nRL")


@pytest.fixture
def client(services, clock):
    return make_app(services, clock).test_client()


def test_an_entry_has_the_papers_link_authors_abstract_reason_and_pdf_and_code(
    services, clock, client, tokens, ada
):
    paper = add_paper(
        services.sessions, "2604.00001", "Robots <script>alert(1)</script> & $\\mathcal{B}$",
        clock.now, abstract="We train\x0b robots.\n\nWith RL & <b>care</b>.",
        authors=["Ada Lovelace", "Grace Hopper"], url="https://arxiv.org/abs/2604.00001",
        pdf_url="https://arxiv.org/pdf/2604.00001", code_url="https://github.com/x/robots",
        arxiv_id="2604.00001",
    )
    _digest(services, ada, clock.now, [paper])  # matches robot* (title) and RL
    answer = client.get(f"/feed/{tokens.make('feed', ada)}")
    result = parsed(answer)
    [entry] = result.entries
    assert entry.title == "Robots <script>alert(1)</script> & $\\mathcal{B}$"
    assert entry.title_detail.type == "text/plain"
    assert entry.link == "https://arxiv.org/abs/2604.00001"
    assert [author.name for author in entry.authors] == ["Ada Lovelace", "Grace Hopper"]
    assert entry.summary == "We train robots. With RL & <b>care</b>."
    assert entry.summary_detail.type == "text/plain"
    related = {link.title: link.href for link in entry.links if link.rel == "related"}
    assert related == {"PDF": "https://arxiv.org/pdf/2604.00001",
                       "Code": "https://github.com/x/robots"}
    assert [tag.term for tag in entry.tags] == ["robot*", "RL"]
    assert "Matched your keywords: robot*, RL (in the title)." in entry.content[0].value
    assert entry.updated == timestamp(clock.now) and entry.published == entry.updated
    assert b"<script>" not in answer.get_data()  # escaped, in the document and its content
    root = rfc4287(answer.get_data())
    assert root.findtext(f"{A}updated") == timestamp(clock.now)
    assert "ada@example.org" not in answer.get_data(as_text=True)  # ids and titles alike


def test_ids_are_stable_and_the_feed_is_read_without_cookies(services, clock, client, tokens, ada):
    paper = add_paper(services.sessions, "2604.00002", "Robot hands", clock.now)
    _digest(services, ada, clock.now, [paper])
    url = f"/feed/{tokens.make('feed', ada)}"
    assert url == f"/feed/{tokens.make('feed', ada)}"  # one address, wherever it is shown
    first, second = client.get(url), make_app(services, clock).test_client().get(url)
    assert first.get_data() == second.get_data()
    assert parsed(first).feed.id.startswith("urn:uuid:")
    assert "Set-Cookie" not in first.headers
    assert first.headers["Cache-Control"].startswith("private, max-age=")
    self_link = [link.href for link in parsed(first).feed.links if link.rel == "self"]
    assert self_link == [f"{services.settings.base_url}{url}"]
    # The feed grants reading only: it never links to the manage page.
    assert "/manage/" not in first.get_data(as_text=True)


def test_a_conditional_get_is_answered_304_until_the_feed_changes(
    services, clock, client, tokens, ada
):
    paper = add_paper(services.sessions, "2604.00003", "Robot feet", clock.now)
    _digest(services, ada, clock.now - timedelta(hours=1), [paper])
    url = f"/feed/{tokens.make('feed', ada)}"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified
    again = client.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.get_data()) == (304, b"")
    assert again.headers["ETag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = "Mon, 20 Apr 2026 07:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200

    # A new digest changes the feed: the old validators no longer match.
    later = add_paper(services.sessions, "2604.00004", "Robot knees", clock.now)
    _digest(services, ada, clock.now, [later])
    changed = client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert len(parsed(changed).entries) == 2

    # So does a new version of a paper already in it.
    etag = changed.headers["ETag"]
    with services.sessions.begin() as session:
        session.execute(update(Paper).where(Paper.key == "2604.00003").values(
            title="Robot feet, v2", last_changed_at=clock.now + timedelta(minutes=1)))
    fresh = client.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert [e.title for e in parsed(fresh).entries] == ["Robot knees", "Robot feet, v2"]


def test_only_a_live_feed_token_opens_a_feed(services, clock, client, tokens, ada, settings):
    paper = add_paper(services.sessions, "2604.00005", "Robot arms", clock.now)
    _digest(services, ada, clock.now, [paper])
    feed_token, manage_token = tokens.make("feed", ada), tokens.make("manage", ada)
    assert client.get(f"/feed/{feed_token}").status_code == 200
    assert client.get(f"/manage/{feed_token}").status_code == 404  # a feed token manages nothing
    assert client.get(f"/feed/{manage_token}").status_code == 404  # nor the reverse
    assert client.get(f"/feed/{tokens.make('digest', ada, 1)}").status_code == 404
    assert client.get(f"/feed/{feed_token[:-2]}xx").status_code == 404  # tampered
    assert client.get(f"/feed/{Tokens('another-key').make('feed', ada)}").status_code == 404
    pending = add_subscriber(services.sessions, clock.now, email="pat@example.org",
                             status="pending", token_nonce="n3")
    assert client.get(f"/feed/{tokens.make('feed', pending)}").status_code == 404

    # Unsubscribing (one click, as a mail provider does it) ends the feed.
    answer = make_app(services, clock).test_client().post(
        f"/unsubscribe/{tokens.make('unsubscribe', ada)}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert client.get(f"/feed/{feed_token}").status_code == 404


def test_deleting_ones_data_ends_the_feed(services, clock, client, tokens, ada):
    feed = f"/feed/{tokens.make('feed', ada)}"
    assert client.get(feed).status_code == 200
    manage = f"/manage/{tokens.make('manage', ada)}"
    post_form(client, f"{manage}/delete", f"{manage}/delete")
    assert client.get(feed).status_code == 404
    # A new subscriber on the same row id does not inherit the old feed either.
    add_subscriber(services.sessions, clock.now, id=ada.id, token_nonce="new-nonce")
    assert client.get(feed).status_code == 404


def test_an_empty_feed_is_valid_and_a_big_one_is_bounded(services, clock, client, tokens, ada):
    url = f"/feed/{tokens.make('feed', ada)}"
    assert parsed(client.get(url)).entries == []
    from digest.subscribers import feed as feed_module

    papers = [add_paper(services.sessions, f"k{i}", f"Robot {i}", clock.now) for i in range(12)]
    _digest(services, ada, clock.now - timedelta(days=1), papers[:6])
    _digest(services, ada, clock.now, papers[6:])
    original = feed_module.MAX_ENTRIES
    feed_module.MAX_ENTRIES = 8
    try:
        titles = [e.title for e in parsed(client.get(url)).entries]
    finally:
        feed_module.MAX_ENTRIES = original
    assert titles == [f"Robot {i}" for i in (6, 7, 8, 9, 10, 11, 0, 1)]


def test_the_summary_is_the_abstract_cut_short_and_the_content_holds_all_of_it(
    services, clock, client, tokens, ada
):
    abstract = " ".join(f"word{i}" for i in range(200))
    paper = add_paper(services.sessions, "2604.00009", "Robots", clock.now, abstract=abstract)
    _digest(services, ada, clock.now, [paper])
    [entry] = parsed(client.get(f"/feed/{tokens.make('feed', ada)}")).entries
    assert entry.summary.endswith("…") and len(entry.summary) <= 401
    assert abstract.startswith(entry.summary[:-1])
    assert abstract in entry.content[0].value


def test_the_etag_is_the_documents_own_so_unshown_changes_keep_it(
    services, clock, client, tokens, ada
):
    paper = add_paper(services.sessions, "2604.00010", "Robot eyes", clock.now, upvotes=3)
    _digest(services, ada, clock.now, [paper])
    url = f"/feed/{tokens.make('feed', ada)}"
    first = client.get(url)
    etag = first.headers["ETag"]
    # Upvotes change several times a day, and the feed does not show them.
    with services.sessions.begin() as session:
        session.execute(update(Paper).where(Paper.key == "2604.00010").values(
            upvotes=40, last_changed_at=clock.now + timedelta(hours=1)))
    again = client.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.headers["ETag"]) == (304, etag)
    # Another process (no remembered versions) builds the document and still answers 304.
    elsewhere = make_app(services, clock).test_client()
    assert elsewhere.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert elsewhere.get(url).get_data() == first.get_data()


def test_a_head_request_answers_the_headers_alone(services, clock, client, tokens, ada):
    url = f"/feed/{tokens.make('feed', ada)}"
    head = client.head(url)
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["ETag"] == client.get(url).headers["ETag"]
    assert head.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
