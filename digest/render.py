"""Rendering: the one Jinja environment for email, and emails as (subject, text, html) triples.

A digest email is a small shell (heading, footer) around one fragment per paper. A fragment depends
only on the paper and the terms it matched, never on the reader, so the Renderer renders each
fragment once and keeps it in a bounded LRU cache: a day's 100,000 digests render each (paper,
matched terms) fragment once and spend their time on the shell alone (see `Renderer`).

CSS is applied once too: email/_styles.css is read when the environment is built and templates
write `{{ css('name') }}`, which puts the rule's declarations inline; no message is ever inlined.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from digest import matching
from digest.config import Settings

Segments = tuple[tuple[str, bool], ...]

ABSTRACT_MAX_CHARS = 400
ABSTRACT_MAX_WORDS = 60
TITLE_MAX_CHARS = 300
AUTHORS_SHOWN_ALL = 5  # up to this many authors are all named; beyond, the first three + et al.
AUTHORS_BEFORE_ET_AL = 3
TEXT_WIDTH = 72
FRAGMENT_CACHE_SIZE = 20_000
ELLIPSIS = "…"
_DANGLING = " ,;:-([\u2013\u2014"  # not left before the ellipsis (with en and em dashes)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class RenderedEmail:
    """The parts of one email; the mailer assembles the MIME message."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DigestLinks:
    """The absolute links a digest's footer carries."""

    manage: str
    unsubscribe: str
    browser: str | None


@dataclass(frozen=True)
class DigestEntry:
    """One paper as a digest shows it: plain values, abstract already trimmed."""

    paper_id: int
    title: str
    url: str | None
    pdf_url: str | None
    code_url: str | None
    authors: tuple[str, ...]
    abstract: str
    upvotes: int | None
    published_at: datetime | None
    matched_terms: tuple[str, ...]
    in_title: bool
    title_segments: Segments
    abstract_segments: Segments


class PaperLike(Protocol):
    """What entry_for reads from a paper (models.Paper has it all)."""

    id: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    url: str | None
    pdf_url: str | None
    code_url: str | None
    upvotes: int | None
    published_at: datetime | None
    arxiv_id: str | None


# --- entries -------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Feed text as one line: control characters dropped, runs of whitespace made one space."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def safe_url(value: str | None) -> str | None:
    """An http(s) URL from a feed, or None: a `javascript:` link must never reach an href."""
    value = (value or "").strip()
    return value if value.lower().startswith(("https://", "http://")) and " " not in value else None


@dataclass(frozen=True)
class _PaperValues:
    """The values of a paper an entry is made of: hashable, so entries can be memoized."""

    id: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    url: str | None
    pdf_url: str | None
    code_url: str | None
    upvotes: int | None
    published_at: datetime | None
    arxiv_id: str | None


def entry_for(paper: PaperLike, match: matching.Match, profile: matching.Profile) -> DigestEntry:
    """The digest entry of a matched paper: cleaned text, trimmed abstract, highlighted terms.

    Only the terms that matched the paper are highlighted, so an entry depends on the paper and
    its match alone, and is memoized on them: composing 100,000 digests highlights each (paper,
    matched terms) once, however many subscribers share it.
    """
    values = _PaperValues(
        id=paper.id,
        title=paper.title,
        abstract=paper.abstract or "",
        authors=tuple(paper.authors or ()),
        url=paper.url,
        pdf_url=paper.pdf_url,
        code_url=paper.code_url,
        upvotes=paper.upvotes,
        published_at=paper.published_at,
        arxiv_id=paper.arxiv_id,
    )
    terms = tuple(term for term in profile.positives if term.text in match.terms)
    return _entry(values, match, terms)


@lru_cache(maxsize=FRAGMENT_CACHE_SIZE)
def _entry(
    paper: _PaperValues, match: matching.Match, terms: tuple[matching.Term, ...]
) -> DigestEntry:
    """entry_for's work, memoized (everything it reads is in its hashable arguments)."""
    highlighter = matching.Profile(terms)
    title_segments = trim_segments(
        matching.highlight(clean_text(paper.title), highlighter, "title"), TITLE_MAX_CHARS, 10**4
    )
    abstract_segments = trim_segments(
        matching.highlight(clean_text(paper.abstract), highlighter, "abstract"),
        ABSTRACT_MAX_CHARS,
        ABSTRACT_MAX_WORDS,
    )
    arxiv_page = f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else None
    return DigestEntry(
        paper_id=paper.id,
        title="".join(text for text, _ in title_segments),
        url=safe_url(paper.url) or arxiv_page,
        pdf_url=safe_url(paper.pdf_url),
        code_url=safe_url(paper.code_url),
        authors=tuple(name for name in map(clean_text, paper.authors) if name),
        abstract="".join(text for text, _ in abstract_segments),
        upvotes=paper.upvotes,
        published_at=paper.published_at,
        matched_terms=tuple(match.terms),
        in_title=match.in_title,
        title_segments=title_segments,
        abstract_segments=abstract_segments,
    )


def trim_segments(
    segments: Sequence[tuple[str, bool]], max_chars: int, max_words: int
) -> Segments:
    """Cut highlighted text at a word boundary within both limits, ending it with '…'."""
    text = "".join(part for part, _ in segments)
    cut = _cut_point(text, max_chars, max_words)
    kept: list[tuple[str, bool]] = []
    position = 0
    for part, hit in segments:
        if cut is not None:
            part = part[: max(0, cut - position)]
        position += len(part)
        if part:
            kept.append((part, hit))
    if cut is not None:
        while kept and not kept[-1][0].rstrip(_DANGLING):
            kept.pop()
        if kept:
            kept[-1] = (kept[-1][0].rstrip(_DANGLING), kept[-1][1])
        kept.append((ELLIPSIS, False))
    return _merged(kept)


def _cut_point(text: str, max_chars: int, max_words: int) -> int | None:
    """Where to cut `text` (None when it fits): the last word boundary within both limits."""
    words = list(re.finditer(r"\S+", text))
    if len(text) <= max_chars and len(words) <= max_words:
        return None
    limit = min(max_chars, words[max_words - 1].end() if len(words) > max_words else len(text))
    boundary = text.rfind(" ", 0, limit + 1)
    return boundary if boundary > 0 else limit


def _merged(segments: Sequence[tuple[str, bool]]) -> Segments:
    """Adjacent segments with the same flag joined, empty ones dropped.

    Spaces between two highlights are highlighted too: one mark reads better than a run of
    marks, and keeps a heavily matched abstract small.
    """
    segments = [pair for pair in segments if pair[0]]
    out: list[tuple[str, bool]] = []
    for i, (part, hit) in enumerate(segments):
        if not hit and not part.strip() and 0 < i < len(segments) - 1:
            hit = segments[i - 1][1] and segments[i + 1][1]
        if out and out[-1][1] == hit:
            out[-1] = (out[-1][0] + part, hit)
        else:
            out.append((part, hit))
    return tuple(out)


def rank_entries(entries: Sequence[DigestEntry]) -> list[DigestEntry]:
    """Entries in digest order (matching.rank_key: title matches, more terms, upvotes, newest)."""

    def key(entry: DigestEntry) -> tuple[Any, ...]:  # sorted() is stable: ties keep input order
        match = matching.Match(terms=entry.matched_terms, in_title=entry.in_title)
        return matching.rank_key(match, entry.upvotes, entry.published_at)

    return sorted(entries, key=key)


def match_papers(papers: Sequence[PaperLike], profile: matching.Profile) -> list[DigestEntry]:
    """Every paper the profile matches, as ranked entries (preview and the digest web page)."""
    entries = []
    for paper in papers:
        document = matching.make_document(
            paper.title, paper.abstract, paper.authors, paper.categories
        )
        found = matching.match(profile, document)
        if found is not None:
            entries.append(entry_for(paper, found, profile))
    return rank_entries(entries)


# --- the environment -----------------------------------------------------------------------


def templates_path() -> Path:
    """The templates folder, in a source checkout or inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_templates", here.parent / "templates"):
        if (candidate / "email").is_dir():
            return candidate
    raise FileNotFoundError("the templates folder is missing from this installation")


@dataclass(frozen=True)
class Stylesheet:
    """email/_styles.css, read once: inline declarations per class, and the @media blocks."""

    rules: dict[str, str]
    responsive: str

    def attributes(self, *names: str) -> Markup:
        """` style="…"` for an element styled by the named rules (an unknown name: KeyError).

        A name the @media blocks mention also gets `class="…"`, so phones can restyle it.
        """
        style = ";".join(self.rules[name] for name in names)
        classes = " ".join(name for name in names if f".{name} " in self.responsive)
        if classes:
            return Markup(' class="{}" style="{}"').format(classes, style)
        return Markup(' style="{}"').format(style)


_MEDIA = re.compile(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def load_styles(path: Path) -> Stylesheet:
    """Read `.name { prop: value; … }` rules and @media blocks; anything else is an error."""
    source = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    responsive = "\n".join(block.group(0) for block in _MEDIA.finditer(source))
    source = _MEDIA.sub("", source)
    rules: dict[str, str] = {}
    for selector, body in _RULE.findall(source):
        name = selector.strip()
        if not re.fullmatch(r"\.[a-z0-9-]+", name):
            raise ValueError(f"{path}: only single-class rules can be inlined, not {name!r}")
        declarations = (part.partition(":") for part in body.split(";") if part.strip())
        rules[name[1:]] = ";".join(f"{p.strip()}:{' '.join(v.split())}" for p, _, v in declarations)
    if _RULE.sub("", source).strip():
        raise ValueError(f"{path}: text outside rules")
    return Stylesheet(rules=rules, responsive=responsive)


def author_line(authors: Sequence[str]) -> str:
    """All authors when few, else the first three and 'et al.'."""
    if len(authors) <= AUTHORS_SHOWN_ALL:
        return ", ".join(authors)
    return ", ".join(authors[:AUTHORS_BEFORE_ET_AL]) + " et al."


def upvote_count(upvotes: int) -> str:
    """'1 upvote', '42 upvotes'."""
    return f"{upvotes} upvote{'' if upvotes == 1 else 's'}"


def wrap(value: str, width: int = TEXT_WIDTH) -> str:
    """Text wrapped for the plain-text part; long words (URLs) are never broken."""
    import textwrap

    return "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) or line
        for line in str(value).splitlines()
    )


def day_label(day: date) -> str:
    """'Thu 26 Nov 2026', the same in every locale."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def build_environment(settings: Settings, root: Path | None = None) -> Environment:
    """The Jinja environment of every email: autoescape for .html, strict undefined, css()."""
    root = root or templates_path()
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=select_autoescape(("html", "xml"), default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    styles = load_styles(root / "email" / "_styles.css")
    css = lru_cache(maxsize=None)(styles.attributes)  # each attribute string is built once
    env.globals.update(
        css=css,
        responsive_css=Markup(styles.responsive),  # noqa: S704 - our own stylesheet
        separator=Markup("&nbsp;· "),
        product=settings.mail_from_address.display_name or "Paper Digest",
        base_url=settings.base_url,
    )
    env.filters.update(author_line=author_line, upvotes=upvote_count, wrap=wrap)
    return env


# --- the renderer --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fragment:
    """One paper rendered for both parts of the email."""

    html: Markup
    text: str


class Renderer:
    """Renders digests and transactional emails with the one Jinja environment.

    Performance: `digest()` renders each paper through `_fragment`, an LRU cache (at most
    FRAGMENT_CACHE_SIZE entries) keyed by the DigestEntry itself. An entry holds only the paper's
    values and the terms it matched, so equal entries are the same paper matched by the same
    terms, and a paper changed by a new version is a new key rendered afresh. With the cache warm
    a digest costs one render of the small shell: see tests/test_render.py for the throughput
    check (well over 1,000 ten-paper digests a second on one core).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = build_environment(settings)
        self._paper_html = self.env.get_template("email/digest/_paper.html")
        self._paper_text = self.env.get_template("email/digest/_paper.txt")
        self._fragment: Callable[[DigestEntry], Fragment] = lru_cache(FRAGMENT_CACHE_SIZE)(
            self._render_fragment
        )

    def digest(
        self,
        entries: Sequence[DigestEntry],
        *,
        total: int,
        day: date,
        keywords: str,
        links: DigestLinks | None,
    ) -> RenderedEmail:
        """A digest of `entries` (those shown) out of `total` matched; links=None is a preview."""
        if not entries or total < len(entries):
            raise ValueError(f"a digest shows 1 to {total} papers, not {len(entries)}")
        if total > len(entries) and (links is None or links.browser is None):
            raise ValueError("a digest that shows only some papers needs a browser link")
        fragments = [self._fragment(entry) for entry in entries]
        return self.email(
            "digest",
            total=total,
            more=total - len(entries),
            day_label=day_label(day),
            keywords=keywords_line(keywords),
            links=links,
            preheader=" · ".join(entry.title for entry in entries[:3])[:200],
            papers_html=[fragment.html for fragment in fragments],
            papers_text=[fragment.text for fragment in fragments],
        )

    def email(self, kind: str, **context: Any) -> RenderedEmail:
        """Render email/<kind>/{subject.txt,body.txt,body.html} with `context`."""
        subject = self.env.get_template(f"email/{kind}/subject.txt").render(context)
        subject = clean_text(subject)  # one line: never a CR/LF in a header
        text = self.env.get_template(f"email/{kind}/body.txt").render(context, subject=subject)
        html = self.env.get_template(f"email/{kind}/body.html").render(context, subject=subject)
        return RenderedEmail(subject=subject, text=tidy_text(text), html=html)

    def _render_fragment(self, entry: DigestEntry) -> Fragment:
        return Fragment(
            # Autoescaped template output: the entry's values were escaped as it rendered.
            html=Markup(self._paper_html.render(e=entry).strip()),  # noqa: S704
            text=self._paper_text.render(e=entry).strip("\n"),
        )


def keywords_line(keywords: str) -> str:
    """A profile on one line, its lines joined by commas, for the footer."""
    return ", ".join(line.strip() for line in keywords.splitlines() if line.strip())


def tidy_text(text: str) -> str:
    """Trailing spaces dropped (but not the '-- ' signature mark), blank runs kept to one line."""
    lines: list[str] = []
    for line in text.splitlines():  # no regex: this runs once per email, on non-ASCII text
        line = line if line == "-- " else line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip("\n") + "\n"
