"""Rendering: the one Jinja environment for email, and emails as (subject, text, html) triples.

A digest email is a small shell (heading, footer) around one fragment per paper, made from the
digest entries of entries.py. A fragment depends only on the paper and the terms it matched,
never on the reader, so the Renderer renders each fragment once and keeps it in a bounded LRU
cache: a day's 100,000 digests render each (paper, matched terms) fragment once and spend their
time on the shell alone (see `Renderer`).

CSS is applied once too: email/_styles.css is read when the environment is built and templates
write `{{ css('name') }}`, which puts the rule's declarations inline; no message is ever inlined.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from digest.config import Settings

# The digest entries lived here before entries.py; callers still import them from here
# (`name as name` marks a re-export).
from digest.mail.entries import ABSTRACT_MAX_CHARS as ABSTRACT_MAX_CHARS
from digest.mail.entries import ABSTRACT_MAX_WORDS as ABSTRACT_MAX_WORDS
from digest.mail.entries import ELLIPSIS as ELLIPSIS
from digest.mail.entries import TITLE_MAX_CHARS as TITLE_MAX_CHARS
from digest.mail.entries import DigestEntry, clean_text
from digest.mail.entries import PaperLike as PaperLike
from digest.mail.entries import Segments as Segments
from digest.mail.entries import entry_for as entry_for
from digest.mail.entries import match_papers as match_papers
from digest.mail.entries import rank_entries as rank_entries
from digest.mail.entries import safe_url as safe_url
from digest.mail.entries import trim_segments as trim_segments
from digest.matching.language import split_terms

AUTHORS_SHOWN_ALL = 5  # up to this many authors are all named; beyond, the first three + et al.
AUTHORS_BEFORE_ET_AL = 3
TEXT_WIDTH = 72
FRAGMENT_CACHE_SIZE = 20_000
SHELL_CACHE_SIZE = 5_000
# Markers in a paper's shell where the highlighted parts go: control characters, which
# entries.clean_text removes from every feed value, so no paper's own text can hold them.
_TITLE, _ABSTRACT, _TERMS = "\x01T\x01", "\x01A\x01", "\x01M\x01"
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
    feed: str | None = None  # the subscriber's personal Atom feed (SPEC §11)


@dataclass(frozen=True)
class DigestParts:
    """A digest in the three parts of SPEC §10 (the papers shown; the rest is on the web page).

    `reasons` maps a "You may also like" paper's id to the title of the liked paper it is
    close to; `rate` maps a paper's id to its (More like this, Less like this) links.
    """

    top: Sequence[DigestEntry]
    also_like: Sequence[DigestEntry] = ()
    also_matched: Sequence[DigestEntry] = ()
    reasons: dict[int, str] = field(default_factory=dict)
    rate: dict[int, tuple[str, str]] = field(default_factory=dict)
    titled: bool = True  # False: a plain §6 digest that only carries the rating links


@dataclass(frozen=True)
class Shown:
    """One paper as one section of a digest shows it: its cached fragment, or a one-line entry."""

    entry: DigestEntry
    html: Markup | None
    text: str | None
    reason: str | None
    more: str | None
    less: str | None


@dataclass(frozen=True)
class Section:
    """A titled run of papers; the untitled single section is the plain §6 digest."""

    title: str | None
    items: list[Shown]


PART_TITLES = ("Top matches", "You may also like", "Also matched your keywords")


# --- the environment -----------------------------------------------------------------------


def templates_path() -> Path:
    """The templates folder, in a source checkout or inside an installed wheel."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_templates", package.parent / "templates"):
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
    """Text wrapped for the plain-text part; long words (URLs) are never broken.

    A greedy fill, as textwrap.fill(break_long_words=False, break_on_hyphens=False) does, at a
    fraction of its cost: it runs for every paper fragment of a day's digests.
    """
    return "\n".join(_fill(line, width) for line in str(value).splitlines())


def _fill(line: str, width: int) -> str:
    words = line.split()
    if not words:
        return line
    lines: list[str] = []
    current = words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return "\n".join(lines)


# The confirmation email is sent to an address anyone may type, with "keywords" anyone may
# type: shown whole, they would let a stranger send free text from the operator's domain.
TERMS_SHOWN = 10
TERMS_SHOWN_CHARS = 200
TERM_SHOWN_CHARS = 60


def quoted_terms(keywords: str) -> str:
    """A profile as a short list: each term in quotes, at most TERMS_SHOWN of them and
    TERMS_SHOWN_CHARS characters of term text, long terms cut, then '…and N more'."""
    terms = split_terms(keywords)
    shown: list[str] = []
    used = 0
    for term in terms:
        cut = term if len(term) <= TERM_SHOWN_CHARS else term[: TERM_SHOWN_CHARS - 1] + ELLIPSIS
        if len(shown) == TERMS_SHOWN or used + len(cut) > TERMS_SHOWN_CHARS:
            break
        shown.append(f"\u201c{cut}\u201d")
        used += len(cut)
    rest = len(terms) - len(shown)
    return ", ".join(shown) + (f" {ELLIPSIS}and {rest} more" if rest else "")


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
    env.filters.update(
        author_line=author_line, upvotes=upvote_count, wrap=wrap, quoted_terms=quoted_terms
    )
    env.globals["facts_line"] = facts_line
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
        # One shell per paper (its text, authors, links): far fewer than (paper, terms) entries.
        self._shell: Callable[[DigestEntry], Fragment] = lru_cache(SHELL_CACHE_SIZE)(
            self._render_shell
        )
        css: Callable[[str], Markup] = self.env.globals["css"]  # type: ignore[assignment]
        self._mark = str(css("mark"))

    def digest(
        self,
        entries: Sequence[DigestEntry],
        *,
        total: int,
        day: date,
        keywords: str,
        links: DigestLinks | None,
        parts: DigestParts | None = None,
    ) -> RenderedEmail:
        """A digest of `entries` (those shown) out of `total` matched; links=None is a preview.

        With `parts` (SPEC §10) the digest shows them instead of `entries`: Top matches and
        You may also like in full, Also matched your keywords one line each; empty parts are
        left out. `parts.rate` alone (no likes yet) adds the rating links to a plain digest.
        """
        sections = self.sections(entries, parts)
        shown = sum(len(section.items) for section in sections)
        if not shown or total < shown:
            raise ValueError(f"a digest shows 1 to {total} papers, not {shown}")
        if total > shown and (links is None or links.browser is None):
            raise ValueError("a digest that shows only some papers needs a browser link")
        fragments = [item for section in sections for item in section.items if item.html]
        return self.email(
            "digest",
            total=total,
            more=total - shown,
            day_label=day_label(day),
            keywords=keywords_line(keywords),
            links=links,
            preheader=" · ".join(item.entry.title for item in fragments[:3])[:200],
            sections=sections,
        )

    def sections(self, entries: Sequence[DigestEntry], parts: DigestParts | None) -> list[Section]:
        """The digest's sections: one untitled one (§6), or the non-empty parts of §10."""
        rate = parts.rate if parts is not None else {}
        if parts is None or not parts.titled:
            top = entries if parts is None else parts.top
            return [Section(None, [self._shown(entry, rate, None) for entry in top])]
        runs = (
            [self._shown(entry, rate, None) for entry in parts.top],
            [
                self._shown(entry, rate, parts.reasons.get(entry.paper_id))
                for entry in parts.also_like
            ],
            [self._line(entry, rate) for entry in parts.also_matched],
        )
        titled = zip(PART_TITLES, runs, strict=True)
        return [Section(title, items) for title, items in titled if items]

    def _shown(
        self, entry: DigestEntry, rate: dict[int, tuple[str, str]], reason: str | None
    ) -> Shown:
        fragment = self._fragment(entry)  # cached: the per-reader links stay outside it
        more, less = rate.get(entry.paper_id, (None, None))
        return Shown(entry, fragment.html, fragment.text, reason, more, less)

    def _line(self, entry: DigestEntry, rate: dict[int, tuple[str, str]]) -> Shown:
        more, _ = rate.get(entry.paper_id, (None, None))
        return Shown(entry, None, None, None, more, None)

    def email(self, kind: str, **context: Any) -> RenderedEmail:
        """Render email/<kind>/{subject.txt,body.txt,body.html} with `context`."""
        subject = self.env.get_template(f"email/{kind}/subject.txt").render(context)
        subject = clean_text(subject)  # one line: never a CR/LF in a header
        text = self.env.get_template(f"email/{kind}/body.txt").render(context, subject=subject)
        html = self.env.get_template(f"email/{kind}/body.html").render(context, subject=subject)
        return RenderedEmail(subject=subject, text=tidy_text(text), html=html)

    def _render_fragment(self, entry: DigestEntry) -> Fragment:
        """One paper's HTML and text (uncached: `_fragment` caches it).

        The templates render once per paper (`_shell`), with markers where the highlighted
        title, abstract and matched terms go; each combination of matched terms then costs
        three string replacements, not a template render. Equal to rendering `entry` directly
        (tests/test_render.py compares them).
        """
        blank = dataclasses.replace(
            entry,
            title_segments=((_TITLE, False),),
            abstract_segments=((_ABSTRACT, False),) if entry.abstract_segments else (),
            matched_terms=(_TERMS,) if entry.matched_terms else (),
            in_title=False,
        )
        shell = self._shell(blank)
        terms = ", ".join(entry.matched_terms)
        html = (
            str(shell.html)  # a str: Markup.replace would escape the pieces again
            .replace(_TITLE, self._highlighted(entry.title_segments))
            .replace(_ABSTRACT, self._highlighted(entry.abstract_segments))
            .replace(_TERMS, str(escape(terms)))
        )
        text = shell.text
        if entry.matched_terms:
            text = text.replace(
                facts_line(entry.upvotes, (_TERMS,)), facts_line(entry.upvotes, entry.matched_terms)
            )
        return Fragment(html=Markup(html), text=text)  # noqa: S704 - escaped piece by piece

    def _render_shell(self, entry: DigestEntry) -> Fragment:
        """The templates rendered for `entry` as they stand (uncached: `_shell` caches it)."""
        return Fragment(
            # Autoescaped template output: the entry's values were escaped as it rendered.
            html=Markup(self._paper_html.render(e=entry).strip()),  # noqa: S704
            text=self._paper_text.render(e=entry).strip("\n"),
        )

    def _highlighted(self, segments: Sequence[tuple[str, bool]]) -> str:
        """The `highlighted` macro of email/_macros.html, in Python."""
        mark = self._mark
        return "".join(
            f"<mark{mark}>{escape(text)}</mark>" if hit else str(escape(text))
            for text, hit in segments
        )


def facts_line(upvotes: int | None, terms: Sequence[str]) -> str:
    """The text part's line of facts about a paper: upvotes and matched terms, wrapped."""
    facts = [upvote_count(upvotes)] if upvotes is not None else []
    if terms:
        facts.append("matched: " + ", ".join(terms))
    return wrap(" · ".join(facts)) if facts else ""


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
