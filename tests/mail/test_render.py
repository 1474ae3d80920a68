"""Digest emails as SPEC §6 describes them: subject, papers, highlights, footer, escaping, size."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from digest.mail.render import (
    DigestLinks,
    Renderer,
    build_environment,
    load_styles,
    match_papers,
    rank_entries,
    safe_url,
    templates_path,
)
from digest.matching import parse_profile

DAY = date(2026, 11, 26)
LINKS = DigestLinks(
    manage="https://digest.example.org/manage/TOKEN-M",
    unsubscribe="https://digest.example.org/unsubscribe/TOKEN-U",
    browser="https://digest.example.org/digest/TOKEN-D",
)
HOSTILE = "<script>alert(1)</script>"
LONG_ABSTRACT = " ".join(
    [
        "We study diffusion policies for robotic manipulation and show that pretraining on"
        " large video corpora improves sample efficiency across many benchmark tasks."
    ]
    * 12
)


def paper(id: int, title: str = "A diffusion policy for robots", **fields) -> SimpleNamespace:
    """A stored-paper-like value with every field entry_for reads."""
    values = {
        "id": id,
        "title": title,
        "abstract": "We train a diffusion model on robot demonstrations.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.RO"],
        "url": f"https://arxiv.org/abs/2611.{id:05d}",
        "pdf_url": f"https://arxiv.org/pdf/2611.{id:05d}",
        "code_url": None,
        "upvotes": None,
        "published_at": datetime(2026, 11, 25, tzinfo=UTC),
        "arxiv_id": f"2611.{id:05d}",
    }
    values.update(fields)
    return SimpleNamespace(**values)


@pytest.fixture
def renderer(settings) -> Renderer:
    return Renderer(settings)


def entries(*papers, keywords: str = "diffusion\nrobot*"):
    return match_papers(list(papers), parse_profile(keywords))


class TagCollector(HTMLParser):
    """Every start tag in an HTML document, and the text of <mark> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.marks: list[str] = []
        self._in_mark = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_mark = tag == "mark"

    def handle_endtag(self, tag):
        self._in_mark = False

    def handle_data(self, data):
        if self._in_mark:
            self.marks.append(data)


def parse(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    return collector


def test_subject_names_the_count_and_the_date(renderer) -> None:
    shown = entries(paper(1), paper(2), paper(3))
    email = renderer.digest(shown, total=7, day=DAY, keywords="diffusion", links=LINKS)
    assert email.subject == "7 new papers for you — Thu 26 Nov 2026"
    one = renderer.digest(shown[:1], total=1, day=DAY, keywords="diffusion", links=LINKS)
    assert one.subject == "1 new paper for you — Thu 26 Nov 2026"


def test_each_paper_shows_linked_title_authors_links_and_upvotes(renderer) -> None:
    many_authors = [f"Author Number{i}" for i in range(9)]
    shown = entries(
        paper(1, authors=many_authors, code_url="https://github.com/a/b", upvotes=42),
        paper(2, pdf_url=None),
    )
    email = renderer.digest(shown, total=2, day=DAY, keywords="diffusion", links=LINKS)
    links = [attrs["href"] for tag, attrs in parse(email.html).tags if tag == "a"]
    assert "https://arxiv.org/abs/2611.00001" in links
    assert "https://arxiv.org/pdf/2611.00001" in links
    assert "https://arxiv.org/pdf/2611.00002" not in links
    assert "https://github.com/a/b" in links
    assert "Author Number0, Author Number1, Author Number2 et al." in email.html
    assert "Author Number3" not in email.html
    assert "Ada Lovelace, Alan Turing" in email.html
    assert "42 upvotes" in email.html and "42 upvotes" in email.text
    assert len(re.findall(r"\d+ upvotes?\b", email.html)) == 1  # the second paper's had none


def test_text_part_writes_each_page_link_in_full_and_wraps_lines(renderer) -> None:
    shown = entries(paper(1, abstract=LONG_ABSTRACT), paper(2, title="Robots " * 30))
    email = renderer.digest(shown, total=2, day=DAY, keywords="diffusion", links=LINKS)
    assert "Page: https://arxiv.org/abs/2611.00001\n" in email.text
    assert "Page: https://arxiv.org/abs/2611.00002\n" in email.text
    assert "PDF:  https://arxiv.org/pdf/2611.00001\n" in email.text
    long_lines = [line for line in email.text.splitlines() if len(line) > 76]
    assert all("https://" in line for line in long_lines), long_lines
    assert "<" not in email.text


def test_abstract_is_trimmed_at_a_word_boundary_with_an_ellipsis(renderer) -> None:
    (entry,) = entries(paper(1, abstract=LONG_ABSTRACT))
    assert entry.abstract.endswith("…")
    assert len(entry.abstract) <= 401 and len(entry.abstract.split()) <= 60
    assert LONG_ABSTRACT.startswith(entry.abstract[:-1])
    assert LONG_ABSTRACT[len(entry.abstract) - 1] == " "  # cut between words
    (short,) = entries(paper(2))
    assert short.abstract == "We train a diffusion model on robot demonstrations."


def test_matched_terms_are_highlighted_and_listed(renderer) -> None:
    shown = entries(paper(1, abstract="Robots and robotic arms under diffusion."))
    email = renderer.digest(shown, total=1, day=DAY, keywords="diffusion, robot*", links=LINKS)
    marks = parse(email.html).marks
    assert {"diffusion", "robots", "Robots", "robotic"} <= set(marks)
    mark_tags = [attrs for tag, attrs in parse(email.html).tags if tag == "mark"]
    assert all("background-color" in (attrs["style"] or "") for attrs in mark_tags)
    assert "matched: diffusion, robot*" in email.text


def test_nothing_from_a_feed_or_a_profile_is_rendered_as_markup(renderer) -> None:
    title = r"$\mathcal{B}$-Coder: robots " + HOSTILE
    hostile = paper(
        1,
        title=title,
        abstract=f'Robots <img src=x onerror="alert(2)"> & {HOSTILE} "quoted"',
        authors=[HOSTILE, "Ada <b>Bold</b>"],
        url="javascript:alert(3)",
        pdf_url='https://x.example/"><script>alert(4)</script>',
        code_url="data:text/html,<script>alert(5)</script>",
    )
    shown = entries(hostile)
    keywords = f"robots\n{HOSTILE}"
    email = renderer.digest(shown, total=1, day=DAY, keywords=keywords, links=LINKS)
    tags = {tag for tag, _ in parse(email.html).tags}
    assert tags <= {"html", "head", "meta", "title", "style", "body", "div", "table", "tr",
                    "td", "h1", "h2", "p", "a", "span", "mark", "br"}
    assert "<script" not in email.html and "<img" not in email.html and "<b>" not in email.html
    assert r"$\mathcal{B}$-Coder" in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    hrefs = [attrs["href"] for tag, attrs in parse(email.html).tags if tag == "a"]
    assert not any(href.startswith(("javascript:", "data:")) for href in hrefs)
    assert title in email.text and HOSTILE in email.text  # plain text shows it as typed


def test_safe_url_keeps_only_http_links() -> None:
    assert safe_url("https://arxiv.org/abs/1") == "https://arxiv.org/abs/1"
    assert safe_url(" JavaScript:alert(1)") is None
    assert safe_url("ftp://x") is None
    assert safe_url(None) is None


def test_footer_says_why_and_links_to_manage_unsubscribe_and_browser(renderer) -> None:
    shown = entries(paper(1))
    email = renderer.digest(shown, total=1, day=DAY, keywords="diffusion\nrobot*", links=LINKS)
    for part in (email.html, email.text):
        assert "diffusion, robot*" in part
        for url in (LINKS.manage, LINKS.unsubscribe, LINKS.browser):
            assert url in part
    assert "You get this digest because" in email.text


def test_papers_beyond_the_cap_are_counted_with_a_link_to_the_web_page(renderer) -> None:
    shown = entries(paper(1), paper(2))
    email = renderer.digest(shown, total=5, day=DAY, keywords="diffusion", links=LINKS)
    assert "3 more matching papers on the web page" in email.html
    assert f"3 more matching papers on the web page:\n{LINKS.browser}" in email.text
    with pytest.raises(ValueError, match="browser link"):
        renderer.digest(shown, total=5, day=DAY, keywords="x", links=replace(LINKS, browser=None))


def test_a_preview_has_no_subscriber_links(renderer) -> None:
    email = renderer.digest(entries(paper(1)), total=1, day=DAY, keywords="diffusion", links=None)
    assert "preview" in email.text and "nothing was sent" in email.html
    assert "Unsubscribe" not in email.html and "/manage/" not in email.text


def test_html_has_inline_css_and_no_external_resources(renderer) -> None:
    email = renderer.digest(entries(paper(1)), total=1, day=DAY, keywords="x", links=LINKS)
    tags = parse(email.html).tags
    classed = [attrs for tag, attrs in tags if attrs.get("class")]
    assert classed and all(attrs.get("style") for attrs in classed)
    assert all(attrs.get("style") for tag, attrs in tags if tag in ("p", "a", "mark", "h2"))
    assert not any(tag in ("img", "link", "script") for tag, _ in tags)
    head_style = re.search(r"<style>(.*?)</style>", email.html, re.S)
    assert head_style and head_style.group(1).strip().startswith("@media")


def test_twenty_five_long_papers_stay_well_under_100_kb(renderer) -> None:
    big = [
        paper(
            i,
            title="Robot diffusion " * 12,
            abstract=("diffusion robots " * 40 + LONG_ABSTRACT) * 3,
            authors=[f"Some Long Author Name {j}" for j in range(40)],
            code_url="https://github.com/some-org/some-long-repository-name",
            upvotes=100 + i,
        )
        for i in range(25)
    ]
    shown = entries(*big, keywords="diffusion\nrobot*\npretraining\nvideo corpora")
    email = renderer.digest(shown, total=60, day=DAY, keywords="diffusion", links=LINKS)
    size = len(email.html.encode())
    assert size < 80_000, size
    assert len(email.text.encode()) < 40_000
    every_other_word = [replace(entry, abstract_segments=(("robot", True), (" and ", False)) * 30)
                        for entry in shown]
    email = renderer.digest(every_other_word, total=60, day=DAY, keywords="x", links=LINKS)
    assert len(email.html.encode()) < 90_000


def test_ranking_puts_title_matches_first_then_more_terms_then_upvotes(renderer) -> None:
    abstract_only = paper(1, title="Unrelated", abstract="diffusion robots", upvotes=500)
    title_one = paper(2, title="Diffusion", abstract="nothing here", upvotes=1)
    title_two = paper(3, title="Diffusion robots", abstract="nothing here", upvotes=None)
    title_one_popular = paper(4, title="Diffusion", abstract="nothing here", upvotes=9)
    ranked = entries(abstract_only, title_one, title_two, title_one_popular)
    assert [e.paper_id for e in ranked] == [3, 4, 2, 1]
    assert [e.paper_id for e in rank_entries(list(reversed(ranked)))] == [3, 4, 2, 1]


def test_fragments_are_rendered_once_per_paper_and_terms(renderer) -> None:
    pool = entries(*[paper(i) for i in range(12)])
    for start in range(3):
        renderer.digest(pool[start : start + 10], total=10, day=DAY, keywords="x", links=LINKS)
    info = renderer._fragment.cache_info()
    assert info.misses == 12 and info.hits == 18
    changed = replace(pool[0], title="A new version of the title")
    email = renderer.digest([changed], total=1, day=DAY, keywords="x", links=LINKS)
    assert "A new version of the title" in email.html


def test_many_digests_render_fast_once_fragments_are_cached(renderer) -> None:
    pool = entries(*[paper(i, abstract=LONG_ABSTRACT, upvotes=i) for i in range(40)])
    renderer.digest(pool, total=40, day=DAY, keywords="diffusion", links=LINKS)  # warm
    count, started = 500, time.perf_counter()
    for i in range(count):
        shown = pool[i % 30 : i % 30 + 10]
        renderer.digest(shown, total=10, day=DAY, keywords="diffusion\nrobot*", links=LINKS)
    rate = count / (time.perf_counter() - started)
    assert rate > 300, f"{rate:.0f} digests/s"  # measured well above 1,000/s; loose for CI


def test_transactional_emails_extend_the_shared_layout(settings, tmp_path: Path) -> None:
    root = tmp_path / "templates"
    (root / "email" / "hello").mkdir(parents=True)
    for name in ("_layout.html", "_layout.txt", "_styles.css", "_macros.html"):
        (root / "email" / name).write_text((templates_path() / "email" / name).read_text())
    kind = root / "email" / "hello"
    (kind / "subject.txt").write_text("Hello\r\n{{ name }}\n")
    (kind / "body.txt").write_text(
        '{% extends "email/_layout.txt" %}{% block body %}Hi {{ name }}{% endblock %}'
    )
    (kind / "body.html").write_text(
        '{% extends "email/_layout.html" %}{% block body %}'
        "<p{{ css('p') }}>Hi {{ name }}</p>{% endblock %}"
    )
    renderer = Renderer(settings)
    renderer.env = build_environment(settings, root)
    email = renderer.email("hello", name="<Eve>")
    assert email.subject == "Hello <Eve>"  # one line, never a CR/LF in a header
    assert '<p style="margin:0 0 16px;' in email.html and "Hi &lt;Eve&gt;" in email.html
    assert email.text.startswith("Hi <Eve>\n\n-- \n")


def test_a_style_rule_that_cannot_be_inlined_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "styles.css"
    sheet.write_text(".ok { color: red; }\np a { color: blue; }")
    with pytest.raises(ValueError, match="single-class"):
        load_styles(sheet)
    sheet.write_text(
        ".ok { color: red; margin: 0 4px }\n.big { color: blue }\n"
        "@media (max-width: 480px) { .big { color: green !important; } }"
    )
    styles = load_styles(sheet)
    assert styles.rules == {"ok": "color:red;margin:0 4px", "big": "color:blue"}
    assert styles.responsive.startswith("@media (max-width: 480px)")
    assert styles.attributes("ok") == ' style="color:red;margin:0 4px"'
    assert styles.attributes("big") == ' class="big" style="color:blue"'


def test_every_email_template_renders_with_the_real_stylesheet(settings) -> None:
    env = build_environment(settings)
    for name in env.list_templates(filter_func=lambda name: name.startswith("email/")):
        env.get_template(name)  # a syntax error or an unknown filter fails here


def test_the_email_fits_a_phone_screen(renderer, chromium_path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    big = [paper(i, title="Supercalifragilistic" * 5 + " robots", upvotes=3) for i in range(5)]
    email = renderer.digest(entries(*big), total=9, day=DAY, keywords="robot*", links=LINKS)
    page_file = tmp_path / "digest.html"
    page_file.write_text(email.html)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        for width in (375, 600):
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto(page_file.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        browser.close()


def test_only_the_terms_that_matched_are_highlighted_and_entries_are_shared() -> None:
    doc = paper(1, title="Diffusion for juggling", abstract="A robot arm juggles.")
    later = SimpleNamespace(**{**vars(doc), "title": "Diffusion for juggling, v2"})
    (alone,) = entries(doc, keywords="diffusion")
    (shared,) = entries(doc, keywords="diffusion\ndiffusion AND protein\n-survey")
    assert shared is alone  # same paper, same matched terms: highlighted once for everyone
    assert [text for text, hit in alone.abstract_segments if hit] == []
    assert [text for text, hit in alone.title_segments if hit] == ["Diffusion"]
    (changed,) = entries(later, keywords="diffusion")
    assert changed.title == "Diffusion for juggling, v2"


def test_text_is_wrapped_at_72_columns_without_breaking_urls() -> None:
    from digest.mail.render import wrap

    url = "https://arxiv.org/abs/2607.23193?" + "x" * 80
    text = ("word " * 40) + url + " tail\n\nsecond   paragraph"
    lines = wrap(text).split("\n")
    assert all(len(line) <= 72 for line in lines if line != url)
    assert url in lines
    assert lines[-3:] == ["tail", "", "second paragraph"]
    assert " ".join(wrap(text).split()) == " ".join(text.split())


FRAGMENT_CASES = [
    paper(1, upvotes=12, code_url="https://github.com/x/y"),
    paper(2, title=f"Robots {HOSTILE} & diffusion", abstract=LONG_ABSTRACT + " <b>robots</b>"),
    paper(3, abstract="", upvotes=0, title="Robotic diffusion, robot arms"),
    paper(4, url=None, pdf_url=None, arxiv_id=None, authors=[]),
]


@pytest.mark.parametrize(
    "keywords", ["robot*", "diffusion\nrobot*", "diffusion policy\ntitle:robot*", "pretraining"]
)
def test_a_fragment_from_its_papers_shell_equals_the_template_rendered_directly(
    renderer, keywords
) -> None:
    for entry in match_papers(FRAGMENT_CASES, parse_profile(keywords)):
        fragment = renderer._render_fragment(entry)
        direct = renderer._render_shell(entry)  # the templates rendered on the entry itself
        assert (fragment.html, fragment.text) == (direct.html, direct.text)


def test_entries_highlight_exactly_as_matching_highlight_does() -> None:
    from digest import matching
    from digest.mail.entries import (
        ABSTRACT_MAX_CHARS,
        ABSTRACT_MAX_WORDS,
        TITLE_MAX_CHARS,
        clean_text,
        trim_segments,
    )

    profile = parse_profile("diffusion\nrobot*\nlarge video corpora\nabstract:sample")
    for entry in match_papers(FRAGMENT_CASES, profile):
        source = next(p for p in FRAGMENT_CASES if p.id == entry.paper_id)
        terms = matching.Profile(
            tuple(t for t in profile.positives if t.text in entry.matched_terms)
        )
        title = matching.highlight(clean_text(source.title), terms, "title")
        abstract = matching.highlight(clean_text(source.abstract), terms, "abstract")
        assert entry.title_segments == trim_segments(title, TITLE_MAX_CHARS, 10**4)
        assert entry.abstract_segments == trim_segments(
            abstract, ABSTRACT_MAX_CHARS, ABSTRACT_MAX_WORDS
        )
