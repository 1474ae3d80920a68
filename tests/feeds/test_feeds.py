"""Feed detection, errors a user can act on, generic RSS/Atom, and the text and id helpers."""

from __future__ import annotations

import json

import pytest

from digest.feeds import FeedError, parse_feed, parse_feed_kind
from digest.feeds.common import split_arxiv_id
from digest.feeds.text import plain_text, unwrap

# --- kind detection and errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("hf-daily-papers-2026-07-31.json", "hf-json"),
        ("arxiv-rss-cs.CL-2026-04-27-excerpt.xml", "arxiv-rss"),
        ("arxiv-rss1-rdf-cs-2018-08-30.xml", "arxiv-rdf"),
        ("arxiv-api-atom-legacy-2016-10-09-search-au_del_maestro.xml", "arxiv-api"),
        ("arxiv-api-atom-2026-08-02-cat-cs.AI-cs.LG-cs.CL-sort-submittedDate.xml", "arxiv-api"),
        ("arxiv-atomfeed-cs.LG-2026-09-25-excerpt-abstracts-trimmed.xml", "arxiv-atom"),
        ("hf-papers-rss-takara-tldr-2026-04-30.xml", "rss"),
    ],
)
def test_the_kind_is_detected_from_the_content(feeds_dir, name, kind) -> None:
    assert parse_feed_kind((feeds_dir / name).read_bytes(), name)[0] == kind


def test_truncated_xml_is_malformed_with_its_line(feeds_dir) -> None:
    content = (feeds_dir / "arxiv-rss-cs.CL-2026-04-27-excerpt.xml").read_bytes()[:3000]
    with pytest.raises(FeedError, match=r"^malformed XML at line \d+, column \d+: "):
        parse_feed(content, "x")


def test_an_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body></body></html>"
    with pytest.raises(FeedError, match="not a feed: the response is an HTML page"):
        parse_feed(page, "x")
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "x")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the response is empty"),
        (b"   \n", "the response is empty"),
        (b"Service unavailable", "neither XML nor JSON"),
        (b'<?xml version="1.0"?><opml version="2.0"/>', "not RSS"),
        (b'{"papers": []}', "JSON of the wrong shape: expected a list of papers"),
        (b'[{"paper": {"title": "no id"}}]', "item 1 is not a paper"),
        (b"[1, 2]", "item 1 is not a paper"),
        (b'[{"paper": ', "malformed JSON at line 1"),
        (b'{"error": "Invalid date"}', '"Invalid date"'),
    ],
)
def test_what_is_not_a_feed_says_why(content, message) -> None:
    with pytest.raises(FeedError, match=message):
        parse_feed(content, "x")


ENTITY_MESSAGE = "the feed declares XML entities, which digest refuses"
LAUGHS = (
    '<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title></channel></rss>\n'
)
EXTERNAL = (
    '<?xml version="1.0" encoding="{encoding}"?>\n'
    '<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    '<rss version="2.0"><channel><title>&secret;</title></channel></rss>\n'
)


@pytest.mark.parametrize("template", [LAUGHS, EXTERNAL], ids=["billion-laughs", "external"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be"])
def test_entity_declarations_are_refused_in_every_encoding(template, encoding) -> None:
    document = template.format(encoding=encoding.upper()[:6]).encode(encoding)
    assert b"<!ENTITY" not in document or encoding == "utf-8"  # a byte search cannot see them
    with pytest.raises(FeedError) as refused:
        parse_feed(document, "x")
    assert str(refused.value) == ENTITY_MESSAGE


def test_a_plain_doctype_is_still_read() -> None:
    feed = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>t</title><item><title>A paper</title><link>https://example.org/a</link></item>"
        b"</channel></rss>"
    )
    [paper] = parse_feed(feed, "x")
    assert paper.title == "A paper"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_feed_is_read(encoding) -> None:
    feed = (
        '<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Caf\u00e9 robots</title><link>https://example.org/a</link></item>"
        "</channel></rss>"
    ).encode(encoding)
    [paper] = parse_feed(feed, "x")
    assert paper.title == "Caf\u00e9 robots"


def test_hf_json_of_an_empty_day_is_no_papers() -> None:
    assert parse_feed(b"[]", "x") == []


def test_hf_items_without_an_arxiv_id_keep_their_hf_page_as_key() -> None:
    item = {"paper": {"id": "not-arxiv", "title": "T", "summary": "S", "authors": []}}
    [paper] = parse_feed(json.dumps([item]).encode(), "x")
    assert paper.key == paper.url == "https://huggingface.co/papers/not-arxiv"
    assert paper.arxiv_id is None and paper.pdf_url is None


def test_hf_links_that_are_not_http_are_dropped() -> None:
    item = {"paper": {"id": "2607.00001", "title": "T", "githubRepo": "javascript:alert(1)"}}
    [paper] = parse_feed(json.dumps([item]).encode(), "x")
    assert paper.code_url is None


# --- generic feeds -------------------------------------------------------------------------------

BLOG_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Lab blog</title>
<item><title>We &amp;amp; you: &lt;b&gt;bold&lt;/b&gt; news</title>
<link>https://lab.example.org/posts/1</link><guid>post-1</guid>
<description>&lt;p&gt;First &lt;a href="x"&gt;para&lt;/a&gt;.&lt;/p&gt;
&lt;p&gt;Second.&lt;/p&gt;</description>
<category>AI</category><category>cs.LG</category><dc:creator>Ana Müller</dc:creator>
<pubDate>Tue, 04 Aug 2026 10:00:00 GMT</pubDate></item>
<item><title>On arXiv</title><link>http://arxiv.org/abs/2608.00001v2</link></item>
<item><link>https://lab.example.org/untitled</link></item>
</channel></rss>""".encode()


def test_generic_rss_items_are_keyed_by_link_with_html_turned_to_text() -> None:
    kind, papers = parse_feed_kind(BLOG_RSS, "x")
    assert kind == "rss"
    post, on_arxiv = papers  # the untitled item is skipped
    assert post.key == post.url == "https://lab.example.org/posts/1"
    assert post.title == "We & you: bold news"
    assert post.abstract == "First para.\n\nSecond."
    assert post.categories == ("cs.LG",)  # a blog tag is not an arXiv category
    assert post.authors == ("Ana Müller",)
    assert post.published_at is not None and post.published_at.hour == 10
    assert (on_arxiv.key, on_arxiv.version) == ("2608.00001", 2)
    assert on_arxiv.url == "https://arxiv.org/abs/2608.00001"


BLOG_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Notes</title><id>urn:notes</id>
<entry><id>urn:uuid:1</id><title type="html">A &lt;em&gt;fine&lt;/em&gt; result</title>
<link rel="alternate" href="https://notes.example.org/1"/><author><name>Zoë Ng</name></author>
<summary type="html">&lt;p&gt;One&lt;br&gt;two&lt;/p&gt;</summary>
<published>2026-08-01T09:30:00+02:00</published><updated>2026-08-02T09:30:00Z</updated></entry>
<entry><id>urn:uuid:2</id><title>No link</title><content type="text">Body</content></entry>
</feed>""".encode()


def test_generic_atom_entries() -> None:
    kind, (first, second) = parse_feed_kind(BLOG_ATOM, "x")
    assert kind == "atom"
    assert first.key == "https://notes.example.org/1"
    assert first.title == "A fine result"
    assert first.abstract == "One\n\ntwo"
    assert first.authors == ("Zoë Ng",)
    assert first.published_at is not None and first.published_at.isoformat() == (
        "2026-08-01T07:30:00+00:00"
    )
    assert second.key == "urn:uuid:2" and second.url is None and second.abstract == "Body"


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oai:arXiv.org:2609.26811v1", ("2609.26811", 1)),
        ("https://arxiv.org/abs/2205.06398", ("2205.06398", None)),
        ("http://arxiv.org/abs/cond-mat/0412498v1", ("cond-mat/0412498", 1)),
        ("https://arxiv.org/pdf/hep-ph/0301050v2", ("hep-ph/0301050", 2)),
        ("https://arxiv.org/pdf/2401.08875v3.pdf", ("2401.08875", 3)),
        ("arXiv:1808.09955v1", ("1808.09955", 1)),
        ("https://tldr.takara.ai/p/2604.26238", ("2604.26238", None)),
        ("https://huggingface.co/papers/2607.23193", ("2607.23193", None)),
        ("math.GT/0309136", ("math/0309136", None)),
        ("https://example.org/abs/2609.26811", None),
        ("post-1", None),
    ],
)
def test_arxiv_ids_are_found_in_every_form(text, expected) -> None:
    assert split_arxiv_id(text) == expected


def test_unwrap_joins_hard_wraps_and_keeps_indented_paragraph_starts() -> None:
    assert unwrap("  One line\nwrapped here.\n  Next paragraph\n") == (
        "One line wrapped here.\n\nNext paragraph"
    )


def test_plain_text_decodes_entities_but_leaves_bare_ampersands() -> None:
    assert plain_text("R&D &amp; Q&A &lt;3 &para") == "R&D & Q&A <3 &para"
