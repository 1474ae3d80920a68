"""What every feed parser shares: the PaperIn value, FeedError, arXiv ids, dates and URLs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit


@dataclass(frozen=True)
class PaperIn:
    """One paper as a feed describes it: plain text, arXiv id without version, aware UTC dates."""

    key: str  # arXiv id without version (e.g. "2607.23193", "cond-mat/0412498"), else link or guid
    arxiv_id: str | None
    version: int | None
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]  # arXiv categories, primary first when known
    url: str | None
    pdf_url: str | None
    code_url: str | None
    project_url: str | None
    upvotes: int | None
    published_at: datetime | None
    updated_at: datetime | None
    announce_type: str | None  # new / cross / replace / replace-cross / None


class FeedError(Exception):
    """A source could not be read as a feed; the message is one sentence a user can act on."""


# --- arXiv identifiers -------------------------------------------------------------------------

_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Za-z\-]{2,})?/\d{7})(?:v(?P<version>\d+))?"
_ID_FORMS = [
    re.compile(
        r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/" + _ID + r"(?:\.pdf)?/?$"
    ),
    re.compile(r"^oai:arxiv\.org:" + _ID + "$", re.IGNORECASE),
    re.compile(r"^arxiv:" + _ID + "$", re.IGNORECASE),
    re.compile(r"^https?://tldr\.takara\.ai/p/" + _ID + "/?$"),
    re.compile(r"^https?://(?:www\.)?huggingface\.co/papers/" + _ID + "/?$"),
    re.compile("^" + _ID + "$"),
]

# "arXiv:2609.26811v1 Announce Type: new \nAbstract: …" (also seen flattened onto one line),
# the start of every description in arXiv's daily RSS and Atom feeds.
ANNOUNCE = re.compile(
    r"^\s*(?P<id>arXiv:\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)

# Archives of arXiv, old and new; a category outside them (a blog's "AI" tag) is not kept.
ARXIV_ARCHIVES = frozenset({
    "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
    "quant-ph", "stat", "acc-phys", "adap-org", "alg-geom", "ao-sci", "atom-ph", "bayes-an",
    "chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "dg-ga", "funct-an", "mtrl-th", "patt-sol",
    "plasm-ph", "q-alg", "solv-int", "supr-con",
})  # fmt: skip


def split_arxiv_id(text: str | None) -> tuple[str, int | None] | None:
    """The (id, version) an arXiv abs/pdf URL, oai/arXiv: guid, Takara or HF link names, or None."""
    if not text:
        return None
    text = text.strip()
    for form in _ID_FORMS:
        found = form.match(text)
        if found:
            identifier = found["id"]
            if "/" in identifier:  # math.GT/0309136 is the same paper as math/0309136
                archive, number = identifier.split("/")
                identifier = f"{archive.split('.')[0]}/{number}"
            version = found["version"]
            return identifier, int(version) if version else None
    return None


def first_arxiv_id(*candidates: str | None) -> tuple[str, int | None] | None:
    """The first candidate that names an arXiv id, preferring one that carries a version."""
    found = [hit for hit in (split_arxiv_id(c) for c in candidates) if hit]
    if not found:
        return None
    versioned = [hit for hit in found if hit[1] is not None and hit[0] == found[0][0]]
    return versioned[0] if versioned else found[0]


def is_arxiv_category(term: str) -> bool:
    """True for terms like cs.LG, stat.ML, hep-ph, astro-ph.IM."""
    archive = term.split(".", 1)[0]
    return archive in ARXIV_ARCHIVES and re.fullmatch(r"[a-z\-]+(\.[A-Za-z\-]+)?", term) is not None


def arxiv_categories(terms: list[str]) -> tuple[str, ...]:
    """The arXiv categories among `terms`, in order, without duplicates."""
    seen: dict[str, None] = {}
    for term in terms:
        term = term.strip()
        if is_arxiv_category(term):
            seen.setdefault(term, None)
    return tuple(seen)


def abs_url(arxiv_id: str) -> str:
    """The paper's abstract page, without version so it always shows the latest."""
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    """The paper's PDF, latest version."""
    return f"https://arxiv.org/pdf/{arxiv_id}"


def make_key(arxiv_id: str | None, *fallbacks: str | None) -> str | None:
    """The paper's identity: its arXiv id, else the first link or guid (hashed when too long)."""
    if arxiv_id:
        return arxiv_id
    for value in fallbacks:
        if value and value.strip():
            value = value.strip()
            if len(value) > 500:
                return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
            return value
    return None


def build_paper(
    *,
    found: tuple[str, int | None] | None,
    fallback_keys: tuple[str | None, ...],
    title: str,
    abstract: str,
    link: str | None = None,
    authors: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    upvotes: int | None = None,
    published: datetime | None = None,
    updated: datetime | None = None,
    announce_type: str | None = None,
    code_url: str | None = None,
    project_url: str | None = None,
) -> PaperIn | None:
    """A PaperIn from what an entry gave; None for an entry with no title or no identity."""
    arxiv_id, version = found if found else (None, None)
    key = make_key(arxiv_id, *fallback_keys)
    if key is None or not title:
        return None
    return PaperIn(
        key=key,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        url=abs_url(arxiv_id) if arxiv_id else safe_url(link),
        pdf_url=pdf_url(arxiv_id) if arxiv_id else None,
        code_url=safe_url(code_url),
        project_url=safe_url(project_url),
        upvotes=upvotes,
        published_at=published,
        updated_at=updated,
        announce_type=announce_type,
    )


# --- dates and URLs -------------------------------------------------------------------------------


def parse_date(value: str | None) -> datetime | None:
    """An ISO 8601 or RFC 822 date as an aware UTC datetime; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def safe_url(value: str | None) -> str | None:
    """The value if it is an absolute http(s) URL fit to store and link to, else None."""
    if not value:
        return None
    value = value.strip()
    if len(value) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return value
